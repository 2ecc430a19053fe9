//! The reading paths a collector relies on, on both sandbox flavours over
//! real HTTP (issue 8): tag timeline paging (`min_id`, `max_id`,
//! `since_id`, at most 40, public only, unknown tags), context chains in
//! thread order, edits and deletes on the streams that deliver, with the
//! token in the `Authorization` header.

mod common;

use std::time::Duration;

use chathost::sandbox::{Flavour, Sandbox, TestPost, Visibility};
use common::{Api, Frame, frame_status_id, next_frame, stream};
use serde_json::{Value, json};

const BOTH: [Flavour; 2] = [Flavour::Mastodon, Flavour::GoToSocial];

fn tok(sandbox: &Sandbox, acct: &str) -> String {
    sandbox.account(acct).unwrap().token.expose().to_string()
}

/// Every page of the tag timeline from `first`, following `next` links.
async fn all_pages(api: &Api, token: &str, first: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut url = first.to_string();
    for _ in 0..10 {
        let page = api.get(&url, Some(token)).await;
        if page.ids().is_empty() {
            break;
        }
        ids.extend(page.ids());
        match page.link("next") {
            Some(next) => url = next,
            None => break,
        }
    }
    ids
}

#[tokio::test]
async fn tag_timeline_pages_by_min_id_max_id_and_since_id_at_most_40_public_only() {
    for flavour in BOTH {
        let sandbox = common::sandbox(flavour).await;
        let api = Api::new(sandbox.base_url());
        let bot = tok(&sandbox, "chatbot");
        let ids: Vec<String> = (0..45)
            .map(|k| {
                let who = ["alice", "bob", "carol"][k % 3];
                sandbox
                    .post_as(who, TestPost::answer(1, format!("A1: idea {k} #testchat")))
                    .unwrap()
            })
            .collect();
        let hidden: Vec<String> = [
            Visibility::Unlisted,
            Visibility::Private,
            Visibility::Direct,
        ]
        .into_iter()
        .map(|visibility| {
            let post = TestPost {
                visibility,
                ..TestPost::public("@chatbot A1: quiet #testchat")
            };
            sandbox.post_as("dave", post).unwrap()
        })
        .collect();
        let newest_first = |range: std::ops::Range<usize>| -> Vec<String> {
            range.rev().map(|i| ids[i].clone()).collect()
        };

        let big = api
            .get("/api/v1/timelines/tag/testchat?limit=100", Some(&bot))
            .await;
        assert_eq!(
            big.ids(),
            newest_first(5..45),
            "{flavour}: limit is capped at 40"
        );
        let rest = api.get(&big.link("next").unwrap(), Some(&bot)).await;
        assert_eq!(
            rest.ids(),
            newest_first(0..5),
            "{flavour}: next = older via max_id"
        );
        assert_eq!(
            all_pages(&api, &bot, "/api/v1/timelines/tag/testchat").await,
            newest_first(0..45),
            "{flavour}: public only, nothing twice, nothing missing"
        );
        for h in &hidden {
            assert!(!big.ids().contains(h) && !rest.ids().contains(h));
        }

        // min_id: the page right after it, newest first - not the newest.
        let min = api
            .get(
                &format!("/api/v1/timelines/tag/testchat?min_id={}&limit=5", ids[9]),
                Some(&bot),
            )
            .await;
        assert_eq!(min.ids(), newest_first(10..15), "{flavour}: min_id");
        let prev = min.link("prev").expect("prev link");
        assert!(prev.contains(&format!("min_id={}", ids[14])), "{prev}");
        assert_eq!(api.get(&prev, Some(&bot)).await.ids(), newest_first(15..20));
        let since = api
            .get(
                &format!("/api/v1/timelines/tag/testchat?since_id={}&limit=5", ids[9]),
                Some(&bot),
            )
            .await;
        assert_eq!(
            since.ids(),
            newest_first(40..45),
            "{flavour}: since_id gives the newest"
        );
        let max = api
            .get(
                &format!("/api/v1/timelines/tag/testchat?max_id={}&limit=3", ids[10]),
                Some(&bot),
            )
            .await;
        assert_eq!(max.ids(), newest_first(7..10), "{flavour}: max_id");

        let unused = api.get("/api/v1/timelines/tag/neverused", Some(&bot)).await;
        match flavour {
            Flavour::Mastodon => assert_eq!((unused.status, unused.json.clone()), (200, json!([]))),
            Flavour::GoToSocial => assert_eq!(unused.status, 404),
        }
        sandbox.shutdown().await;
    }
}

#[tokio::test]
async fn context_lists_a_reply_chain_with_untagged_and_unlisted_replies_in_thread_order() {
    for flavour in BOTH {
        let sandbox = common::sandbox(flavour).await;
        let api = Api::new(sandbox.base_url());
        let bot = tok(&sandbox, "chatbot");
        let reply = |to: &str, text: &str, visibility| TestPost {
            text: text.into(),
            visibility,
            in_reply_to_id: Some(to.to_string()),
            question: Some(1),
        };
        let q = sandbox
            .post_as("chatbot", TestPost::public("#testchat Q1: why?"))
            .unwrap();
        let a1 = sandbox
            .post_as(
                "alice",
                reply(&q, "A1: because #testchat", Visibility::Public),
            )
            .unwrap();
        let c1 = sandbox
            .post_as(
                "bob",
                reply(&a1, "@alice and also this", Visibility::Unlisted),
            )
            .unwrap();
        let c2 = sandbox
            .post_as("dave", reply(&c1, "@bob agreed", Visibility::Public))
            .unwrap();
        let a2 = sandbox
            .post_as(
                "carol",
                reply(&q, "@chatbot A1: no tag", Visibility::Public),
            )
            .unwrap();
        let context = api
            .get(&format!("/api/v1/statuses/{q}/context"), Some(&bot))
            .await;
        let descendants: Vec<String> = context.json["descendants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            descendants,
            vec![a1.clone(), c1.clone(), c2.clone(), a2],
            "{flavour}"
        );
        let up = api
            .get(&format!("/api/v1/statuses/{c2}/context"), Some(&bot))
            .await;
        let ancestors: Vec<&str> = up.json["ancestors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ancestors,
            vec![q.as_str(), a1.as_str(), c1.as_str()],
            "{flavour}"
        );
        sandbox.shutdown().await;
    }
}

#[tokio::test]
async fn edits_and_deletes_reach_the_streams_that_deliver_with_a_header_token() {
    for flavour in BOTH {
        let sandbox = common::sandbox(flavour).await;
        let api = Api::new(sandbox.base_url());
        let bot = tok(&sandbox, "chatbot");
        // Where each flavour delivers tagged posts: Mastodon's hashtag
        // stream; GoToSocial's user stream once the tag is followed.
        let query = match flavour {
            Flavour::Mastodon => "stream=hashtag&tag=testchat",
            Flavour::GoToSocial => {
                api.post("/api/v1/tags/testchat/follow", &bot, json!({}))
                    .await;
                "stream=user"
            }
        };
        let mut ws = stream(sandbox.base_url(), query, Some(&bot)).await.unwrap();
        let streaming = sandbox
            .log()
            .records()
            .into_iter()
            .find(|r| r.endpoint == "/api/v1/streaming")
            .unwrap();
        assert_eq!(
            streaming.account.as_deref(),
            Some("chatbot"),
            "{flavour}: header token read"
        );

        let id = sandbox
            .post_as("alice", TestPost::answer(1, "A1: one #testchat"))
            .unwrap();
        sandbox.reblog_as("bob", &id).unwrap();
        sandbox
            .edit_as("alice", &id, "A1: one, edited #testchat")
            .unwrap();
        sandbox.delete_as("alice", &id).unwrap();
        let mut events = Vec::new();
        while let Frame::Event(f) = next_frame(&mut ws, Duration::from_millis(500)).await {
            events.push((
                f["event"].as_str().unwrap().to_string(),
                frame_status_id(&f),
            ));
        }
        let mut expected = vec![
            ("update".to_string(), id.clone()),
            ("status.update".to_string(), id.clone()),
            ("delete".to_string(), id.clone()),
        ];
        if flavour == Flavour::GoToSocial {
            // The user stream hears every delete, the boost's too; never the
            // boost itself (not the bot's, and no tag of its own).
            assert_eq!(events.len(), 4, "{events:?}");
            expected.push(events[3].clone());
            assert_eq!(events[3].0, "delete");
            assert_ne!(events[3].1, id);
        }
        assert_eq!(events, expected, "{flavour}");
        sandbox.shutdown().await;
    }
}

#[tokio::test]
async fn an_edit_sets_edited_at_and_a_delete_makes_the_status_404() {
    for flavour in BOTH {
        let sandbox = common::sandbox(flavour).await;
        let api = Api::new(sandbox.base_url());
        let bot = tok(&sandbox, "chatbot");
        let id = sandbox
            .post_as("alice", TestPost::public("A1: x #testchat"))
            .unwrap();
        let before = api.get(&format!("/api/v1/statuses/{id}"), Some(&bot)).await;
        assert_eq!(before.json["edited_at"], Value::Null);
        sandbox.edit_as("alice", &id, "A1: y #testchat").unwrap();
        let after = api.get(&format!("/api/v1/statuses/{id}"), Some(&bot)).await;
        assert!(after.json["edited_at"].is_string(), "{flavour}");
        assert!(after.json["content"].as_str().unwrap().contains("A1: y"));
        sandbox.delete_as("alice", &id).unwrap();
        let gone = api.get(&format!("/api/v1/statuses/{id}"), Some(&bot)).await;
        assert_eq!(gone.status, 404, "{flavour}");
        let context = api
            .get(&format!("/api/v1/statuses/{id}/context"), Some(&bot))
            .await;
        assert_eq!(context.status, 404);
        sandbox.shutdown().await;
    }
}
