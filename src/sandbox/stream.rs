//! WebSocket streaming at `/api/v1/streaming`, as Mastodon speaks it:
//! `?stream=user|hashtag|public|public:local[&tag=…]`, or subscribe later with
//! `{"type":"subscribe","stream":"hashtag","tag":"…"}` messages. Frames are
//! `{"stream":[…],"event":"update|status.update|delete|notification","payload":"…"}`
//! where the payload is JSON in a string (for `delete`, the bare id).
//!
//! Who hears what: a `user` stream gets the account's own statuses, those
//! mentioning it, public ones with a tag it follows, its notifications, and
//! every delete of a public or unlisted status (as GoToSocial does; a direct
//! or private one's only where it could be seen). `hashtag` gets public
//! statuses with the tag — on Mastodon only; GoToSocial's stays silent.
//! Stream faults (abrupt disconnect, reordering) apply here, event by event.

use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::error::ApiError;
use super::faults::FaultKind;
use super::log::Caller;
use super::net::ConnInfo;
use super::server::Shared;
use super::state::{Event, StatusEvent, Visibility};

const STREAM_PATH: &str = "/api/v1/streaming";

/// Query of the streaming endpoint.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct StreamQuery {
    /// `user`, `hashtag`, `hashtag:local`, `public`, `public:local`.
    stream: Option<String>,
    /// The tag of a hashtag stream.
    tag: Option<String>,
}

/// One subscription of a socket.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Sub {
    /// The account's home and notifications.
    User(usize),
    /// A tag; `name` is what the client gave (echoed in frames).
    Hashtag { name: String, local: bool },
    /// The public timeline.
    Public { local: bool },
}

impl Sub {
    fn parse(stream: &str, tag: Option<&str>, account: Option<usize>) -> Result<Sub, ApiError> {
        match stream {
            "user" => account
                .map(Sub::User)
                .ok_or_else(|| ApiError::new(401, "Missing access token")),
            "hashtag" | "hashtag:local" => match tag.filter(|t| !t.is_empty()) {
                Some(t) => Ok(Sub::Hashtag {
                    name: t.trim_start_matches('#').to_string(),
                    local: stream.ends_with(":local"),
                }),
                None => Err(ApiError::new(400, "No tag for stream provided")),
            },
            "public" => Ok(Sub::Public { local: false }),
            "public:local" => Ok(Sub::Public { local: true }),
            _ => Err(ApiError::new(400, "Unknown stream type")),
        }
    }

    /// The `stream` field of frames for this subscription.
    fn names(&self) -> Vec<String> {
        match self {
            Sub::User(_) => vec!["user".into()],
            Sub::Hashtag { name, local } => {
                let kind = if *local { "hashtag:local" } else { "hashtag" };
                vec![kind.into(), name.clone()]
            }
            Sub::Public { local } => {
                vec![if *local { "public:local" } else { "public" }.into()]
            }
        }
    }
}

/// `GET /api/v1/streaming`: checks the token, then upgrades.
pub(crate) async fn handler(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    axum::Extension(caller): axum::Extension<Caller>,
    Query(query): Query<StreamQuery>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if caller.bad_token {
        return ApiError::new(401, shared.flavour.invalid_token_error()).into_response();
    }
    // GoToSocial wants a token for every stream; Mastodon for `user` only.
    if caller.account.is_none() && !shared.flavour.allows_anonymous_reads() {
        return ApiError::new(401, shared.flavour.missing_token_error()).into_response();
    }
    let mut subs = Vec::new();
    if let Some(stream) = query.stream.as_deref() {
        match Sub::parse(stream, query.tag.as_deref(), caller.account) {
            Ok(sub) => subs.push(sub),
            Err(e) => return e.into_response(),
        }
    }
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    // Subscribe before answering, so no event after the 101 is missed.
    let events = shared.events.subscribe();
    upgrade.on_upgrade(move |socket| run(socket, shared, subs, caller.account, events, conn))
}

async fn run(
    mut socket: WebSocket,
    shared: Arc<Shared>,
    mut subs: Vec<Sub>,
    account: Option<usize>,
    mut events: broadcast::Receiver<Event>,
    conn: ConnInfo,
) {
    let mut shutdown = shared.shutdown.clone();
    // An event held back by a reorder fault.
    let mut held: Option<String> = None;
    loop {
        tokio::select! {
            event = events.recv() => {
                let event = match event {
                    Ok(e) => e,
                    // A client too slow to keep up is cut off, as servers do.
                    Err(_) => break,
                };
                for frame in frames(&shared, &subs, &event) {
                    match shared.faults.take(&Method::GET, STREAM_PATH, true) {
                        Some(FaultKind::StreamDisconnect) => {
                            conn.reset();
                            return;
                        }
                        Some(FaultKind::StreamReorder) if held.is_none() => {
                            held = Some(frame);
                            continue;
                        }
                        _ => {}
                    }
                    if socket.send(Message::Text(frame.into())).await.is_err() {
                        return;
                    }
                    if let Some(late) = held.take()
                        && socket.send(Message::Text(late.into())).await.is_err()
                    {
                        return;
                    }
                }
            }
            message = socket.recv() => match message {
                Some(Ok(Message::Text(text))) => {
                    if let Some(reply) = control(&mut subs, account, text.as_str())
                        && socket.send(Message::Text(reply.into())).await.is_err()
                    {
                        return;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            () = super::server::stopped(&mut shutdown) => {
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
        }
    }
}

/// Handles a `subscribe` / `unsubscribe` message; returns an error frame.
fn control(subs: &mut Vec<Sub>, account: Option<usize>, text: &str) -> Option<String> {
    let msg: Value = serde_json::from_str(text).ok()?;
    let stream = msg["stream"].as_str()?;
    let sub = match Sub::parse(stream, msg["tag"].as_str(), account) {
        Ok(sub) => sub,
        Err(e) => {
            return Some(json!({ "error": e.message, "status": e.status.as_u16() }).to_string());
        }
    };
    match msg["type"].as_str()? {
        "subscribe" if !subs.contains(&sub) => subs.push(sub),
        "unsubscribe" => subs.retain(|s| s != &sub),
        _ => {}
    }
    None
}

/// The frames `event` makes for a socket with `subs`.
fn frames(shared: &Shared, subs: &[Sub], event: &Event) -> Vec<String> {
    let frame = |sub: &Sub, name: &str, payload: &str| {
        json!({ "stream": sub.names(), "event": name, "payload": payload }).to_string()
    };
    let mut out = Vec::new();
    for sub in subs {
        match event {
            Event::Created(s) | Event::Edited(s) => {
                if hears(shared, sub, s) {
                    let name = if matches!(event, Event::Created(_)) {
                        "update"
                    } else {
                        "status.update"
                    };
                    out.push(frame(sub, name, &s.payload));
                }
            }
            Event::Deleted(s) => {
                // A direct or private status's delete goes only to those
                // who could see it: its id is nobody else's business.
                let shown = matches!(s.visibility, Visibility::Public | Visibility::Unlisted);
                let delivers = match sub {
                    Sub::User(me) if !shown => s.author == *me || s.mentions.contains(me),
                    Sub::Public { .. } if !shown => false,
                    Sub::User(_) | Sub::Public { .. } => true,
                    Sub::Hashtag { .. } => hears(shared, sub, s),
                };
                if delivers {
                    out.push(frame(sub, "delete", s.id.as_str()));
                }
            }
            Event::Notified { to, payload } => {
                if *sub == Sub::User(*to) {
                    out.push(frame(sub, "notification", payload));
                }
            }
        }
    }
    out
}

/// Whether a subscription hears of a new or edited status.
fn hears(shared: &Shared, sub: &Sub, s: &StatusEvent) -> bool {
    let public = s.visibility == Visibility::Public;
    match sub {
        Sub::User(me) => {
            s.author == *me
                || s.mentions.contains(me)
                || (public && {
                    let state = shared.state.lock().expect("state lock");
                    s.tags.iter().any(|t| state.follows_tag(*me, t))
                })
        }
        Sub::Hashtag { name, .. } => {
            shared.flavour.hashtag_stream_delivers()
                && public
                && s.tags.contains(&name.to_lowercase())
        }
        // Public timelines leave boosts out, as Mastodon's do.
        Sub::Public { .. } => {
            shared.flavour.public_stream_delivers_updates() && public && !s.reblog
        }
    }
}
