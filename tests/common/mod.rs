//! Helpers shared by the integration tests: a plain HTTP client over
//! loopback, a WebSocket reader, and sandbox start-up on a fast clock;
//! [`mock`] runs mastodon-mock, [`contract`] holds the contract suites'
//! plumbing, [`browser`] drives a headless Chromium and [`soak`] judges
//! the fault soak.

#![allow(dead_code)] // each test binary uses a different part

pub mod browser;
pub mod contract;
pub mod mock;
pub mod process;
pub mod soak;

use std::sync::Arc;
use std::time::Duration;

use chathost::clock::{ScaledClock, SharedClock};
use chathost::sandbox::{Flavour, Sandbox, SandboxConfig};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use reqwest::header::HeaderMap;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// The instant every scaled clock starts at: a chat evening.
pub fn origin() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2027-03-24T20:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// A clock running `speed` times faster than real time from [`origin`].
pub fn fast_clock(speed: f64) -> SharedClock {
    Arc::new(ScaledClock::new(origin(), speed))
}

/// Starts a sandbox of `flavour` with four participants and default settings.
pub async fn sandbox(flavour: Flavour) -> Sandbox {
    Sandbox::start(SandboxConfig {
        flavour,
        participants: 4,
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox starts")
}

/// An answer as a test looks at it.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// Body as JSON (`Null` if it was not JSON).
    pub json: Value,
    /// Body as text.
    pub text: String,
}

impl Answer {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    }

    /// The `id` fields of a JSON array body, in order.
    pub fn ids(&self) -> Vec<String> {
        self.json
            .as_array()
            .unwrap_or_else(|| panic!("expected a JSON array, got {}", self.text))
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect()
    }

    /// The URL of `rel` in the `Link` header.
    pub fn link(&self, rel: &str) -> Option<String> {
        let header = self.header("link")?;
        header.split(',').find_map(|part| {
            let (url, params) = part.split_once(';')?;
            params.contains(&format!("rel=\"{rel}\"")).then(|| {
                url.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
        })
    }
}

/// A small Mastodon API client over real HTTP.
#[derive(Clone)]
pub struct Api {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The HTTP client (5 s timeout).
    pub http: reqwest::Client,
}

impl Api {
    /// A client for `base` with a 5 s timeout.
    pub fn new(base: &str) -> Self {
        Api {
            base: base.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap(),
        }
    }

    /// Sends a request; `path` may be a full URL (from a `Link` header).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        let mut request = self.http.request(method, url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request answered");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            json,
            text,
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        self.call(reqwest::Method::GET, path, token, None, &[])
            .await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(reqwest::Method::POST, path, Some(token), Some(body), &[])
            .await
    }

    /// Posts a status and returns its JSON, asserting success.
    pub async fn status(&self, token: &str, body: Value) -> Value {
        let a = self.post("/api/v1/statuses", token, body).await;
        assert_eq!(a.status, 200, "posting failed: {}", a.text);
        a.json
    }
}

/// A WebSocket connection to the streaming API.
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `/api/v1/streaming?{query}`; the token goes in the `Authorization`
/// header when given. Returns the HTTP status on a refused handshake.
pub async fn stream(base: &str, query: &str, token: Option<&str>) -> Result<Ws, u16> {
    let url = format!(
        "{}/api/v1/streaming?{query}",
        base.replacen("http://", "ws://", 1)
    );
    let mut request = url.into_client_request().unwrap();
    if let Some(token) = token {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(e) => panic!("WebSocket connection failed: {e}"),
    }
}

/// What reading the next frame gave.
#[derive(Debug)]
pub enum Frame {
    /// A JSON event frame.
    Event(Value),
    /// Nothing within the wait.
    Silence,
    /// The connection ended (closed or reset).
    Closed(String),
}

/// Reads the next event frame, waiting at most `wait`.
pub async fn next_frame(ws: &mut Ws, wait: Duration) -> Frame {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return Frame::Silence,
            Ok(None) => return Frame::Closed("end of stream".into()),
            Ok(Some(Err(e))) => return Frame::Closed(e.to_string()),
            Ok(Some(Ok(Message::Text(text)))) => {
                return Frame::Event(serde_json::from_str(text.as_str()).unwrap());
            }
            Ok(Some(Ok(Message::Close(_)))) => return Frame::Closed("close frame".into()),
            Ok(Some(Ok(_))) => continue,
        }
    }
}

/// Reads the next event frame, failing the test if none comes within 5 s.
pub async fn expect_event(ws: &mut Ws) -> Value {
    match next_frame(ws, Duration::from_secs(5)).await {
        Frame::Event(v) => v,
        other => panic!("expected a stream event, got {other:?}"),
    }
}

/// The status id inside an `update`/`status.update` frame (payload is JSON
/// in a string) or a `delete` frame (payload is the bare id).
pub fn frame_status_id(frame: &Value) -> String {
    let payload = frame["payload"]
        .as_str()
        .expect("payload is a string, as on real servers");
    match serde_json::from_str::<Value>(payload) {
        Ok(Value::Object(status)) => status["id"].as_str().unwrap().to_string(),
        _ => payload.to_string(),
    }
}

/// A clock a test sets by hand; sleepers wake once it reaches their deadline.
pub struct ManualClock {
    /// The current instant.
    now: std::sync::Mutex<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock standing at `at`.
    pub fn at(at: DateTime<Utc>) -> Arc<ManualClock> {
        Arc::new(ManualClock {
            now: std::sync::Mutex::new(at),
        })
    }

    /// Moves the clock to `to`.
    pub fn set(&self, to: DateTime<Utc>) {
        *self.now.lock().unwrap() = to;
    }
}

impl chathost::clock::Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap()
    }

    fn sleep_until(&self, deadline: DateTime<Utc>) -> chathost::clock::Sleep<'_> {
        Box::pin(async move {
            while self.now() < deadline {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    }
}

/// A scaled clock starting at `origin` now, and its anchor in Unix
/// milliseconds (for `CHATHOST_FAKE_CLOCK`, so a child process shares it).
pub fn anchored_clock(origin: &str, speed: f64) -> (SharedClock, u64) {
    let origin: DateTime<Utc> = origin.parse().expect("an RFC 3339 origin");
    let anchor_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64;
    let anchor = std::time::UNIX_EPOCH + Duration::from_millis(anchor_ms);
    let clock: SharedClock = Arc::new(ScaledClock::anchored(origin, anchor, speed));
    (clock, anchor_ms)
}

/// The `software` word of bot.toml for a sandbox flavour.
pub fn software(flavour: Flavour) -> &'static str {
    match flavour {
        Flavour::Mastodon => "mastodon",
        Flavour::GoToSocial => "gotosocial",
    }
}

/// A fresh folder for one test's files, with an empty `prompts/` in it.
pub fn fresh_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("prompts")).expect("a test folder");
    dir
}

/// The settings of `dir/bot.toml`, with no environment overrides.
pub fn load_config(dir: &std::path::Path) -> chathost::config::Config {
    chathost::config::load_with_env(&dir.join("bot.toml"), &std::collections::BTreeMap::new())
        .unwrap_or_else(|d| panic!("{}", d.iter().map(ToString::to_string).collect::<String>()))
        .config
}
