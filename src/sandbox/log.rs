//! The request log: one record per HTTP request the sandbox received (who,
//! which endpoint, what answer, which fault), with counters that tests and
//! benchmarks read. Records name endpoints by their route pattern and
//! accounts by `acct`; tokens and query strings are never stored.
//!
//! The middleware here also works out the caller from the token, for the
//! layers and handlers behind it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};

use super::faults::{FaultKind, NoAnswer};
use super::server::Shared;

/// One request as the sandbox saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    /// When it arrived (injected clock).
    pub at: DateTime<Utc>,
    /// HTTP method.
    pub method: String,
    /// Route pattern, e.g. `/api/v1/statuses/{id}` (`unmatched` for 404s).
    pub endpoint: String,
    /// Caller's `acct`, `None` without a valid token.
    pub account: Option<String>,
    /// Status sent; `None` while pending or when no answer reached the client.
    pub status: Option<u16>,
    /// The fault that fired on it, if any.
    pub fault: Option<FaultKind>,
}

impl RequestRecord {
    /// `METHOD /pattern`, the key of [`RequestLog::by_endpoint`].
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.endpoint)
    }
}

/// Index of a request's record, kept in the request's extensions.
#[derive(Clone, Copy, Debug)]
pub struct LogSlot(usize);

/// Who is calling, worked out from the token.
#[derive(Clone, Copy, Debug, Default)]
pub struct Caller {
    /// Account index, when the token is valid.
    pub account: Option<usize>,
    /// A token was sent but is unknown.
    pub bad_token: bool,
}

/// Shared, append-only request log.
#[derive(Clone, Debug, Default)]
pub struct RequestLog {
    /// All records, in arrival order.
    records: Arc<Mutex<Vec<RequestRecord>>>,
}

impl RequestLog {
    /// A copy of every record.
    pub fn records(&self) -> Vec<RequestRecord> {
        self.records.lock().expect("log lock").clone()
    }

    /// Number of requests received.
    pub fn total(&self) -> usize {
        self.records.lock().expect("log lock").len()
    }

    /// Requests to `method` + route pattern, e.g. `count("POST", "/api/v1/statuses")`.
    pub fn count(&self, method: &str, endpoint: &str) -> usize {
        let records = self.records.lock().expect("log lock");
        records
            .iter()
            .filter(|r| r.method == method && r.endpoint == endpoint)
            .count()
    }

    /// Requests per `METHOD /pattern`.
    pub fn by_endpoint(&self) -> BTreeMap<String, usize> {
        self.tally(|r| r.key())
    }

    /// Requests per account (`anonymous` without a valid token).
    pub fn by_account(&self) -> BTreeMap<String, usize> {
        self.tally(|r| r.account.clone().unwrap_or_else(|| "anonymous".into()))
    }

    /// Requests per status code; `None` counts requests left unanswered.
    pub fn by_status(&self) -> BTreeMap<Option<u16>, usize> {
        self.tally(|r| r.status)
    }

    /// Forgets every record (counters restart at zero).
    pub fn clear(&self) {
        self.records.lock().expect("log lock").clear();
    }

    fn tally<K: Ord>(&self, key: impl Fn(&RequestRecord) -> K) -> BTreeMap<K, usize> {
        let mut out = BTreeMap::new();
        for r in self.records.lock().expect("log lock").iter() {
            *out.entry(key(r)).or_insert(0) += 1;
        }
        out
    }

    fn open(&self, record: RequestRecord) -> LogSlot {
        let mut records = self.records.lock().expect("log lock");
        records.push(record);
        LogSlot(records.len() - 1)
    }

    fn close(&self, slot: LogSlot, status: Option<u16>) {
        if let Some(r) = self.records.lock().expect("log lock").get_mut(slot.0) {
            r.status = status;
        }
    }

    /// Notes the fault that fired on a request.
    pub(crate) fn set_fault(&self, slot: LogSlot, fault: &FaultKind) {
        if let Some(r) = self.records.lock().expect("log lock").get_mut(slot.0) {
            r.fault = Some(fault.clone());
        }
    }
}

/// The bearer token of a request: `Authorization: Bearer …` or, as for
/// browser WebSockets, the `access_token` query parameter.
pub fn token_of(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    if let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        let value = value.trim();
        if value.len() > 7 && value[..7].eq_ignore_ascii_case("bearer ") {
            return Some(value[7..].trim().to_string());
        }
    }
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == "access_token").then(|| super::routes::percent_decode(v))
    })
}

/// The outermost middleware: identifies the caller and records the request.
pub(crate) async fn layer(
    State(shared): State<Arc<Shared>>,
    mut request: Request,
    next: Next,
) -> Response {
    let caller = match token_of(request.headers(), request.uri().query()) {
        None => Caller::default(),
        Some(token) => {
            let account = shared
                .state
                .lock()
                .expect("state lock")
                .account_by_token(&token);
            Caller {
                account,
                bad_token: account.is_none(),
            }
        }
    };
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched".to_string(), |p| p.as_str().to_string());
    let account = caller.account.map(|i| {
        let state = shared.state.lock().expect("state lock");
        state.accounts[i].username.clone()
    });
    let slot = shared.log.open(RequestRecord {
        at: shared.clock.now(),
        method: request.method().to_string(),
        endpoint,
        account,
        status: None,
        fault: None,
    });
    request.extensions_mut().insert(caller);
    request.extensions_mut().insert(slot);
    let response = next.run(request).await;
    let answered = response.extensions().get::<NoAnswer>().is_none();
    shared
        .log
        .close(slot, answered.then(|| response.status().as_u16()));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comes_from_the_header_or_the_query() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            token_of(&headers, Some("stream=user&access_token=a%2Bb")),
            Some("a+b".into())
        );
        headers.insert("authorization", "Bearer xyz".parse().unwrap());
        assert_eq!(token_of(&headers, None), Some("xyz".into()));
        assert_eq!(token_of(&HeaderMap::new(), Some("stream=user")), None);
    }

    #[test]
    fn counters_tally_endpoints_accounts_and_statuses() {
        let log = RequestLog::default();
        let at = Utc::now();
        for (m, e, a, s) in [
            ("POST", "/api/v1/statuses", Some("chatbot"), Some(200)),
            ("POST", "/api/v1/statuses", Some("chatbot"), None),
            ("GET", "/api/v1/timelines/tag/{tag}", None, Some(401)),
        ] {
            let slot = log.open(RequestRecord {
                at,
                method: m.into(),
                endpoint: e.into(),
                account: a.map(String::from),
                status: None,
                fault: None,
            });
            log.close(slot, s);
        }
        assert_eq!(log.count("POST", "/api/v1/statuses"), 2);
        assert_eq!(log.by_account()["chatbot"], 2);
        assert_eq!(log.by_account()["anonymous"], 1);
        assert_eq!(log.by_status()[&None], 1);
        assert_eq!(log.by_endpoint()["GET /api/v1/timelines/tag/{tag}"], 1);
    }
}
