//! Failures, classed (retry, wait, give up) and described in words that
//! name the real cause and the fix — never with the token.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;

use super::http::CAP_MIB;

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
    /// Retrying cannot help (401, 403, 404, 422, 400, a redirect to
    /// another host, a web page instead of the API…).
    Permanent,
}

/// A failed call, described for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    /// HTTP status, when the server answered.
    pub status: Option<u16>,
    /// What went wrong and what to do, in words.
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

/// Where a call went, for messages: the base URL and the API path.
#[derive(Debug, Clone, Copy)]
pub(super) struct Target<'a> {
    pub url: &'a str,
    pub path: &'a str,
}

pub(super) fn permanent(status: Option<u16>, message: String) -> CallError {
    CallError {
        status,
        message,
        class: FailureClass::Permanent,
    }
}

fn transient(status: Option<u16>, message: String) -> CallError {
    CallError {
        status,
        message,
        class: FailureClass::Transient,
    }
}

/// The advice for any answer that shows `url` is not a Mastodon API.
const CHECK_URL: &str = "check `[instance] url` in bot.toml";

/// A token that cannot travel in an HTTP header. Never shows the token.
pub(super) fn bad_token(token: &str) -> CallError {
    let what = if token.contains(['\n', '\r']) {
        "a line break"
    } else {
        "an invalid character (a control character or a non-ASCII letter)"
    };
    permanent(
        None,
        format!(
            "the token contains {what}: paste it again on one line, exactly as the server showed it"
        ),
    )
}

/// The request failed before an answer (refused, timeout, reset…).
pub(super) fn transport(e: &reqwest::Error, t: Target<'_>, timeout: Duration) -> CallError {
    if e.is_timeout() {
        transient(
            None,
            format!(
                "{} timed out after {} s (`[instance] timeout_seconds`) on {}: the server is slow or overloaded — try again later, or raise timeout_seconds",
                t.url,
                timeout.as_secs(),
                t.path
            ),
        )
    } else if e.is_connect() {
        transient(
            None,
            format!(
                "nothing answers at {}: check `[instance] url` and that the server is up ({})",
                t.url,
                root_cause(e)
            ),
        )
    } else if e.is_redirect() {
        permanent(
            None,
            format!("{} redirects in a loop on {}: {CHECK_URL}", t.url, t.path),
        )
    } else {
        transient(
            None,
            format!(
                "the connection to {} failed on {}: {}",
                t.url,
                t.path,
                root_cause(e)
            ),
        )
    }
}

/// The answer was larger than we read. The request may have been done
/// (a post), so this is not final: the engine checks before reposting.
pub(super) fn too_large(t: Target<'_>) -> CallError {
    transient(
        None,
        format!(
            "the server at {} sent more than {CAP_MIB} MiB in answer to {}, far more than any API answer; stopped reading — is `[instance] url` the server's own address?",
            host(t.url),
            t.path
        ),
    )
}

/// A redirect we did not follow: elsewhere with the token.
pub(super) fn redirected(status: u16, location: Option<&str>, t: Target<'_>) -> CallError {
    let message = match location {
        Some(to) => format!(
            "{} redirects to {to} ({status}); chathost does not follow it with the token: set `[instance] url` to the server's own address",
            t.url
        ),
        None => format!(
            "{} answered {} with a redirect ({status}) that says nowhere: {CHECK_URL}",
            t.url, t.path
        ),
    };
    permanent(Some(status), message)
}

/// A success answer we cannot read as the API's JSON.
pub(super) fn unreadable(
    status: u16,
    body: &[u8],
    headers: &HeaderMap,
    t: Target<'_>,
    e: &serde_json::Error,
) -> CallError {
    if looks_like_a_page(body, headers) {
        web_page(Some(status), t)
    } else {
        permanent(
            Some(status),
            format!(
                "{} answered {} with something that is not the API's JSON ({e}): {CHECK_URL}",
                t.url, t.path
            ),
        )
    }
}

pub(super) fn web_page(status: Option<u16>, t: Target<'_>) -> CallError {
    permanent(
        status,
        format!(
            "{} answered with a web page, not the API (for {}): is `url` the server's address (not a web page or proxy)?",
            t.url, t.path
        ),
    )
}

/// A field the API always sends is missing.
pub(super) fn missing(status: u16, field: &str, t: Target<'_>) -> CallError {
    permanent(
        Some(status),
        format!(
            "{}'s answer to {} has no `{field}`: is this a Mastodon-compatible server? {CHECK_URL}",
            t.url, t.path
        ),
    )
}

pub(super) fn looks_like_a_page(body: &[u8], headers: &HeaderMap) -> bool {
    let html_type = header(headers, "content-type").is_some_and(|c| c.contains("html"));
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map_or(&body[..0], |i| &body[i..]);
    html_type || start.starts_with(b"<")
}

/// The `error` the Mastodon API puts in a JSON error answer, shortened
/// and with control characters escaped: a server's words go into our logs
/// and onto the host's terminal.
fn server_says(body: &[u8]) -> Option<String> {
    let says = serde_json::from_slice::<serde_json::Value>(body)
        .ok()?
        .get("error")?
        .as_str()?
        .chars()
        .take(300)
        .collect::<String>();
    Some(crate::diagnostic::escape_controls(&says))
}

/// Classes an HTTP error answer.
pub(super) fn http_error(
    status: u16,
    body: &[u8],
    headers: &HeaderMap,
    t: Target<'_>,
) -> CallError {
    let says = server_says(body);
    let (class, message) = match status {
        300..=399 => {
            return redirected(status, header(headers, "location").as_deref(), t);
        }
        429 => rate_limited(headers),
        401 => (
            FailureClass::Permanent,
            "the server rejected the access token (401): it is wrong, expired or revoked — create a new one".into(),
        ),
        403 => (FailureClass::Permanent, forbidden(says, t)),
        400 | 422 => (
            FailureClass::Permanent,
            format!(
                "the server refused the post ({status}): {} — run `chathost check --online`",
                says.unwrap_or_default()
            ),
        ),
        404 => (FailureClass::Permanent, not_found(says, t)),
        s if s >= 500 => (FailureClass::Transient, server_failed(s, says, t)),
        s if looks_like_a_page(body, headers) => return web_page(Some(s), t),
        s => (
            FailureClass::Permanent,
            format!(
                "the server answered {s} for {}: {}",
                t.path,
                says.unwrap_or_default()
            ),
        ),
    };
    CallError {
        status: Some(status),
        message,
        class,
    }
}

/// A 403: naming the permission the call needs when the server says the
/// token's scopes are the cause; otherwise (a limited or suspended
/// account) a new token would not help, so it is only mentioned.
fn forbidden(says: Option<String>, t: Target<'_>) -> String {
    let about_scope = says
        .as_deref()
        .is_some_and(|s| s.to_ascii_lowercase().contains("scope"));
    let path = t.path.split('?').next().unwrap_or(t.path);
    let says = says.map(|s| format!(": {s}")).unwrap_or_default();
    match super::oauth::scope_for_path(t.path) {
        Some(scope) if about_scope => format!(
            "the token may not do this (403{says}): {path} needs the `{scope}` permission — run `chathost auth` to make a token with the scopes chathost needs"
        ),
        Some(scope) => format!(
            "the account may not do this (403{says}): check that it is not limited or suspended; if its token lacks the `{scope}` permission, `chathost auth` makes one that has it"
        ),
        None => format!(
            "the account may not do this (403{says}): check the token's scopes and that the account is not suspended"
        ),
    }
}

/// A 404: the API saying something is not there, or no API at all.
fn not_found(says: Option<String>, t: Target<'_>) -> String {
    match says {
        Some(says) => format!("{} answered 404 for {}: {says}", t.url, t.path),
        None => format!(
            "no Mastodon API at this address: {} answered 404 for {} — {CHECK_URL} (the server's own address, e.g. https://mastodon.example)",
            t.url, t.path
        ),
    }
}

fn server_failed(status: u16, says: Option<String>, t: Target<'_>) -> String {
    format!(
        "the server at {} failed on its side ({status}){}: its own failure, not your settings — try again later",
        host(t.url),
        says.map(|s| format!(": {s}")).unwrap_or_default()
    )
}

fn rate_limited(headers: &HeaderMap) -> (FailureClass, String) {
    let retry_after = header(headers, "retry-after").and_then(|s| s.trim().parse::<u64>().ok());
    let reset = header(headers, "x-ratelimit-reset").and_then(|v| parse_instant(&v));
    match (retry_after, reset) {
        (Some(secs), _) => (
            FailureClass::WaitFor(Duration::from_secs(secs)),
            format!("rate limited by the server (429): try again in {secs} s"),
        ),
        (None, Some(until)) => (
            FailureClass::Wait(until),
            format!(
                "rate limited by the server (429): try again at {}",
                until.format("%H:%M:%SZ")
            ),
        ),
        (None, None) => (
            FailureClass::WaitFor(Duration::from_secs(300)),
            "rate limited by the server (429) with no hint when: try again in 5 minutes".into(),
        ),
    }
}

/// The host (and port) of a URL, for messages.
pub(super) fn host(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => url.to_string(),
        },
        Err(_) => url.to_string(),
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

pub(super) fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_string)
}

/// `X-RateLimit-Reset` is an ISO 8601 instant.
pub(super) fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Target<'static> = Target {
        url: "https://social.example",
        path: "/api/v1/statuses",
    };

    #[test]
    fn a_429_without_retry_after_waits_until_the_reset_header() {
        // As recorded from GoToSocial (shared/samples/gotosocial/429_headers.txt).
        let mut h = HeaderMap::new();
        h.insert(
            "x-ratelimit-reset",
            "2026-11-26T04:04:25.000Z".parse().unwrap(),
        );
        h.insert("x-ratelimit-remaining", "0".parse().unwrap());
        let e = http_error(429, br#"{"error":"Too Many Requests"}"#, &h, T);
        let reset: DateTime<Utc> = "2026-11-26T04:04:25Z".parse().unwrap();
        assert_eq!(e.class, FailureClass::Wait(reset));
    }

    #[test]
    fn classes_of_failure() {
        let h = HeaderMap::new();
        assert_eq!(http_error(503, b"", &h, T).class, FailureClass::Transient);
        assert_eq!(http_error(401, b"", &h, T).class, FailureClass::Permanent);
        assert_eq!(http_error(404, b"", &h, T).class, FailureClass::Permanent);
        let long = http_error(
            422,
            br#"{"error":"Validation failed: Text is too long"}"#,
            &h,
            T,
        );
        assert_eq!(long.class, FailureClass::Permanent);
        assert!(long.message.contains("Text is too long"));
        let mut h = HeaderMap::new();
        h.insert("location", "https://elsewhere.example/".parse().unwrap());
        let moved = http_error(302, b"", &h, T);
        assert_eq!(moved.class, FailureClass::Permanent);
        assert!(
            moved
                .message
                .contains("redirects to https://elsewhere.example/")
        );
    }

    #[test]
    fn a_bad_token_is_named_but_never_shown() {
        let e = bad_token("abc\ndef");
        assert!(e.message.contains("line break"));
        assert!(!e.message.contains("abc"));
        assert!(bad_token("abc\u{7}").message.contains("invalid character"));
    }
}
