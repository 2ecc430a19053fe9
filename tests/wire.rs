//! The wire for collection, against the real sandbox over HTTP and
//! WebSocket, both flavours: tag timeline paging, replies, a status after
//! its deletion, following a tag, the stream reader (delivery, edits,
//! deletes, a dropped connection, cancellation), and where the token goes
//! (never into a URL, never to another server).

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chathost::config::{InstanceSettings, Software};
use chathost::instance::{Instance, PublicSource, SeenStatus, StreamEvent, StreamKind, TagPage};
use chathost::sandbox::{Fault, FaultKind, Flavour, Sandbox};
use chathost::secret::Secret;
use common::Api;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// A bound on waiting for something that should come at once: a failure
/// bound, not a timing claim.
const PATIENCE: Duration = Duration::from_secs(10);

fn settings(url: &str, flavour: Flavour) -> InstanceSettings {
    InstanceSettings {
        url: url.to_string(),
        max_characters: 500,
        characters_per_url: 23,
        software: match flavour {
            Flavour::Mastodon => Software::Mastodon,
            Flavour::GoToSocial => Software::Gotosocial,
        },
        timeout: Duration::from_secs(5),
    }
}

async fn bot_instance(sandbox: &Sandbox) -> Instance {
    let token = Secret::new(sandbox.bot().token.expose());
    Instance::connect(&settings(sandbox.base_url(), sandbox.flavour()), &token)
        .await
        .expect("connects")
}

fn page(p: TagPage) -> Vec<SeenStatus> {
    match p {
        TagPage::Page(list) => list,
        TagPage::NeverUsed => panic!("the tag is in use"),
    }
}

fn ids(list: &[SeenStatus]) -> Vec<String> {
    list.iter().map(|s| s.id.clone()).collect()
}

/// Waits for the first event `pick` accepts, skipping the others.
async fn wait_for<T>(
    rx: &mut mpsc::Receiver<StreamEvent>,
    mut pick: impl FnMut(&StreamEvent) -> Option<T>,
) -> T {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let event = rx.recv().await.expect("the reader is still running");
            if let Some(found) = pick(&event) {
                return found;
            }
        }
    })
    .await
    .expect("the event arrived")
}

async fn connected(rx: &mut mpsc::Receiver<StreamEvent>) {
    wait_for(rx, |e| matches!(e, StreamEvent::Connected).then_some(())).await;
}

async fn update_with_id(rx: &mut mpsc::Receiver<StreamEvent>, id: &str) -> SeenStatus {
    wait_for(rx, |e| match e {
        StreamEvent::Update(s) if s.id == id => Some(s.clone()),
        _ => None,
    })
    .await
}

// --- timelines --------------------------------------------------------

async fn pages_forward_and_backward(flavour: Flavour) {
    let sandbox = common::sandbox(flavour).await;
    let bot = bot_instance(&sandbox).await;
    let tag = sandbox.hashtag().to_string();
    let first = sandbox.burst(1, 5).await;
    let newest = page(bot.tag_timeline(&tag, None, None).await.unwrap());
    assert_eq!(
        ids(&newest),
        first.iter().rev().cloned().collect::<Vec<_>>()
    );
    let mark = newest[0].id.clone();

    let later = sandbox.burst(2, 95).await;
    // Forward from the last seen post: the oldest 40 after it, newest first
    // in each page, then the next 40 above that, until an empty page.
    let mut forward = Vec::new();
    let mut cursor = mark.clone();
    let mut pages = 0;
    loop {
        let got = page(bot.tag_timeline(&tag, Some(&cursor), None).await.unwrap());
        assert!(got.len() <= 40);
        let Some(top) = got.first() else { break };
        cursor = top.id.clone();
        forward.extend(ids(&got).into_iter().rev());
        pages += 1;
        assert!(pages < 10, "paging forward never ends");
    }
    assert_eq!(pages, 3, "40 + 40 + 15");
    assert_eq!(
        forward, later,
        "every later post once, in order, none before the mark"
    );

    // Backward from the newest: everything, newest first, then nothing.
    let mut backward = Vec::new();
    let mut max_id: Option<String> = None;
    loop {
        let got = page(
            bot.tag_timeline(&tag, None, max_id.as_deref())
                .await
                .unwrap(),
        );
        let Some(last) = got.last() else { break };
        max_id = Some(last.id.clone());
        backward.extend(ids(&got));
    }
    let mut all: Vec<String> = first.iter().chain(&later).cloned().collect();
    all.reverse();
    assert_eq!(backward, all);
    let sample = &page(bot.tag_timeline(&tag, None, None).await.unwrap())[0];
    assert_eq!(sample.tags, [tag.to_lowercase()]);
    assert_ne!(sample.account.acct, "chatbot");
    assert!(!sample.uri.is_empty() && sample.visibility == "public");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn tag_timeline_pages_forward_and_backward_on_mastodon() {
    pages_forward_and_backward(Flavour::Mastodon).await;
}

#[tokio::test]
async fn tag_timeline_pages_forward_and_backward_on_gotosocial() {
    pages_forward_and_backward(Flavour::GoToSocial).await;
}

#[tokio::test]
async fn a_tag_never_used_is_not_an_error() {
    let gts = common::sandbox(Flavour::GoToSocial).await;
    let bot = bot_instance(&gts).await;
    assert_eq!(
        bot.tag_timeline("neverusedhere", None, None).await,
        Ok(TagPage::NeverUsed)
    );
    let masto = common::sandbox(Flavour::Mastodon).await;
    let bot = bot_instance(&masto).await;
    assert_eq!(
        bot.tag_timeline("neverusedhere", None, None).await,
        Ok(TagPage::Page(Vec::new()))
    );
}

// --- replies and single statuses ---------------------------------------

async fn replies_and_deletes(flavour: Flavour) {
    let sandbox = common::sandbox(flavour).await;
    let bot = bot_instance(&sandbox).await;
    let api = Api::new(sandbox.base_url());
    let people = sandbox.accounts();
    let (alice, carol) = (&people[1], &people[2]);
    let question = api
        .status(
            sandbox.bot().token.expose(),
            json!({"status": "What helps you most? #testchat", "visibility": "public"}),
        )
        .await;
    let qid = question["id"].as_str().unwrap();
    let untagged = api
        .status(
            alice.token.expose(),
            json!({"status": "Talking it through", "in_reply_to_id": qid}),
        )
        .await;
    let unlisted = api
        .status(
            carol.token.expose(),
            json!({"status": "Sleep #testchat", "in_reply_to_id": qid, "visibility": "unlisted"}),
        )
        .await;
    let replies = bot
        .replies(qid)
        .await
        .unwrap()
        .expect("the question is there");
    let found: Vec<(&str, &str)> = replies
        .iter()
        .map(|s| (s.id.as_str(), s.visibility.as_str()))
        .collect();
    assert!(
        found.contains(&(untagged["id"].as_str().unwrap(), "public")),
        "{found:?}"
    );
    assert!(
        found.contains(&(unlisted["id"].as_str().unwrap(), "unlisted")),
        "{found:?}"
    );
    assert!(
        replies
            .iter()
            .all(|s| s.in_reply_to_id.as_deref() == Some(qid))
    );

    let uid = untagged["id"].as_str().unwrap();
    let seen = bot.status(uid).await.unwrap().expect("visible");
    assert_eq!(seen.account.acct, alice.acct);
    assert!(seen.tags.is_empty());
    let gone = api
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/statuses/{uid}"),
            Some(alice.token.expose()),
            None,
            &[],
        )
        .await;
    assert_eq!(gone.status, 200, "{}", gone.text);
    assert_eq!(bot.status(uid).await, Ok(None));
    let replies = bot.replies(qid).await.unwrap().unwrap();
    assert!(
        replies.iter().all(|s| s.id != uid),
        "a deleted reply is not listed"
    );
    assert_eq!(bot.replies("no-such-status").await, Ok(None));
    assert_eq!(
        bot.requests_sent(),
        5,
        "three context reads, two status reads"
    );
    if let Some((left, limit)) = bot.rate_left() {
        assert!(left < 300 && limit == Some(300), "{left} {limit:?}");
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn replies_include_untagged_and_unlisted_and_a_deleted_status_is_none_on_mastodon() {
    replies_and_deletes(Flavour::Mastodon).await;
}

#[tokio::test]
async fn replies_include_untagged_and_unlisted_and_a_deleted_status_is_none_on_gotosocial() {
    replies_and_deletes(Flavour::GoToSocial).await;
}

#[tokio::test]
async fn requests_are_counted_and_the_rate_limit_read() {
    let sandbox = common::sandbox(Flavour::Mastodon).await;
    let bot = bot_instance(&sandbox).await;
    assert_eq!(bot.requests_sent(), 0);
    assert_eq!(bot.rate_left(), None);
    bot.tag_timeline("testchat", None, None).await.unwrap();
    bot.follow_tag("testchat").await.unwrap();
    bot.follow_tag("testchat")
        .await
        .expect("already followed is fine");
    assert_eq!(bot.requests_sent(), 3);
    assert_eq!(sandbox.log().by_account()["chatbot"], 3);
    let (left, limit) = bot.rate_left().expect("the sandbox sends the headers");
    assert_eq!(limit, Some(300));
    assert!(left <= 297, "{left}");
}

// --- streams --------------------------------------------------------------

#[tokio::test]
async fn gotosocial_delivers_a_followed_tag_on_the_user_stream() {
    let sandbox = common::sandbox(Flavour::GoToSocial).await;
    let bot = bot_instance(&sandbox).await;
    bot.follow_tag("#testchat").await.unwrap();
    let (tx, mut rx) = mpsc::channel(64);
    let _handle = bot.open_stream(vec![StreamKind::User], tx);
    connected(&mut rx).await;
    let id = sandbox.burst(1, 1).await.remove(0);
    let s = update_with_id(&mut rx, &id).await;
    assert_eq!(s.tags, ["testchat"]);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn mastodon_hashtag_stream_delivers_edits_and_deletes_and_multiplexes_the_user_stream() {
    let sandbox = common::sandbox(Flavour::Mastodon).await;
    let bot = bot_instance(&sandbox).await;
    let api = Api::new(sandbox.base_url());
    let alice = sandbox.accounts()[1].clone();
    let (tx, mut rx) = mpsc::channel(64);
    let _handle = bot.open_stream(
        vec![StreamKind::Hashtag("TestChat".into()), StreamKind::User],
        tx,
    );
    connected(&mut rx).await;
    let posted = api
        .status(
            alice.token.expose(),
            json!({"status": "A1: rest #testchat"}),
        )
        .await;
    let id = posted["id"].as_str().unwrap().to_string();
    update_with_id(&mut rx, &id).await;
    let edit = api
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/statuses/{id}"),
            Some(alice.token.expose()),
            Some(json!({"status": "A1: rest, and walks #testchat"})),
            &[],
        )
        .await;
    assert_eq!(edit.status, 200, "{}", edit.text);
    let edited = wait_for(&mut rx, |e| match e {
        StreamEvent::Edit(s) if s.id == id => Some(s.clone()),
        _ => None,
    })
    .await;
    assert!(edited.content.contains("walks") && edited.edited_at.is_some());
    api.call(
        reqwest::Method::DELETE,
        &format!("/api/v1/statuses/{id}"),
        Some(alice.token.expose()),
        None,
        &[],
    )
    .await;
    wait_for(&mut rx, |e| match e {
        StreamEvent::Delete(d) if *d == id => Some(()),
        _ => None,
    })
    .await;
    // No hashtag, only a mention: it comes on the `user` stream, which was
    // subscribed by message, not in the URL.
    let mention = api
        .status(
            alice.token.expose(),
            json!({"status": "@chatbot thank you"}),
        )
        .await;
    update_with_id(&mut rx, mention["id"].as_str().unwrap()).await;
    sandbox.shutdown().await;
}

async fn survives_a_disconnect(flavour: Flavour) {
    let sandbox = common::sandbox(flavour).await;
    let bot = bot_instance(&sandbox).await;
    let kind = match flavour {
        Flavour::Mastodon => StreamKind::Hashtag("testchat".into()),
        Flavour::GoToSocial => {
            bot.follow_tag("testchat").await.unwrap();
            StreamKind::User
        }
    };
    let (tx, mut rx) = mpsc::channel(64);
    let _handle = bot.open_stream(vec![kind], tx);
    connected(&mut rx).await;
    sandbox
        .faults()
        .inject(Fault::stream(FaultKind::StreamDisconnect));
    sandbox.burst(1, 1).await;
    let reason = wait_for(&mut rx, |e| match e {
        StreamEvent::Lost(r) => Some(r.clone()),
        StreamEvent::Update(s) => panic!("the faulted event was delivered: {}", s.id),
        _ => None,
    })
    .await;
    assert!(!reason.contains(sandbox.bot().token.expose()));
    connected(&mut rx).await;
    let id = sandbox.burst(2, 1).await.remove(0);
    update_with_id(&mut rx, &id).await;
    assert_eq!(sandbox.faults().fired(), [FaultKind::StreamDisconnect]);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn the_reader_reconnects_after_a_disconnect_on_mastodon() {
    survives_a_disconnect(Flavour::Mastodon).await;
}

#[tokio::test]
async fn the_reader_reconnects_after_a_disconnect_on_gotosocial() {
    survives_a_disconnect(Flavour::GoToSocial).await;
}

#[tokio::test]
async fn dropping_the_handle_stops_the_reader() {
    let sandbox = common::sandbox(Flavour::Mastodon).await;
    let bot = bot_instance(&sandbox).await;
    let (tx, mut rx) = mpsc::channel(64);
    let handle = bot.open_stream(vec![StreamKind::Hashtag("testchat".into())], tx);
    connected(&mut rx).await;
    let id = sandbox.burst(1, 1).await.remove(0);
    update_with_id(&mut rx, &id).await;
    drop(handle);
    sandbox.burst(2, 3).await;
    // The task is gone with its sender: the channel ends, nothing more comes.
    let rest = tokio::time::timeout(PATIENCE, async {
        let mut rest = Vec::new();
        while let Some(e) = rx.recv().await {
            rest.push(e);
        }
        rest
    })
    .await
    .expect("the channel closes once the reader stops");
    assert!(
        rest.iter().all(|e| !matches!(e, StreamEvent::Update(_))),
        "{rest:?}"
    );
    assert_eq!(sandbox.log().count("GET", "/api/v1/streaming"), 1);
    sandbox.shutdown().await;
}

// --- where the token goes -------------------------------------------------

const TOKEN: &str = "tok_Zq9XvL2mWc8RtY4bNk7PaS3dFg6HjE1u";

/// A server that records every request head it gets and answers each with
/// `reply`.
struct Recorder {
    url: String,
    heads: Arc<Mutex<Vec<String>>>,
}

async fn recorder(reply: &'static str) -> Recorder {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let heads = Arc::new(Mutex::new(Vec::new()));
    let kept = heads.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let kept = kept.clone();
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
    Recorder { url, heads }
}

#[tokio::test]
async fn the_stream_token_goes_in_a_header_never_in_the_url_or_a_reason() {
    let server =
        recorder("HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await;
    let bot = Instance::connect(
        &settings(&server.url, Flavour::Mastodon),
        &Secret::new(TOKEN),
    )
    .await
    .unwrap();
    let (tx, mut rx) = mpsc::channel(8);
    let handle = bot.open_stream(vec![StreamKind::Hashtag("testchat".into())], tx);
    let reason = wait_for(&mut rx, |e| match e {
        StreamEvent::Lost(r) => Some(r.clone()),
        _ => None,
    })
    .await;
    drop(handle);
    assert!(reason.contains("401"), "{reason}");
    assert!(!reason.contains(TOKEN), "{reason}");
    let heads = server.heads.lock().unwrap().clone();
    let handshake = heads
        .iter()
        .find(|h| h.starts_with("GET /api/v1/streaming?"))
        .expect("the handshake was recorded");
    let request_line = handshake.lines().next().unwrap();
    assert_eq!(
        request_line,
        "GET /api/v1/streaming?stream=hashtag&tag=testchat HTTP/1.1"
    );
    assert!(!request_line.contains(TOKEN));
    assert!(
        handshake
            .lines()
            .any(|l| l.eq_ignore_ascii_case(&format!("authorization: Bearer {TOKEN}"))),
        "{handshake}"
    );
}

#[tokio::test]
async fn the_sandbox_authenticates_the_stream_by_its_header() {
    let sandbox = common::sandbox(Flavour::GoToSocial).await;
    let bot = bot_instance(&sandbox).await;
    let (tx, mut rx) = mpsc::channel(8);
    let _handle = bot.open_stream(vec![StreamKind::User], tx);
    connected(&mut rx).await;
    let streams: Vec<_> = sandbox
        .log()
        .records()
        .into_iter()
        .filter(|r| r.endpoint == "/api/v1/streaming")
        .collect();
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0].account.as_deref(), Some("chatbot"));
    assert_eq!(streams[0].status, Some(101));
}

#[tokio::test]
async fn a_public_source_sends_no_token() {
    let server = recorder(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n[]",
    )
    .await;
    let source = PublicSource::new(&server.url, Duration::from_secs(5)).unwrap();
    assert_eq!(
        source.tag_timeline("testchat", Some("5"), None).await,
        Ok(TagPage::Page(Vec::new()))
    );
    assert_eq!(source.requests_sent(), 1);
    let heads = server.heads.lock().unwrap().clone();
    assert_eq!(heads.len(), 1);
    assert!(
        heads[0].starts_with("GET /api/v1/timelines/tag/testchat?limit=40&min_id=5 "),
        "{}",
        heads[0]
    );
    assert!(
        !heads[0].to_ascii_lowercase().contains("authorization"),
        "{}",
        heads[0]
    );
}

#[tokio::test]
async fn a_public_source_reads_mastodon_and_is_refused_by_gotosocial() {
    let masto = common::sandbox(Flavour::Mastodon).await;
    let posted = masto.burst(1, 3).await;
    let source = PublicSource::new(masto.base_url(), Duration::from_secs(5)).unwrap();
    let got = page(source.tag_timeline("testchat", None, None).await.unwrap());
    assert_eq!(ids(&got), posted.into_iter().rev().collect::<Vec<_>>());
    assert_eq!(masto.log().by_account().get("anonymous"), Some(&1));

    let gts = common::sandbox(Flavour::GoToSocial).await;
    gts.burst(1, 1).await;
    let source = PublicSource::new(gts.base_url(), Duration::from_secs(5)).unwrap();
    let e = source
        .tag_timeline("testchat", None, None)
        .await
        .unwrap_err();
    assert!(e.message.contains("requires login"), "{}", e.message);
    assert_eq!(e.status, Some(401));
}

/// The reader takes 90 s without a sign of life as a dead connection and
/// pings every 30 s: the sandbox must answer pings, or a quiet chat would
/// look dead.
#[tokio::test]
async fn the_sandbox_answers_the_readers_pings() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    for flavour in [Flavour::Mastodon, Flavour::GoToSocial] {
        let sandbox = common::sandbox(flavour).await;
        let token = sandbox.bot().token.expose().to_string();
        let mut ws = common::stream(sandbox.base_url(), "stream=user", Some(&token))
            .await
            .expect("stream opens");
        ws.send(Message::Ping(b"alive?".to_vec().into()))
            .await
            .unwrap();
        let pong = tokio::time::timeout(PATIENCE, async {
            loop {
                match ws.next().await {
                    Some(Ok(Message::Pong(data))) => return data,
                    Some(Ok(_)) => continue,
                    other => panic!("no pong: {other:?}"),
                }
            }
        })
        .await
        .expect("a pong came");
        assert_eq!(&pong[..], b"alive?");
    }
}
