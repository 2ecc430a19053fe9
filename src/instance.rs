//! Everything that talks to the server.
//!
//! Reads go through megalodon, each call wrapped in a timeout (megalodon
//! sets none). Posting a status goes through a thin reqwest call of our
//! own, because megalodon can neither send an `Idempotency-Key` nor time
//! out. Every failure is classed — retry, wait, or give up — and described
//! in words a host understands, never with the token.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use megalodon::{Megalodon, SNS};
use reqwest::header::HeaderMap;

use crate::config::{InstanceSettings, Software, Visibility};
use crate::secret::Secret;

/// Below this many requests left in the rate-limit window we pause until it
/// resets, keeping a reserve for the chat's own posts.
const RATE_RESERVE: u64 = 3;

/// What to do after a failed call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureClass {
    /// A passing fault (timeout, reset, 5xx): try again after a backoff.
    /// The request may have reached the server: reconcile before a repost.
    Transient,
    /// Rate limited: try again at this instant (from `X-RateLimit-Reset`).
    Wait(DateTime<Utc>),
    /// Rate limited: try again after this long (`Retry-After`, or a default
    /// when the server gives no hint).
    WaitFor(Duration),
    /// Retrying cannot help (401, 403, 404, 422, 400…).
    Permanent,
}

/// A failed call, described for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    /// HTTP status, when the server answered.
    pub status: Option<u16>,
    /// What went wrong, in words.
    pub message: String,
    /// What to do about it.
    pub class: FailureClass,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CallError {}

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
    reset: Option<DateTime<Utc>>,
}

/// A connection to the bot's instance.
pub struct Instance {
    client: Box<dyn Megalodon + Send + Sync>,
    http: reqwest::Client,
    token: Secret,
    timeout: Duration,
    rate: Mutex<RateState>,
    /// The server software spoken to.
    pub software: SNS,
    /// The base URL.
    pub url: String,
}

impl Instance {
    /// Connects (no request yet, except to detect the software when the
    /// settings say `auto`). Every call times out after
    /// `settings.timeout`.
    pub async fn connect(
        settings: &InstanceSettings,
        token: &Secret,
    ) -> Result<Instance, CallError> {
        let timeout = settings.timeout;
        let software = match settings.software {
            Software::Mastodon => SNS::Mastodon,
            Software::Gotosocial => SNS::Gotosocial,
            Software::Pleroma => SNS::Pleroma,
            Software::Auto => {
                match tokio::time::timeout(timeout, megalodon::detector(&settings.url)).await {
                    Ok(Ok(sns)) => sns,
                    Ok(Err(e)) => {
                        return Err(CallError {
                            message: format!(
                                "could not tell which server software runs at {} ({}); set [instance] software = \"mastodon\" or \"gotosocial\" in bot.toml",
                                settings.url,
                                describe(&e).message
                            ),
                            ..permanent(None)
                        });
                    }
                    Err(_) => return Err(timeout_error(&settings.url, timeout)),
                }
            }
        };
        let client = megalodon::generator(
            software.clone(),
            settings.url.clone(),
            Some(token.expose().to_string()),
            Some(user_agent()),
        )
        .map_err(|e| describe(&e))?;
        let http = reqwest::Client::builder()
            .user_agent(user_agent())
            .timeout(timeout)
            .build()
            .map_err(|e| CallError {
                message: format!("cannot set up HTTP: {e}"),
                ..permanent(None)
            })?;
        Ok(Instance {
            client,
            http,
            token: token.clone(),
            timeout,
            rate: Mutex::new(RateState::default()),
            software,
            url: settings.url.clone(),
        })
    }

    /// Reads the instance's limits and verifies the token.
    pub async fn facts(&self) -> Result<InstanceFacts, CallError> {
        let instance = self.timed(self.client.get_instance()).await?.json;
        let account = self
            .timed(self.client.verify_account_credentials())
            .await?
            .json;
        Ok(InstanceFacts {
            max_characters: instance.configuration.statuses.max_characters as usize,
            characters_per_url: instance
                .configuration
                .statuses
                .characters_reserved_per_url
                .map(|c| c as usize),
            version: instance.version,
            account_id: account.id,
            acct: account.acct,
            bot: account.bot,
        })
    }

    /// The token's scopes, from `GET /api/v1/apps/verify_credentials`;
    /// `None` when the server does not list them (older Mastodon, others).
    pub async fn token_scopes(&self) -> Option<Vec<String>> {
        let answer = self
            .http
            .get(format!("{}/api/v1/apps/verify_credentials", self.url))
            .bearer_auth(self.token.expose())
            .send()
            .await
            .ok()?;
        let body: serde_json::Value = answer.json().await.ok()?;
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
        let mut body = serde_json::json!({
            "status": status.text,
            "visibility": status.visibility.as_str(),
            "language": status.language,
        });
        if let Some(id) = status.in_reply_to_id {
            body["in_reply_to_id"] = id.into();
        }
        let answer = self
            .http
            .post(format!("{}/api/v1/statuses", self.url))
            .bearer_auth(self.token.expose())
            .header("Idempotency-Key", status.idempotency_key)
            .json(&body)
            .send()
            .await
            .map_err(|e| self.transport_error(&e))?;
        self.note_rate(answer.headers());
        let code = answer.status();
        let headers = answer.headers().clone();
        let text = answer.text().await.map_err(|e| self.transport_error(&e))?;
        if !code.is_success() {
            return Err(http_error(code.as_u16(), &text, &headers));
        }
        parse_status(&text).ok_or_else(|| CallError {
            status: Some(code.as_u16()),
            message: "the server accepted the post but its answer could not be read".into(),
            // The post exists: treat as unknown, so reconciliation finds it.
            class: FailureClass::Transient,
        })
    }

    /// The bot's own most recent statuses (newest first), to find a post
    /// whose outcome was unknown.
    pub async fn own_recent_statuses(
        &self,
        account_id: &str,
    ) -> Result<Vec<RemoteStatus>, CallError> {
        let options = megalodon::megalodon::GetAccountStatusesInputOptions {
            limit: Some(40),
            ..Default::default()
        };
        let r = self
            .timed(
                self.client
                    .get_account_statuses(account_id.to_string(), Some(&options)),
            )
            .await?;
        self.note_rate(&r.header);
        Ok(r.json
            .into_iter()
            .map(|s| RemoteStatus {
                id: s.id,
                uri: s.uri,
                url: s.url,
                created_at: s.created_at,
                content: s.content,
            })
            .collect())
    }

    /// Pins a status to the bot's profile.
    pub async fn pin(&self, id: &str) -> Result<(), CallError> {
        self.timed(self.client.pin_status(id.to_string()))
            .await
            .map(|_| ())
    }

    /// Unpins a status.
    pub async fn unpin(&self, id: &str) -> Result<(), CallError> {
        self.timed(self.client.unpin_status(id.to_string()))
            .await
            .map(|_| ())
    }

    /// When the rate-limit window is nearly used up, the instant it resets:
    /// the caller should wait until then before the next call.
    pub fn pause_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let rate = *self.rate.lock().expect("rate lock");
        match (rate.remaining, rate.reset) {
            (Some(left), Some(reset)) if left < RATE_RESERVE && reset > now => Some(reset),
            _ => None,
        }
    }

    fn note_rate(&self, headers: &HeaderMap) {
        let remaining = header(headers, "x-ratelimit-remaining").and_then(|v| v.parse().ok());
        let reset = header(headers, "x-ratelimit-reset").and_then(|v| parse_instant(&v));
        if remaining.is_some() || reset.is_some() {
            let mut rate = self.rate.lock().expect("rate lock");
            rate.remaining = remaining;
            rate.reset = reset;
        }
    }

    async fn timed<T>(
        &self,
        call: impl Future<Output = Result<T, megalodon::error::Error>>,
    ) -> Result<T, CallError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(r) => r.map_err(|e| describe(&e)),
            Err(_) => Err(timeout_error(&self.url, self.timeout)),
        }
    }

    fn transport_error(&self, e: &reqwest::Error) -> CallError {
        let message = if e.is_timeout() {
            format!(
                "{} did not answer within {} seconds",
                self.url,
                self.timeout.as_secs_f32()
            )
        } else if e.is_connect() {
            format!("cannot connect to {}: {}", self.url, root_cause(e))
        } else {
            format!("the connection to {} failed: {}", self.url, root_cause(e))
        };
        CallError {
            status: None,
            message,
            class: FailureClass::Transient,
        }
    }
}

fn user_agent() -> String {
    format!("chathost/{}", env!("CARGO_PKG_VERSION"))
}

fn permanent(status: Option<u16>) -> CallError {
    CallError {
        status,
        message: String::new(),
        class: FailureClass::Permanent,
    }
}

fn timeout_error(url: &str, timeout: Duration) -> CallError {
    CallError {
        status: None,
        message: format!(
            "{url} did not answer within {} seconds",
            timeout.as_secs_f32()
        ),
        class: FailureClass::Transient,
    }
}

/// The innermost error's text (reqwest's own text names only the URL, never
/// the token, which travels in a header).
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_string)
}

/// `X-RateLimit-Reset` is an ISO 8601 instant.
fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn parse_status(body: &str) -> Option<RemoteStatus> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
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
    })
}

/// Classes an HTTP error answer.
fn http_error(status: u16, body: &str, headers: &HeaderMap) -> CallError {
    let server_says = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
        .unwrap_or_default();
    let (class, message) = match status {
        429 => {
            let retry_after = header(headers, "retry-after").and_then(|s| s.trim().parse::<u64>().ok());
            let reset = header(headers, "x-ratelimit-reset").and_then(|v| parse_instant(&v));
            match (retry_after, reset) {
                (Some(secs), _) => (
                    FailureClass::WaitFor(Duration::from_secs(secs)),
                    format!("rate limited by the server (429); waiting {secs} s as it asks"),
                ),
                (None, Some(until)) => (
                    FailureClass::Wait(until),
                    format!("rate limited by the server (429); waiting until {}", until.format("%H:%M:%SZ")),
                ),
                (None, None) => (
                    FailureClass::WaitFor(Duration::from_secs(300)),
                    "rate limited by the server (429) with no hint when to retry; waiting 5 minutes".into(),
                ),
            }
        }
        401 => (
            FailureClass::Permanent,
            "the server rejected the access token (401): it is wrong, expired or revoked — create a new one".into(),
        ),
        403 => (
            FailureClass::Permanent,
            "the account may not post (403): check the token's scopes (read, write) and that the account is not suspended".into(),
        ),
        400 | 422 => (
            FailureClass::Permanent,
            format!("the server refused the post ({status}): {server_says} — run `chathost check --online`"),
        ),
        404 => (FailureClass::Permanent, "not found (404): check the instance URL".into()),
        s if s >= 500 => (
            FailureClass::Transient,
            format!("the server had a problem ({s}){}", if server_says.is_empty() { String::new() } else { format!(": {server_says}") }),
        ),
        s => (FailureClass::Permanent, format!("the server answered {s}: {server_says}")),
    };
    CallError {
        status: Some(status),
        message,
        class,
    }
}

/// Turns a megalodon error into words and a class, keeping the HTTP status.
pub fn describe(e: &megalodon::error::Error) -> CallError {
    use megalodon::error::Error;
    match e {
        Error::OwnError(own) => match own.status {
            Some(status) => {
                let empty = HeaderMap::new();
                http_error(status, &own.message, own.header.as_ref().unwrap_or(&empty))
            }
            None => CallError {
                message: own.message.clone(),
                ..permanent(None)
            },
        },
        Error::RequestError(r) => CallError {
            status: r.status().map(|s| s.as_u16()),
            message: format!("request failed: {}", root_cause(r)),
            class: FailureClass::Transient,
        },
        other => CallError {
            message: other.to_string(),
            ..permanent(None)
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_429_without_retry_after_waits_until_the_reset_header() {
        // As recorded from GoToSocial (shared/samples/gotosocial/429_headers.txt).
        let mut h = HeaderMap::new();
        h.insert(
            "x-ratelimit-reset",
            "2026-11-26T04:04:25.000Z".parse().unwrap(),
        );
        h.insert("x-ratelimit-remaining", "0".parse().unwrap());
        let e = http_error(429, r#"{"error":"Too Many Requests"}"#, &h);
        let reset: DateTime<Utc> = "2026-11-26T04:04:25Z".parse().unwrap();
        assert_eq!(e.class, FailureClass::Wait(reset));
    }

    #[test]
    fn classes_of_failure() {
        let h = HeaderMap::new();
        assert_eq!(http_error(503, "", &h).class, FailureClass::Transient);
        assert_eq!(http_error(401, "", &h).class, FailureClass::Permanent);
        let long = http_error(
            422,
            r#"{"error":"Validation failed: Text is too long"}"#,
            &h,
        );
        assert_eq!(long.class, FailureClass::Permanent);
        assert!(long.message.contains("Text is too long"));
    }

    #[test]
    fn reads_a_recorded_status() {
        let body = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/gotosocial_post_status.json"
        ))
        .unwrap();
        let s = parse_status(&body).unwrap();
        assert_eq!(s.id, "01M8B046QKBBJZ44242GKF0MSY");
        assert!(
            s.uri
                .starts_with("http://127.0.0.1:8089/users/chatbot/statuses/")
        );
    }
}
