//! The contract: the same client calls and the same assertions (status
//! codes, ordering, paging, fields, streaming) against
//!
//! - the sandbox, Mastodon flavour (expected to behave like real Mastodon),
//! - the sandbox, GoToSocial flavour (real GoToSocial's recorded differences),
//! - mastodon-mock 0.6.1 from PyPI, a Mastodon imitation nobody here wrote.
//!
//! Every expectation is what real Mastodon does unless the check says
//! otherwise: [`Expect::GoToSocial`] for a documented GoToSocial difference,
//! [`Expect::KnownDifference`] where mastodon-mock departs from real servers
//! (asserted, so a change in the mock shows up, and listed at the end).
//!
//! The mock is installed into a virtual environment on first use
//! (`$CARGO_TARGET_TMPDIR/mastodon-mock-0.6.1-venv`, or the venv named by
//! `CHATHOST_MASTODON_MOCK_VENV`; see `common/mock.rs`). If it cannot be
//! installed the mock's test fails, saying why. Streaming and rate limits are
//! checked in `contract/stream_ratelimit.rs`; what a collector reads, in
//! `contract_collection.rs`.

mod common;
#[path = "contract/stream_ratelimit.rs"]
mod stream_ratelimit;

use chathost::sandbox::Flavour;
use common::contract::{
    Contract, Expect, Server, Target, gts, id, ids_of, mock, mock_server, sandbox_server,
};
use common::mock::MOCK_VERSION;
use serde_json::json;

async fn contract(server: Server) -> Vec<String> {
    let mut c = Contract::new(server.target);
    let api = &server.api;
    let bot = server.token("chatbot");

    // --- instance
    let v1 = api.get("/api/v1/instance", None).await;
    c.same("instance v1 status", v1.status, 200);
    let max = v1.json["configuration"]["statuses"]["max_characters"]
        .as_u64()
        .unwrap() as usize;
    c.check("max_characters", max, 500, gts(5000));
    c.check(
        "instance v1 has contact_account",
        v1.json.get("contact_account").is_some(),
        true,
        gts(false),
    );
    let streaming = v1.json["urls"]["streaming_api"]
        .as_str()
        .unwrap()
        .to_string();
    c.check(
        "streaming_api scheme",
        streaming.split("://").next().unwrap().to_string(),
        "ws".into(),
        gts("wss".into()),
    );
    let v2 = api.get("/api/v2/instance", None).await;
    c.same("instance v2 status", v2.status, 200);
    c.same(
        "instance v2 max_characters",
        v2.json["configuration"]["statuses"]["max_characters"].as_u64(),
        Some(max as u64),
    );

    // --- accounts and tokens
    let me = api
        .get("/api/v1/accounts/verify_credentials", Some(bot))
        .await;
    c.same("verify_credentials status", me.status, 200);
    c.same(
        "verify_credentials acct",
        me.json["acct"].as_str(),
        Some("chatbot"),
    );
    c.same("account id is a string", me.json["id"].is_string(), true);
    for field in [
        "username",
        "display_name",
        "created_at",
        "note",
        "url",
        "avatar",
        "statuses_count",
        "source",
    ] {
        c.same(
            &format!("account has {field}"),
            me.json.get(field).is_some(),
            true,
        );
    }
    let bot_id = id(&me.json);
    let anon = api.get("/api/v1/accounts/verify_credentials", None).await;
    c.same("verify_credentials without a token", anon.status, 401);
    c.same(
        "401 has an error text",
        anon.json["error"].is_string(),
        true,
    );
    let wrong = api
        .get("/api/v1/accounts/verify_credentials", Some("not-a-token"))
        .await;
    c.same("verify_credentials with a wrong token", wrong.status, 401);
    let patched = api
        .call(
            reqwest::Method::PATCH,
            "/api/v1/accounts/update_credentials",
            Some(bot),
            Some(json!({ "bot": true })),
            &[],
        )
        .await;
    c.same(
        "update_credentials bot",
        (patched.status, patched.json["bot"].as_bool()),
        (200, Some(true)),
    );

    // --- posting
    let q = api
        .post("/api/v1/statuses", bot, json!({ "status": "#testchat Q1: What is the capital of France?", "visibility": "public" }))
        .await;
    c.same("post status", q.status, 200);
    let q_id = id(&q.json);
    let content = q.json["content"].as_str().unwrap().to_string();
    c.check(
        "hashtag linked in content",
        content.contains("class=\"mention hashtag\"") && content.contains("#<span>testchat</span>"),
        true,
        mock(
            "mastodon-mock leaves hashtags as plain text in content; real servers link them",
            false,
        ),
    );
    c.same("tags", q.json["tags"][0]["name"].as_str(), Some("testchat"));
    c.same("visibility", q.json["visibility"].as_str(), Some("public"));
    c.same(
        "created_at is RFC 3339",
        chrono::DateTime::parse_from_rfc3339(q.json["created_at"].as_str().unwrap()).is_ok(),
        true,
    );
    c.check(
        "status id shape",
        q_id.bytes().all(|b| b.is_ascii_digit()),
        true,
        gts(false),
    );
    let alice = api
        .post("/api/v1/statuses", server.token("alice"), json!({ "status": "A1: Paris #testchat", "in_reply_to_id": q_id, "visibility": "public" }))
        .await
        .json;
    let alice_id = id(&alice);
    c.same(
        "reply in_reply_to_id",
        alice["in_reply_to_id"].as_str(),
        Some(q_id.as_str()),
    );
    c.same(
        "reply in_reply_to_account_id",
        alice["in_reply_to_account_id"].as_str(),
        Some(bot_id.as_str()),
    );
    let bob = api
        .post(
            "/api/v1/statuses",
            server.token("bob"),
            json!({ "status": "I think it is Lyon #testchat", "visibility": "public" }),
        )
        .await
        .json;
    let bob_id = id(&bob);
    let carol = api
        .post(
            "/api/v1/statuses",
            server.token("carol"),
            json!({ "status": "@chatbot A1: paris (unlisted, no hashtag)", "in_reply_to_id": q_id, "visibility": "unlisted" }),
        )
        .await
        .json;
    let carol_id = id(&carol);
    c.same(
        "mention listed",
        carol["mentions"][0]["acct"].as_str(),
        Some("chatbot"),
    );
    c.check(
        "mention linked in content",
        carol["content"]
            .as_str()
            .unwrap()
            .contains("class=\"u-url mention\""),
        true,
        mock(
            "mastodon-mock leaves mentions as plain text in content; real servers link them",
            false,
        ),
    );

    // --- tag timeline and paging
    let all = api.get("/api/v1/timelines/tag/testchat", Some(bot)).await;
    c.same("tag timeline status", all.status, 200);
    c.same(
        "tag timeline: public only, newest first",
        all.ids(),
        vec![bob_id.clone(), alice_id.clone(), q_id.clone()],
    );
    let first = api
        .get("/api/v1/timelines/tag/testchat?limit=2", Some(bot))
        .await;
    c.same(
        "limit=2 page",
        first.ids(),
        vec![bob_id.clone(), alice_id.clone()],
    );
    let next = first
        .link("next")
        .expect("a full page links to the next one");
    c.same(
        "next link uses max_id of the last item",
        next.contains(&format!("max_id={alice_id}")),
        true,
    );
    let prev = first
        .link("prev")
        .expect("a page links to the previous one");
    c.same(
        "prev link uses min_id of the first item",
        prev.contains(&format!("min_id={bob_id}")),
        true,
    );
    let last = api.get(&next, Some(bot)).await;
    c.same("next page", last.ids(), vec![q_id.clone()]);
    c.check(
        "last page still links to next",
        last.link("next").is_some(),
        true,
        mock("mastodon-mock sends rel=\"next\" only on a full page; Mastodon and GoToSocial on every non-empty page", false),
    );
    let newer = api.get(&prev, Some(bot)).await;
    c.same(
        "prev page of the newest is empty",
        newer.ids(),
        Vec::<String>::new(),
    );
    c.same("empty page has no Link", newer.header("link"), None);
    let since = api
        .get(
            &format!("/api/v1/timelines/tag/testchat?since_id={q_id}"),
            Some(bot),
        )
        .await;
    c.same(
        "since_id",
        since.ids(),
        vec![bob_id.clone(), alice_id.clone()],
    );
    let since1 = api
        .get(
            &format!("/api/v1/timelines/tag/testchat?since_id={q_id}&limit=1"),
            Some(bot),
        )
        .await;
    c.same(
        "since_id gives the newest",
        since1.ids(),
        vec![bob_id.clone()],
    );
    let min1 = api
        .get(
            &format!("/api/v1/timelines/tag/testchat?min_id={q_id}&limit=1"),
            Some(bot),
        )
        .await;
    c.same(
        "min_id gives the page just above",
        min1.ids(),
        vec![alice_id.clone()],
    );
    let anon = api.get("/api/v1/timelines/tag/testchat", None).await;
    c.check("tag timeline without a token", anon.status, 200, gts(401));
    let unused = api
        .get("/api/v1/timelines/tag/neverusedtag", Some(bot))
        .await;
    c.check("unused tag status", unused.status, 200, gts(404));
    if unused.status == 200 {
        c.same("unused tag is empty", unused.ids(), Vec::<String>::new());
    }

    // --- megalodon reads the same timeline
    let sns = if server.target == Target::SandboxGoToSocial {
        megalodon::SNS::Gotosocial
    } else {
        megalodon::SNS::Mastodon
    };
    let client = megalodon::generator(sns, api.base.clone(), Some(bot.to_string()), None).unwrap();
    c.same(
        "megalodon get_instance",
        client.get_instance().await.is_ok(),
        true,
    );
    let timeline = client
        .get_tag_timeline("testchat".into(), None)
        .await
        .unwrap()
        .json;
    let ids: Vec<String> = timeline.iter().map(|s| s.id.clone()).collect();
    c.same("megalodon tag timeline", ids, all.ids());

    // --- context
    let context = api
        .get(&format!("/api/v1/statuses/{q_id}/context"), Some(bot))
        .await;
    c.same("context status", context.status, 200);
    c.same(
        "context ancestors of the question",
        ids_of(&context.json["ancestors"]),
        Vec::<String>::new(),
    );
    c.same(
        "context descendants: unlisted and untagged replies too",
        ids_of(&context.json["descendants"]),
        vec![alice_id.clone(), carol_id.clone()],
    );
    c.same(
        "unlisted reply in context",
        context.json["descendants"][1]["visibility"].as_str(),
        Some("unlisted"),
    );
    let up = api
        .get(&format!("/api/v1/statuses/{alice_id}/context"), Some(bot))
        .await;
    c.same(
        "context ancestors of a reply",
        ids_of(&up.json["ancestors"]),
        vec![q_id.clone()],
    );

    // --- Idempotency-Key
    let body = json!({ "status": "idempotent test", "visibility": "public" });
    let key = [("Idempotency-Key", "contract-key-1")];
    let once = api
        .call(
            reqwest::Method::POST,
            "/api/v1/statuses",
            Some(server.token("alice")),
            Some(body.clone()),
            &key,
        )
        .await;
    let twice = api
        .call(
            reqwest::Method::POST,
            "/api/v1/statuses",
            Some(server.token("alice")),
            Some(body),
            &key,
        )
        .await;
    c.check(
        "Idempotency-Key returns the first status",
        id(&once.json) == id(&twice.json),
        true,
        gts(false),
    );

    // --- edit and history
    let edited = api
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/statuses/{bob_id}"),
            Some(server.token("bob")),
            Some(json!({ "status": "EDITED: I think it is Paris #testchat" })),
            &[],
        )
        .await;
    c.same("edit status", edited.status, 200);
    c.same(
        "edit sets edited_at",
        edited.json["edited_at"].is_string(),
        true,
    );
    c.same("edit keeps the id", id(&edited.json), bob_id.clone());
    let history = api
        .get(&format!("/api/v1/statuses/{bob_id}/history"), Some(bot))
        .await;
    let versions: Vec<bool> = history
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["content"].as_str().unwrap().contains("EDITED"))
        .collect();
    c.check(
        "history, oldest first (is it the edit?)",
        versions,
        vec![false, true],
        gts(vec![true, false]),
    );
    let foreign = api
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/statuses/{bob_id}"),
            Some(server.token("alice")),
            Some(json!({ "status": "not mine" })),
            &[],
        )
        .await;
    c.check(
        "editing someone else's status",
        foreign.status,
        404,
        mock("mastodon-mock answers 403; Mastodon finds only the caller's own statuses and answers 404", 403),
    );

    // --- delete
    let deleted = api
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/statuses/{bob_id}"),
            Some(server.token("bob")),
            None,
            &[],
        )
        .await;
    c.same("delete status", deleted.status, 200);
    c.same(
        "delete returns the source text",
        deleted.json["text"].as_str(),
        Some("EDITED: I think it is Paris #testchat"),
    );
    let gone = api
        .get(&format!("/api/v1/statuses/{bob_id}"), Some(bot))
        .await;
    c.same("deleted status is gone", gone.status, 404);
    let after = api.get("/api/v1/timelines/tag/testchat", Some(bot)).await;
    c.same(
        "deleted status left the timeline",
        after.ids(),
        vec![alice_id.clone(), q_id.clone()],
    );

    // --- length limit
    let too_long = api
        .post(
            "/api/v1/statuses",
            server.token("carol"),
            json!({ "status": "x".repeat(max + 1) }),
        )
        .await;
    c.check("over-long post status", too_long.status, 422, gts(400));
    c.check(
        "over-long post error",
        too_long.json["error"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        format!("Validation failed: Text character limit of {max} exceeded"),
        |t| match t {
            Target::SandboxGoToSocial => Expect::GoToSocial(format!(
                "Bad Request: text with spoiler exceed max chars ({max})"
            )),
            Target::MastodonMock => Expect::KnownDifference(
                "mastodon-mock words the error 'Text is too long (maximum is N characters)'",
                format!("Validation failed: Text is too long (maximum is {max} characters)"),
            ),
            Target::SandboxMastodon => Expect::Mastodon,
        },
    );
    let long_url = format!("see https://example.com/{}", "a".repeat(max));
    let url_post = api
        .post(
            "/api/v1/statuses",
            server.token("carol"),
            json!({ "status": long_url, "visibility": "direct" }),
        )
        .await;
    c.check(
        "a long URL counts as 23 characters",
        url_post.status,
        200,
        |t| match t {
            Target::SandboxGoToSocial => Expect::GoToSocial(400),
            Target::MastodonMock => {
                Expect::KnownDifference("mastodon-mock counts URLs at full length", 422)
            }
            Target::SandboxMastodon => Expect::Mastodon,
        },
    );

    // --- followed tags and notifications
    let follow = api
        .post("/api/v1/tags/testchat/follow", bot, json!({}))
        .await;
    c.same(
        "follow tag",
        (follow.status, follow.json["following"].as_bool()),
        (200, Some(true)),
    );
    let followed = api.get("/api/v1/followed_tags", Some(bot)).await;
    let names: Vec<&str> = followed
        .json
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    c.same("followed_tags", names, vec!["testchat"]);
    let notes = api.get("/api/v1/notifications", Some(bot)).await;
    let mention = notes
        .json
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["type"] == "mention")
        .cloned();
    c.same(
        "mention notification from carol",
        mention.map(|n| {
            (
                n["account"]["acct"].as_str().map(String::from),
                n["status"]["id"].as_str().map(String::from),
            )
        }),
        Some((Some("carol".to_string()), Some(carol_id.clone()))),
    );

    // --- account statuses
    let mine = api
        .get(
            &format!("/api/v1/accounts/{bot_id}/statuses?limit=1"),
            Some(bot),
        )
        .await;
    c.same("account statuses", mine.ids(), vec![q_id.clone()]);
    c.same(
        "account statuses link to the next page",
        mine.link("next").is_some(),
        true,
    );

    stream_ratelimit::streaming(&mut c, &server).await;
    // Last: GoToSocial's rate-limit budget is per IP.
    stream_ratelimit::rate_limits(&mut c, &server).await;
    drop(server);
    c.known
}

#[tokio::test]
async fn contract_holds_for_the_sandbox_mastodon_flavour() {
    let known = contract(sandbox_server(Flavour::Mastodon).await).await;
    assert!(known.is_empty());
}

#[tokio::test]
async fn contract_holds_for_the_sandbox_gotosocial_flavour() {
    let known = contract(sandbox_server(Flavour::GoToSocial).await).await;
    assert!(known.is_empty());
}

#[tokio::test]
async fn contract_holds_for_mastodon_mock_with_its_known_differences() {
    let known = contract(mock_server().await).await;
    eprintln!("mastodon-mock {MOCK_VERSION}: known differences from real servers:");
    for k in &known {
        eprintln!("  - {k}");
    }
    assert_eq!(known.len(), 10, "{known:#?}");
}
