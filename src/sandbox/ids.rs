//! Status, account and notification ids as the real servers make them:
//! numeric-string snowflakes on Mastodon, 26-character ULIDs on GoToSocial.
//!
//! Clients must treat ids as opaque strings. Inside the sandbox we generate
//! them strictly increasing, so ordering ids by [`Id`]'s `Ord` (length, then
//! bytes) is creation order; that is what paging (`max_id`, `min_id`) uses.

use std::cmp::Ordering;
use std::fmt;

use chrono::{DateTime, Utc};
use rand::Rng;
use rand::rngs::StdRng;

/// An opaque id string that orders by creation when made by [`IdGen`].
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Id(pub String);

impl Id {
    /// The id as sent to clients.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Ord for Id {
    // Shorter first, then bytewise: numeric order for snowflakes of any
    // width, lexicographic (= time) order for equal-width ULIDs.
    fn cmp(&self, other: &Self) -> Ordering {
        (self.0.len(), self.0.as_bytes()).cmp(&(other.0.len(), other.0.as_bytes()))
    }
}

impl PartialOrd for Id {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which kind of id to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdStyle {
    /// Mastodon: `(milliseconds << 16) | sequence`, as a decimal string.
    Snowflake,
    /// GoToSocial: 48-bit milliseconds + 80 random bits, Crockford base32.
    Ulid,
}

/// Makes strictly increasing ids from the (injected) clock's time.
#[derive(Debug)]
pub struct IdGen {
    /// Snowflake or ULID.
    style: IdStyle,
    /// The last id made, as a number (snowflake: 64 bits used; ULID: 128).
    last: u128,
    /// Source of the random low bits; seeded so runs are reproducible.
    rng: StdRng,
}

impl IdGen {
    /// A generator of `style` ids whose random bits come from `rng`.
    pub fn new(style: IdStyle, rng: StdRng) -> Self {
        IdGen {
            style,
            last: 0,
            rng,
        }
    }

    /// The next id for an object created at `at`.
    pub fn next(&mut self, at: DateTime<Utc>) -> Id {
        let ms = at.timestamp_millis().max(0) as u128;
        let candidate = match self.style {
            IdStyle::Snowflake => (ms << 16) | self.rng.gen_range(0..0x4000u128),
            IdStyle::Ulid => (ms << 80) | (self.rng.r#gen::<u128>() & ((1u128 << 80) - 1)),
        };
        // Never go backwards, even if the clock does or two ids share a
        // millisecond: bump the previous id by one instead.
        let value = if candidate > self.last {
            candidate
        } else {
            self.last + 1
        };
        self.last = value;
        Id(match self.style {
            IdStyle::Snowflake => (value as u64).to_string(),
            IdStyle::Ulid => encode_ulid(value),
        })
    }
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Encodes a 128-bit value as a 26-character Crockford base32 ULID.
fn encode_ulid(value: u128) -> String {
    let mut out = [0u8; 26];
    for (i, slot) in out.iter_mut().enumerate() {
        let shift = 5 * (25 - i);
        *slot = CROCKFORD[((value >> shift) & 0x1f) as usize];
    }
    String::from_utf8(out.to_vec()).expect("base32 alphabet is ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn ulids_look_like_gotosocial_ones_and_increase() {
        let mut ids = IdGen::new(IdStyle::Ulid, StdRng::seed_from_u64(1));
        // The recorded id 01M8B046QK… was made at 03:59:26.451 (its status
        // says created_at .453: GoToSocial makes the id first).
        let t = at("2026-11-26T03:59:26.451Z");
        let a = ids.next(t);
        let b = ids.next(t);
        let c = ids.next(t + chrono::Duration::milliseconds(1));
        assert_eq!(a.as_str().len(), 26);
        assert!(a.as_str().bytes().all(|b| CROCKFORD.contains(&b)));
        assert!(a < b && b < c, "{a} {b} {c}");
        // The first 10 characters encode the milliseconds.
        assert_eq!(&a.as_str()[..10], "01M8B046QK");
    }

    #[test]
    fn snowflakes_are_numeric_and_increase_even_if_the_clock_goes_back() {
        let mut ids = IdGen::new(IdStyle::Snowflake, StdRng::seed_from_u64(1));
        let t = at("2026-11-26T03:59:26Z");
        let a = ids.next(t);
        let b = ids.next(t - chrono::Duration::seconds(5));
        assert!(a.as_str().bytes().all(|c| c.is_ascii_digit()));
        assert_eq!(a.as_str().len(), 18);
        assert!(b > a);
        let ms = a.as_str().parse::<u64>().unwrap() >> 16;
        assert_eq!(ms as i64, t.timestamp_millis());
    }

    #[test]
    fn ids_order_by_length_then_bytes() {
        assert!(Id("99".into()) < Id("100".into()));
        assert!(Id("01A".into()) < Id("01B".into()));
    }
}
