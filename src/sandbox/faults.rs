//! Fault injection a test scripts at runtime: what goes wrong, for which
//! requests (method + path prefix), how many times.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use chathost::sandbox::{Fault, FaultKind, Method, Sandbox, SandboxConfig};
//! let sandbox = Sandbox::start(SandboxConfig::default()).await?;
//! // The next post is stored, but its answer never arrives.
//! sandbox.faults().inject(
//!     Fault::new(Method::POST, "/api/v1/statuses", FaultKind::LoseResponse).times(1),
//! );
//! # Ok(()) }
//! ```
//!
//! HTTP faults act in a middleware in front of rate limiting and the
//! handlers; stream faults act on the next event a matching WebSocket stream
//! would deliver.
//!
//! Besides faults that fire a set number of times, a [`FaultMix`] makes a
//! seeded share of all matching requests and stream events fail, each in a
//! kind drawn from a list: a soak test's weather rather than a script.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::log::LogSlot;
use super::net::ConnInfo;
use super::server::Shared;

/// What goes wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// Wait this long (real time) before handling the request normally.
    Latency(Duration),
    /// Answer with this status (500, 502, 503, …) without handling the
    /// request; 502/503/504 come with an HTML body, as from a proxy.
    Status(u16),
    /// Answer 429 with `X-RateLimit-Remaining: 0` and no `Retry-After`.
    RateLimited,
    /// Answer 429 with these hints, however unhelpful: `Retry-After` in
    /// seconds (`Some(0)`: "now"), and `X-RateLimit-Reset` this many
    /// seconds from now on the sandbox clock (negative: already past, as
    /// with a server whose clock is behind).
    RateLimitedHinting {
        /// `Retry-After`, if sent.
        retry_after: Option<u64>,
        /// `X-RateLimit-Reset` relative to now, if sent.
        reset_in: Option<i64>,
    },
    /// Reset the TCP connection without handling the request or answering.
    Reset,
    /// Handle the request (a post IS stored) and then never answer: the
    /// client waits until its own timeout. The connection is reset when the
    /// sandbox shuts down.
    LoseResponse,
    /// Handle the request (a post IS stored), then reset the connection: the
    /// client gets a connection error and cannot know the outcome.
    ResetAfterHandling,
    /// Streams only: close the WebSocket abruptly (TCP reset) instead of
    /// delivering the next event; that event is lost to this client.
    StreamDisconnect,
    /// Streams only: hold the next event back and deliver it right after the
    /// one that follows it.
    StreamReorder,
}

impl FaultKind {
    /// Whether this fault acts on stream events rather than HTTP requests.
    pub fn is_stream_fault(&self) -> bool {
        matches!(self, FaultKind::StreamDisconnect | FaultKind::StreamReorder)
    }
}

/// A fault with the requests it matches and how often it fires.
#[derive(Clone, Debug)]
pub struct Fault {
    /// Method to match; `None` matches any.
    method: Option<Method>,
    /// The request path must start with this.
    path_prefix: String,
    /// The path must be exactly `path_prefix` (not a longer path under it).
    exact: bool,
    /// What happens.
    kind: FaultKind,
    /// Firings left; `None` means every time.
    remaining: Option<usize>,
}

impl Fault {
    /// A fault for `method` requests whose path starts with `path_prefix`,
    /// firing once unless [`Fault::times`] or [`Fault::always`] says otherwise.
    pub fn new(method: Method, path_prefix: &str, kind: FaultKind) -> Self {
        Fault {
            method: Some(method),
            path_prefix: path_prefix.to_string(),
            exact: false,
            kind,
            remaining: Some(1),
        }
    }

    /// A fault on the streaming endpoint (`GET /api/v1/streaming`).
    pub fn stream(kind: FaultKind) -> Self {
        Fault::new(Method::GET, "/api/v1/streaming", kind)
    }

    /// Matches any method.
    pub fn any_method(mut self) -> Self {
        self.method = None;
        self
    }

    /// Matches only the path itself, not longer paths under it: a fault on
    /// `POST /api/v1/statuses` then spares `…/statuses/{id}/pin`.
    pub fn exact(mut self) -> Self {
        self.exact = true;
        self
    }

    /// Fires `n` times, then disarms.
    pub fn times(mut self, n: usize) -> Self {
        self.remaining = Some(n);
        self
    }

    /// Fires on every matching request until [`Faults::clear`].
    pub fn always(mut self) -> Self {
        self.remaining = None;
        self
    }

    fn matches(&self, method: &Method, path: &str, stream: bool) -> bool {
        self.kind.is_stream_fault() == stream
            && self.remaining != Some(0)
            && self.method.as_ref().is_none_or(|m| m == method)
            && if self.exact {
                path == self.path_prefix
            } else {
                path.starts_with(&self.path_prefix)
            }
    }
}

/// A seeded random share of failing requests: every request (any method)
/// whose path starts with `path_prefix`, and every stream event, fails with
/// probability `rate`, in a kind drawn evenly from `kinds` (HTTP requests
/// draw from its HTTP kinds, stream events from its stream kinds; a side
/// with no kind listed never fails).
#[derive(Clone, Debug)]
pub struct FaultMix {
    /// Share of matching requests (and of stream events) that fail, 0 to 1.
    pub rate: f64,
    /// The request path must start with this (`"/api/"`: every API route).
    pub path_prefix: String,
    /// The kinds to draw from.
    pub kinds: Vec<FaultKind>,
    /// Seed of the draws: the same seed and the same request order give
    /// the same faults.
    pub seed: u64,
}

/// A [`FaultMix`] with its random state.
#[derive(Debug)]
struct ActiveMix {
    mix: FaultMix,
    rng: StdRng,
}

impl ActiveMix {
    /// One draw for a request: a fault kind, or `None` to let it through.
    fn draw(&mut self, path: &str, stream: bool) -> Option<FaultKind> {
        if !path.starts_with(&self.mix.path_prefix) {
            return None;
        }
        let kinds: Vec<&FaultKind> = (self.mix.kinds.iter())
            .filter(|k| k.is_stream_fault() == stream)
            .collect();
        // Draw the chance even with no kind to pick, so adding a stream kind
        // does not shift the HTTP faults of a seed.
        let fails = self.rng.gen_bool(self.mix.rate.clamp(0.0, 1.0));
        if !fails || kinds.is_empty() {
            return None;
        }
        Some(kinds[self.rng.gen_range(0..kinds.len())].clone())
    }
}

/// The armed faults of a sandbox; cheap to clone, shared with the server.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Armed faults, first match wins.
    armed: Arc<Mutex<Vec<Fault>>>,
    /// The random mix, consulted when no armed fault matches.
    mix: Arc<Mutex<Option<ActiveMix>>>,
    /// Every firing, in order.
    fired: Arc<Mutex<Vec<FaultKind>>>,
}

impl Faults {
    /// Arms a fault.
    pub fn inject(&self, fault: Fault) {
        self.armed.lock().expect("faults lock").push(fault);
    }

    /// Sets the random mix (replacing any), consulted for requests and
    /// stream events no armed fault matches.
    pub fn mix(&self, mix: FaultMix) {
        let rng = StdRng::seed_from_u64(mix.seed);
        *self.mix.lock().expect("faults lock") = Some(ActiveMix { mix, rng });
    }

    /// Disarms every fault, the random mix included.
    pub fn clear(&self) {
        self.armed.lock().expect("faults lock").clear();
        *self.mix.lock().expect("faults lock") = None;
    }

    /// The faults that fired so far, in order.
    pub fn fired(&self) -> Vec<FaultKind> {
        self.fired.lock().expect("faults lock").clone()
    }

    /// How many armed faults still have firings left (`always` ones count).
    pub fn pending(&self) -> usize {
        let armed = self.armed.lock().expect("faults lock");
        armed.iter().filter(|f| f.remaining != Some(0)).count()
    }

    /// Takes one firing of the first fault matching the request, else a
    /// draw of the random mix, if any.
    pub(crate) fn take(&self, method: &Method, path: &str, stream: bool) -> Option<FaultKind> {
        let kind = self.take_armed(method, path, stream).or_else(|| {
            let mut mix = self.mix.lock().expect("faults lock");
            mix.as_mut()?.draw(path, stream)
        })?;
        self.fired.lock().expect("faults lock").push(kind.clone());
        Some(kind)
    }

    fn take_armed(&self, method: &Method, path: &str, stream: bool) -> Option<FaultKind> {
        let mut armed = self.armed.lock().expect("faults lock");
        let fault = armed.iter_mut().find(|f| f.matches(method, path, stream))?;
        if let Some(n) = fault.remaining.as_mut() {
            *n -= 1;
        }
        let kind = fault.kind.clone();
        armed.retain(|f| f.remaining != Some(0));
        Some(kind)
    }
}

/// Marks a response that must not reach the client (the log records no status).
#[derive(Clone, Copy, Debug)]
pub struct NoAnswer;

/// The middleware that applies HTTP faults.
pub(crate) async fn layer(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_string();
    let Some(kind) = shared.faults.take(request.method(), &path, false) else {
        return next.run(request).await;
    };
    if let Some(slot) = request.extensions().get::<LogSlot>() {
        shared.log.set_fault(*slot, &kind);
    }
    match kind {
        FaultKind::Latency(delay) => {
            tokio::time::sleep(delay).await;
            next.run(request).await
        }
        FaultKind::Status(code) => status_answer(code),
        FaultKind::RateLimited => {
            let now = shared.clock.now();
            let reset = now + chrono::Duration::minutes(5);
            let mut response =
                ApiError::new(429, shared.flavour.rate_limited_error()).into_response();
            let headers = response.headers_mut();
            let reset = super::ratelimit::reset_header(shared.flavour, reset);
            headers.insert("x-ratelimit-limit", HeaderValue::from_static("300"));
            headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
            if let Ok(v) = HeaderValue::from_str(&reset) {
                headers.insert("x-ratelimit-reset", v);
            }
            response
        }
        FaultKind::RateLimitedHinting {
            retry_after,
            reset_in,
        } => {
            let mut response =
                ApiError::new(429, shared.flavour.rate_limited_error()).into_response();
            let headers = response.headers_mut();
            headers.insert("x-ratelimit-limit", HeaderValue::from_static("300"));
            headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
            if let Some(secs) = reset_in {
                let reset = shared.clock.now() + chrono::Duration::seconds(secs);
                let reset = super::ratelimit::reset_header(shared.flavour, reset);
                if let Ok(v) = HeaderValue::from_str(&reset) {
                    headers.insert("x-ratelimit-reset", v);
                }
            }
            if let Some(secs) = retry_after {
                headers.insert("retry-after", HeaderValue::from(secs));
            }
            response
        }
        FaultKind::Reset => cut(conn),
        FaultKind::ResetAfterHandling => {
            let _ = next.run(request).await;
            cut(conn)
        }
        FaultKind::LoseResponse => {
            let _ = next.run(request).await;
            // Hold the connection open and silent until shutdown.
            super::server::stopped(&mut shared.shutdown.clone()).await;
            cut(conn)
        }
        FaultKind::StreamDisconnect | FaultKind::StreamReorder => {
            unreachable!("stream faults are taken by streams only")
        }
    }
}

fn cut(conn: ConnInfo) -> Response {
    conn.reset();
    let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
    response.extensions_mut().insert(NoAnswer);
    response
}

fn status_answer(code: u16) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if matches!(code, 502..=504) {
        // What nginx in front of a stuck Mastodon sends.
        let reason = status.canonical_reason().unwrap_or("Error");
        let body = format!(
            "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
        );
        (status, [("content-type", "text/html")], body).into_response()
    } else {
        ApiError::new(code, status.canonical_reason().unwrap_or("Error")).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_match_method_and_prefix_and_fire_n_times() {
        let faults = Faults::default();
        faults.inject(Fault::new(Method::POST, "/api/v1/statuses", FaultKind::Reset).times(2));
        faults.inject(Fault::stream(FaultKind::StreamReorder));
        assert_eq!(faults.take(&Method::GET, "/api/v1/statuses/1", false), None);
        assert_eq!(faults.take(&Method::POST, "/api/v1/other", false), None);
        assert_eq!(
            faults.take(&Method::POST, "/api/v1/statuses", false),
            Some(FaultKind::Reset)
        );
        assert_eq!(
            faults.take(&Method::POST, "/api/v1/statuses/9/favourite", false),
            Some(FaultKind::Reset)
        );
        assert_eq!(faults.take(&Method::POST, "/api/v1/statuses", false), None);
        // The stream fault is not taken by an HTTP request to the stream path.
        assert_eq!(faults.take(&Method::GET, "/api/v1/streaming", false), None);
        assert_eq!(
            faults.take(&Method::GET, "/api/v1/streaming", true),
            Some(FaultKind::StreamReorder)
        );
        assert_eq!(faults.pending(), 0);
        assert_eq!(faults.fired().len(), 3);
    }

    #[test]
    fn always_faults_keep_firing_until_cleared() {
        let faults = Faults::default();
        faults.inject(
            Fault::new(Method::GET, "/", FaultKind::Status(503))
                .any_method()
                .always(),
        );
        for _ in 0..5 {
            assert!(faults.take(&Method::DELETE, "/api/v1/x", false).is_some());
        }
        faults.clear();
        assert!(faults.take(&Method::GET, "/api/v1/x", false).is_none());
    }

    fn soak_mix(seed: u64) -> FaultMix {
        FaultMix {
            rate: 0.2,
            path_prefix: "/api/".into(),
            kinds: vec![
                FaultKind::Status(503),
                FaultKind::Reset,
                FaultKind::StreamDisconnect,
                FaultKind::StreamReorder,
            ],
            seed,
        }
    }

    #[test]
    fn a_mix_fails_its_share_in_its_kinds_and_a_seed_replays() {
        let draws = |seed| {
            let faults = Faults::default();
            faults.mix(soak_mix(seed));
            let http: Vec<_> = (0..2000)
                .map(|_| faults.take(&Method::GET, "/api/v1/timelines/tag/x", false))
                .collect();
            let stream: Vec<_> = (0..2000)
                .map(|_| faults.take(&Method::GET, "/api/v1/streaming", true))
                .collect();
            // Outside the prefix nothing fails.
            for _ in 0..100 {
                assert_eq!(faults.take(&Method::GET, "/oauth/token", false), None);
            }
            (http, stream)
        };
        let (http, stream) = draws(7);
        let failed = http.iter().flatten().count();
        assert!((300..500).contains(&failed), "{failed} of 2000 at 20 %");
        assert!(http.iter().flatten().all(|k| !k.is_stream_fault()));
        for kind in [FaultKind::Status(503), FaultKind::Reset] {
            assert!(http.contains(&Some(kind.clone())), "{kind:?} drawn");
        }
        let failed = stream.iter().flatten().count();
        assert!((300..500).contains(&failed), "{failed} of 2000 events");
        assert!(stream.iter().flatten().all(FaultKind::is_stream_fault));
        assert!(stream.contains(&Some(FaultKind::StreamReorder)));
        assert_eq!(draws(7), (http, stream), "the same seed, the same faults");
        assert_ne!(draws(8).0, draws(7).0, "another seed, other faults");
    }

    #[test]
    fn armed_faults_come_before_the_mix_and_clear_ends_both() {
        let faults = Faults::default();
        faults.mix(FaultMix {
            rate: 1.0,
            ..soak_mix(1)
        });
        faults.inject(Fault::new(
            Method::POST,
            "/api/v1/statuses",
            FaultKind::LoseResponse,
        ));
        assert_eq!(
            faults.take(&Method::POST, "/api/v1/statuses", false),
            Some(FaultKind::LoseResponse)
        );
        assert!(
            faults
                .take(&Method::POST, "/api/v1/statuses", false)
                .is_some()
        );
        assert_eq!(faults.fired().len(), 2);
        faults.clear();
        assert_eq!(faults.take(&Method::POST, "/api/v1/statuses", false), None);
    }
}
