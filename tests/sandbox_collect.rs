//! What a collector needs from the sandbox (issue 8), over real HTTP on
//! loopback and on both flavours: favourites and boosts, the participants'
//! engagement, `noindex` / `discoverable`, the answer record and the test
//! hands, unique `uri`s across two sandboxes. The reading paths are in
//! `sandbox_reading.rs`.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chathost::sandbox::{Flavour, NOINDEX_SEAT, Sandbox, SandboxConfig, TestPost, Visibility};
use common::{Api, expect_event, frame_status_id, stream};
use serde_json::json;

const BOTH: [Flavour; 2] = [Flavour::Mastodon, Flavour::GoToSocial];

fn tok(sandbox: &Sandbox, acct: &str) -> String {
    sandbox.account(acct).unwrap().token.expose().to_string()
}

async fn call(api: &Api, method: reqwest::Method, path: &str, token: &str) -> common::Answer {
    api.call(method, path, Some(token), None, &[]).await
}

// ---------------------------------------------------------------- engagement

#[tokio::test]
async fn favourites_and_boosts_answer_like_the_servers_and_keep_out_of_tag_timelines() {
    for flavour in BOTH {
        let sandbox = common::sandbox(flavour).await;
        let api = Api::new(sandbox.base_url());
        let (bot, bob, carol) = (
            tok(&sandbox, "chatbot"),
            tok(&sandbox, "bob"),
            tok(&sandbox, "carol"),
        );
        let id = sandbox
            .post_as("alice", TestPost::answer(1, "A1: Paris #testchat"))
            .unwrap();
        let mut bob_stream = stream(sandbox.base_url(), "stream=user", Some(&bob))
            .await
            .unwrap();
        let post = reqwest::Method::POST;

        let fav = call(
            &api,
            post.clone(),
            &format!("/api/v1/statuses/{id}/favourite"),
            &bob,
        )
        .await;
        assert_eq!(fav.status, 200, "{flavour}: {}", fav.text);
        assert_eq!(
            (
                fav.json["id"].as_str(),
                fav.json["favourites_count"].as_u64(),
                fav.json["favourited"].as_bool()
            ),
            (Some(id.as_str()), Some(1), Some(true)),
            "{flavour}"
        );
        let boost = call(
            &api,
            post.clone(),
            &format!("/api/v1/statuses/{id}/reblog"),
            &bob,
        )
        .await;
        assert_eq!(boost.status, 200, "{flavour}: {}", boost.text);
        let boost_id = boost.json["id"].as_str().unwrap().to_string();
        assert_ne!(boost_id, id, "a boost is a status of its own");
        assert_eq!(boost.json["account"]["acct"], "bob");
        assert_eq!(
            boost.json["reblog"]["id"],
            id.as_str(),
            "{flavour}: the boost wraps the original"
        );
        assert_eq!(boost.json["reblog"]["reblogs_count"], 1);
        assert_eq!(boost.json["reblog"]["reblogged"], true);
        assert_eq!(boost.json["content"], "");
        // The booster's own stream hears the boost.
        let frame = expect_event(&mut bob_stream).await;
        assert_eq!(
            (frame["event"].as_str(), frame_status_id(&frame)),
            (Some("update"), boost_id.clone())
        );

        call(
            &api,
            post.clone(),
            &format!("/api/v1/statuses/{id}/favourite"),
            &carol,
        )
        .await;
        let seen = api.get(&format!("/api/v1/statuses/{id}"), Some(&bot)).await;
        assert_eq!(
            (
                seen.json["favourites_count"].as_u64(),
                seen.json["reblogs_count"].as_u64()
            ),
            (Some(2), Some(1)),
            "{flavour}"
        );
        assert_eq!(
            seen.json["favourited"], false,
            "the bot did not favourite it"
        );
        let timeline = api.get("/api/v1/timelines/tag/testchat", Some(&bot)).await;
        assert_eq!(
            timeline.ids(),
            vec![id.clone()],
            "{flavour}: boosts are not in tag timelines"
        );

        let unfav = call(
            &api,
            post.clone(),
            &format!("/api/v1/statuses/{id}/unfavourite"),
            &carol,
        )
        .await;
        assert_eq!(
            (
                unfav.json["favourites_count"].as_u64(),
                unfav.json["favourited"].as_bool()
            ),
            (Some(1), Some(false))
        );
        let unboost = call(
            &api,
            post.clone(),
            &format!("/api/v1/statuses/{id}/unreblog"),
            &bob,
        )
        .await;
        assert_eq!(
            unboost.json["id"],
            id.as_str(),
            "unreblog answers the original"
        );
        assert_eq!(unboost.json["reblogs_count"], 0);
        let gone = api
            .get(&format!("/api/v1/statuses/{boost_id}"), Some(&bot))
            .await;
        assert_eq!(gone.status, 404);

        // Deleting the original removes every boost of it.
        let again = sandbox.reblog_as("carol", &id).unwrap();
        sandbox.delete_as("alice", &id).unwrap();
        let boost_after = api
            .get(&format!("/api/v1/statuses/{again}"), Some(&bot))
            .await;
        assert_eq!(boost_after.status, 404, "{flavour}");
        let missing = call(
            &api,
            post.clone(),
            &format!("/api/v1/statuses/{id}/favourite"),
            &bob,
        )
        .await;
        assert_eq!(missing.status, 404);
        sandbox.shutdown().await;
    }
}

async fn chat_of_one_question(seed: u64, participants: usize, flavour: Flavour) -> Sandbox {
    let sandbox = Sandbox::start(SandboxConfig {
        flavour,
        clock: common::fast_clock(600.0),
        participants,
        seed,
        rate_limit: false,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let api = Api::new(sandbox.base_url());
    api.status(
        sandbox.bot().token.expose(),
        json!({ "status": "#testchat Q1: What helps you learn?", "visibility": "public" }),
    )
    .await;
    // 8 virtual minutes to answer + up to 150 s to edit or delete at 600x.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let made = sandbox.answers_made();
        let settled = made.len() == participants
            && made.iter().any(|a| a.deleted_at.is_some())
            && made.iter().any(|a| a.edited_at.is_some());
        if settled {
            return sandbox;
        }
        assert!(
            Instant::now() < deadline,
            "participants did not finish: {made:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn participants_favour_and_boost_earlier_answers_reproducibly() {
    let engagement = |sandbox: &Sandbox| -> BTreeMap<String, (usize, usize)> {
        sandbox
            .answers_made()
            .into_iter()
            .map(|a| (a.acct, (a.favourites, a.reblogs)))
            .collect()
    };
    let a = chat_of_one_question(11, 8, Flavour::Mastodon).await;
    let b = chat_of_one_question(11, 8, Flavour::Mastodon).await;
    let (ea, eb) = (engagement(&a), engagement(&b));
    assert_eq!(ea, eb, "the same seed, the same engagement");
    let favourites: usize = ea.values().map(|(f, _)| f).sum();
    let boosts: usize = ea.values().map(|(_, r)| r).sum();
    // Everyone but the first to answer favourites at least one earlier answer
    // (fewer if what they would favour was deleted in the meantime).
    assert!(favourites >= 5, "{ea:?}");
    assert!(boosts >= 1, "{ea:?}");
    let distinct: std::collections::BTreeSet<usize> = ea.values().map(|(f, _)| *f).collect();
    assert!(
        distinct.len() >= 2,
        "answers must differ to be ranked: {ea:?}"
    );
    // The counts on the wire agree with the record.
    let api = Api::new(a.base_url());
    for made in a.answers_made().iter().filter(|m| m.deleted_at.is_none()) {
        let s = api
            .get(
                &format!("/api/v1/statuses/{}", made.status_id),
                Some(a.bot().token.expose()),
            )
            .await;
        assert_eq!(
            s.json["favourites_count"].as_u64(),
            Some(made.favourites as u64)
        );
        assert_eq!(s.json["reblogs_count"].as_u64(), Some(made.reblogs as u64));
    }
    // Answers themselves are unchanged by engagement: one each, no boost
    // among anyone's own posts.
    for account in a.accounts().iter().skip(1) {
        assert_eq!(a.statuses_of(&account.acct).len(), 1, "{}", account.acct);
    }
    a.shutdown().await;
    b.shutdown().await;
}

// ---------------------------------------------------------------- ground truth

#[tokio::test]
async fn answers_made_records_every_participant_answer_as_it_stands() {
    for flavour in BOTH {
        let sandbox = chat_of_one_question(7, 8, flavour).await;
        let made = sandbox.answers_made();
        let by: BTreeMap<&str, _> = made.iter().map(|a| (a.acct.as_str(), a)).collect();
        assert_eq!(by.len(), 8, "{flavour}: one answer per participant");
        assert!(
            made.iter()
                .all(|a| a.question == 1 && a.text.contains("A1: "))
        );
        assert!(
            !by["carol"].tagged && by["carol"].reply,
            "carol replies without the tag"
        );
        assert!(by["bob"].tagged && !by["bob"].reply, "bob posts top-level");
        assert!(by["dave"].edited_at.is_some() && by["dave"].text.contains("edited"));
        assert!(by["erin"].deleted_at.is_some());
        assert_eq!(by["frank"].visibility, Visibility::Unlisted);
        assert!(by["heidi"].bot && !by["alice"].bot);
        let api = Api::new(sandbox.base_url());
        let bot = sandbox.bot();
        for a in made.iter().filter(|a| a.deleted_at.is_none()) {
            let s = api
                .get(
                    &format!("/api/v1/statuses/{}", a.status_id),
                    Some(bot.token.expose()),
                )
                .await;
            assert_eq!(s.json["uri"].as_str(), Some(a.uri.as_str()), "{flavour}");
            assert_eq!(
                sandbox.status_uri(&a.status_id).as_deref(),
                Some(a.uri.as_str())
            );
        }
        let gone = api
            .get(
                &format!("/api/v1/statuses/{}", by["erin"].status_id),
                Some(bot.token.expose()),
            )
            .await;
        assert_eq!(gone.status, 404, "{flavour}: a deleted answer is gone");
        sandbox.shutdown().await;
    }
}

#[tokio::test]
async fn test_hands_act_as_accounts_and_only_answers_are_recorded() {
    let sandbox = common::sandbox(Flavour::GoToSocial).await;
    let q = sandbox
        .post_as("chatbot", TestPost::public("#testchat Q3: ok?"))
        .unwrap();
    let reply = TestPost {
        in_reply_to_id: Some(q.clone()),
        visibility: Visibility::Unlisted,
        ..TestPost::answer(3, "sure")
    };
    let answer = sandbox.post_as("alice", reply).unwrap();
    sandbox
        .post_as("bob", TestPost::public("just chatting #testchat"))
        .unwrap();
    let made = sandbox.answers_made();
    assert_eq!(
        made.len(),
        1,
        "only the post with a question is an answer: {made:#?}"
    );
    let a = &made[0];
    assert_eq!(
        (a.question, a.status_id.as_str(), a.acct.as_str()),
        (3, answer.as_str(), "alice")
    );
    assert!(a.reply && !a.tagged && a.visibility == Visibility::Unlisted);
    assert_eq!(a.uri, sandbox.status_uri(&answer).unwrap());

    sandbox
        .edit_as("alice", &answer, "A3: sure #testchat")
        .unwrap();
    sandbox.favourite_as("bob", &answer).unwrap();
    let boost = sandbox.reblog_as("carol", &answer).unwrap();
    let a = &sandbox.answers_made()[0];
    assert!(a.edited_at.is_some() && a.tagged && a.text == "A3: sure #testchat");
    assert_eq!((a.favourites, a.reblogs), (1, 1));
    assert!(sandbox.status_uri(&boost).is_some());
    assert!(
        sandbox.edit_as("bob", &answer, "not mine").is_err(),
        "only the author edits"
    );
    sandbox.delete_as("alice", &answer).unwrap();
    let a = &sandbox.answers_made()[0];
    assert!(a.deleted_at.is_some() && a.reblogs == 0);
    assert_eq!(
        sandbox
            .post_as("nobody", TestPost::public("x"))
            .unwrap_err(),
        "no account `nobody` in the sandbox"
    );
    assert_eq!(sandbox.status_uri("no-such-id"), None);
    sandbox.shutdown().await;
}

// ---------------------------------------------------------------- consent

#[tokio::test]
async fn the_noindex_seat_shows_noindex_on_mastodon_and_only_discoverable_on_gotosocial() {
    for flavour in BOTH {
        let sandbox = Sandbox::start(SandboxConfig {
            flavour,
            participants: 10,
            ..SandboxConfig::default()
        })
        .await
        .unwrap();
        let judy = sandbox.accounts()[NOINDEX_SEAT + 1].clone();
        assert_eq!(judy.acct, "judy");
        assert!(judy.noindex && !judy.discoverable && !judy.note.contains('#'));
        let api = Api::new(sandbox.base_url());
        let bot = sandbox.bot();
        for acct in ["judy", "alice", "grace", "chatbot"] {
            let a = api
                .get(
                    &format!("/api/v1/accounts/lookup?acct={acct}"),
                    Some(bot.token.expose()),
                )
                .await;
            let opted_out = acct == "judy";
            assert_eq!(a.json["discoverable"], !opted_out, "{flavour} {acct}");
            match flavour {
                Flavour::Mastodon => assert_eq!(a.json["noindex"], opted_out, "{acct}"),
                // GoToSocial 0.19 sends no noindex field (gotosocial/04..06_*).
                Flavour::GoToSocial => assert!(a.json.get("noindex").is_none(), "{acct}"),
            }
        }
        sandbox.shutdown().await;
    }
    // The default eight have no such seat.
    let eight = common::sandbox(Flavour::Mastodon).await;
    assert!(
        eight
            .accounts()
            .iter()
            .all(|a| !a.noindex && a.discoverable)
    );
    eight.shutdown().await;
}

// ---------------------------------------------------------------- other instances

#[tokio::test]
async fn a_second_sandbox_is_another_instance_with_its_own_uris_and_anonymous_reads() {
    let config = |flavour| SandboxConfig {
        flavour,
        participants: 2,
        ..SandboxConfig::default()
    };
    let home = Sandbox::start(config(Flavour::Mastodon)).await.unwrap();
    let other = Sandbox::start(config(Flavour::Mastodon)).await.unwrap();
    let gts = Sandbox::start(config(Flavour::GoToSocial)).await.unwrap();
    let a = home
        .post_as("alice", TestPost::answer(1, "A1: here #testchat"))
        .unwrap();
    let b = other
        .post_as("alice", TestPost::answer(1, "A1: here #testchat"))
        .unwrap();
    // Same seed and clock may give the same local id; the uri still differs.
    assert_ne!(home.status_uri(&a), other.status_uri(&b));
    assert!(other.status_uri(&b).unwrap().starts_with(other.base_url()));

    let anonymous = Api::new(other.base_url())
        .get("/api/v1/timelines/tag/testchat", None)
        .await;
    assert_eq!(
        anonymous.status, 200,
        "Mastodon serves public tag timelines without a token"
    );
    assert_eq!(
        anonymous.json[0]["uri"].as_str(),
        other.status_uri(&b).as_deref()
    );
    gts.post_as("alice", TestPost::answer(1, "A1: there #testchat"))
        .unwrap();
    let refused = Api::new(gts.base_url())
        .get("/api/v1/timelines/tag/testchat", None)
        .await;
    assert_eq!(refused.status, 401, "GoToSocial wants a token");
    assert!(refused.json.get("id").is_none() && !refused.text.contains("there"));
    for s in [home, other, gts] {
        s.shutdown().await;
    }
}
