//! chathost hosts a weekly hashtag chat on Mastodon-compatible servers.
//!
//! # Layout
//!
//! - [`clock`] — injected time: the wall clock, or a faster one for tests and
//!   rehearsals.
//! - [`sandbox`] — an embedded Mastodon-compatible server with simulated
//!   participants, for tests, benchmarks and `chathost rehearse`.

pub mod clock;
pub mod sandbox;
