//! The sandbox: an embedded Mastodon-compatible server with simulated
//! participants, for the tests, the benchmarks and `chathost rehearse`.
//!
//! It speaks the part of the Mastodon client API chathost uses over real
//! HTTP on 127.0.0.1, behaves like Mastodon or GoToSocial as recorded in
//! `shared/samples/` ([`Flavour`]), limits rates like they do, lets a test
//! inject faults ([`Faults`]), logs every request ([`RequestLog`]) and runs
//! on an injected clock, so an hour of chat can pass in seconds.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use chathost::sandbox::{Sandbox, SandboxConfig};
//! let sandbox = Sandbox::start(SandboxConfig::default()).await?;
//! println!("{} as {}", sandbox.base_url(), sandbox.bot().acct);
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! What a collector is tested against: tag timelines (paged by `max_id`,
//! `since_id`, `min_id`, at most 40), each status's context, followed tags
//! and the streams; favourites and boosts with their counts; accounts'
//! `bot`, `discoverable` and (Mastodon only) `noindex`. Participants answer
//! each question in every way real chats see, then favourite and boost
//! earlier answers; [`Sandbox::answers_made`] is the record of what they
//! answered, and [`Sandbox::post_as`] and its siblings let a test act as any
//! account. Every `uri` holds the sandbox's port, so a second sandbox can
//! stand for another instance carrying the same hashtag.
//!
//! What the participant commands are tested against: `mention` (and
//! `favourite`) notifications, paged and filtered by `types[]`, also on the
//! `user` stream; `direct` statuses, seen only by their author and the
//! accounts they mention; and, with [`SandboxConfig::commands`], participants
//! sending the bot commands ([`Sandbox::mentions_made`],
//! [`Sandbox::replies_by_bot`]).
//!
//! Inside, one concern per module:
//!
//! - `server` — wiring: shared state, router, middleware order, serving;
//! - `routes` — the HTTP handlers; `stream` — the WebSocket streaming API;
//! - `state` — accounts, statuses, follows, notifications and their rules;
//!   `queries` — reading them as timelines, threads and tag follows;
//! - `flavour` — every Mastodon / GoToSocial difference in one place;
//! - `content` — text to HTML, tags, mentions, counted length;
//! - `render` — the JSON shapes; `paging` — cursors and `Link` headers;
//! - `faults`, `ratelimit`, `log` — the middleware; `net` — resettable
//!   connections; `participants` — the simulated people; `engage` —
//!   favourites and boosts; `commands` — participants' commands to the
//!   bot; `notify` — notifications and their endpoints; `truth` — the
//!   answer and mention records and test hands;
//!   `ids` — snowflakes and ULIDs; `cli` — `chathost sandbox`.

mod commands;
mod content;
mod engage;
mod error;
mod faults;
mod flavour;
mod ids;
mod log;
mod net;
mod notify;
mod oauth;
mod paging;
mod participants;
mod queries;
mod ratelimit;
mod render;
mod routes;
mod server;
mod state;
mod stream;
mod truth;

pub mod cli;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

pub use axum::http::Method;
pub use commands::COMMAND_SEATS;
pub use content::{counted_length, render_html};
pub use faults::{Fault, FaultKind, FaultMix, Faults};
pub use flavour::Flavour;
pub use log::{RequestLog, RequestRecord};
pub use oauth::App;
pub use participants::NOINDEX_SEAT;
pub use participants::{Afterwards, AnswerStyle, Persona, question_number};
pub use state::{Token, Visibility};
pub use truth::{AnswerMade, MentionMade, TestPost};

use crate::clock::{SharedClock, SystemClock};
use ids::IdGen;
use server::Shared;
use state::State;

/// How to start a sandbox.
#[derive(Clone)]
pub struct SandboxConfig {
    /// Which server to imitate.
    pub flavour: Flavour,
    /// TCP port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// `max_characters`; `None` means the flavour's default (500 / 5000).
    pub max_characters: Option<usize>,
    /// Number of simulated participants besides the bot.
    pub participants: usize,
    /// Seed of everything random except tokens.
    pub seed: u64,
    /// Whether to limit rates (300 requests / 5 minutes) and send the headers.
    pub rate_limit: bool,
    /// Clock for timestamps and the participants' timing.
    pub clock: SharedClock,
    /// The chat hashtag, without `#`.
    pub hashtag: String,
    /// Participants answer within this (virtual) time after a question.
    pub answer_window: Duration,
    /// GoToSocial only: the accounts' default status content type is
    /// Markdown (`source[status_content_type]`), so a post sent without
    /// `content_type` renders `*x*` as emphasis, as a real one does.
    pub markdown_default: bool,
    /// Participants in seats 1 to 4 send the bot `next`, `optout`, `record`
    /// and an unknown command after answering Q1 ([`COMMAND_SEATS`]).
    pub commands: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            flavour: Flavour::Mastodon,
            port: 0,
            max_characters: None,
            participants: 8,
            seed: 42,
            rate_limit: true,
            clock: Arc::new(SystemClock),
            hashtag: "testchat".into(),
            answer_window: Duration::from_secs(8 * 60),
            markdown_default: false,
            commands: false,
        }
    }
}

impl fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("flavour", &self.flavour)
            .field("port", &self.port)
            .field("max_characters", &self.max_characters)
            .field("participants", &self.participants)
            .field("seed", &self.seed)
            .field("rate_limit", &self.rate_limit)
            .field("hashtag", &self.hashtag)
            .field("answer_window", &self.answer_window)
            .field("commands", &self.commands)
            .finish_non_exhaustive()
    }
}

/// An account of the sandbox, as a test sees it.
#[derive(Clone, Debug)]
pub struct AccountInfo {
    /// Opaque id.
    pub id: String,
    /// Username (= `acct`, all accounts are local).
    pub acct: String,
    /// Bearer token (its `Debug` is redacted).
    pub token: Token,
    /// `bot: true`?
    pub bot: bool,
    /// Profile note, plain text.
    pub note: String,
    /// Behaviour; `None` for the chat bot.
    pub persona: Option<Persona>,
    /// Mastodon's "exclude from search engines" (only Mastodon shows it).
    pub noindex: bool,
    /// `discoverable` as the account JSON says.
    pub discoverable: bool,
}

/// A status an account created, deleted ones included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusRecord {
    /// Opaque id.
    pub id: String,
    /// Author.
    pub acct: String,
    /// Current text.
    pub text: String,
    /// Visibility.
    pub visibility: Visibility,
    /// Parent id.
    pub in_reply_to_id: Option<String>,
    /// Lower-cased hashtags.
    pub tags: Vec<String>,
    /// Creation time (injected clock).
    pub created_at: DateTime<Utc>,
    /// Last edit.
    pub edited_at: Option<DateTime<Utc>>,
    /// Deletion time.
    pub deleted_at: Option<DateTime<Utc>>,
    /// Pinned to the author's profile now.
    pub pinned: bool,
    /// Usernames of the local accounts it mentions, lower-case.
    pub mentions: Vec<String>,
}

/// A running sandbox. Shut it down with [`Sandbox::shutdown`]; dropping it
/// also stops it, without waiting.
pub struct Sandbox {
    /// Shared with the server tasks.
    shared: Arc<Shared>,
    /// `http://127.0.0.1:PORT`.
    base_url: String,
    /// Tells every task to stop.
    stop: watch::Sender<bool>,
    /// The HTTP server task.
    server: Option<JoinHandle<()>>,
    /// The participants task.
    participants: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Binds 127.0.0.1:`port`, creates the bot `chatbot` and the participants,
    /// and starts serving.
    pub async fn start(config: SandboxConfig) -> io::Result<Sandbox> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port)).await?;
        let addr = listener.local_addr()?;
        let domain = addr.to_string();
        let base_url = format!("http://{domain}");
        let (events, _) = broadcast::channel(8192);
        let mut state = State {
            flavour: config.flavour,
            base_url: base_url.clone(),
            domain,
            max_characters: config
                .max_characters
                .unwrap_or_else(|| config.flavour.default_max_characters()),
            clock: config.clock.clone(),
            ids: IdGen::new(
                config.flavour.id_style(),
                StdRng::seed_from_u64(config.seed),
            ),
            accounts: Vec::new(),
            tokens: HashMap::new(),
            statuses: BTreeMap::new(),
            children: HashMap::new(),
            tags_used: HashSet::new(),
            follows: Vec::new(),
            notifications: BTreeMap::new(),
            idempotency: HashMap::new(),
            events: events.clone(),
            markdown_default: config.markdown_default,
            answers: Vec::new(),
            commands: Vec::new(),
            oauth: oauth::OAuth::default(),
        };
        state.add_account("chatbot", "Chat Bot", "", true, None);
        for seat in participants::seats(config.participants) {
            let index = state.add_account(
                &seat.username,
                &seat.display_name,
                &seat.note,
                seat.bot,
                Some(seat.persona),
            );
            state.accounts[index].noindex = seat.noindex;
            state.accounts[index].discoverable = seat.discoverable;
        }
        let (stop, shutdown) = watch::channel(false);
        let shared = Arc::new(Shared {
            flavour: config.flavour,
            hashtag: config.hashtag.trim_start_matches('#').to_string(),
            seed: config.seed,
            commands: config.commands,
            answer_window: config.answer_window,
            clock: config.clock,
            state: Mutex::new(state),
            events: events.clone(),
            faults: Faults::default(),
            log: RequestLog::default(),
            limiter: config
                .rate_limit
                .then(|| ratelimit::RateLimiter::new(config.flavour)),
            shutdown: shutdown.clone(),
        });
        let router = server::router(shared.clone());
        let server = tokio::spawn(server::serve(listener, router, shutdown));
        let participants = tokio::spawn(participants::run(shared.clone(), events.subscribe()));
        Ok(Sandbox {
            shared,
            base_url,
            stop,
            server: Some(server),
            participants: Some(participants),
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The flavour being imitated.
    pub fn flavour(&self) -> Flavour {
        self.shared.flavour
    }

    /// The chat hashtag, without `#`.
    pub fn hashtag(&self) -> &str {
        &self.shared.hashtag
    }

    /// The chat bot's account (`chatbot`, `bot: true`).
    pub fn bot(&self) -> AccountInfo {
        self.accounts().remove(0)
    }

    /// Every account, the bot first, then the participants.
    pub fn accounts(&self) -> Vec<AccountInfo> {
        let state = self.shared.state.lock().expect("state lock");
        state
            .accounts
            .iter()
            .map(|a| AccountInfo {
                id: a.id.as_str().to_string(),
                acct: a.username.clone(),
                token: a.token.clone(),
                bot: a.bot,
                note: a.note.clone(),
                persona: a.persona.clone(),
                noindex: a.noindex,
                discoverable: a.discoverable,
            })
            .collect()
    }

    /// The account named `acct`.
    pub fn account(&self, acct: &str) -> Option<AccountInfo> {
        self.accounts().into_iter().find(|a| a.acct == acct)
    }

    /// The fault switchboard.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// The request log.
    pub fn log(&self) -> &RequestLog {
        &self.shared.log
    }

    /// Every status `acct` wrote, oldest first, deleted ones included (boosts
    /// are left out: see [`Sandbox::reblog_as`]).
    pub fn statuses_of(&self, acct: &str) -> Vec<StatusRecord> {
        let state = self.shared.state.lock().expect("state lock");
        let Some(author) = state.account_by_acct(acct) else {
            return Vec::new();
        };
        state
            .statuses
            .values()
            // Boosts are not posts of one's own; tests count posts.
            .filter(|s| s.author == author && s.reblog_of.is_none())
            .map(|s| StatusRecord {
                id: s.id.as_str().to_string(),
                acct: state.accounts[author].username.clone(),
                text: s.current().text.clone(),
                visibility: s.visibility,
                in_reply_to_id: s.in_reply_to.as_ref().map(|i| i.as_str().to_string()),
                tags: s.tags.clone(),
                created_at: s.created_at,
                edited_at: s.edited_at,
                deleted_at: s.deleted_at,
                pinned: s.pinned,
                mentions: s
                    .mentions
                    .iter()
                    .map(|&m| state.accounts[m].username.to_lowercase())
                    .collect(),
            })
            .collect()
    }

    /// Posts `posts` tagged answers to question `question` as fast as
    /// possible, round robin over the participants; returns their ids.
    pub async fn burst(&self, question: u32, posts: usize) -> Vec<String> {
        participants::burst(&self.shared, question, posts).await
    }

    /// Stops serving, closes streams and unanswered requests, and waits (at
    /// most a few seconds) for the server to finish.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(p) = self.participants.take() {
            p.abort();
        }
        if let Some(server) = self.server.take() {
            let abort = server.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), server)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(p) = self.participants.take() {
            p.abort();
        }
    }
}
