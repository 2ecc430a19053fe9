//! The collection contract: what a collector reads besides the main
//! contract (`tests/contract.rs`), against the sandbox (both flavours) and
//! mastodon-mock, with the same rules: real Mastodon's behaviour unless a
//! check names a GoToSocial difference or a known mastodon-mock difference.
//! Then the collector itself, end to end, against mastodon-mock.

mod common;

use std::path::Path;

use chathost::sandbox::Flavour;
use common::contract::{
    Contract, Expect, Server, Target, id, ids_of, mock, mock_server, sandbox_server,
};
use common::mock::MOCK_VERSION;
use serde_json::{Value, json};

// ------------------------------------------------- collection (issue 8)

/// What a collector reads besides the main contract: favourites and boosts
/// with their counts, a reply chain in the context, and the consent fields.
/// mastodon-mock serves all of these endpoints (and `favourited_by` /
/// `reblogged_by`); tag-timeline `min_id` paging is checked in `tests/contract.rs`.
async fn collection_contract(server: Server) -> Vec<String> {
    let mut c = Contract::new(server.target);
    let api = &server.api;
    let bot = server.token("chatbot");
    let post = reqwest::Method::POST;
    let act = |acct: &'static str, path: String| {
        let token = server.token(acct).to_string();
        let method = post.clone();
        async move { api.call(method, &path, Some(&token), None, &[]).await }
    };

    let q = api
        .post(
            "/api/v1/statuses",
            bot,
            json!({ "status": "#collecting Q1: Why?", "visibility": "public" }),
        )
        .await;
    let q_id = id(&q.json);
    let reply = |to: &str, text: &str, visibility: &str| json!({ "status": text, "in_reply_to_id": to, "visibility": visibility });
    let a1 = id(&api
        .post(
            "/api/v1/statuses",
            server.token("alice"),
            reply(&q_id, "A1: because #collecting", "public"),
        )
        .await
        .json);
    let c1 = id(&api
        .post(
            "/api/v1/statuses",
            server.token("bob"),
            reply(&a1, "and also this", "unlisted"),
        )
        .await
        .json);
    let a2 = id(&api
        .post(
            "/api/v1/statuses",
            server.token("carol"),
            reply(&q_id, "A1: no tag here", "public"),
        )
        .await
        .json);

    // --- favourites and boosts
    let fav = act("bob", format!("/api/v1/statuses/{a1}/favourite")).await;
    c.same("favourite status", fav.status, 200);
    c.same(
        "favourite answers the status, favourited, counted",
        (
            id(&fav.json),
            fav.json["favourited"].as_bool(),
            fav.json["favourites_count"].as_u64(),
        ),
        (a1.clone(), Some(true), Some(1)),
    );
    act("erin", format!("/api/v1/statuses/{a1}/favourite")).await;
    let again = act("erin", format!("/api/v1/statuses/{a1}/favourite")).await;
    c.same(
        "favouriting twice counts once",
        again.json["favourites_count"].as_u64(),
        Some(2),
    );
    let boost = act("carol", format!("/api/v1/statuses/{a1}/reblog")).await;
    c.same("reblog status", boost.status, 200);
    let boost_id = id(&boost.json);
    c.same(
        "reblog answers a new status wrapping the original",
        (
            boost_id != a1,
            boost.json["reblog"]["id"].as_str(),
            boost.json["account"]["acct"].as_str(),
        ),
        (true, Some(a1.as_str()), Some("carol")),
    );
    c.same(
        "the wrapped original counts the boost",
        boost.json["reblog"]["reblogs_count"].as_u64(),
        Some(1),
    );
    let seen = api.get(&format!("/api/v1/statuses/{a1}"), Some(bot)).await;
    c.same(
        "counts on the status: favourites, reblogs, replies",
        (
            seen.json["favourites_count"].as_u64(),
            seen.json["reblogs_count"].as_u64(),
            seen.json["replies_count"].as_u64(),
        ),
        (Some(2), Some(1), Some(1)),
    );
    c.same(
        "favourited is the viewer's",
        seen.json["favourited"].as_bool(),
        Some(false),
    );
    let timeline = api.get("/api/v1/timelines/tag/collecting", Some(bot)).await;
    c.same(
        "boosts stay out of the tag timeline",
        timeline.ids(),
        vec![a1.clone(), q_id.clone()],
    );
    let unfav = act("erin", format!("/api/v1/statuses/{a1}/unfavourite")).await;
    c.same(
        "unfavourite",
        unfav.json["favourites_count"].as_u64(),
        Some(1),
    );
    let unboost = act("carol", format!("/api/v1/statuses/{a1}/unreblog")).await;
    c.same(
        "unreblog answers the original, uncounted",
        (id(&unboost.json), unboost.json["reblogs_count"].as_u64()),
        (a1.clone(), Some(0)),
    );
    let gone = api
        .get(&format!("/api/v1/statuses/{boost_id}"), Some(bot))
        .await;
    c.same("an undone boost is gone", gone.status, 404);

    // --- context: a chain, untagged and unlisted replies, in thread order
    let context = api
        .get(&format!("/api/v1/statuses/{q_id}/context"), Some(bot))
        .await;
    c.check(
        "context descendants: a reply chain depth first",
        ids_of(&context.json["descendants"]),
        vec![a1.clone(), c1.clone(), a2.clone()],
        mock(
            "mastodon-mock lists descendants breadth first; Mastodon and GoToSocial walk the thread depth first",
            vec![a1.clone(), a2.clone(), c1.clone()],
        ),
    );
    let up = api
        .get(&format!("/api/v1/statuses/{c1}/context"), Some(bot))
        .await;
    c.same(
        "context ancestors of a reply to a reply",
        ids_of(&up.json["ancestors"]),
        vec![q_id.clone(), a1.clone()],
    );

    // --- a deleted original takes its boosts along
    let boost = act("carol", format!("/api/v1/statuses/{a2}/reblog")).await;
    let boost_id = id(&boost.json);
    api.call(
        reqwest::Method::DELETE,
        &format!("/api/v1/statuses/{a2}"),
        Some(server.token("carol")),
        None,
        &[],
    )
    .await;
    let orphan = api
        .get(&format!("/api/v1/statuses/{boost_id}"), Some(bot))
        .await;
    c.check(
        "the boost of a deleted status is gone",
        orphan.status,
        404,
        mock(
            "mastodon-mock keeps a boost after its original is deleted; Mastodon deletes it",
            200,
        ),
    );

    // --- consent fields
    let alice = api
        .get("/api/v1/accounts/lookup?acct=alice", Some(bot))
        .await;
    c.check(
        "account discoverable is a boolean",
        alice.json["discoverable"].clone(),
        json!(true),
        mock(
            "mastodon-mock sends discoverable: null for a seeded account (Mastodon too for accounts that never chose; treat null as unknown)",
            Value::Null,
        ),
    );
    c.check(
        "account noindex is a boolean",
        alice.json["noindex"].is_boolean(),
        true,
        |t| match t {
            Target::SandboxGoToSocial => Expect::GoToSocial(false),
            Target::MastodonMock => Expect::KnownDifference(
                "mastodon-mock sends noindex: null; Mastodon a boolean",
                false,
            ),
            Target::SandboxMastodon => Expect::Mastodon,
        },
    );
    drop(server);
    c.known
}

#[tokio::test]
async fn collection_contract_holds_for_the_sandbox_mastodon_flavour() {
    let known = collection_contract(sandbox_server(Flavour::Mastodon).await).await;
    assert!(known.is_empty());
}

#[tokio::test]
async fn collection_contract_holds_for_the_sandbox_gotosocial_flavour() {
    let known = collection_contract(sandbox_server(Flavour::GoToSocial).await).await;
    assert!(known.is_empty());
}

#[tokio::test]
async fn collection_contract_holds_for_mastodon_mock_with_its_known_differences() {
    let known = collection_contract(mock_server().await).await;
    eprintln!("mastodon-mock {MOCK_VERSION}: known differences in collection:");
    for k in &known {
        eprintln!("  - {k}");
    }
    assert_eq!(known.len(), 4, "{known:#?}");
}

// ------------------------------------------------ collection, end to end

/// The collector against mastodon-mock, an implementation nobody here
/// wrote: a question posted by the bot, answers in every shape (a tagged
/// reply, a tagged post, a reply without the hashtag, a deleted answer, an
/// unrelated post), then `chathost collect`'s sweep of the chat's window.
/// The mock keeps real time, so chathost's clock is set half an hour ahead:
/// the chat that began three minutes ago is over for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_collector_gathers_a_chat_from_mastodon_mock() {
    use chathost::clock::{ScaledClock, SharedClock};
    use chrono::{DurationRound, Utc};

    let server = mock_server().await;
    let api = &server.api;
    let now = Utc::now();
    let start =
        now.duration_trunc(chrono::Duration::minutes(1)).unwrap() - chrono::Duration::minutes(3);
    let question = api
        .status(
            server.token("chatbot"),
            json!({"status": "Q1: What keeps you going on a long shift? #WeNurses", "visibility": "public"}),
        )
        .await;
    let qid = id(&question);
    let mut expected = Vec::new();
    for (who, body) in [
        (
            "alice",
            json!({"status": "A1: tea and a kind word #WeNurses", "in_reply_to_id": qid}),
        ),
        ("bob", json!({"status": "A1: my team #WeNurses"})),
        (
            "carol",
            json!({"status": "@chatbot A1: a walk at lunch", "in_reply_to_id": qid}),
        ),
    ] {
        expected.push((who, api.status(server.token(who), body).await));
    }
    let gone = api
        .status(
            server.token("erin"),
            json!({"status": "A1: second thoughts #WeNurses"}),
        )
        .await;
    let deleted = api
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/statuses/{}", id(&gone)),
            Some(server.token("erin")),
            None,
            &[],
        )
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    api.status(
        server.token("erin"),
        json!({"status": "not about the chat #Other"}),
    )
    .await;

    // The host's side: settings, the question as posted, the store.
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("collect-mock-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("prompts")).unwrap();
    let weekday = start.format("%A");
    let time = start.format("%H:%M");
    std::fs::write(
        dir.join("bot.toml"),
        format!(
            "[instance]\nurl = \"{}\"\nsoftware = \"mastodon\"\n\n[account]\ntoken_env = \"UNUSED\"\n\n\
             [state]\ndir = \"state\"\n\n[chats.wenurses]\nhashtag = \"WeNurses\"\nweekday = \"{weekday}\"\n\
             time = \"{time}\"\nzone = \"UTC\"\nduration_minutes = 15\nreminders = []\n\n\
             [chats.wenurses.pacing]\nwelcome = 0\nfirst_question = 1\nwrap_up = 15\n\n\
             [chats.wenurses.collect]\ngrace_minutes = 0\n",
            api.base
        ),
    )
    .unwrap();
    let config = chathost::config::load_with_env(&dir.join("bot.toml"), &Default::default())
        .unwrap_or_else(|d| panic!("{}", d.iter().map(ToString::to_string).collect::<String>()))
        .config;
    let date = start.date_naive();
    {
        let store = chathost::engine::service::open_store(&config.state_dir).unwrap();
        let chat = store
            .upsert_chat(
                &chathost::store::NewChat {
                    name: "wenurses".into(),
                    date,
                    start_utc: start,
                    instance_url: api.base.clone(),
                    account: "chatbot".into(),
                    questions_file: None,
                },
                now,
            )
            .unwrap();
        let step = chathost::plan::Step {
            kind: chathost::plan::StepKind::Question { number: 1 },
            at: start + chrono::Duration::minutes(1),
            text: question["content"].as_str().unwrap_or_default().to_string(),
        };
        store.sync_steps(chat.id, &[step], now).unwrap();
        let step_id = store.steps(chat.id).unwrap()[0].id;
        store.begin_attempt(step_id, now).unwrap();
        let remote = chathost::store::RemotePost {
            id: qid.clone(),
            uri: question["uri"].as_str().unwrap().to_string(),
            url: None,
            created_at: now,
        };
        store.mark_posted(step_id, &remote, now).unwrap();
    }
    let clock: SharedClock =
        std::sync::Arc::new(ScaledClock::new(now + chrono::Duration::minutes(30), 1.0));
    let token = chathost::secret::Secret::new(server.token("chatbot"));
    let report =
        chathost::collect::command::recollect(config, token, clock, "wenurses", Some(date))
            .await
            .expect("collect succeeds against mastodon-mock");
    assert_eq!(report.answers, 3, "{report:#?}");
    let q1 = report
        .questions
        .iter()
        .find(|q| q.number == Some(1))
        .expect("Q1");
    for (who, status) in &expected {
        let url = status["url"].as_str().map(str::to_string);
        let found = q1
            .answers
            .iter()
            .filter(|a| {
                a.acct
                    .as_deref()
                    .is_some_and(|a| a.starts_with(&format!("{who}@")))
            })
            .count();
        assert_eq!(
            found, 1,
            "{who}'s answer under Q1 once ({url:?}): {report:#?}"
        );
    }
    let carol = q1
        .answers
        .iter()
        .find(|a| a.acct.as_deref().is_some_and(|a| a.starts_with("carol@")))
        .unwrap();
    assert_eq!(
        carol.via,
        vec!["reply"],
        "found through the question's replies only"
    );
    let store = chathost::engine::service::open_store(&dir.join("state")).unwrap();
    let chat = store.chat("wenurses", date).unwrap().unwrap();
    let answers = store.answers(chat.id).unwrap();
    assert!(
        answers
            .iter()
            .all(|a| a.uri != gone["uri"].as_str().unwrap() || a.deleted_at.is_some())
    );
    let _ = std::fs::remove_dir_all(&dir);
}
