//! The sandbox over real HTTP on loopback: every fault's client-visible
//! effect, rate limiting, streams, the simulated participants on a fast
//! clock, the request log, and the `chathost sandbox` command.
//!
//! API behaviour shared with real servers (paging, edits, context, flavour
//! differences) is checked in `contract.rs`, against mastodon-mock too.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chathost::sandbox::{
    Afterwards, AnswerStyle, Fault, FaultKind, Flavour, Method, Sandbox, SandboxConfig, Visibility,
};
use chrono::{DateTime, Utc};
use common::{Api, Frame, expect_event, frame_status_id, next_frame, stream};
use serde_json::json;

fn post_body(text: &str) -> serde_json::Value {
    json!({ "status": text, "visibility": "public" })
}

async fn post_raw(
    base: &str,
    token: &str,
    text: &str,
    timeout: Duration,
) -> reqwest::Result<reqwest::Response> {
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .unwrap()
        .post(format!("{base}/api/v1/statuses"))
        .bearer_auth(token)
        .json(&post_body(text))
        .send()
        .await
}

// ---------------------------------------------------------------- faults

#[tokio::test]
async fn latency_fault_delays_one_answer_and_trips_a_short_client_timeout() {
    let sandbox = common::sandbox(Flavour::Mastodon).await;
    let api = Api::new(sandbox.base_url());
    sandbox.faults().inject(
        Fault::new(
            Method::GET,
            "/api/v1/instance",
            FaultKind::Latency(Duration::from_millis(400)),
        )
        .times(2),
    );
    let started = Instant::now();
    assert_eq!(api.get("/api/v1/instance", None).await.status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "answer was not delayed"
    );

    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let err = impatient
        .get(format!("{}/api/v1/instance", sandbox.base_url()))
        .send()
        .await
        .expect_err("a 100 ms client gives up on a 400 ms answer");
    assert!(err.is_timeout(), "{err}");

    // Disarmed after two firings.
    let started = Instant::now();
    assert_eq!(api.get("/api/v1/instance", None).await.status, 200);
    assert!(started.elapsed() < Duration::from_millis(300));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn status_faults_answer_5xx_without_storing_anything() {
    let sandbox = common::sandbox(Flavour::Mastodon).await;
    let api = Api::new(sandbox.base_url());
    let bot = sandbox.bot();
    for code in [500, 502, 503] {
        sandbox.faults().inject(Fault::new(
            Method::POST,
            "/api/v1/statuses",
            FaultKind::Status(code),
        ));
        let a = api
            .post(
                "/api/v1/statuses",
                bot.token.expose(),
                post_body("Q1: hello #testchat"),
            )
            .await;
        assert_eq!(a.status, code);
        if code == 500 {
            assert_eq!(a.json["error"], "Internal Server Error");
        } else {
            assert!(
                a.text.contains(&format!("<h1>{code} ")),
                "proxy-style page: {}",
                a.text
            );
        }
    }
    assert!(
        sandbox.statuses_of("chatbot").is_empty(),
        "a 5xx fault must not store"
    );
    let a = api
        .post(
            "/api/v1/statuses",
            bot.token.expose(),
            post_body("Q1: hello #testchat"),
        )
        .await;
    assert_eq!(a.status, 200, "faults fire once by default");
    assert_eq!(sandbox.statuses_of("chatbot").len(), 1);
    assert_eq!(sandbox.log().by_status()[&Some(502)], 1);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn rate_limited_fault_answers_429_without_retry_after() {
    let sandbox = common::sandbox(Flavour::GoToSocial).await;
    let api = Api::new(sandbox.base_url());
    let bot = sandbox.bot();
    sandbox.faults().inject(Fault::new(
        Method::GET,
        "/api/v1/accounts/verify_credentials",
        FaultKind::RateLimited,
    ));
    let a = api
        .get(
            "/api/v1/accounts/verify_credentials",
            Some(bot.token.expose()),
        )
        .await;
    assert_eq!(a.status, 429);
    assert_eq!(a.json["error"], "rate limit reached");
    assert_eq!(a.header("x-ratelimit-remaining").as_deref(), Some("0"));
    assert_eq!(a.header("retry-after"), None);
    let reset = a.header("x-ratelimit-reset").unwrap();
    assert!(
        DateTime::parse_from_rfc3339(&reset).is_ok(),
        "ISO reset time: {reset}"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn reset_fault_cuts_the_connection_before_anything_is_stored() {
    let sandbox = common::sandbox(Flavour::Mastodon).await;
    let bot = sandbox.bot();
    sandbox.faults().inject(Fault::new(
        Method::POST,
        "/api/v1/statuses",
        FaultKind::Reset,
    ));
    let err = post_raw(
        sandbox.base_url(),
        bot.token.expose(),
        "Q1: hi #testchat",
        Duration::from_secs(5),
    )
    .await
    .expect_err("no HTTP answer");
    assert!(
        !err.is_timeout(),
        "a reset is immediate, not a timeout: {err}"
    );
    assert!(err.status().is_none());
    assert!(sandbox.statuses_of("chatbot").is_empty());
    let record = sandbox.log().records().pop().unwrap();
    assert_eq!(
        (record.status, record.fault),
        (None, Some(FaultKind::Reset))
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn lose_response_fault_stores_the_post_and_the_client_times_out() {
    let sandbox = common::sandbox(Flavour::GoToSocial).await;
    let api = Api::new(sandbox.base_url());
    let bot = sandbox.bot();
    sandbox
        .faults()
        .inject(Fault::new(Method::POST, "/api/v1/statuses", FaultKind::LoseResponse).times(1));
    let err = post_raw(
        sandbox.base_url(),
        bot.token.expose(),
        "Q1: hi #testchat",
        Duration::from_millis(500),
    )
    .await
    .expect_err("the answer never arrives");
    assert!(err.is_timeout(), "{err}");
    // Unknown outcome for the client, but the post exists: reconciling by
    // reading the bot's own statuses finds it.
    let mine = api
        .get(
            &format!("/api/v1/accounts/{}/statuses", bot.id),
            Some(bot.token.expose()),
        )
        .await;
    assert_eq!(mine.json[0]["text"], "Q1: hi #testchat");
    assert_eq!(sandbox.statuses_of("chatbot").len(), 1);
    // Shutdown releases the held connection promptly.
    let started = Instant::now();
    sandbox.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn reset_after_handling_stores_the_post_and_the_client_sees_a_connection_error() {
    let sandbox = common::sandbox(Flavour::Mastodon).await;
    let bot = sandbox.bot();
    sandbox.faults().inject(Fault::new(
        Method::POST,
        "/api/v1/statuses",
        FaultKind::ResetAfterHandling,
    ));
    let err = post_raw(
        sandbox.base_url(),
        bot.token.expose(),
        "Q1: hi #testchat",
        Duration::from_secs(5),
    )
    .await
    .expect_err("no HTTP answer");
    assert!(!err.is_timeout() && err.status().is_none(), "{err}");
    assert_eq!(
        sandbox.statuses_of("chatbot").len(),
        1,
        "stored although unanswered"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn stream_disconnect_fault_drops_the_socket_and_loses_that_event() {
    let sandbox = common::sandbox(Flavour::Mastodon).await;
    let api = Api::new(sandbox.base_url());
    let alice = sandbox.account("alice").unwrap();
    let mut ws = stream(sandbox.base_url(), "stream=hashtag&tag=testchat", None)
        .await
        .unwrap();
    sandbox
        .faults()
        .inject(Fault::stream(FaultKind::StreamDisconnect));
    let lost = api
        .status(alice.token.expose(), post_body("A1: lost #testchat"))
        .await;
    match next_frame(&mut ws, Duration::from_secs(5)).await {
        Frame::Closed(_) => {}
        other => panic!("expected the stream to drop, got {other:?}"),
    }
    // A new connection works again; the lost event is only in the timeline.
    let mut ws = stream(sandbox.base_url(), "stream=hashtag&tag=testchat", None)
        .await
        .unwrap();
    let kept = api
        .status(alice.token.expose(), post_body("A1: kept #testchat"))
        .await;
    let frame = expect_event(&mut ws).await;
    assert_eq!(frame_status_id(&frame), kept["id"].as_str().unwrap());
    let timeline = api
        .get("/api/v1/timelines/tag/testchat", Some(alice.token.expose()))
        .await;
    assert!(
        timeline
            .ids()
            .contains(&lost["id"].as_str().unwrap().to_string())
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn stream_reorder_fault_delivers_two_events_swapped() {
    let sandbox = common::sandbox(Flavour::Mastodon).await;
    let api = Api::new(sandbox.base_url());
    let bob = sandbox.account("bob").unwrap();
    let mut ws = stream(sandbox.base_url(), "stream=user", Some(bob.token.expose()))
        .await
        .unwrap();
    sandbox
        .faults()
        .inject(Fault::stream(FaultKind::StreamReorder));
    let first = api
        .status(bob.token.expose(), post_body("one #testchat"))
        .await;
    let second = api
        .status(bob.token.expose(), post_body("two #testchat"))
        .await;
    let a = expect_event(&mut ws).await;
    let b = expect_event(&mut ws).await;
    assert_eq!(frame_status_id(&a), second["id"].as_str().unwrap());
    assert_eq!(frame_status_id(&b), first["id"].as_str().unwrap());
    sandbox.shutdown().await;
}

// ---------------------------------------------------------------- rate limit

#[tokio::test]
async fn rate_limit_allows_300_requests_per_window_then_429_until_reset() {
    let clock = common::ManualClock::at(common::origin() + chrono::Duration::seconds(42));
    let sandbox = Sandbox::start(SandboxConfig {
        clock: clock.clone(),
        participants: 2,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let api = Api::new(sandbox.base_url());
    let bot = sandbox.bot();
    let alice = sandbox.account("alice").unwrap();
    let path = "/api/v1/accounts/verify_credentials";
    for i in 0..300u32 {
        let a = api.get(path, Some(bot.token.expose())).await;
        assert_eq!(a.status, 200);
        assert_eq!(a.header("x-ratelimit-limit").as_deref(), Some("300"));
        assert_eq!(
            a.header("x-ratelimit-remaining").unwrap(),
            (299 - i).to_string()
        );
        // Mastodon windows end on a multiple of five minutes.
        assert_eq!(
            a.header("x-ratelimit-reset").unwrap(),
            "2027-03-24T20:05:00.000000Z"
        );
    }
    let a = api.get(path, Some(bot.token.expose())).await;
    assert_eq!(a.status, 429);
    assert_eq!(a.json["error"], "Too many requests");
    assert_eq!(a.header("x-ratelimit-remaining").as_deref(), Some("0"));
    assert_eq!(
        a.header("retry-after"),
        None,
        "429 may carry no Retry-After"
    );
    // Mastodon counts per account: alice is not limited.
    assert_eq!(api.get(path, Some(alice.token.expose())).await.status, 200);
    // At the reset instant the bot has a fresh window.
    clock.set(common::origin() + chrono::Duration::minutes(5));
    let a = api.get(path, Some(bot.token.expose())).await;
    assert_eq!(
        (a.status, a.header("x-ratelimit-remaining").unwrap()),
        (200, "299".to_string())
    );
    assert_eq!(sandbox.log().by_status()[&Some(429)], 1);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn gotosocial_counts_every_caller_from_one_address_together() {
    let clock = common::ManualClock::at(common::origin());
    let sandbox = Sandbox::start(SandboxConfig {
        flavour: Flavour::GoToSocial,
        clock: clock.clone(),
        participants: 1,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let api = Api::new(sandbox.base_url());
    let bot = sandbox.bot();
    for _ in 0..150 {
        api.get("/api/v1/instance", Some(bot.token.expose())).await;
    }
    for _ in 0..150 {
        api.get("/api/v1/instance", None).await;
    }
    let alice = sandbox.account("alice").unwrap();
    let a = api
        .get(
            "/api/v1/accounts/verify_credentials",
            Some(alice.token.expose()),
        )
        .await;
    assert_eq!(a.status, 429, "one budget per IP, as recorded");
    assert_eq!(a.json["error"], "rate limit reached");
    assert_eq!(
        a.header("x-ratelimit-reset").unwrap(),
        "2027-03-24T20:05:00.000Z"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn rate_limit_can_be_switched_off() {
    let sandbox = Sandbox::start(SandboxConfig {
        rate_limit: false,
        participants: 1,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let a = Api::new(sandbox.base_url())
        .get("/api/v1/instance", None)
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("x-ratelimit-limit"), None);
    sandbox.shutdown().await;
}

// ---------------------------------------------------------------- streams

#[tokio::test]
async fn gotosocial_hashtag_stream_is_silent_but_a_followed_tag_reaches_the_user_stream() {
    let sandbox = common::sandbox(Flavour::GoToSocial).await;
    let api = Api::new(sandbox.base_url());
    let bot = sandbox.bot();
    let alice = sandbox.account("alice").unwrap();
    let token = bot.token.expose();
    let follow = api
        .post("/api/v1/tags/TestChat/follow", token, json!({}))
        .await;
    assert_eq!(
        (follow.status, follow.json["following"].clone()),
        (200, json!(true))
    );
    let mut hashtag = stream(
        sandbox.base_url(),
        "stream=hashtag&tag=testchat",
        Some(token),
    )
    .await
    .unwrap();
    let mut user = stream(sandbox.base_url(), "stream=user", Some(token))
        .await
        .unwrap();

    let answer = api
        .status(alice.token.expose(), post_body("A1: Paris #testchat"))
        .await;
    let id = answer["id"].as_str().unwrap();
    let frame = expect_event(&mut user).await;
    assert_eq!(frame["stream"], json!(["user"]));
    assert_eq!(frame["event"], "update");
    assert_eq!(frame_status_id(&frame), id);

    let edit = api
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/statuses/{id}"),
            Some(alice.token.expose()),
            Some(json!({ "status": "A1: Paris, surely #testchat" })),
            &[],
        )
        .await;
    assert_eq!(edit.status, 200);
    let frame = expect_event(&mut user).await;
    assert_eq!(
        (frame["event"].as_str(), frame_status_id(&frame).as_str()),
        (Some("status.update"), id)
    );

    let deleted = api
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/statuses/{id}"),
            Some(alice.token.expose()),
            None,
            &[],
        )
        .await;
    assert_eq!(deleted.status, 200);
    let frame = expect_event(&mut user).await;
    assert_eq!(frame["event"], "delete");
    assert_eq!(frame["payload"], id, "delete payload is the bare id");

    assert!(matches!(
        next_frame(&mut hashtag, Duration::from_millis(300)).await,
        Frame::Silence
    ));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn user_stream_carries_mention_notifications_and_accepts_a_query_token() {
    let sandbox = common::sandbox(Flavour::Mastodon).await;
    let api = Api::new(sandbox.base_url());
    let bot = sandbox.bot();
    let carol = sandbox.account("carol").unwrap();
    let query = format!("stream=user&access_token={}", bot.token.expose());
    let mut ws = stream(sandbox.base_url(), &query, None).await.unwrap();
    let status = api
        .status(carol.token.expose(), post_body("@chatbot next"))
        .await;
    let frame = expect_event(&mut ws).await;
    assert_eq!(frame["event"], "update");
    let frame = expect_event(&mut ws).await;
    assert_eq!(frame["event"], "notification");
    let notification: serde_json::Value =
        serde_json::from_str(frame["payload"].as_str().unwrap()).unwrap();
    assert_eq!(notification["type"], "mention");
    assert_eq!(notification["status"]["id"], status["id"]);
    let listed = api
        .get("/api/v1/notifications", Some(bot.token.expose()))
        .await;
    assert_eq!(listed.json[0]["id"], notification["id"]);
    // The token in the URL never reaches the log.
    assert!(
        sandbox
            .log()
            .records()
            .iter()
            .all(|r| !format!("{r:?}").contains(bot.token.expose()))
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn streams_refuse_missing_or_wrong_tokens_like_the_flavour() {
    let gts = common::sandbox(Flavour::GoToSocial).await;
    assert_eq!(
        stream(gts.base_url(), "stream=hashtag&tag=testchat", None)
            .await
            .err(),
        Some(401)
    );
    assert_eq!(
        stream(gts.base_url(), "stream=user", Some("wrong"))
            .await
            .err(),
        Some(401)
    );
    let masto = common::sandbox(Flavour::Mastodon).await;
    assert!(
        stream(masto.base_url(), "stream=hashtag&tag=testchat", None)
            .await
            .is_ok()
    );
    assert_eq!(
        stream(masto.base_url(), "stream=user", None).await.err(),
        Some(401)
    );
    gts.shutdown().await;
    masto.shutdown().await;
}

// ---------------------------------------------------------------- participants

async fn run_one_question(seed: u64, flavour: Flavour) -> (Sandbox, String, DateTime<Utc>) {
    let sandbox = Sandbox::start(SandboxConfig {
        flavour,
        clock: common::fast_clock(600.0),
        participants: 8,
        seed,
        rate_limit: false,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let api = Api::new(sandbox.base_url());
    let q = api
        .status(
            sandbox.bot().token.expose(),
            post_body("#testchat Q1: What helps you learn?"),
        )
        .await;
    let asked: DateTime<Utc> = q["created_at"].as_str().unwrap().parse().unwrap();
    // 8 virtual minutes to answer + up to 150 s to edit or delete, at 600x:
    // about 1.1 real seconds. Poll rather than guess.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let done = sandbox
            .statuses_of("dave")
            .iter()
            .any(|s| s.edited_at.is_some())
            && sandbox
                .statuses_of("erin")
                .iter()
                .any(|s| s.deleted_at.is_some())
            && sandbox
                .accounts()
                .iter()
                .skip(1)
                .all(|a| !sandbox.statuses_of(&a.acct).is_empty());
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "participants did not finish in time"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (sandbox, q["id"].as_str().unwrap().to_string(), asked)
}

#[tokio::test]
async fn participants_answer_a_question_with_the_expected_mix_on_a_fast_clock() {
    let (sandbox, q, asked) = run_one_question(7, Flavour::Mastodon).await;
    let api = Api::new(sandbox.base_url());
    let bot = sandbox.bot();
    let window = SandboxConfig::default().answer_window;

    for account in sandbox.accounts().iter().skip(1) {
        let posts = sandbox.statuses_of(&account.acct);
        assert_eq!(posts.len(), 1, "{} answers exactly once", account.acct);
        let answer = &posts[0];
        let persona = account.persona.clone().unwrap();
        assert!(answer.text.contains("A1: "), "{}", answer.text);
        let delay = answer.created_at - asked;
        assert!(
            delay >= chrono::Duration::seconds(10)
                && delay <= chrono::Duration::from_std(window).unwrap(),
            "{} answered after {delay}",
            account.acct
        );
        assert_eq!(answer.visibility, persona.visibility);
        let is_reply = answer.in_reply_to_id.as_deref() == Some(q.as_str());
        assert_eq!(
            is_reply,
            persona.style != AnswerStyle::TopLevel,
            "{}",
            account.acct
        );
        let tagged = answer.tags.contains(&"testchat".to_string());
        assert_eq!(
            tagged,
            persona.style != AnswerStyle::ReplyWithoutTag,
            "{}",
            answer.text
        );
        match persona.afterwards {
            Afterwards::Edit => {
                assert!(answer.edited_at.is_some() && answer.text.contains("edited"))
            }
            Afterwards::Delete => assert!(answer.deleted_at.is_some()),
            Afterwards::Nothing => {
                assert!(answer.edited_at.is_none() && answer.deleted_at.is_none())
            }
        }
    }
    let accounts = sandbox.accounts();
    assert_eq!(
        accounts
            .iter()
            .filter(|a| a.bot && a.acct != "chatbot")
            .count(),
        1
    );
    assert_eq!(
        accounts
            .iter()
            .filter(|a| a.note.contains("#nobot"))
            .count(),
        1
    );

    // What a collector sees: the tag timeline lacks the unlisted answer, the
    // untagged reply and the deleted one; the context has the first two.
    let timeline = api
        .get(
            "/api/v1/timelines/tag/testchat?limit=40",
            Some(bot.token.expose()),
        )
        .await;
    let in_timeline: Vec<String> = timeline
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["account"]["acct"].as_str().unwrap().to_string())
        .collect();
    for acct in ["alice", "bob", "dave", "grace", "heidi", "chatbot"] {
        assert!(
            in_timeline.contains(&acct.to_string()),
            "{acct} missing from {in_timeline:?}"
        );
    }
    for acct in ["carol", "erin", "frank"] {
        assert!(
            !in_timeline.contains(&acct.to_string()),
            "{acct} should not be in {in_timeline:?}"
        );
    }
    let context = api
        .get(
            &format!("/api/v1/statuses/{q}/context"),
            Some(bot.token.expose()),
        )
        .await;
    let replies: Vec<(String, String)> = context.json["descendants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["account"]["acct"].as_str().unwrap().into(),
                s["visibility"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(replies.contains(&("carol".into(), "public".into())));
    assert!(replies.contains(&("frank".into(), "unlisted".into())));
    // carol's reply mentions the bot: one notification.
    let notifications = api
        .get("/api/v1/notifications", Some(bot.token.expose()))
        .await;
    assert_eq!(notifications.json.as_array().unwrap().len(), 1);
    assert_eq!(notifications.json[0]["account"]["acct"], "carol");
    assert_eq!(
        sandbox.statuses_of("frank")[0].visibility,
        Visibility::Unlisted
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn participants_are_reproducible_from_the_seed() {
    let texts = |sandbox: &Sandbox| -> Vec<String> {
        sandbox
            .accounts()
            .iter()
            .skip(1)
            .flat_map(|a| sandbox.statuses_of(&a.acct))
            .map(|s| format!("{}: {}", s.acct, s.text))
            .collect()
    };
    let (a, _, _) = run_one_question(11, Flavour::GoToSocial).await;
    let (b, _, _) = run_one_question(11, Flavour::GoToSocial).await;
    let (c, _, _) = run_one_question(12, Flavour::GoToSocial).await;
    assert_eq!(texts(&a), texts(&b));
    assert_ne!(texts(&a), texts(&c), "another seed, other answers");
    for s in [a, b, c] {
        s.shutdown().await;
    }
}

#[tokio::test]
async fn participants_ignore_posts_that_are_not_public_tagged_bot_questions() {
    let sandbox = Sandbox::start(SandboxConfig {
        clock: common::fast_clock(6000.0),
        participants: 3,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let api = Api::new(sandbox.base_url());
    let bot = sandbox.bot();
    let alice = sandbox.account("alice").unwrap();
    api.status(
        bot.token.expose(),
        json!({ "status": "Q1: untagged question" }),
    )
    .await;
    api.status(
        bot.token.expose(),
        json!({ "status": "Q2: unlisted #testchat", "visibility": "unlisted" }),
    )
    .await;
    api.status(
        bot.token.expose(),
        json!({ "status": "Welcome to #testchat!" }),
    )
    .await;
    api.status(
        alice.token.expose(),
        json!({ "status": "Q3: from a person #testchat" }),
    )
    .await;
    // 8 virtual minutes at 6000x is 80 ms; wait well past that.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sandbox.statuses_of("bob").len(), 0);
    assert_eq!(sandbox.statuses_of("alice").len(), 1);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn burst_posts_many_answers_fast_and_the_timeline_pages_through_them() {
    let sandbox = Sandbox::start(SandboxConfig {
        participants: 5,
        rate_limit: false,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let api = Api::new(sandbox.base_url());
    let token = sandbox.bot().token;
    let ids = sandbox.burst(3, 250).await;
    assert_eq!(ids.len(), 250);
    let mut seen = Vec::new();
    let mut next = Some("/api/v1/timelines/tag/testchat?limit=40".to_string());
    while let Some(url) = next.take() {
        let page = api.get(&url, Some(token.expose())).await;
        if page.ids().is_empty() {
            break;
        }
        seen.extend(page.ids());
        next = page.link("next");
    }
    let mut expected = ids.clone();
    expected.reverse();
    assert_eq!(
        seen, expected,
        "every post once, newest first, across pages"
    );
    assert_eq!(sandbox.log().count("GET", "/api/v1/timelines/tag/{tag}"), 8);
    sandbox.shutdown().await;
}

// ---------------------------------------------------------------- log and records

#[tokio::test]
async fn the_log_counts_per_endpoint_account_and_status_and_statuses_of_keeps_deleted_ones() {
    let sandbox = Sandbox::start(SandboxConfig {
        clock: common::fast_clock(1.0),
        participants: 2,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let api = Api::new(sandbox.base_url());
    let bot = sandbox.bot();
    let token = bot.token.expose();
    let q1 = api.status(token, post_body("#testchat Q1: one")).await;
    api.status(token, post_body("#testchat Q2: two")).await;
    let id = q1["id"].as_str().unwrap();
    api.call(
        reqwest::Method::DELETE,
        &format!("/api/v1/statuses/{id}"),
        Some(token),
        None,
        &[],
    )
    .await;
    api.get("/api/v1/timelines/tag/testchat", None).await;
    api.get("/api/v1/timelines/tag/testchat", Some("not-a-token"))
        .await;

    let log = sandbox.log();
    assert_eq!(log.count("POST", "/api/v1/statuses"), 2);
    assert_eq!(log.by_endpoint()["DELETE /api/v1/statuses/{id}"], 1);
    assert_eq!(log.by_account()["chatbot"], 3);
    assert_eq!(log.by_account()["anonymous"], 2);
    assert_eq!(log.by_status()[&Some(401)], 1);
    assert_eq!(log.total(), 5);

    let mine = sandbox.statuses_of("chatbot");
    let texts: Vec<&str> = mine.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(
        texts,
        ["#testchat Q1: one", "#testchat Q2: two"],
        "in order, deleted included"
    );
    assert!(mine[0].deleted_at.is_some() && mine[1].deleted_at.is_none());
    // Timestamps come from the injected clock, not the wall clock.
    let lag = mine[0].created_at - common::origin();
    assert!(
        lag >= chrono::Duration::zero() && lag < chrono::Duration::seconds(30),
        "{lag}"
    );
    // Tokens stay out of Debug output.
    assert!(!format!("{:?}", sandbox.accounts()).contains(token));
    sandbox.shutdown().await;
}

// ---------------------------------------------------------------- the command

#[tokio::test]
async fn chathost_sandbox_starts_fast_prints_tokens_and_serves_a_stock_client() {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_chathost"))
        .args([
            "sandbox",
            "--port",
            "0",
            "--flavour",
            "gotosocial",
            "--participants",
            "3",
            "--hashtag",
            "edchat",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("chathost runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.contains("Ctrl-C");
        banner.push(line);
        if done {
            break;
        }
    }
    let startup = started.elapsed();
    let banner = banner.join("\n");
    assert!(
        startup < Duration::from_secs(1),
        "took {startup:?}:\n{banner}"
    );
    let url = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap()
        .to_string();
    let bot_line = banner
        .lines()
        .find(|l| l.starts_with("bot account:"))
        .unwrap();
    let token = bot_line.split_whitespace().last().unwrap().to_string();
    assert!(banner.contains("curl"), "{banner}");
    assert_eq!(banner.lines().filter(|l| l.contains(" token ")).count(), 4);

    // A stock client: form-encoded POST as curl -d sends, then read back.
    let http = reqwest::Client::new();
    let posted = http
        .post(format!("{url}/api/v1/statuses"))
        .bearer_auth(&token)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("status=%23edchat+Q1%3A+Hello+from+curl&visibility=public")
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);
    let timeline: serde_json::Value = http
        .get(format!("{url}/api/v1/timelines/tag/edchat"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(timeline[0]["text"], "#edchat Q1: Hello from curl");

    // Ctrl-C stops it cleanly.
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    assert!(rest.iter().any(|l| l.contains("stopping")), "{rest:?}");
}

#[tokio::test]
async fn account_statuses_page_newest_first_and_can_leave_out_replies() {
    let sandbox = common::sandbox(Flavour::Mastodon).await;
    let api = Api::new(sandbox.base_url());
    let bot = sandbox.bot();
    let alice = sandbox.account("alice").unwrap();
    let token = alice.token.expose();
    let first = api.status(token, post_body("first #testchat")).await;
    let reply = api
        .status(
            token,
            json!({ "status": "a reply", "in_reply_to_id": first["id"] }),
        )
        .await;
    let secret = api
        .status(
            token,
            json!({ "status": "@chatbot psst", "visibility": "direct" }),
        )
        .await;
    let path = format!("/api/v1/accounts/{}/statuses", alice.id);
    let ids = |v: &[&serde_json::Value]| -> Vec<String> {
        v.iter()
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect()
    };
    let own = api.get(&path, Some(token)).await;
    assert_eq!(own.ids(), ids(&[&secret, &reply, &first]));
    let others = api.get(&path, Some(bot.token.expose())).await;
    assert_eq!(
        others.ids(),
        ids(&[&reply, &first]),
        "direct posts stay private"
    );
    let no_replies = api
        .get(&format!("{path}?exclude_replies=true"), Some(token))
        .await;
    assert_eq!(no_replies.ids(), ids(&[&secret, &first]));
    let page = api.get(&format!("{path}?limit=2"), Some(token)).await;
    assert_eq!(page.ids(), ids(&[&secret, &reply]));
    let older = api.get(&page.link("next").unwrap(), Some(token)).await;
    assert_eq!(older.ids(), ids(&[&first]));
    assert_eq!(
        older.link("next"),
        None,
        "Mastodon: no next link on a short page"
    );
    let unknown = api.get("/api/v1/nothing/here", Some(token)).await;
    assert_eq!(
        (unknown.status, unknown.json["error"].as_str()),
        (404, Some("Record not found"))
    );
    assert_eq!(sandbox.log().count("GET", "unmatched"), 1);
    sandbox.shutdown().await;
}
