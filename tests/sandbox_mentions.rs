//! What the participant commands need from the sandbox, over real HTTP:
//! mention notifications (both flavours, paged, filtered by `types[]`, gone
//! with their status), `direct` statuses seen only by their author and the
//! accounts they mention, and simulated participants sending the bot
//! commands when asked to — and only then.

mod common;

use std::time::{Duration, Instant};

use chathost::clock::SharedClock;
use chathost::sandbox::{COMMAND_SEATS, Flavour, Sandbox, SandboxConfig, TestPost, Visibility};
use common::{Api, expect_event, frame_status_id, stream};
use serde_json::{Value, json};

fn public(text: &str) -> Value {
    json!({ "status": text, "visibility": "public" })
}

/// The `type` and status id of every notification in a list answer.
fn kinds(list: &common::Answer) -> Vec<(String, String)> {
    list.json
        .as_array()
        .unwrap_or_else(|| panic!("expected a list, got {}", list.text))
        .iter()
        .map(|n| {
            (
                n["type"].as_str().unwrap().to_string(),
                n["status"]["id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The status ids of a notification list, in order.
fn status_ids(list: &common::Answer) -> Vec<String> {
    kinds(list).into_iter().map(|(_, s)| s).collect()
}

async fn check_mentions_notify(flavour: Flavour) {
    let sandbox = common::sandbox(flavour).await;
    let api = Api::new(sandbox.base_url());
    let (bot, carol) = (sandbox.bot(), sandbox.account("carol").unwrap());
    let plain = api
        .status(carol.token.expose(), public("@chatbot next"))
        .await;
    let domain = sandbox.base_url().trim_start_matches("http://").to_string();
    let text = format!("hello @chatbot@{domain} help");
    let full = api.status(carol.token.expose(), public(&text)).await;
    // Not at a word start, or another server's chatbot: no mention.
    for text in ["mail x@chatbot please", "@chatbot@elsewhere.social hi"] {
        api.status(carol.token.expose(), public(text)).await;
    }
    let list = api
        .get("/api/v1/notifications", Some(bot.token.expose()))
        .await;
    assert_eq!(list.status, 200, "{flavour}");
    let want = vec![
        (
            "mention".to_string(),
            full["id"].as_str().unwrap().to_string(),
        ),
        (
            "mention".to_string(),
            plain["id"].as_str().unwrap().to_string(),
        ),
    ];
    assert_eq!(kinds(&list), want, "{flavour}: newest first, two mentions");
    let first = &list.json[1];
    assert_eq!(first["account"]["acct"], "carol", "{flavour}");
    for key in ["id", "type", "created_at", "account", "status"] {
        assert!(!first[key].is_null(), "{flavour}: {key} missing");
    }
    let path = format!("/api/v1/notifications/{}", first["id"].as_str().unwrap());
    let one = api.get(&path, Some(bot.token.expose())).await;
    assert_eq!(one.json["id"], first["id"], "{flavour}");
    // Nobody else hears of it, and nobody else reads the bot's.
    let alice = sandbox.account("alice").unwrap();
    let others = api
        .get("/api/v1/notifications", Some(alice.token.expose()))
        .await;
    assert_eq!(kinds(&others), vec![], "{flavour}");
    assert_eq!(api.get(&path, Some(alice.token.expose())).await.status, 404);
    assert_eq!(api.get("/api/v1/notifications", None).await.status, 401);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_mention_notifies_the_mentioned_account_only_in_both_flavours() {
    check_mentions_notify(Flavour::Mastodon).await;
    check_mentions_notify(Flavour::GoToSocial).await;
}

#[tokio::test]
async fn a_deleted_status_takes_its_notification_with_it() {
    let sandbox = common::sandbox(Flavour::GoToSocial).await;
    let api = Api::new(sandbox.base_url());
    let token = sandbox.bot().token;
    let kept = sandbox
        .post_as("bob", TestPost::public("@chatbot help"))
        .unwrap();
    let gone = sandbox
        .post_as("carol", TestPost::public("@chatbot optout"))
        .unwrap();
    let list = api.get("/api/v1/notifications", Some(token.expose())).await;
    assert_eq!(status_ids(&list), vec![gone.clone(), kept.clone()]);
    let path = format!("/api/v1/notifications/{}", list.ids()[0]);
    sandbox.delete_as("carol", &gone).unwrap();
    let list = api.get("/api/v1/notifications", Some(token.expose())).await;
    assert_eq!(status_ids(&list), vec![kept]);
    assert_eq!(api.get(&path, Some(token.expose())).await.status, 404);
    sandbox.shutdown().await;
}

/// 22 mentions of the bot (ids newest first), then a favourite of its post.
fn mentions_and_a_favourite(sandbox: &Sandbox) -> (Vec<String>, String) {
    let post = sandbox
        .post_as("chatbot", TestPost::public("Good evening, everyone"))
        .unwrap();
    let mut mentions: Vec<String> = (0..22)
        .map(|i| {
            let who = ["alice", "bob", "carol", "dave"][i % 4];
            let text = format!("@chatbot next {i}");
            sandbox.post_as(who, TestPost::public(text)).unwrap()
        })
        .collect();
    sandbox.favourite_as("alice", &post).unwrap();
    mentions.reverse();
    (mentions, post)
}

#[tokio::test]
async fn notifications_keep_the_flavours_limits_and_filter_by_type() {
    for flavour in [Flavour::Mastodon, Flavour::GoToSocial] {
        let sandbox = common::sandbox(flavour).await;
        let api = Api::new(sandbox.base_url());
        let token = sandbox.bot().token;
        let token = token.expose();
        let (mentions, post) = mentions_and_a_favourite(&sandbox);
        // The flavour's default page: 40 on Mastodon, 20 on GoToSocial.
        let all = api.get("/api/v1/notifications", Some(token)).await;
        let expected = if flavour == Flavour::Mastodon { 23 } else { 20 };
        assert_eq!(all.json.as_array().unwrap().len(), expected, "{flavour}");
        assert_eq!(kinds(&all)[0], ("favourite".into(), post.clone()));
        let only = "/api/v1/notifications?types[]=mention&limit=40";
        let only = api.get(only, Some(token)).await;
        assert_eq!(status_ids(&only), mentions, "{flavour}: newest first");
        assert!(kinds(&only).iter().all(|(k, _)| k == "mention"));
        let excluded = "/api/v1/notifications?exclude_types%5B%5D=mention";
        let excluded = api.get(excluded, Some(token)).await;
        assert_eq!(kinds(&excluded), vec![("favourite".to_string(), post)]);
        sandbox.shutdown().await;
    }
}

#[tokio::test]
async fn notifications_page_by_max_id_and_min_id_with_links() {
    for flavour in [Flavour::Mastodon, Flavour::GoToSocial] {
        let sandbox = common::sandbox(flavour).await;
        let api = Api::new(sandbox.base_url());
        let token = sandbox.bot().token;
        let token = token.expose();
        let (mentions, _) = mentions_and_a_favourite(&sandbox);
        let first = "/api/v1/notifications?types[]=mention&limit=2";
        let page1 = api.get(first, Some(token)).await;
        assert_eq!(status_ids(&page1), mentions[..2].to_vec(), "{flavour}");
        let next = page1.link("next").expect("a full page has next");
        assert!(next.contains("limit=2"), "{flavour}: {next}");
        if flavour == Flavour::Mastodon {
            assert!(next.contains("types%5B%5D=mention"), "{next}");
        }
        // (GoToSocial's link drops the filter; the favourite is newer.)
        let page2 = api.get(&next, Some(token)).await;
        assert_eq!(status_ids(&page2), mentions[2..4].to_vec(), "{flavour}");
        let oldest = &page2.ids()[1];
        let above = format!("/api/v1/notifications?types[]=mention&min_id={oldest}&limit=2");
        let above = api.get(&above, Some(token)).await;
        assert_eq!(status_ids(&above), mentions[1..3].to_vec(), "{flavour}");
        sandbox.shutdown().await;
    }
}

/// Carol mentions the bot; the bot answers her by direct message, tagged
/// (which must not list it). Returns (mention id, reply id).
async fn direct_reply(sandbox: &Sandbox, api: &Api) -> (String, String) {
    let carol = sandbox.account("carol").unwrap();
    let mention = api
        .status(carol.token.expose(), public("@chatbot record"))
        .await;
    let mention_id = mention["id"].as_str().unwrap().to_string();
    let body = json!({
        "status": "@carol Your record: 3 chats #testchat",
        "visibility": "direct",
        "in_reply_to_id": mention_id,
    });
    let reply = api.status(sandbox.bot().token.expose(), body).await;
    assert_eq!(reply["visibility"], "direct");
    assert_eq!(reply["mentions"][0]["acct"], "carol");
    (mention_id, reply["id"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn a_direct_reply_is_seen_only_by_its_author_and_the_mentioned_account() {
    let sandbox = common::sandbox(Flavour::Mastodon).await;
    let api = Api::new(sandbox.base_url());
    let (mention, reply) = direct_reply(&sandbox, &api).await;
    let (bot, carol, dave) = (
        sandbox.bot(),
        sandbox.account("carol").unwrap(),
        sandbox.account("dave").unwrap(),
    );
    for who in [&bot, &carol] {
        let token = Some(who.token.expose());
        let seen = api.get(&format!("/api/v1/statuses/{reply}"), token).await;
        assert_eq!(seen.status, 200, "{}", who.acct);
        let context = format!("/api/v1/statuses/{mention}/context");
        let context = api.get(&context, token).await;
        assert_eq!(context.json["descendants"][0]["id"], reply, "{}", who.acct);
    }
    for token in [Some(dave.token.expose()), None] {
        let seen = api.get(&format!("/api/v1/statuses/{reply}"), token).await;
        assert_eq!(seen.status, 404);
        let context = format!("/api/v1/statuses/{mention}/context");
        let context = api.get(&context, token).await;
        assert_eq!(context.json["descendants"], json!([]));
        let own = format!("/api/v1/statuses/{reply}/context");
        assert_eq!(api.get(&own, token).await.status, 404);
    }
    let tagged = api.get("/api/v1/timelines/tag/testchat", None).await;
    assert!(!tagged.ids().contains(&reply));
    let listed = format!("/api/v1/accounts/{}/statuses", bot.id);
    let listed = api.get(&listed, Some(dave.token.expose())).await;
    assert!(!listed.ids().contains(&reply));
    let notes = api
        .get("/api/v1/notifications", Some(dave.token.expose()))
        .await;
    assert_eq!(kinds(&notes), vec![]);
    let notes = api
        .get("/api/v1/notifications", Some(carol.token.expose()))
        .await;
    assert_eq!(kinds(&notes), vec![("mention".to_string(), reply)]);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_direct_reply_streams_only_to_the_mentioned_account() {
    let sandbox = common::sandbox(Flavour::Mastodon).await;
    let api = Api::new(sandbox.base_url());
    let carol = sandbox.account("carol").unwrap();
    let dave = sandbox.account("dave").unwrap();
    let base = sandbox.base_url();
    let mut carol_ws = stream(base, "stream=user", Some(carol.token.expose()))
        .await
        .unwrap();
    let mut dave_ws = stream(base, "stream=user", Some(dave.token.expose()))
        .await
        .unwrap();
    let (mention, reply) = direct_reply(&sandbox, &api).await;
    assert_eq!(frame_status_id(&expect_event(&mut carol_ws).await), mention);
    let update = expect_event(&mut carol_ws).await;
    assert_eq!(update["event"], "update");
    assert_eq!(frame_status_id(&update), reply);
    assert_eq!(expect_event(&mut carol_ws).await["event"], "notification");
    // Dave's next event is his own post, made after the reply; nor does
    // the reply's delete reach him.
    sandbox.delete_as("chatbot", &reply).unwrap();
    let own = api.status(dave.token.expose(), public("just me")).await;
    let heard = expect_event(&mut dave_ws).await;
    assert_eq!(frame_status_id(&heard), own["id"].as_str().unwrap());
    let delete = expect_event(&mut carol_ws).await;
    assert_eq!(delete["event"], "delete");
    assert_eq!(frame_status_id(&delete), reply);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn replies_by_bot_are_its_answers_to_others_with_their_mentions() {
    let sandbox = common::sandbox(Flavour::GoToSocial).await;
    let question = sandbox
        .post_as("chatbot", TestPost::public("Welcome"))
        .unwrap();
    let own_thread = TestPost {
        in_reply_to_id: Some(question),
        ..TestPost::public("Q1: first")
    };
    sandbox.post_as("chatbot", own_thread).unwrap();
    assert!(
        sandbox.replies_by_bot().is_empty(),
        "its own thread is no reply"
    );
    let asked = sandbox
        .post_as("bob", TestPost::public("@chatbot next"))
        .unwrap();
    let answer = TestPost {
        visibility: Visibility::Direct,
        in_reply_to_id: Some(asked.clone()),
        ..TestPost::public("@bob Next chat: Wednesday")
    };
    let id = sandbox.post_as("chatbot", answer).unwrap();
    let replies = sandbox.replies_by_bot();
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].id, id);
    assert_eq!(replies[0].in_reply_to_id, Some(asked));
    assert_eq!(replies[0].visibility, Visibility::Direct);
    assert_eq!(replies[0].mentions, vec!["bob".to_string()]);
    sandbox.shutdown().await;
}

/// A sandbox on a 600x clock whose bot has asked Q1.
async fn chat(commands: bool) -> (Sandbox, SharedClock, chrono::DateTime<chrono::Utc>) {
    let clock = common::fast_clock(600.0);
    let sandbox = Sandbox::start(SandboxConfig {
        clock: clock.clone(),
        participants: 8,
        seed: 11,
        rate_limit: false,
        commands,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    sandbox
        .post_as(
            "chatbot",
            TestPost::public("#testchat Q1: What helps you learn?"),
        )
        .unwrap();
    let asked = clock.now();
    (sandbox, clock, asked)
}

#[tokio::test]
async fn participants_send_the_bot_commands_when_enabled() {
    let (sandbox, _clock, asked) = chat(true).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let commands = loop {
        let made: Vec<_> = sandbox
            .mentions_made()
            .into_iter()
            .filter(|m| m.command)
            .collect();
        if made.len() == COMMAND_SEATS.len() {
            break made;
        }
        assert!(Instant::now() < deadline, "commands missing: {made:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut sent: Vec<(String, String)> = commands
        .iter()
        .map(|m| (m.acct.clone(), m.text.clone()))
        .collect();
    sent.sort();
    assert_eq!(
        sent,
        vec![
            ("bob".to_string(), "@chatbot next".to_string()),
            ("carol".into(), "@chatbot optout".into()),
            ("dave".into(), "@chatbot record".into()),
            ("erin".into(), "@chatbot dance".into()),
        ]
    );
    let api = Api::new(sandbox.base_url());
    let bot = sandbox.bot();
    for m in &commands {
        assert!(m.created_at > asked, "sent after the question");
        assert_eq!(m.visibility, Visibility::Public);
        let own = sandbox.statuses_of(&m.acct);
        let status = own.iter().find(|s| s.id == m.status_id).unwrap();
        assert_eq!(status.in_reply_to_id, None, "{}: not a reply", m.acct);
        assert!(status.tags.is_empty(), "{}: no hashtag", m.acct);
        assert_eq!(status.mentions, vec!["chatbot".to_string()]);
        // Each one answered Q1 before sending its command.
        assert!(
            sandbox
                .answers_made()
                .iter()
                .any(|a| a.acct == m.acct && a.created_at < m.created_at),
            "{} answered first",
            m.acct
        );
    }
    let list = api
        .get(
            "/api/v1/notifications?types[]=mention&limit=40",
            Some(bot.token.expose()),
        )
        .await;
    let notified = status_ids(&list);
    for m in &commands {
        assert!(notified.contains(&m.status_id), "{} notified", m.acct);
    }

    sandbox.shutdown().await;
}

#[tokio::test]
async fn participants_send_no_commands_by_default() {
    let (sandbox, clock, asked) = chat(false).await;
    // Every answer, edit and delete is in, and the clock has passed the
    // latest moment a command would be sent (8 min + 90 s after Q1).
    let deadline = Instant::now() + Duration::from_secs(20);
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
                .all(|a| !sandbox.statuses_of(&a.acct).is_empty())
            && clock.now() > asked + chrono::Duration::minutes(12);
        if done {
            break;
        }
        assert!(Instant::now() < deadline, "participants did not finish");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let made = sandbox.mentions_made();
    assert!(made.iter().all(|m| !m.command), "{made:?}");
    // The only mentions of the bot are answers addressed to it.
    assert!(!made.is_empty(), "carol's answers mention the bot");
    assert!(made.iter().all(|m| m.text.contains("A1:")), "{made:?}");
    sandbox.shutdown().await;
}
