//! Our one HTTP client: every answer's body is read in chunks and cut off
//! at [`CAP`], redirects are followed only on the same origin (the token
//! never goes to another host), and every call times out.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Method, Response};

use super::errors::{self, CallError, Target};

/// No Mastodon API answer comes near this (40 statuses are ~200 KiB).
pub const CAP_MIB: usize = 4;
/// [`CAP_MIB`] in bytes.
pub const CAP: usize = CAP_MIB * 1024 * 1024;

/// An answer, its body read (at most [`CAP`] bytes).
pub(super) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON; an error answer or a body that is not JSON (a web
    /// page, say) is classed and described.
    pub fn json(&self, target: Target<'_>) -> Result<serde_json::Value, CallError> {
        if !(200..300).contains(&self.status) {
            return Err(errors::http_error(
                self.status,
                &self.body,
                &self.headers,
                target,
            ));
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| errors::unreadable(self.status, &self.body, &self.headers, target, &e))
    }
}

/// A request: method, API path, whether to send the token.
pub(super) struct Request<'a> {
    pub method: Method,
    pub path: &'a str,
    pub auth: bool,
    pub json: Option<&'a serde_json::Value>,
    pub idempotency_key: Option<&'a str>,
}

impl<'a> Request<'a> {
    pub fn get(path: &'a str) -> Self {
        Request {
            method: Method::GET,
            path,
            auth: true,
            json: None,
            idempotency_key: None,
        }
    }

    pub fn post(path: &'a str) -> Self {
        Request {
            method: Method::POST,
            ..Request::get(path)
        }
    }
}

/// The capped client for one server. Clones share the client and the
/// request count (the streaming task holds one).
#[derive(Clone)]
pub(super) struct Http {
    client: reqwest::Client,
    /// `Bearer …`, marked sensitive so no debug output shows it; `None` for
    /// a public reader of another server, which must never get the token.
    authorization: Option<HeaderValue>,
    /// Requests sent (answered or not).
    sent: Arc<AtomicU64>,
    /// The base URL, without a trailing `/`.
    pub url: String,
    pub timeout: Duration,
}

impl Http {
    pub fn new(url: &str, token: &str, timeout: Duration) -> Result<Http, CallError> {
        let mut authorization = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| errors::bad_token(token))?;
        authorization.set_sensitive(true);
        Http::build(url, Some(authorization), timeout)
    }

    /// A client with no token at all: `auth` requests go without one.
    pub fn public(url: &str, timeout: Duration) -> Result<Http, CallError> {
        Http::build(url, None, timeout)
    }

    fn build(
        url: &str,
        authorization: Option<HeaderValue>,
        timeout: Duration,
    ) -> Result<Http, CallError> {
        let client = reqwest::Client::builder()
            .user_agent(format!("chathost/{}", env!("CARGO_PKG_VERSION")))
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::custom(same_origin_only))
            .build()
            .map_err(|e| errors::permanent(None, format!("cannot set up HTTP: {e}")))?;
        Ok(Http {
            client,
            authorization,
            sent: Arc::new(AtomicU64::new(0)),
            url: url.trim_end_matches('/').to_string(),
            timeout,
        })
    }

    /// Sends `req` to the server; `Ok` for any answer, its body capped.
    /// 3xx answers (redirects not followed) come back as answers too.
    pub async fn send(&self, req: Request<'_>) -> Result<Answer, CallError> {
        let full = format!("{}{}", self.url, req.path);
        self.send_to(&full, req).await
    }

    /// As [`Http::send`] to an absolute URL (nodeinfo may live elsewhere;
    /// it is read without the token).
    pub async fn send_to(&self, full: &str, req: Request<'_>) -> Result<Answer, CallError> {
        let target = Target {
            url: &self.url,
            path: req.path,
        };
        let mut builder = self.client.request(req.method, full);
        if req.auth
            && let Some(authorization) = &self.authorization
        {
            builder = builder.header(AUTHORIZATION, authorization.clone());
        }
        if let Some(key) = req.idempotency_key {
            builder = builder.header("Idempotency-Key", key);
        }
        if let Some(body) = req.json {
            builder = builder.json(body);
        }
        self.sent.fetch_add(1, Ordering::Relaxed);
        let response = builder
            .send()
            .await
            .map_err(|e| errors::transport(&e, target, self.timeout))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = read_capped(response, target, self.timeout).await?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

impl Http {
    /// How many requests this client (and its clones) sent.
    pub fn requests_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Counts a request made outside [`Http::send`] (a WebSocket handshake).
    pub fn count_request(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }

    /// The `Authorization` value, for the WebSocket handshake (sensitive).
    pub fn authorization(&self) -> Option<&HeaderValue> {
        self.authorization.as_ref()
    }
}

/// Reads a body in chunks, stopping as soon as it passes [`CAP`]: a
/// declared or endless huge answer costs at most one chunk past the cap.
async fn read_capped(
    mut response: Response,
    target: Target<'_>,
    timeout: Duration,
) -> Result<Vec<u8>, CallError> {
    if response.content_length().is_some_and(|n| n > CAP as u64) {
        return Err(errors::too_large(target));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| errors::transport(&e, target, timeout))?
    {
        if body.len() + chunk.len() > CAP {
            return Err(errors::too_large(target));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Follows a redirect on the same scheme, host and port only; stops at one
/// to anywhere else, so the 3xx answer is reported, not followed with the
/// token.
fn same_origin_only(attempt: reqwest::redirect::Attempt<'_>) -> reqwest::redirect::Action {
    let same = attempt
        .previous()
        .first()
        .is_some_and(|first| first.origin() == attempt.url().origin());
    if !same {
        attempt.stop()
    } else if attempt.previous().len() > 5 {
        attempt.error("too many redirects")
    } else {
        attempt.follow()
    }
}
