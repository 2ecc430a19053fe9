//! The contract, continued: the hashtag stream and rate limits (run last by
//! `contract` in `tests/contract.rs`: GoToSocial's rate-limit budget is per IP).

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::contract::{Contract, Expect, Server, Target, gts, id, mock};
use crate::common::{self, Frame, frame_status_id, next_frame};

/// Streaming: events of a hashtag stream, and where the token may go.
pub async fn streaming(c: &mut Contract, server: &Server) {
    let api = &server.api;
    let bot = server.token("chatbot");

    // --- streaming: token in the query, as browsers must send it
    let query = format!("stream=hashtag&tag=testchat&access_token={bot}");
    let mut ws = common::stream(&api.base, &query, None)
        .await
        .expect("hashtag stream opens");
    // mastodon-mock subscribes only after the handshake: the stream is ready
    // once a status posted now arrives on it. Post warm-ups until one does
    // (bounded), where the hashtag stream delivers at all (GoToSocial's
    // never does).
    if !matches!(server.target, Target::SandboxGoToSocial) {
        let mut ready = false;
        for n in 0..25 {
            api.post(
                "/api/v1/statuses",
                server.token("bob"),
                json!({ "status": format!("warm-up {n} #testchat") }),
            )
            .await;
            if let Frame::Event(_) = next_frame(&mut ws, Duration::from_millis(200)).await {
                ready = true;
                break;
            }
        }
        assert!(ready, "the hashtag stream never delivered a status");
    }
    let s = api
        .post(
            "/api/v1/statuses",
            server.token("alice"),
            json!({ "status": "stream test #testchat" }),
        )
        .await
        .json;
    let s_id = id(&s);
    api.call(
        reqwest::Method::PUT,
        &format!("/api/v1/statuses/{s_id}"),
        Some(server.token("alice")),
        Some(json!({ "status": "stream test, edited #testchat" })),
        &[],
    )
    .await;
    api.call(
        reqwest::Method::DELETE,
        &format!("/api/v1/statuses/{s_id}"),
        Some(server.token("alice")),
        None,
        &[],
    )
    .await;
    // Warm-ups still on their way are not part of the check.
    let mut frames: Vec<Value> = Vec::new();
    while frames.len() < 3 {
        match next_frame(&mut ws, Duration::from_millis(1500)).await {
            Frame::Event(f) if f["payload"].as_str().unwrap_or("").contains("warm-up") => {}
            Frame::Event(f) => frames.push(f),
            Frame::Silence | Frame::Closed(_) => break,
        }
    }
    let events: Vec<String> = frames
        .iter()
        .map(|f| f["event"].as_str().unwrap().to_string())
        .collect();
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    c.check(
        "hashtag stream events",
        events,
        strings(&["update", "status.update", "delete"]),
        |t| match t {
            Target::SandboxGoToSocial => Expect::GoToSocial(vec![]),
            Target::MastodonMock => Expect::KnownDifference(
                "mastodon-mock streams edits as status_update; real Mastodon sends status.update",
                strings(&["update", "status_update", "delete"]),
            ),
            Target::SandboxMastodon => Expect::Mastodon,
        },
    );
    if let Some(first) = frames.first() {
        c.same(
            "stream payload is JSON in a string",
            first["payload"].is_string(),
            true,
        );
        c.same(
            "stream frames carry the status id",
            frames.iter().map(frame_status_id).all(|i| i == s_id),
            true,
        );
        c.check(
            "stream field of a hashtag frame",
            first["stream"].clone(),
            json!(["hashtag", "testchat"]),
            mock(
                "mastodon-mock names only the stream kind; Mastodon adds the tag",
                json!(["hashtag"]),
            ),
        );
    }
    let header_token = common::stream(&api.base, "stream=user", Some(bot)).await;
    c.check(
        "user stream with the token in the Authorization header",
        header_token.is_ok(),
        true,
        mock(
            "mastodon-mock reads the streaming token only from the access_token query parameter",
            false,
        ),
    );
}

/// Rate-limit headers and the answer once the budget is spent.
pub async fn rate_limits(c: &mut Contract, server: &Server) {
    let api = &server.api;
    let get = reqwest::Method::GET;
    let a = api
        .get(
            "/api/v1/accounts/verify_credentials",
            Some(server.token("erin")),
        )
        .await;
    c.same(
        "X-RateLimit-Limit",
        a.header("x-ratelimit-limit"),
        Some("300".into()),
    );
    let reset = a.header("x-ratelimit-reset").unwrap_or_default();
    c.check(
        "X-RateLimit-Reset is an ISO time",
        chrono::DateTime::parse_from_rfc3339(&reset).is_ok(),
        true,
        mock(
            "mastodon-mock writes X-RateLimit-Reset as epoch seconds",
            false,
        ),
    );
    let mut limited = None;
    for _ in 0..310 {
        let a = api
            .call(
                get.clone(),
                "/api/v1/accounts/verify_credentials",
                Some(server.token("erin")),
                None,
                &[],
            )
            .await;
        if a.status == 429 {
            limited = Some(a);
            break;
        }
    }
    let limited = limited.expect("429 within 310 requests");
    c.same(
        "429 without Retry-After",
        limited.header("retry-after"),
        None,
    );
    c.same(
        "429 remaining",
        limited.header("x-ratelimit-remaining"),
        Some("0".into()),
    );
    c.check(
        "429 error text",
        limited.json["error"].as_str().map(String::from),
        Some("Too many requests".into()),
        gts(Some("rate limit reached".into())),
    );
}
