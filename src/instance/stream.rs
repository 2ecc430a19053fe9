//! Our own small WebSocket reader of the streaming API, for answers with
//! low latency. megalodon's blocks the runtime on reconnects
//! (`std::thread::sleep`) and logs the URL with the token; this one:
//!
//! - sends the token in the `Authorization` header, never in the URL, and
//!   never in a log line or a [`StreamEvent::Lost`] reason;
//! - reads several streams on one socket (the first in the URL, the others
//!   by `subscribe` messages, as Mastodon multiplexes);
//! - reconnects forever with exponential backoff and jitter (1 s → 30 s,
//!   reset after a connection that lasted a minute), sending `Lost` and
//!   then `Connected`, after which the collector catches up from the
//!   timeline: a stream is a hint, never the record;
//! - caps every message at [`MAX_MESSAGE`], pings every 30 s and takes 90 s
//!   without a sign of life (a pong answers every ping) as a dead
//!   connection;
//! - stops when its [`StreamHandle`] is dropped or its receiver closes.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::header::{AUTHORIZATION, HeaderValue, USER_AGENT};
use serde_json::{Value, json};
use tokio::sync::mpsc::Sender;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::Instance;
use super::http::{Http, Request};
use super::status::{SeenStatus, parse_status};

/// No stream event comes near this (a status is a few KiB): a larger
/// message ends the connection instead of growing memory.
pub const MAX_MESSAGE: usize = 1024 * 1024;
/// How often we ping the server.
const PING_EVERY: Duration = Duration::from_secs(30);
/// Silence after which the connection counts as dead (three pings unanswered).
const SILENCE: Duration = Duration::from_secs(90);
/// First and longest wait before reconnecting.
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A connection that lasted this long resets the backoff.
const STABLE: Duration = Duration::from_secs(60);

/// Which stream to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamKind {
    /// Public posts with this tag (Mastodon; silent on GoToSocial).
    Hashtag(String),
    /// The account's home: on GoToSocial, public posts with a followed tag.
    User,
}

/// What the reader tells the collector.
#[derive(Debug, Clone)]
pub enum StreamEvent {
    /// (Re)connected and subscribed: catch up from the timeline now.
    Connected,
    /// A new status (`update`).
    Update(SeenStatus),
    /// An edited status (`status.update`).
    Edit(SeenStatus),
    /// A deleted status's id (`delete`).
    Delete(String),
    /// The connection dropped or could not be made (the reason, never the
    /// token); reconnecting with backoff.
    Lost(String),
}

/// The running reader; dropping it stops the reader.
pub struct StreamHandle {
    task: JoinHandle<()>,
}

impl Drop for StreamHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Instance {
    /// Spawns a task (call it inside the tokio runtime) reading `kinds` on
    /// one socket and sending events to `tx`, until the returned handle is
    /// dropped or `tx` is closed. Reconnects with exponential backoff,
    /// never gives up. No `kinds`: nothing to read, the task ends at once.
    pub fn open_stream(&self, kinds: Vec<StreamKind>, tx: Sender<StreamEvent>) -> StreamHandle {
        let reader = Reader {
            http: self.http.clone(),
            kinds,
            tx,
        };
        StreamHandle {
            task: tokio::spawn(reader.run()),
        }
    }
}

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// Why a session ended.
enum Ended {
    /// The collector stopped listening: the reader ends.
    Receiver,
    /// The connection is gone: reconnect.
    Lost(String),
}

struct Reader {
    http: Http,
    kinds: Vec<StreamKind>,
    tx: Sender<StreamEvent>,
}

impl Reader {
    async fn run(self) {
        let Some(first) = self.kinds.first() else {
            return;
        };
        let url = format!("{}{}", self.stream_base().await, stream_path(first));
        let mut backoff = Backoff::default();
        let mut warned = false;
        loop {
            let began = Instant::now();
            let (was_up, reason) = match self.connect(&url).await {
                Ok(ws) => match self.session(ws).await {
                    Ended::Receiver => return,
                    Ended::Lost(reason) => (true, reason),
                },
                Err(reason) => (false, reason),
            };
            if began.elapsed() >= STABLE {
                backoff = Backoff::default();
            }
            let reason = self.scrub(reason);
            // Once per outage, not once per failed reconnect; a refused
            // token once at warn, since collection then only polls.
            if refused(&reason) && !warned {
                warned = true;
                tracing::warn!(%url, %reason, "the stream is refused; answers are read by polling instead");
            } else if was_up {
                tracing::info!(%url, %reason, "stream lost; reconnecting");
            } else {
                tracing::debug!(%url, %reason, "stream still down; trying again");
            }
            if self.tx.send(StreamEvent::Lost(reason)).await.is_err() {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(backoff.next()) => {}
                () = self.tx.closed() => return,
            }
        }
    }

    /// `ws(s)://host[:port]` of the streaming API: the base URL's, or the
    /// advertised `urls.streaming_api` when it is another host with the
    /// same security (GoToSocial on plain http advertises `wss://`).
    async fn stream_base(&self) -> String {
        let own = ws_origin(&self.http.url).unwrap_or_default();
        let answer = self.http.send(Request::get("/api/v1/instance")).await;
        let advertised = answer
            .ok()
            .filter(|a| a.status == 200)
            .and_then(|a| serde_json::from_slice::<Value>(&a.body).ok())
            .and_then(|v| Some(v.pointer("/urls/streaming_api")?.as_str()?.to_string()));
        choose_base(&own, advertised.as_deref())
    }

    async fn connect(&self, url: &str) -> Result<Ws, String> {
        let mut request = url
            .into_client_request()
            .map_err(|e| format!("the streaming address {url} cannot be used: {e}"))?;
        let headers = request.headers_mut();
        if let Some(authorization) = self.http.authorization() {
            headers.insert(AUTHORIZATION, authorization.clone());
        }
        let agent = format!("chathost/{}", env!("CARGO_PKG_VERSION"));
        if let Ok(agent) = HeaderValue::from_str(&agent) {
            headers.insert(USER_AGENT, agent);
        }
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE))
            .max_frame_size(Some(MAX_MESSAGE));
        self.http.count_request();
        let timeout = self.http.timeout;
        let connecting = tokio_tungstenite::connect_async_with_config(request, Some(config), false);
        match tokio::time::timeout(timeout, connecting).await {
            Err(_) => Err(format!(
                "no answer to the stream handshake at {url} within {} s",
                timeout.as_secs()
            )),
            Ok(Err(e)) => Err(handshake_failed(url, &e)),
            Ok(Ok((ws, _))) => Ok(ws),
        }
    }

    /// Reads one connection until it ends.
    async fn session(&self, mut ws: Ws) -> Ended {
        for kind in self.kinds.iter().skip(1) {
            if let Err(e) = ws.send(Message::text(subscribe(kind))).await {
                return Ended::Lost(format!("the stream failed while subscribing: {e}"));
            }
        }
        if self.tx.send(StreamEvent::Connected).await.is_err() {
            return Ended::Receiver;
        }
        let mut ping = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut heard = Instant::now();
        loop {
            tokio::select! {
                message = ws.next() => {
                    heard = Instant::now();
                    let text = match message {
                        Some(Ok(Message::Text(text))) => text,
                        Some(Ok(Message::Close(frame))) => {
                            let why = frame.map(|f| format!(" ({} {})", f.code, f.reason));
                            return Ended::Lost(format!(
                                "the server closed the stream{}",
                                why.unwrap_or_default()
                            ));
                        }
                        Some(Ok(_)) => continue,
                        Some(Err(e)) => return Ended::Lost(format!("the stream failed: {e}")),
                        None => return Ended::Lost("the server closed the stream".into()),
                    };
                    if let Some(event) = parse_frame(text.as_str())
                        && self.tx.send(event).await.is_err()
                    {
                        return Ended::Receiver;
                    }
                    // Time spent waiting on a slow collector is not silence.
                    heard = Instant::now();
                }
                _ = ping.tick() => {
                    if heard.elapsed() >= SILENCE {
                        return Ended::Lost(format!(
                            "no sign of life from the stream for {} s",
                            SILENCE.as_secs()
                        ));
                    }
                    if let Err(e) = ws.send(Message::Ping(Vec::new().into())).await {
                        return Ended::Lost(format!("the stream failed: {e}"));
                    }
                }
                () = self.tx.closed() => return Ended::Receiver,
            }
        }
    }

    /// A reason as shown: control characters escaped, and the token cut
    /// out should any library ever echo it.
    fn scrub(&self, reason: String) -> String {
        let mut reason = crate::diagnostic::escape_controls(&reason);
        let token = self
            .http
            .authorization()
            .and_then(|a| a.to_str().ok())
            .and_then(|a| a.strip_prefix("Bearer "))
            .filter(|t| !t.is_empty());
        if let Some(token) = token {
            reason = reason.replace(token, "[token]");
        }
        reason
    }
}

/// The path and query of the first stream; the tag is percent-encoded.
fn stream_path(kind: &StreamKind) -> String {
    match kind {
        StreamKind::User => "/api/v1/streaming?stream=user".into(),
        StreamKind::Hashtag(tag) => format!(
            "/api/v1/streaming?stream=hashtag&tag={}",
            super::segment(tag.trim_start_matches('#'))
        ),
    }
}

/// The message subscribing to a further stream.
fn subscribe(kind: &StreamKind) -> String {
    match kind {
        StreamKind::User => json!({"type": "subscribe", "stream": "user"}),
        StreamKind::Hashtag(tag) => json!({
            "type": "subscribe",
            "stream": "hashtag",
            "tag": tag.trim_start_matches('#'),
        }),
    }
    .to_string()
}

/// `ws://host[:port]` for `http://…`, `wss://…` for `https://…`.
fn ws_origin(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let scheme = match parsed.scheme() {
        "http" | "ws" => "ws",
        "https" | "wss" => "wss",
        _ => return None,
    };
    let host = parsed.host_str()?;
    Some(match parsed.port() {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    })
}

/// The advertised streaming origin when it is another host with the same
/// security as ours; else our own.
fn choose_base(own: &str, advertised: Option<&str>) -> String {
    let Some(theirs) = advertised.and_then(ws_origin) else {
        return own.to_string();
    };
    let same_security = theirs.starts_with("wss://") == own.starts_with("wss://");
    if same_security && theirs != own {
        theirs
    } else {
        own.to_string()
    }
}

/// Whether a session ended on the server refusing the token.
fn refused(reason: &str) -> bool {
    reason.contains("(401)") || reason.contains("(403)")
}

/// Words for a failed handshake (the request, with its header, is never
/// part of them).
fn handshake_failed(url: &str, e: &WsError) -> String {
    match e {
        WsError::Http(response) => {
            let status = response.status().as_u16();
            let hint = match status {
                401 => ": the server rejected the access token",
                403 => {
                    ": the token may not read the stream (it needs `read:statuses`; `chathost auth` makes such a token)"
                }
                404 => ": no streaming API there",
                _ => "",
            };
            format!("the server refused the stream at {url} ({status}){hint}")
        }
        other => format!("cannot open the stream at {url}: {other}"),
    }
}

/// A frame as an event; `None` for events we do not use, control answers
/// and anything unreadable.
fn parse_frame(text: &str) -> Option<StreamEvent> {
    let frame: Value = serde_json::from_str(text).ok()?;
    let Some(event) = frame.get("event").and_then(Value::as_str) else {
        if let Some(error) = frame.get("error").and_then(Value::as_str) {
            let error = crate::diagnostic::escape_controls(error);
            tracing::warn!(%error, "the streaming server refused a subscription");
        }
        return None;
    };
    let payload = frame.get("payload")?;
    let status = || -> Option<SeenStatus> {
        // The payload is JSON in a string; tolerate it sent as an object.
        let parsed = match payload {
            Value::String(s) => parse_status(&serde_json::from_str(s).ok()?),
            other => parse_status(other),
        };
        if parsed.is_none() {
            tracing::debug!(event, "skipped a streamed status that could not be read");
        }
        parsed
    };
    match event {
        "update" => status().map(StreamEvent::Update),
        // mastodon-mock says `status_update`.
        "status.update" | "status_update" => status().map(StreamEvent::Edit),
        "delete" => match payload {
            Value::String(id) if !id.is_empty() => Some(StreamEvent::Delete(id.clone())),
            Value::Number(n) => Some(StreamEvent::Delete(n.to_string())),
            _ => None,
        },
        _ => None,
    }
}

/// Exponential backoff with jitter: each wait is between half and all of
/// the current step, which doubles up to [`BACKOFF_MAX`].
struct Backoff {
    step: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            step: BACKOFF_FIRST,
        }
    }
}

impl Backoff {
    fn next(&mut self) -> Duration {
        use rand::Rng;
        let step = self.step;
        self.step = (step * 2).min(BACKOFF_MAX);
        let half = step / 2;
        let jitter_ms = rand::thread_rng().gen_range(0..=half.as_millis() as u64);
        half + Duration::from_millis(jitter_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(name: &str) -> Value {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    /// A recorded event as it travels: the payload JSON in a string.
    fn on_the_wire(event: &Value) -> String {
        let mut frame = event.clone();
        if !frame["payload"].is_string() {
            frame["payload"] = frame["payload"].to_string().into();
        }
        frame.to_string()
    }

    #[test]
    fn reads_recorded_gotosocial_frames() {
        let events = recorded("gotosocial_stream_matrix_events.json");
        let mut seen = Vec::new();
        for e in events.as_array().unwrap() {
            if e["listener"] != "chatbot:user" {
                continue;
            }
            match parse_frame(&on_the_wire(&e["event"])) {
                Some(StreamEvent::Update(s)) => seen.push(format!("update {}", s.account.acct)),
                Some(StreamEvent::Edit(s)) => seen.push(format!("edit {}", s.account.acct)),
                Some(StreamEvent::Delete(id)) => seen.push(format!("delete {}", id.len())),
                Some(other) => panic!("{other:?}"),
                None => seen.push("ignored".into()),
            }
        }
        assert_eq!(
            seen,
            [
                "update chatbot",
                "update alice",
                "update bob",
                "ignored", // the notification
                "edit alice",
                "delete 26"
            ]
        );
    }

    #[test]
    fn reads_mastodon_mock_frames_and_the_string_payload() {
        let events = recorded("mastodon_stream_events.json");
        let kinds: Vec<&str> = events
            .as_array()
            .unwrap()
            .iter()
            .map(|e| match parse_frame(&on_the_wire(&e["event"])) {
                Some(StreamEvent::Update(_)) => "update",
                Some(StreamEvent::Edit(_)) => "edit",
                Some(StreamEvent::Delete(_)) => "delete",
                _ => "other",
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "update", "update", "update", "update", "edit", "delete", "delete"
            ]
        );
        assert!(parse_frame(r#"{"event":"delete","payload":"01ABC"}"#).is_some());
        assert!(parse_frame(r#"{"event":"update","payload":"{not json"}"#).is_none());
        assert!(parse_frame(r#"{"event":"filters_changed"}"#).is_none());
        assert!(parse_frame(r#"{"error":"No tag","status":400}"#).is_none());
        assert!(parse_frame("[]").is_none());
    }

    #[test]
    fn the_stream_address_keeps_our_security_and_no_token() {
        assert_eq!(
            ws_origin("http://127.0.0.1:8089").as_deref(),
            Some("ws://127.0.0.1:8089")
        );
        assert_eq!(
            ws_origin("https://social.example").as_deref(),
            Some("wss://social.example")
        );
        // GoToSocial on plain http advertises wss:// on its own host.
        let own = "ws://127.0.0.1:8089";
        assert_eq!(choose_base(own, Some("wss://127.0.0.1:8089")), own);
        assert_eq!(choose_base(own, Some("wss://stream.example")), own);
        let own = "wss://social.example";
        assert_eq!(
            choose_base(own, Some("wss://streaming.social.example")),
            "wss://streaming.social.example"
        );
        assert_eq!(choose_base(own, Some("ws://streaming.example")), own);
        assert_eq!(choose_base(own, Some("nonsense")), own);
        assert_eq!(
            stream_path(&StreamKind::Hashtag("#Café chat".into())),
            "/api/v1/streaming?stream=hashtag&tag=Caf%C3%A9%20chat"
        );
        assert_eq!(
            subscribe(&StreamKind::Hashtag("#x".into())),
            r#"{"stream":"hashtag","tag":"x","type":"subscribe"}"#
        );
    }

    #[test]
    fn backoff_grows_to_thirty_seconds_with_jitter() {
        let mut b = Backoff::default();
        let waits: Vec<Duration> = (0..8).map(|_| b.next()).collect();
        assert!(waits[0] >= Duration::from_millis(500) && waits[0] <= BACKOFF_FIRST);
        assert!(waits[7] >= BACKOFF_MAX / 2 && waits[7] <= BACKOFF_MAX);
    }
}
