//! The wire for participants' commands: the bot's mention notifications
//! (against a stub answering with a recorded GoToSocial page, since what a
//! server sends is the point), and the bot's own replies under a status,
//! against the real sandbox, both flavours.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chathost::config::{InstanceSettings, Software, Visibility};
use chathost::instance::{Instance, NewStatus};
use chathost::sandbox::{Flavour, Sandbox, TestPost};
use chathost::secret::Secret;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "tok_M3nt10nsXvL2mWc8RtY4bNk7PaS3dFg";

fn settings(url: &str, software: Software) -> InstanceSettings {
    InstanceSettings {
        url: url.to_string(),
        max_characters: 500,
        characters_per_url: 23,
        software,
        timeout: Duration::from_secs(5),
    }
}

async fn bot_instance(sandbox: &Sandbox) -> Instance {
    let software = match sandbox.flavour() {
        Flavour::Mastodon => Software::Mastodon,
        Flavour::GoToSocial => Software::Gotosocial,
    };
    let token = Secret::new(sandbox.bot().token.expose());
    Instance::connect(&settings(sandbox.base_url(), software), &token)
        .await
        .expect("connects")
}

/// A server that keeps every request head and answers each with `body`
/// as JSON (status 200).
struct Stub {
    url: String,
    heads: Arc<Mutex<Vec<String>>>,
}

async fn stub(body: String) -> Stub {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let heads = Arc::new(Mutex::new(Vec::new()));
    let kept = heads.clone();
    let reply = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (kept, reply) = (kept.clone(), reply.clone());
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                kept.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&head).into_owned());
                let _ = socket.write_all(reply.as_bytes()).await;
            });
        }
    });
    Stub { url, heads }
}

/// GoToSocial's recorded answer to `GET /api/v1/notifications`.
fn recorded_notifications() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/gotosocial_60_s_chatbot_notifications.json"
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["response"]["json"].as_array().unwrap().clone()
}

#[tokio::test]
async fn mentions_asks_for_mentions_pages_by_cursor_and_keeps_only_mentions() {
    let mut page = recorded_notifications();
    // A server ignoring `types[]` sends every kind: a favourite is no command.
    let mut favourite = page[0].clone();
    favourite["type"] = "favourite".into();
    favourite["id"] = "01FAV".into();
    page.insert(0, favourite);
    let server = stub(Value::Array(page).to_string()).await;
    let bot = Instance::connect(
        &settings(&server.url, Software::Gotosocial),
        &Secret::new(TOKEN),
    )
    .await
    .unwrap();

    let page = bot.mentions(Some("01OLD"), None).await.unwrap();
    // The newest notification of the page, whatever its kind.
    assert!(page.newest.is_some());
    let found = page.mentions;
    let got: Vec<(&str, &str)> = found
        .iter()
        .map(|m| (m.notification_id.as_str(), m.status.id.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("01M8B04M46BTJR1AKTMQAX499A", "01M8B04M41YWEC0NS1YHG9X1RT"),
            ("01M8B047810V9DD6XHPKK3N80F", "01M8B0477TTFZPR7TNXJSJX5QG")
        ]
    );
    assert_eq!(found[0].status.account.acct, "carol");
    assert!(found[0].status.content.contains("@chatbot"));
    bot.mentions(None, Some("01M8B047810V9DD6XHPKK3N80F"))
        .await
        .unwrap();

    let heads = server.heads.lock().unwrap().clone();
    let lines: Vec<&str> = heads.iter().map(|h| h.lines().next().unwrap()).collect();
    assert_eq!(
        lines,
        [
            "GET /api/v1/notifications?types[]=mention&limit=40&min_id=01OLD HTTP/1.1",
            "GET /api/v1/notifications?types[]=mention&limit=40&max_id=01M8B047810V9DD6XHPKK3N80F HTTP/1.1"
        ]
    );
    for head in &heads {
        let lower = head.to_lowercase();
        assert!(
            lower.contains(&format!("authorization: bearer {}", TOKEN.to_lowercase())),
            "{head}"
        );
        assert_eq!(head.matches(TOKEN).count(), 1, "only in the header: {head}");
    }
}

#[tokio::test]
async fn mentions_refuses_an_answer_that_is_no_list_without_the_token() {
    let server = stub(json!({"id": "x"}).to_string()).await;
    let bot = Instance::connect(
        &settings(&server.url, Software::Gotosocial),
        &Secret::new(TOKEN),
    )
    .await
    .unwrap();
    let e = bot.mentions(None, None).await.unwrap_err();
    assert!(e.message.contains("list of notifications"), "{}", e.message);
    assert!(!e.message.contains(TOKEN));
}

/// The bot's own replies under a participant's command, and nothing else:
/// not the participant's, not the bot's deeper in the thread.
async fn own_replies(flavour: Flavour) {
    let sandbox = common::sandbox(flavour).await;
    let bot = bot_instance(&sandbox).await;
    let bot_id = sandbox.bot().id;
    let command = sandbox
        .post_as("alice", TestPost::public("@chatbot next"))
        .unwrap();
    assert_eq!(
        bot.own_replies_to(&command, &bot_id).await.unwrap(),
        Some(vec![]),
        "{flavour}: nothing yet"
    );
    let post = |text: &'static str, visibility, parent: &str, key: &'static str| {
        let parent = parent.to_string();
        let bot = &bot;
        async move {
            let status = NewStatus {
                text,
                visibility,
                language: "en",
                in_reply_to_id: Some(&parent),
                idempotency_key: key,
            };
            bot.post_status(&status).await.unwrap()
        }
    };
    let public = post("@alice next: Wednesday", Visibility::Public, &command, "k1").await;
    let direct = post("@alice your record", Visibility::Direct, &command, "k2").await;
    let aside = TestPost {
        in_reply_to_id: Some(command.clone()),
        ..TestPost::public("@alice me too")
    };
    let bob = sandbox.post_as("bob", aside).unwrap();
    post("@bob hello", Visibility::Public, &bob, "k3").await;

    let mut own: Vec<String> = bot
        .own_replies_to(&command, &bot_id)
        .await
        .unwrap()
        .expect("the command is there")
        .into_iter()
        .map(|s| s.id)
        .collect();
    own.sort();
    let mut want = vec![public.id, direct.id];
    want.sort();
    assert_eq!(own, want, "{flavour}");

    sandbox.delete_as("alice", &command).unwrap();
    assert_eq!(
        bot.own_replies_to(&command, &bot_id).await.unwrap(),
        None,
        "{flavour}: a deleted command is gone"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn own_replies_to_on_mastodon() {
    own_replies(Flavour::Mastodon).await;
}

#[tokio::test]
async fn own_replies_to_on_gotosocial() {
    own_replies(Flavour::GoToSocial).await;
}
