//! Rate limiting as the servers do it: 300 requests per 5 minutes,
//! `X-RateLimit-Limit`, `-Remaining` and `-Reset` (an ISO time) on every
//! answer, and 429 without `Retry-After` once used up. Time comes from the
//! injected clock, so a test can run through a window quickly.
//!
//! Mastodon counts per account (per IP without a token) in windows aligned
//! to multiples of 5 minutes; GoToSocial counts per IP in a window that
//! starts with the first request (`gotosocial/01_*`…`15_*`: anonymous and
//! authenticated requests drew on one budget).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};

use super::error::ApiError;
use super::flavour::Flavour;
use super::log::Caller;
use super::server::Shared;

/// Requests allowed per window.
pub const LIMIT: u32 = 300;

/// Length of a window.
pub fn window() -> Duration {
    Duration::minutes(5)
}

/// One client's use of its current window.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    /// When the window ends.
    reset: DateTime<Utc>,
    /// Requests counted in it.
    used: u32,
}

/// What the limiter decided for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may go on.
    pub allowed: bool,
    /// Requests left in the window after this one.
    pub remaining: u32,
    /// When the window ends.
    pub reset: DateTime<Utc>,
}

/// Per-client fixed windows.
#[derive(Debug)]
pub struct RateLimiter {
    /// Which counting rules to follow.
    flavour: Flavour,
    /// Client key → bucket.
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// A limiter following `flavour`'s rules.
    pub fn new(flavour: Flavour) -> Self {
        RateLimiter {
            flavour,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request of client `key` at `now`.
    pub fn check(&self, key: &str, now: DateTime<Utc>) -> Decision {
        let mut buckets = self.buckets.lock().expect("rate limit lock");
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
            reset: now,
            used: 0,
        });
        if now >= bucket.reset {
            let reset = match self.flavour {
                Flavour::Mastodon => {
                    let period = window().num_seconds();
                    let start = now.timestamp() - now.timestamp().rem_euclid(period);
                    DateTime::from_timestamp(start + period, 0).unwrap_or(now + window())
                }
                Flavour::GoToSocial => now + window(),
            };
            *bucket = Bucket { reset, used: 0 };
        }
        if bucket.used >= LIMIT {
            return Decision {
                allowed: false,
                remaining: 0,
                reset: bucket.reset,
            };
        }
        bucket.used += 1;
        Decision {
            allowed: true,
            remaining: LIMIT - bucket.used,
            reset: bucket.reset,
        }
    }
}

/// `X-RateLimit-Reset` as each server writes it.
pub fn reset_header(flavour: Flavour, reset: DateTime<Utc>) -> String {
    match flavour {
        Flavour::Mastodon => reset.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        Flavour::GoToSocial => reset.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
    }
}

/// The middleware: counts the request and adds the headers.
pub(crate) async fn layer(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(limiter) = shared.limiter.as_ref() else {
        return next.run(request).await;
    };
    let caller = request.extensions().get::<Caller>().cloned();
    let key = match (shared.flavour, caller.and_then(|c| c.account)) {
        (Flavour::Mastodon, Some(account)) => format!("account:{account}"),
        (_, _) => request
            .extensions()
            .get::<axum::extract::ConnectInfo<super::net::ConnInfo>>()
            .map_or("ip:unknown".to_string(), |c| {
                format!("ip:{}", c.0.addr.ip())
            }),
    };
    let decision = limiter.check(&key, shared.clock.now());
    let mut response = if decision.allowed {
        next.run(request).await
    } else {
        ApiError::new(429, shared.flavour.rate_limited_error()).into_response()
    };
    let headers = response.headers_mut();
    headers.insert("x-ratelimit-limit", HeaderValue::from(LIMIT));
    headers.insert(
        "x-ratelimit-remaining",
        HeaderValue::from(decision.remaining),
    );
    if let Ok(v) = HeaderValue::from_str(&reset_header(shared.flavour, decision.reset)) {
        headers.insert("x-ratelimit-reset", v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn mastodon_windows_align_to_five_minutes_and_refill() {
        let limiter = RateLimiter::new(Flavour::Mastodon);
        let t = at("2026-11-26T03:59:25Z");
        for i in 0..LIMIT {
            let d = limiter.check("a", t);
            assert!(d.allowed);
            assert_eq!(d.remaining, LIMIT - 1 - i);
            assert_eq!(d.reset, at("2026-11-26T04:00:00Z"));
        }
        assert!(!limiter.check("a", t).allowed);
        assert!(
            limiter.check("b", t).allowed,
            "other clients are not affected"
        );
        let d = limiter.check("a", at("2026-11-26T04:00:00Z"));
        assert!(d.allowed);
        assert_eq!(d.reset, at("2026-11-26T04:05:00Z"));
    }

    #[test]
    fn gotosocial_window_starts_with_the_first_request() {
        let limiter = RateLimiter::new(Flavour::GoToSocial);
        let d = limiter.check("ip", at("2026-11-26T03:59:25Z"));
        assert_eq!(d.reset, at("2026-11-26T04:04:25Z"));
        assert_eq!(
            reset_header(Flavour::GoToSocial, d.reset),
            "2026-11-26T04:04:25.000Z"
        );
    }
}
