//! chathost hosts a weekly hashtag chat on Mastodon-compatible servers.
//!
//! # Layout
//!
//! - [`clock`] — injected time: the wall clock, or a faster one for tests and
//!   rehearsals.

pub mod clock;
