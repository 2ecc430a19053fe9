//! chathost hosts a weekly hashtag chat on Mastodon and other fediverse
//! servers that speak its API: every week at the same local time it posts a
//! welcome, questions ("Q1: …") that people answer ("A1: … #tag"), a last
//! call and a wrap-up, and collects every answer of the hour into its store.
//!
//! # Layout
//!
//! Data flows one way: `bot.toml` and `prompts/` → [`config`] and
//! [`prompts`] → [`plan`] → [`engine`] → the server.
//!
//! - [`config`] — reads `bot.toml` (and `CHATHOST__…` overrides) into typed,
//!   checked settings; every problem is a located [`diagnostic`].
//! - [`prompts`] — question files per chat date and the post templates.
//! - [`plan`] — pure: the exact posts of a chat date, with their instants.
//! - [`engine`] — posts each step exactly once, on time, through crashes
//!   and faults: a task per chat, a supervisor per chat date running
//!   posting and collecting side by side, then the recap and archive;
//!   `engine::service` assembles it; [`policy`] decides
//!   about late steps; [`schedule`] waits for the next chat
//!   (tokio-cron-scheduler, DST-safe); [`shutdown`] stops it all;
//!   [`rehearse`] runs one-off chats.
//! - [`collect`] — the answers of a chat date: hashtag timeline, replies to
//!   the questions, a stream and other instances, through one idempotent
//!   path into the store; attribution, consent, a final sweep; within a
//!   third of the rate limit; `chathost collect` and `chathost answers`.
//! - [`recap`] — after the chat: the recap thread (numbers, the most
//!   engaging answers quoted, split to fit), posted exactly once by the
//!   engine; `chathost recap`, `chathost archive`, `chathost chats`.
//! - [`mentions`] — participants' commands to the bot (`next`, `optout`,
//!   `optin`, `record`, `help`): parsed, answered from templates, exactly
//!   once; a record goes to the sender alone.
//! - [`archive`] — pure: a chat date's archive folder (a self-contained
//!   page, transcript, `chat.json`, activity chart) and the chat's index
//!   and Atom feed, written atomically.
//! - [`mentions`] — participants talk to the bot (`next`, `optout`,
//!   `optin`, `record`, `help`): parsing, replies, records; the engine's
//!   mentions task answers each exactly once; `chathost participant`.
//! - [`auth`] — `chathost auth`: the bot's token with the least scopes,
//!   out of band, into a 0600 file; the bot flag and profile note.
//! - [`status`] — `chathost status` (is all well, beside the running
//!   service: read only, offline) and `chathost backup`.
//! - [`check`] and [`preview`] — the `chathost check` and `chathost plan`
//!   commands a host uses to see that the chat is ready.
//! - [`instance`] — talks to the server through our own small HTTP client
//!   (every body capped at 4 MiB, timeout, no redirect to another host),
//!   reads timelines, replies and statuses, other instances without a
//!   token, and a WebSocket stream of our own; failures classed as retry,
//!   wait or give up, with cause and fix.
//! - [`store`] — the SQLite state file: chats, their steps and every
//!   attempt to post them, so each step is posted exactly once; collected
//!   answers, their accounts (with consent) and the sources read.
//! - [`files`] — reads a host's files: regular files only, size-capped.
//! - [`secret`] — the access token and where it comes from; never printed.
//! - [`length`] — post length as servers count it; [`html`] — status HTML
//!   back to text, to recognise our own posts.
//! - [`clock`] — injected time: the wall clock, or a faster one for tests
//!   and rehearsals.
//! - [`sandbox`] — an embedded Mastodon-compatible server with simulated
//!   participants, for tests, benchmarks and `chathost rehearse`.

pub mod archive;
pub mod auth;
pub mod check;
pub mod clock;
pub mod collect;
pub mod config;
pub mod diagnostic;
pub mod engine;
pub mod files;
pub mod html;
pub mod instance;
pub mod length;
pub mod mentions;
pub mod notify;
pub mod plan;
pub mod policy;
pub mod preview;
pub mod prompts;
pub mod recap;
pub mod rehearse;
pub mod sandbox;
pub mod schedule;
pub mod secret;
pub mod shutdown;
pub mod status;
pub mod store;
