//! The collector of one chat date: what it holds, and the one path by
//! which every post it reads, from any source, reaches the store
//! ([`Collector::ingest`]), followed by attribution to questions.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::attribute::{AskedQuestion, Post, attribute};
use super::budget::{self, Budget};
use super::judge::{self, Known, Row, Verdict, Window};
use crate::instance::{CallError, Instance, PublicSource, SeenStatus};
use crate::plan::StepKind;
use crate::schedule::Waiter;
use crate::shutdown::Shutdown;
use crate::store::{self, ChatId, Engagement, StepState, Store, StoreError, Upserted};

/// How long the service's final sweep keeps trying a failing server
/// before the recap goes ahead with what was collected.
const SWEEP_PATIENCE_HOURS: i64 = 6;

/// How long `chathost collect` keeps trying: a person is waiting.
pub(super) const COMMAND_PATIENCE_MINUTES: i64 = 5;

/// Where a post was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum From {
    /// The bot's instance's tag timeline (or its stream).
    Tag,
    /// A question's replies on the bot's instance.
    Replies,
    /// Another instance's public tag timeline (index into `extra`).
    Extra(usize),
}

/// The collecting part of one chat date.
pub struct Collector {
    pub(super) store: Store,
    pub(super) instance: Arc<Instance>,
    pub(super) extra: Vec<Arc<PublicSource>>,
    pub(super) waiter: Waiter,
    pub(super) shutdown: Shutdown,
    pub(super) chat_id: ChatId,
    pub(super) hashtag: String,
    pub(super) bot_acct: String,
    pub(super) host: String,
    pub(super) window: Window,
    pub(super) budget: Budget,
    /// Question post ids on the bot's instance, with number and time.
    pub(super) questions: Vec<AskedQuestion>,
    pub(super) question_ids: HashSet<String>,
    /// Collected answers on the bot's instance: id → parent id.
    pub(super) answers: HashMap<String, Option<String>>,
    /// Ids the stream said were deleted before their post was seen.
    pub(super) deleted: HashSet<String>,
    /// `A3:` prefixes read from posts whose text is not stored (consent).
    pub(super) prefixes: HashMap<String, u32>,
    /// New or changed answers since the last attribution.
    pub(super) dirty: bool,
    /// Show progress on the terminal (`chathost collect`): posts read.
    pub(super) progress: Option<u64>,
    /// Pages the store could not take (the sweep tries again).
    pub(super) store_failures: u64,
    /// Why the last sweep could not reach the window's start, if it could
    /// not.
    pub(super) incomplete: Option<String>,
    /// Posts the stream delivered since the last poll (counted then).
    pub(super) stream_posts: u64,
    /// How long the final sweep keeps trying before it settles for what
    /// it has.
    pub(super) patience: chrono::Duration,
    /// `chathost collect`: every source must be read in full, or the
    /// collection fails (the service settles for what it has).
    pub(super) strict: bool,
    /// The live stream, while the hour is collected: read during every
    /// wait of the collector, so a long catch-up never leaves it unread.
    pub(super) intake: Option<Intake>,
}

/// The stream's events, and what they said about it since the live loop
/// last looked.
pub(super) struct Intake {
    pub(super) rx: tokio::sync::mpsc::Receiver<crate::instance::StreamEvent>,
    pub(super) streaming: bool,
    /// A (re)connection: the timeline is read at once, closing any gap.
    pub(super) connected: bool,
    /// The stream went down while it was up.
    pub(super) lost: Option<String>,
}

/// What a collector is made from.
pub struct Setup {
    /// The database.
    pub store: Store,
    /// The bot's instance.
    pub instance: Arc<Instance>,
    /// Other instances to read.
    pub extra: Vec<PublicSource>,
    /// Waits on the engine's clock.
    pub waiter: Waiter,
    /// Stop requests.
    pub shutdown: Shutdown,
    /// The chat date.
    pub chat_id: ChatId,
    /// The hashtag, without `#`.
    pub hashtag: String,
    /// The bot's handle (`user` or `user@host`).
    pub bot_acct: String,
    /// The window of answers.
    pub window: Window,
}

impl Collector {
    /// A collector for one chat date.
    pub fn new(setup: Setup) -> Collector {
        let host = host_of(&setup.instance.url);
        Collector {
            bot_acct: judge::full_acct(&setup.bot_acct, &host),
            host,
            hashtag: setup.hashtag.trim_start_matches('#').to_lowercase(),
            store: setup.store,
            instance: setup.instance,
            extra: setup.extra.into_iter().map(Arc::new).collect(),
            waiter: setup.waiter,
            shutdown: setup.shutdown,
            chat_id: setup.chat_id,
            window: setup.window,
            budget: Budget::new(budget::SHARE),
            questions: Vec::new(),
            question_ids: HashSet::new(),
            answers: HashMap::new(),
            deleted: HashSet::new(),
            prefixes: HashMap::new(),
            dirty: true,
            progress: None,
            store_failures: 0,
            incomplete: None,
            stream_posts: 0,
            patience: chrono::Duration::hours(SWEEP_PATIENCE_HOURS),
            strict: false,
            intake: None,
        }
    }

    /// Shows how far a long read has come on the terminal (stderr), when
    /// it is one: `chathost collect` on a big chat takes a while. Quiet
    /// under systemd and in the service.
    pub fn with_progress(mut self) -> Collector {
        use std::io::IsTerminal;
        if std::io::stderr().is_terminal() {
            self.progress = Some(0);
        }
        self
    }

    pub(super) fn now(&self) -> DateTime<Utc> {
        self.waiter.clock().now()
    }

    /// Waits until the budget and the server allow one more request, then
    /// counts it. False on shutdown.
    pub(super) async fn request_slot(&mut self) -> bool {
        let mut stood_back = false;
        loop {
            if self.shutdown.requested() {
                return false;
            }
            let now = self.now();
            let slot = self.budget.next_slot(now);
            let at = if slot > now {
                slot
            } else if !stood_back && !budget::server_allows(self.instance.rate_left()) {
                // Posting has the rest: wait for the server's window to
                // reset (at most a minute), then send one request anyway:
                // only an answer refreshes the count, and after the chat
                // nothing else may ask.
                stood_back = true;
                let reset = self.instance.rate_reset().filter(|r| *r > now);
                reset.map_or(now + chrono::Duration::seconds(60), |r| {
                    r.min(now + chrono::Duration::seconds(60))
                })
            } else {
                self.budget.spend(now);
                return true;
            };
            if !self.sleep_until(at).await {
                return false;
            }
        }
    }

    /// Sleeps on the engine's clock; false on shutdown.
    pub(super) async fn sleep_until(&mut self, t: DateTime<Utc>) -> bool {
        let clock = self.waiter.clock().clone();
        self.or_stop(clock.sleep_until(t)).await.is_some()
    }

    /// `work`'s outcome, or `None` when a stop comes first. Reads and waits
    /// are safe to abandon: a stop never waits for one. Meanwhile, what the
    /// live stream delivers is stored as it comes: a long catch-up (a
    /// slow server, the budget's waits) never leaves the stream unread.
    pub(super) async fn or_stop<T>(
        &mut self,
        work: impl std::future::Future<Output = T>,
    ) -> Option<T> {
        let mut shutdown = self.shutdown.clone();
        tokio::pin!(work);
        loop {
            let events = tokio::select! {
                done = &mut work => return Some(done),
                _ = shutdown.wait() => return None,
                events = super::live::next_events(&mut self.intake) => events,
            };
            self.on_events(events);
        }
    }

    /// A store call failed: said once here; a damaged file stops the
    /// service (the engine's rule), anything else is tried again later.
    pub(super) fn store_failed(&self, doing: &str, e: &StoreError) {
        tracing::error!("{doing}: {e}");
        if e.is_damaged() {
            self.shutdown.fail(e.to_string());
        }
    }

    /// Reads the posted questions from the store (they go out during the
    /// window).
    pub(super) fn load_questions(&mut self) -> Result<(), StoreError> {
        let steps = self.store.steps(self.chat_id)?;
        let asked: Vec<AskedQuestion> = steps
            .iter()
            .filter(|s| s.state == StepState::Posted)
            .filter_map(|s| match (s.kind, &s.remote, s.posted_at) {
                (StepKind::Question { number }, Some(remote), Some(at)) => Some(AskedQuestion {
                    number: u32::try_from(number).ok()?,
                    status_id: remote.id.clone(),
                    // The server's time: answers are timed by it too.
                    posted_at: remote.created_at.min(at),
                }),
                _ => None,
            })
            .collect();
        if asked.len() != self.questions.len() {
            self.dirty = true;
        }
        self.question_ids = asked.iter().map(|q| q.status_id.clone()).collect();
        self.questions = asked;
        Ok(())
    }

    /// Loads what an earlier run collected (after a restart).
    pub(super) fn load_answers(&mut self) -> Result<(), StoreError> {
        for a in self.store.answers(self.chat_id)? {
            if let Some(id) = a.remote_id {
                self.answers.insert(id, a.in_reply_to_id);
            }
        }
        Ok(())
    }

    /// The one path into the store: judges each status, records the
    /// answers among them in one transaction (deduped on `uri`), and
    /// returns how many were new.
    pub(super) fn ingest(
        &mut self,
        statuses: &[SeenStatus],
        from: From,
    ) -> Result<usize, StoreError> {
        let (source, source_host, local) = match from {
            From::Tag | From::Replies => (self.instance.url.clone(), self.host.clone(), true),
            From::Extra(i) => {
                let url = self.extra[i].url().to_string();
                (url.clone(), host_of(&url), false)
            }
        };
        let mut rows: Vec<Row> = Vec::new();
        let mut ignored: HashMap<&'static str, usize> = HashMap::new();
        for s in statuses {
            if local && self.deleted.contains(&s.id) {
                continue;
            }
            let known = Known {
                hashtag: &self.hashtag,
                bot_acct: &self.bot_acct,
                window: self.window,
                questions: &self.question_ids,
                answers: &self.answers,
            };
            let why = match judge::judge(s, &source_host, from == From::Replies, local, &known) {
                Verdict::Answer(why) => why,
                Verdict::Ignored(reason) => {
                    *ignored.entry(reason).or_default() += 1;
                    continue;
                }
            };
            match judge::row(s, why, &source, &source_host, local) {
                Some(row) => rows.push(row),
                None => *ignored.entry("an automated account").or_default() += 1,
            }
        }
        if !ignored.is_empty() {
            tracing::debug!(?ignored, "posts read that are not answers");
        }
        if rows.is_empty() {
            return Ok(0);
        }
        let outcome = self.record(&rows)?;
        let mut new = 0;
        for (row, up) in rows.iter().zip(&outcome) {
            if let Some(id) = &row.remote_id {
                self.answers.insert(id.clone(), row.in_reply_to_id.clone());
            }
            // The latest read decides: an edit may add or drop the prefix.
            match row.prefix {
                Some(p) => self.prefixes.insert(row.uri.clone(), p),
                None => self.prefixes.remove(&row.uri),
            };
            match up {
                Upserted::New => {
                    new += 1;
                    self.dirty = true;
                }
                Upserted::Changed => self.dirty = true,
                Upserted::Same => {}
            }
        }
        Ok(new)
    }

    fn record(&self, rows: &[Row]) -> Result<Vec<Upserted>, StoreError> {
        let batch: Vec<store::SeenAnswer<'_>> = rows
            .iter()
            .map(|r| store::SeenAnswer {
                uri: &r.uri,
                account: store::SeenAccount {
                    acct: &r.acct,
                    display_name: &r.display_name,
                    url: r.account_url.as_deref(),
                    quotable: r.quotable,
                    why_not: r.why_not,
                },
                source: &r.source,
                remote_id: r.remote_id.as_deref(),
                in_reply_to_id: r.in_reply_to_id.as_deref(),
                via_tag: r.why.tag,
                via_reply: r.why.reply,
                visibility: &r.visibility,
                language: r.language.as_deref(),
                created_at: r.created_at,
                edited_at: r.edited_at,
                text: &r.text,
                html: &r.html,
                url: r.url.as_deref(),
                engagement: Some(Engagement {
                    favourites: r.engagement.0,
                    reblogs: r.engagement.1,
                    replies: r.engagement.2,
                }),
            })
            .collect();
        self.store.record_answers(self.chat_id, &batch, self.now())
    }

    /// A post deleted (the stream said, or the server no longer has it).
    pub(super) fn deleted(&mut self, id: &str) -> Result<(), StoreError> {
        self.deleted.insert(id.to_string());
        if self.store.record_deleted(id, self.now())? {
            self.dirty = true;
        }
        Ok(())
    }

    /// Ties every answer to its question again (questions arrive during the
    /// chat, chains grow), writing only what changed.
    pub(super) fn attribute_all(&mut self) -> Result<(), StoreError> {
        if !self.dirty {
            return Ok(());
        }
        let answers = self.store.answers(self.chat_id)?;
        let parent_of: HashMap<String, String> = answers
            .iter()
            .filter_map(|a| Some((a.remote_id.clone()?, a.in_reply_to_id.clone()?)))
            .collect();
        let mut changes = Vec::new();
        for a in &answers {
            // The prefix read at collection time comes first (stored text
            // may be gone for consent, or start with a content warning);
            // after a restart, the stored text's body, or a stored prefix
            // verdict, stands in.
            let text = match (self.prefixes.get(&a.uri), &a.text) {
                (Some(p), _) => format!("A{p}:"),
                (None, Some(t)) => judge::body(t).to_string(),
                (None, None) if a.method.as_deref() == Some("prefix") => continue,
                (None, None) => String::new(),
            };
            let post = Post {
                text: &text,
                created_at: a.created_at,
                in_reply_to_id: a.in_reply_to_id.as_deref(),
            };
            let got = attribute(post, &self.questions, &parent_of);
            let question = got.map(|(n, _)| n);
            let method = got.map(|(_, m)| m.as_str());
            if question != a.question || method != a.method.as_deref() {
                changes.push((a.id, question, method));
            }
        }
        if !changes.is_empty() {
            self.store.set_attributions(&changes)?;
        }
        self.dirty = false;
        Ok(())
    }

    /// Ties the stored answers to the posted questions again from the
    /// store alone: no request, nothing posted. For a question recorded
    /// posted after the final sweep (found on the server later), whose
    /// replies the sweep tied to nothing.
    pub(crate) fn retie_stored(&mut self) -> Result<(), StoreError> {
        self.load_questions()?;
        self.dirty = true;
        self.attribute_all()
    }

    /// Counts a request and what it delivered against the chat's sources
    /// table (the host's "requests per chat").
    pub(super) fn note(&mut self, source: &str, cursor: Option<&str>, posts: usize) {
        self.note_counts(source, cursor, 1, posts);
    }

    /// Counts requests (none for a stream event) and posts of a source.
    pub(super) fn note_counts(
        &mut self,
        source: &str,
        cursor: Option<&str>,
        requests: u64,
        posts: usize,
    ) {
        let now = self.now();
        let posts = posts as u64;
        if let Some(read) = &mut self.progress {
            *read += posts;
            eprint!(
                "\r  {read} posts read with {} requests…",
                self.budget.total()
            );
        }
        if let Err(e) = self
            .store
            .note_source(self.chat_id, source, cursor, requests, posts, now)
        {
            tracing::warn!("cannot note the collection's progress: {e}");
        }
    }

    /// Says a failed read once per kind of failure in a row, not on every
    /// poll.
    pub(super) fn read_failed(&self, what: &str, e: &CallError, streak: u32) {
        if streak == 1 {
            tracing::warn!("cannot read {what}: {e}; trying again");
        } else {
            tracing::debug!("cannot read {what} ({streak} times in a row): {e}");
        }
    }
}

/// The host (and port) of a base URL, lower-case.
pub(super) fn host_of(url: &str) -> String {
    let after = url.split_once("://").map_or(url, |(_, rest)| rest);
    after
        .split(['/', '?', '#'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}
