//! chathost hosts a weekly hashtag chat on Mastodon and other fediverse
//! servers that speak its API: every week at the same local time it posts a
//! welcome, questions ("Q1: …") that people answer ("A1: … #tag"), a last
//! call and a wrap-up.
//!
//! # Layout
//!
//! Data flows one way: `bot.toml` and `prompts/` → [`config`] and
//! [`prompts`] → [`plan`] → (the host, posting) → the server.
//!
//! - [`config`] — reads `bot.toml` (and `CHATHOST__…` overrides) into typed,
//!   checked settings; every problem is a located [`diagnostic`].
//! - [`prompts`] — question files per chat date and the post templates.
//! - [`plan`] — pure: the exact posts of a chat date, with their instants.
//! - [`check`] and [`preview`] — the `chathost check` and `chathost plan`
//!   commands a host uses to see that the chat is ready.
//! - [`instance`] — talks to the server (megalodon, with timeouts).
//! - [`store`] — the SQLite state file: chats, their steps and every
//!   attempt to post them, so each step is posted exactly once.
//! - [`secret`] — the access token and where it comes from; never printed.
//! - [`length`] — post length as servers count it.
//! - [`clock`] — injected time: the wall clock, or a faster one for tests
//!   and rehearsals.

pub mod check;
pub mod clock;
pub mod config;
pub mod diagnostic;
pub mod instance;
pub mod length;
pub mod plan;
pub mod preview;
pub mod prompts;
pub mod secret;
pub mod store;
