//! The collector's share of the rate limit. Mastodon allows 300 requests
//! per 5 minutes per account, and posting shares that budget: collection
//! keeps to a third of it, counted here over a rolling 5 minutes, and
//! stands back whenever the server says the account is running low, so a
//! question post is never refused for want of requests.

use std::collections::VecDeque;

use chrono::{DateTime, Duration, Utc};

/// The rate-limit window of Mastodon and GoToSocial.
pub const WINDOW_SECONDS: i64 = 300;

/// Requests per window the collector allows itself: a third of 300.
pub const SHARE: usize = 100;

/// Below this many requests left in the server's window (or a third of its
/// limit, if larger), collection waits: the rest is for posting.
const RESERVE: u64 = 30;

/// Counts the collector's requests.
#[derive(Debug, Clone)]
pub struct Budget {
    allowed: usize,
    sent: VecDeque<DateTime<Utc>>,
    total: u64,
    peak: usize,
}

impl Budget {
    /// A budget of `allowed` requests per rolling window.
    pub fn new(allowed: usize) -> Budget {
        Budget {
            allowed: allowed.max(1),
            sent: VecDeque::new(),
            total: 0,
            peak: 0,
        }
    }

    /// When the next request may go: `now` while under budget, else when
    /// the oldest request in the window leaves it.
    pub fn next_slot(&mut self, now: DateTime<Utc>) -> DateTime<Utc> {
        let window = Duration::seconds(WINDOW_SECONDS);
        while self.sent.front().is_some_and(|&t| t + window <= now) {
            self.sent.pop_front();
        }
        if self.sent.len() < self.allowed {
            now
        } else {
            self.sent.front().map_or(now, |&t| t + window)
        }
    }

    /// Counts a request sent at `now`.
    pub fn spend(&mut self, now: DateTime<Utc>) {
        self.sent.push_back(now);
        self.total += 1;
        self.peak = self.peak.max(self.sent.len());
    }

    /// Requests sent in all.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The most requests sent within any one window.
    pub fn peak(&self) -> usize {
        self.peak
    }
}

/// Whether the server's count of requests left (`X-RateLimit-Remaining`,
/// and its limit when sent) leaves room for a collector request.
pub fn server_allows(left: Option<(u64, Option<u64>)>) -> bool {
    match left {
        None => true,
        Some((remaining, limit)) => remaining > RESERVE.max(limit.unwrap_or(0) / 3),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn a_full_window_waits_for_its_oldest_request() {
        let mut b = Budget::new(3);
        for s in [0, 10, 20] {
            assert_eq!(b.next_slot(at(s)), at(s));
            b.spend(at(s));
        }
        assert_eq!(b.next_slot(at(30)), at(300));
        assert_eq!(b.next_slot(at(300)), at(300));
        b.spend(at(300));
        assert_eq!(b.next_slot(at(301)), at(310));
        assert_eq!((b.total(), b.peak()), (4, 3));
    }

    #[test]
    fn the_server_reserve_is_kept_for_posting() {
        assert!(server_allows(None));
        assert!(server_allows(Some((101, Some(300)))));
        assert!(!server_allows(Some((100, Some(300)))));
        assert!(!server_allows(Some((30, None))));
        assert!(server_allows(Some((31, None))));
    }
}
