//! Everything that talks to the server.
//!
//! Every call goes through our own small HTTP client ([`http`]): megalodon
//! reads whole bodies with no cap, sets no timeout, follows redirects to
//! other hosts and cannot send an `Idempotency-Key`. Its `SNS` names the
//! server software ([`nodeinfo`] detects it). Every failure is classed —
//! retry, wait, or give up — and described with its real cause and fix,
//! never with the token ([`errors`]).
//!
//! For collecting answers:
//!
//! - `status` — [`SeenStatus`], any author's status as read from a
//!   timeline, a context or a stream ([`parse_status`], tolerant);
//! - `read` — the reading calls on [`Instance`]: the hashtag timeline
//!   ([`TagPage`]), a status's replies, one status, following a tag, the
//!   request count and rate-limit state;
//! - `public` — [`PublicSource`], another server's public tag timeline,
//!   read with no token at all;
//! - `stream` — our own cancellable WebSocket reader
//!   ([`Instance::open_stream`]): token in a header, reconnects with
//!   backoff, bounded frames.
//!
//! For participants' commands, `mentions`: [`SeenMention`], the bot's
//! mention notifications ([`Instance::mentions`]), and the bot's own
//! replies under a status ([`Instance::own_replies_to`]).

mod errors;
mod http;
mod mentions;
mod nodeinfo;
pub mod oauth;
mod public;
mod read;
mod status;
mod stream;

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use megalodon::SNS;
use reqwest::header::HeaderMap;
use serde_json::Value;

pub use errors::{CallError, FailureClass};
pub use http::{CAP, CAP_MIB};
pub use mentions::{MentionPage, SeenMention};
pub use public::PublicSource;
pub use read::TagPage;
pub use status::{SeenAccount, SeenStatus, parse_status};
pub use stream::{StreamEvent, StreamHandle, StreamKind};

use crate::config::{InstanceSettings, Software, Visibility};
use crate::secret::Secret;
use errors::{Target, header, parse_instant};
use http::{Answer, Http, Request};

/// Below this many requests left in the rate-limit window we pause until it
/// resets, keeping a reserve for the chat's own posts.
const RATE_RESERVE: u64 = 3;

/// A status on the server, as much as chathost needs of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteStatus {
    /// Server-local id (opaque).
    pub id: String,
    /// Global id, the same on every instance.
    pub uri: String,
    /// Web page of the status.
    pub url: Option<String>,
    /// When the server made it.
    pub created_at: DateTime<Utc>,
    /// Its HTML content.
    pub content: String,
    /// The text as it was sent, where the server gives it back
    /// (GoToSocial does for the account's own statuses; Mastodon does not).
    pub source_text: Option<String>,
}

/// A status to post.
#[derive(Debug, Clone)]
pub struct NewStatus<'a> {
    /// The text.
    pub text: &'a str,
    /// Who may see it.
    pub visibility: Visibility,
    /// ISO 639 language.
    pub language: &'a str,
    /// The status it answers (threads).
    pub in_reply_to_id: Option<&'a str>,
    /// Sent as `Idempotency-Key` (Mastodon honours it; others ignore it).
    pub idempotency_key: &'a str,
}

/// What the instance says about itself and the bot account.
#[derive(Debug, Clone)]
pub struct InstanceFacts {
    /// Post length limit.
    pub max_characters: usize,
    /// Characters a link counts for, if the server says.
    pub characters_per_url: Option<usize>,
    /// Server version string.
    pub version: String,
    /// The bot account's id.
    pub account_id: String,
    /// The bot account's handle.
    pub acct: String,
    /// Whether the account is marked as a bot.
    pub bot: bool,
}

/// Rate-limit state from the last answer's `X-RateLimit-*` headers.
#[derive(Debug, Clone, Copy, Default)]
struct RateState {
    remaining: Option<u64>,
    limit: Option<u64>,
    reset: Option<DateTime<Utc>>,
}

/// `Err` when the token cannot be sent at all (a line break, a control
/// character…), saying so without showing it.
pub fn check_token(token: &Secret) -> Result<(), CallError> {
    reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token.expose()))
        .map(|_| ())
        .map_err(|_| errors::bad_token(token.expose()))
}

/// A connection to the bot's instance.
pub struct Instance {
    http: Http,
    rate: Mutex<RateState>,
    /// The server software spoken to.
    pub software: SNS,
    /// The base URL.
    pub url: String,
}

impl Instance {
    /// How long one call may take before it counts as failed.
    pub fn timeout(&self) -> std::time::Duration {
        self.http.timeout
    }

    /// Connects (no request yet, except to detect the software when the
    /// settings say `auto`). Every call times out after
    /// `settings.timeout`.
    pub async fn connect(
        settings: &InstanceSettings,
        token: &Secret,
    ) -> Result<Instance, CallError> {
        let http = Http::new(&settings.url, token.expose(), settings.timeout)?;
        let software = match settings.software {
            Software::Mastodon => SNS::Mastodon,
            Software::Gotosocial => SNS::Gotosocial,
            Software::Pleroma => SNS::Pleroma,
            Software::Auto => nodeinfo::detect(&http).await?,
        };
        Ok(Instance {
            http,
            rate: Mutex::new(RateState::default()),
            software,
            url: settings.url.clone(),
        })
    }

    /// Reads the instance's limits and verifies the token.
    pub async fn facts(&self) -> Result<InstanceFacts, CallError> {
        const INSTANCE: &str = "/api/v1/instance";
        const ACCOUNT: &str = "/api/v1/accounts/verify_credentials";
        let (status, instance) = self.json(Request::get(INSTANCE)).await?;
        let statuses = instance.pointer("/configuration/statuses");
        // Mastodon and GoToSocial say `configuration.statuses`, Pleroma
        // and Akkoma `max_toot_chars`.
        let max_characters = statuses
            .and_then(|s| s.get("max_characters"))
            .or_else(|| instance.get("max_toot_chars"))
            .and_then(Value::as_u64)
            .ok_or_else(|| errors::missing(status, "max_characters", self.target(INSTANCE)))?;
        let characters_per_url = statuses
            .and_then(|s| s.get("characters_reserved_per_url"))
            .and_then(Value::as_u64);
        let (status, account) = self.json(Request::get(ACCOUNT)).await?;
        let text = |v: &Value, field: &str| {
            v.get(field)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| errors::missing(status, field, self.target(ACCOUNT)))
        };
        Ok(InstanceFacts {
            max_characters: usize::try_from(max_characters).unwrap_or(usize::MAX),
            characters_per_url: characters_per_url.and_then(|c| usize::try_from(c).ok()),
            version: instance
                .get("version")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            account_id: text(&account, "id")?,
            acct: text(&account, "acct")?,
            bot: account.get("bot").and_then(Value::as_bool).unwrap_or(false),
        })
    }

    /// The token's scopes, from `GET /api/v1/apps/verify_credentials`;
    /// `None` when the server does not list them (older Mastodon, others).
    pub async fn token_scopes(&self) -> Option<Vec<String>> {
        let (_, body) = self
            .json(Request::get("/api/v1/apps/verify_credentials"))
            .await
            .ok()?;
        let scopes = body.get("scopes")?.as_array()?;
        Some(
            scopes
                .iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect(),
        )
    }

    /// Posts a status with an `Idempotency-Key`.
    pub async fn post_status(&self, status: &NewStatus<'_>) -> Result<RemoteStatus, CallError> {
        const PATH: &str = "/api/v1/statuses";
        let mut body = serde_json::json!({
            "status": status.text,
            "visibility": status.visibility.as_str(),
            "language": status.language,
            // Plain text whatever the account's default: a Markdown default
            // (GoToSocial, Akkoma) would render `*x*` as emphasis. Servers
            // that do not know the field ignore it.
            "content_type": "text/plain",
        });
        if let Some(id) = status.in_reply_to_id {
            body["in_reply_to_id"] = id.into();
        }
        let mut request = Request::post(PATH);
        request.json = Some(&body);
        request.idempotency_key = Some(status.idempotency_key);
        let answer = self.send(request).await?;
        if !(200..300).contains(&answer.status) {
            return Err(errors::http_error(
                answer.status,
                &answer.body,
                &answer.headers,
                self.target(PATH),
            ));
        }
        match parse_remote(&answer.body) {
            Some(posted) => Ok(posted),
            // A page from a proxy or a website: the API never saw the post.
            None if errors::looks_like_a_page(&answer.body, &answer.headers) => {
                Err(errors::web_page(Some(answer.status), self.target(PATH)))
            }
            None => Err(CallError {
                status: Some(answer.status),
                message: "the server accepted the post but its answer could not be read".into(),
                // The post exists: treat as unknown, so reconciliation finds it.
                class: FailureClass::Transient,
            }),
        }
    }

    /// The bot's own most recent statuses (newest first), to find a post
    /// whose outcome was unknown.
    pub async fn own_recent_statuses(
        &self,
        account_id: &str,
    ) -> Result<Vec<RemoteStatus>, CallError> {
        self.own_statuses_before(account_id, None).await
    }

    /// A page of the bot's own statuses (newest first), older than
    /// `max_id` when given: to look further back than the newest 40.
    pub async fn own_statuses_before(
        &self,
        account_id: &str,
        max_id: Option<&str>,
    ) -> Result<Vec<RemoteStatus>, CallError> {
        let mut path = format!("/api/v1/accounts/{}/statuses?limit=40", segment(account_id));
        if let Some(max_id) = max_id {
            path.push_str(&format!("&max_id={}", segment(max_id)));
        }
        let (_, list) = self.json(Request::get(&path)).await?;
        Ok(list
            .as_array()
            .map(|l| l.iter().filter_map(status_from).collect())
            .unwrap_or_default())
    }

    /// Pins a status to the bot's profile.
    pub async fn pin(&self, id: &str) -> Result<(), CallError> {
        let path = format!("/api/v1/statuses/{}/pin", segment(id));
        self.json(Request::post(&path)).await.map(|_| ())
    }

    /// Unpins a status.
    pub async fn unpin(&self, id: &str) -> Result<(), CallError> {
        let path = format!("/api/v1/statuses/{}/unpin", segment(id));
        self.json(Request::post(&path)).await.map(|_| ())
    }

    /// When the rate-limit window is nearly used up, the instant it resets:
    /// the caller should wait until then before the next call.
    pub fn pause_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let rate = *self.rate.lock().unwrap_or_else(|p| p.into_inner());
        match (rate.remaining, rate.reset) {
            // A reset past Mastodon's longest window (three hours) is a
            // wrong clock: ignored, and the next answer's headers decide.
            (Some(left), Some(reset))
                if left < RATE_RESERVE
                    && reset > now
                    && reset <= now + chrono::Duration::hours(3) =>
            {
                Some(reset)
            }
            _ => None,
        }
    }

    fn target<'a>(&'a self, path: &'a str) -> Target<'a> {
        Target {
            url: &self.http.url,
            path,
        }
    }

    /// Sends a request, noting the rate-limit headers of its answer.
    async fn send(&self, request: Request<'_>) -> Result<Answer, CallError> {
        let answer = self.http.send(request).await?;
        self.note_rate(&answer.headers);
        Ok(answer)
    }

    /// Sends a request and reads its answer as JSON, with its status.
    async fn json(&self, request: Request<'_>) -> Result<(u16, Value), CallError> {
        let path = request.path;
        let answer = self.send(request).await?;
        Ok((answer.status, answer.json(self.target(path))?))
    }

    fn note_rate(&self, headers: &HeaderMap) {
        let remaining = header(headers, "x-ratelimit-remaining").and_then(|v| v.parse().ok());
        let reset = header(headers, "x-ratelimit-reset").and_then(|v| parse_instant(&v));
        if remaining.is_some() || reset.is_some() {
            let mut rate = self.rate.lock().unwrap_or_else(|p| p.into_inner());
            rate.remaining = remaining;
            rate.limit = header(headers, "x-ratelimit-limit").and_then(|v| v.parse().ok());
            rate.reset = reset;
        }
    }
}

/// An id as one path segment: ids are opaque, so anything but a letter,
/// digit, `-` or `_` is percent-encoded (`..` too).
fn segment(id: &str) -> String {
    id.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn parse_remote(body: &[u8]) -> Option<RemoteStatus> {
    status_from(&serde_json::from_slice(body).ok()?)
}

fn status_from(v: &Value) -> Option<RemoteStatus> {
    Some(RemoteStatus {
        id: v.get("id")?.as_str()?.to_string(),
        uri: v.get("uri")?.as_str()?.to_string(),
        url: v.get("url").and_then(|u| u.as_str()).map(str::to_string),
        created_at: parse_instant(v.get("created_at")?.as_str()?)?,
        content: v
            .get("content")
            .and_then(|c| c.as_str())
            .unwrap_or("")
            .to_string(),
        source_text: v.get("text").and_then(|t| t.as_str()).map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_recorded_status() {
        let body = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/gotosocial_post_status.json"
        ))
        .unwrap();
        let s = parse_remote(&body).unwrap();
        assert_eq!(s.id, "01M8B046QKBBJZ44242GKF0MSY");
        assert!(
            s.uri
                .starts_with("http://127.0.0.1:8089/users/chatbot/statuses/")
        );
    }

    #[test]
    fn an_id_stays_one_path_segment() {
        assert_eq!(segment("01M8B046"), "01M8B046");
        assert_eq!(segment("../x?y"), "%2E%2E%2Fx%3Fy");
    }
}
