//! The engine: carries out each chat's steps exactly once, on time,
//! through crashes, restarts, timeouts and server errors.
//!
//! One task per configured chat ([`Engine::run_chat_forever`]). Each waits
//! for its next chat date's first step (a reminder, usually a day ahead),
//! then hands the date to a small supervisor ([`occurrence`]) that runs the
//! date's parts as tasks under one shutdown. Today the one part is posting;
//! collecting answers and the recap will run beside it.
//!
//! Posting walks the steps in order:
//!
//! 1. re-read the question file and templates and re-plan (a host may edit
//!    during the week; a broken edit is reported and the last good version,
//!    kept in the store, is used);
//! 2. settle a step an earlier run began (a crash, an unknown outcome) by
//!    looking for it on the server;
//! 3. ask [`policy::decide`] what to do with the next step: wait, post, or
//!    leave it out (catch-up after downtime);
//! 4. post it ([`poster`]): record the intent (and its idempotency key) in
//!    the store, POST, record the remote id. If the outcome is unknown
//!    (timeout, reset, 5xx), the next attempt first looks for the post among
//!    the bot's own statuses: GoToSocial ignores `Idempotency-Key`.
//!
//! A shutdown (SIGTERM) interrupts waits, never a post in flight: the post's
//! outcome is recorded before the task ends. Log lines carry the chat, date
//! and step through tracing spans, not fields repeated on every line.
//!
//! Layout: [`service`] assembles the engine for `run`, `chat --now` and
//! rehearsals; [`occurrence`] is the per-date supervisor and the posting
//! loop; [`poster`] posts one step; [`recheck`] looks again, before the
//! recap, for steps given up while their post may be on the server; [`pin`]
//! pins the welcome for the hour.

pub mod after;
mod mentions;
pub mod occurrence;
mod pin;
mod poster;
mod recheck;
pub mod service;
mod step;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};

use crate::config::{Chat, Config};
use crate::instance::Instance;
use crate::plan::{self, Occurrence};
use crate::schedule::Waiter;
pub use crate::shutdown::{Shutdown, ShutdownTrigger};
use crate::store::{ChatState, Store, StoreError};

/// Something worth telling a person watching (rehearsals, tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A step was posted.
    Posted {
        /// Chat name.
        chat: String,
        /// Step key (`q3`).
        key: String,
        /// Planned instant.
        planned: DateTime<Utc>,
        /// When it went out (our clock).
        at: DateTime<Utc>,
        /// The text.
        text: String,
        /// The server's id.
        remote_id: String,
    },
    /// A step was left out.
    Skipped {
        /// Chat name.
        chat: String,
        /// Step key.
        key: String,
        /// Why.
        reason: String,
    },
    /// A step could not be posted.
    Failed {
        /// Chat name.
        chat: String,
        /// Step key.
        key: String,
        /// Why, in words.
        reason: String,
    },
    /// The question file (or a template) has errors: the last good
    /// version is used, or, with none, the date waits for a usable file.
    BrokenQuestions {
        /// Chat name.
        chat: String,
        /// The file read.
        file: String,
        /// Whether an earlier good version is being used.
        kept_last_good: bool,
        /// The first problem, as `chathost check` reports it.
        problem: String,
    },
    /// The chat date has no question file (nor a fallback) yet; it is
    /// looked for again every few minutes until the chat would have ended.
    NoQuestions {
        /// Chat name.
        chat: String,
        /// The file expected.
        expected: String,
    },
    /// A chat date is over (all steps posted, left out or failed). Its
    /// recap and archive come after.
    ChatDone {
        /// Chat name.
        chat: String,
        /// Its local date.
        date: chrono::NaiveDate,
    },
    /// A reply to a participant's mention went out (one post of it).
    Replied {
        /// The sender, `user@host`.
        from: String,
        /// Their command.
        command: String,
        /// The reply's text.
        text: String,
    },
    /// A mention got no reply, and why (unknown word, a bot, too old, too
    /// many).
    Unanswered {
        /// The sender, `user@host`.
        from: String,
        /// Their command as read (`unknown` for any other word).
        command: String,
        /// Why.
        why: String,
    },
    /// A chat date's archive folder was written.
    Archived {
        /// Chat name.
        chat: String,
        /// Its local date.
        date: chrono::NaiveDate,
        /// The folder.
        dir: std::path::PathBuf,
    },
}

/// What every chat task shares; each task has its own clone.
#[derive(Clone)]
pub struct Engine {
    /// The settings; replaced on SIGHUP.
    pub config: watch::Receiver<Arc<Config>>,
    /// The database.
    pub store: Store,
    /// The server.
    pub instance: Arc<Instance>,
    /// The bot account's id on the server.
    pub account_id: String,
    /// The bot account's handle.
    pub acct: String,
    /// How long a post may be, as the server said at start.
    pub limit: crate::length::PostLimit,
    /// Waits for instants.
    pub waiter: Waiter,
    /// Stop request (and the way to stop everything on a fatal error).
    pub shutdown: Shutdown,
    /// Where to report events (optional).
    pub events: Option<mpsc::UnboundedSender<Event>>,
    /// Rate-limit answers in a row, and no POST before this instant: kept
    /// across steps, so the next step does not rush a server that is
    /// still limiting us.
    pub rate_limited: (u32, Option<DateTime<Utc>>),
}

/// How a wait ended.
enum Woke {
    /// The instant came.
    Time,
    /// The settings changed: plan again.
    Reload,
    /// Stop.
    Stop,
}

impl Engine {
    fn now(&self) -> DateTime<Utc> {
        self.waiter.clock().now()
    }

    fn emit(&self, event: Event) {
        if crate::notify::enabled() {
            notify_event(&event);
        }
        if let Some(tx) = &self.events {
            // Nobody listening is fine: events are for watchers only.
            let _ = tx.send(event);
        }
    }

    fn chat_settings(&self, name: &str) -> Option<Chat> {
        self.config
            .borrow()
            .chats
            .iter()
            .find(|c| c.name == name)
            .cloned()
    }

    /// Waits for `t`, a stop request, or new settings. Each settings change
    /// wakes this task once: `changed()` on our own receiver marks it seen
    /// (a clone would start from the old version and wake at once, forever:
    /// the spin a reload used to cause). A closed settings channel only
    /// disables that branch; it never ends the wait early.
    async fn wait_until(&mut self, t: DateTime<Utc>) -> Woke {
        let waiter = self.waiter.clone();
        let config = &mut self.config;
        let shutdown = &mut self.shutdown;
        // systemd's watchdog is pinged from here, the waits of the engine's
        // own loops, never from a side timer: a stuck engine stops pinging.
        crate::notify::watchdog();
        let wait = waiter.wait_until(t);
        tokio::pin!(wait);
        loop {
            tokio::select! {
                _ = &mut wait => return Woke::Time,
                _ = shutdown.wait() => return Woke::Stop,
                Ok(()) = config.changed() => return Woke::Reload,
                () = crate::notify::watchdog_tick() => crate::notify::watchdog(),
            }
        }
    }

    /// A database call failed. A damaged file stops the whole service: its
    /// record can no longer keep posts exactly once, and retrying cannot
    /// mend it; `main` then says why and exits with a failure, so systemd
    /// shows it. Anything else (a full disk) is logged, and the caller
    /// pauses and tries again.
    fn store_failed(&self, doing: &str, e: &StoreError) {
        if e.is_damaged() {
            if !self.shutdown.requested() {
                tracing::error!("{doing}: {e}");
            }
            self.shutdown.fail(e.to_string());
        } else {
            tracing::error!("{doing}: {e}");
        }
    }

    /// After a database error: wait a little before trying again. False on
    /// shutdown.
    async fn pause_after_store_error(&mut self) -> bool {
        let until = self.now() + chrono::Duration::seconds(30);
        !matches!(self.wait_until(until).await, Woke::Stop)
    }

    /// Hosts the chat `name` week after week, until shutdown or until the
    /// chat is removed from bot.toml.
    pub async fn run_chat_forever(mut self, name: String) {
        // Said once per chat date and opening instant, not after every
        // reload that leaves them as they were.
        let mut announced = None;
        // The settings this task starts with count as seen.
        self.config.borrow_and_update();
        loop {
            if self.shutdown.requested() {
                return;
            }
            let Some(chat) = self.chat_settings(&name) else {
                tracing::info!(name = %name, "chat removed from bot.toml; no longer hosting it");
                crate::notify::forget_chat(&name);
                return;
            };
            let Some(occ) = self.next_occurrence(&chat) else {
                return;
            };
            let opens = occ.start_utc() - longest_lead(&chat);
            if opens > self.now() {
                // Under systemd the status is looked at again every hour
                // of a long wait, so a question file written meanwhile
                // shows as ready; otherwise one wait, no extra wake-ups.
                let mut until = opens;
                if crate::notify::enabled() {
                    crate::notify::chat_status(&name, &next_chat_status(&chat, &occ));
                    until = until.min(self.now() + STATUS_REFRESH);
                }
                if announced != Some((occ.date, opens)) {
                    announced = Some((occ.date, opens));
                    tracing::info!(
                        name = %name,
                        date = %occ.date,
                        starts = %occ.start.format("%Y-%m-%d %H:%M %Z"),
                        "next chat; waiting until {}",
                        opens.format("%Y-%m-%d %H:%MZ")
                    );
                }
                match self.wait_until(until).await {
                    Woke::Stop => return,
                    Woke::Reload => continue,
                    Woke::Time if until < opens => continue,
                    Woke::Time => {}
                }
            }
            if !self.run_occurrence(&name, &occ).await {
                return;
            }
        }
    }

    /// The chat date to host next: one begun and not finished (its wrap-up
    /// still goes out after a restart), else the next one not yet over.
    /// A chat that ended while chathost was not running at all is not
    /// started late.
    fn next_occurrence(&self, chat: &Chat) -> Option<Occurrence> {
        let now = self.now();
        let length = chrono::Duration::minutes(i64::from(chat.duration_minutes));
        // Far enough back to take up a final sweep still owed.
        let grace = chrono::Duration::minutes(i64::from(chat.collect.grace_minutes));
        let recap = chrono::Duration::minutes(i64::from(chat.recap.delay_minutes));
        let from = now
            - length
            - (grace + SWEEP_LATEST).max(recap + crate::policy::RECAP_LATEST)
            - chrono::Duration::hours(1);
        plan::occurrences(chat, from).take(4).find(|occ| {
            let recorded = match self.store.chat(&chat.name, occ.date) {
                Ok(r) => r,
                Err(e) => {
                    self.store_failed("cannot read the chat's record", &e);
                    None
                }
            };
            match recorded {
                // Posting is over; collection may still be under way.
                Some(r) if r.state == ChatState::Done => {
                    (chat.collect.enabled
                        && r.swept_at.is_none()
                        && now < crate::collect::window(chat, occ).until + SWEEP_LATEST)
                        || after::after_owed(chat, occ, &r, now)
                }
                Some(r) if r.state == ChatState::Skipped => false,
                Some(_) => true,
                None => occ.start_utc() + length > now,
            }
        })
    }
}

/// How often a long wait for the next chat refreshes systemd's status.
const STATUS_REFRESH: chrono::Duration = chrono::Duration::hours(1);

/// A date whose final sweep has not run (a restart during the grace, or a
/// crash before it finished) is taken up again until this long after its
/// window; later, its answers stay as collected.
const SWEEP_LATEST: chrono::Duration = chrono::Duration::hours(6);

/// How long before the chat its first step (the earliest reminder) is due,
/// plus a minute to prepare.
fn longest_lead(chat: &Chat) -> chrono::Duration {
    let lead = chat.reminders.iter().max().copied().unwrap_or_default();
    chrono::Duration::from_std(lead).unwrap_or_default() + chrono::Duration::minutes(1)
}

/// The status line of a chat waiting for its next date: when, and whether
/// its question file is there and passes `chathost check`.
fn next_chat_status(chat: &Chat, occ: &Occurrence) -> String {
    let questions = match crate::prompts::question_file(chat, occ.date).load(chat) {
        None => "no question file yet",
        Some(Ok(_)) => "questions ready",
        Some(Err(_)) => "question file has errors (run chathost check)",
    };
    format!(
        "next chat {}, {questions}",
        occ.start.format("%a %Y-%m-%d %H:%M %Z")
    )
}

/// What `systemctl status` says of a chat under way, from its events.
fn notify_event(event: &Event) {
    let (chat, text) = match event {
        Event::Posted { chat, key, at, .. } if key.starts_with("recap") => (
            chat,
            format!("recap thread: posted {key} at {}", at.format("%H:%MZ")),
        ),
        Event::Posted { chat, key, at, .. } => (
            chat,
            format!("chat under way, posted {key} at {}", at.format("%H:%MZ")),
        ),
        Event::Failed { chat, key, .. } => (chat, format!("chat under way, {key} failed")),
        Event::NoQuestions { chat, .. } => (chat, "no question file for this chat yet".into()),
        Event::ChatDone { chat, date } => (
            chat,
            format!("chat of {date} over (chathost status shows how it went)"),
        ),
        Event::Archived { chat, date, .. } => (chat, format!("chat of {date} archived")),
        _ => return,
    };
    crate::notify::chat_status(chat, &text);
}
