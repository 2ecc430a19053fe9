//! One chat date, from its first reminder to its wrap-up.
//!
//! [`Engine::run_occurrence`] is the date's supervisor: it records the date
//! in the store, then runs the date's parts as tasks under the engine's one
//! shutdown and waits for all of them. Posting is the only part yet; the
//! others take their places beside it (see the slots in `run_parts`):
//! collecting answers, from a few minutes before the welcome to a grace
//! after the wrap-up, and the recap thread and archive, after the wrap-up.
//! Replies to mentions are not per date: they will run beside all chats.
//!
//! [`Posting`] walks the steps. Each round of its loop is one decision,
//! split into named steps: re-plan, settle a step an earlier run began,
//! decide, act.

use tokio::task::JoinSet;
use tracing::Instrument;

use super::after::{AfterChat, after_owed, recap_due};
use super::{Engine, Event, Woke};
use crate::collect::{Collector, Setup};
use crate::config::Chat;
use crate::diagnostic::Diagnostic;
use crate::instance::PublicSource;
use crate::plan::{self, Occurrence};
use crate::policy::ChatTimes;
use crate::prompts::{self, Templates};
use crate::store::{ChatId, ChatRecord, ChatState, NewChat, StepRecord, StepState};

impl Engine {
    /// Hosts one chat date to its end. Returns false when stopped early.
    pub async fn run_occurrence(&mut self, name: &str, occ: &Occurrence) -> bool {
        let span = tracing::info_span!("chat", name = %name, date = %occ.date);
        self.occurrence(name, occ).instrument(span).await
    }

    async fn occurrence(&mut self, name: &str, occ: &Occurrence) -> bool {
        let Some(chat) = self.chat_settings(name) else {
            return true;
        };
        let questions_file = match prompts::question_file(&chat, occ.date) {
            prompts::QuestionFile::Missing { .. } => None,
            found => Some(found.path().display().to_string()),
        };
        let new = NewChat {
            name: name.to_string(),
            date: occ.date,
            start_utc: occ.start_utc(),
            instance_url: self.instance.url.clone(),
            account: self.acct.clone(),
            questions_file,
        };
        // Not hosted until recorded: try again after a pause, never count
        // the date as finished.
        let record = loop {
            match self.store.upsert_chat(&new, self.now()) {
                Ok(r) => break r,
                Err(e) => {
                    self.store_failed("cannot record the chat", &e);
                    if !self.pause_after_store_error().await {
                        return false;
                    }
                }
            }
        };
        let collecting = self.collecting(&chat, occ, &record);
        let after = (record.state != ChatState::Skipped).then(|| AfterChat {
            engine: self.clone(),
            occ: occ.clone(),
            chat_id: record.id,
            chat: chat.clone(),
            on_purpose: false,
            composed_here: false,
        });
        if matches!(record.state, ChatState::Done | ChatState::Skipped) {
            // Posting is over; the answers may still be coming in (a
            // restart during the grace) or await the final sweep, and the
            // recap and archive may be owed.
            let after = after.filter(|_| after_owed(&chat, occ, &record, self.now()));
            let recheck = self.recheck_at_restart(&chat, occ, &record);
            return self.run_parts(None, collecting, recheck, after).await;
        }
        let posting = Posting {
            engine: self.clone(),
            occ: occ.clone(),
            chat_id: record.id,
            running: record.state == ChatState::Running,
            chat,
            pinned: false,
            warned_missing: false,
            unsettled: 0,
            on_purpose: false,
        };
        self.run_parts(Some(posting), collecting, None, after).await
    }

    /// The collecting part of a date, unless collection is off, the date
    /// was skipped, or its final sweep is done.
    fn collecting(&self, chat: &Chat, occ: &Occurrence, record: &ChatRecord) -> Option<Collector> {
        if !chat.collect.enabled || record.state == ChatState::Skipped || record.swept_at.is_some()
        {
            return None;
        }
        Some(self.collector(chat, occ, record.id))
    }

    /// A collector of the chat date recorded as `chat_id`.
    pub fn collector(&self, chat: &Chat, occ: &Occurrence, chat_id: ChatId) -> Collector {
        let window = crate::collect::window(chat, occ);
        let extra = chat
            .collect
            .extra_sources
            .iter()
            .filter_map(
                |url| match PublicSource::new(url, self.instance.timeout()) {
                    Ok(source) => Some(source),
                    Err(e) => {
                        tracing::warn!("not reading {url}: {e}");
                        None
                    }
                },
            )
            .collect();
        Collector::new(Setup {
            store: self.store.clone(),
            instance: self.instance.clone(),
            extra,
            waiter: self.waiter.clone(),
            shutdown: self.shutdown.clone(),
            chat_id,
            hashtag: chat.hashtag.clone(),
            bot_acct: self.acct.clone(),
            window,
        })
    }

    /// Runs posting and collecting side by side, then the recap and
    /// archive once both are over. True when every part finished (false:
    /// stopped, or a part failed).
    async fn run_parts(
        &mut self,
        posting: Option<Posting>,
        collecting: Option<Collector>,
        recheck: Option<super::recheck::Part>,
        after: Option<AfterChat>,
    ) -> bool {
        let mut parts = JoinSet::new();
        if let Some(posting) = posting {
            parts.spawn(posting.run().in_current_span());
        }
        if let Some(recheck) = recheck {
            parts.spawn(recheck.in_current_span());
        }
        if let Some(collecting) = collecting {
            parts.spawn(collecting.run().in_current_span());
        }
        if !self.join_parts(parts).await {
            return false;
        }
        let Some(after) = after else {
            return true;
        };
        let mut parts = JoinSet::new();
        parts.spawn(
            after
                .run()
                .instrument(tracing::info_span!("after"))
                .in_current_span(),
        );
        self.join_parts(parts).await
    }

    /// Waits for every part: true when all finished. The wait pings
    /// systemd's watchdog, as every engine wait does.
    async fn join_parts(&mut self, mut parts: JoinSet<bool>) -> bool {
        let mut finished = true;
        loop {
            let ended = tokio::select! {
                ended = parts.join_next() => ended,
                () = crate::notify::watchdog_tick() => {
                    crate::notify::watchdog();
                    continue;
                }
            };
            let Some(ended) = ended else { break };
            match ended {
                Ok(done) => finished &= done,
                Err(e) => {
                    // A bug, not a server's or a disk's failure: stop the
                    // service so that systemd shows it and restarts it; the
                    // restart settles whatever was in flight.
                    tracing::error!("a part of the chat ended abnormally: {e}");
                    self.shutdown
                        .fail(format!("a part of the chat ended abnormally: {e}"));
                    finished = false;
                }
            }
        }
        finished
    }
}

/// What a round of the posting loop leads to.
pub(super) enum Flow {
    /// Go round again.
    Next,
    /// The part is over: true when the chat date is finished, false when
    /// stopped early.
    End(bool),
}

impl From<Woke> for Flow {
    fn from(woke: Woke) -> Flow {
        match woke {
            Woke::Stop => Flow::End(false),
            Woke::Time | Woke::Reload => Flow::Next,
        }
    }
}

/// The posting part of one chat date.
pub(super) struct Posting {
    pub(super) engine: Engine,
    pub(super) occ: Occurrence,
    pub(super) chat_id: ChatId,
    /// The settings the date began with: a chat removed from bot.toml
    /// mid-way finishes with them.
    pub(super) chat: Chat,
    /// Whether the welcome is pinned (by this run).
    pub(super) pinned: bool,
    /// Whether the missing question file was reported.
    warned_missing: bool,
    /// Whether the store has the date as running.
    running: bool,
    /// Failed looks in a row for an earlier attempt's post (for pauses).
    pub(super) unsettled: u32,
    /// Posting a recap thread because a host asked (`recap --post`): it
    /// goes out however late.
    pub(super) on_purpose: bool,
}

impl Posting {
    /// The posting part of chat date `chat_id` (begun: `running`).
    pub(super) fn new(engine: Engine, occ: Occurrence, chat_id: ChatId, chat: Chat) -> Posting {
        Posting {
            engine,
            occ,
            chat_id,
            running: true,
            chat,
            pinned: false,
            warned_missing: false,
            unsettled: 0,
            on_purpose: false,
        }
    }

    async fn run(mut self) -> bool {
        loop {
            match self.round().await {
                Flow::Next => {}
                Flow::End(finished) => return finished,
            }
        }
    }

    /// One decision: re-plan, then settle, decide and act on the first
    /// step not yet done.
    async fn round(&mut self) -> Flow {
        if self.engine.shutdown.requested() {
            return Flow::End(false);
        }
        // Settings may change on SIGHUP.
        if let Some(chat) = self.engine.chat_settings(&self.chat.name) {
            self.chat = chat;
        }
        let chat = self.chat.clone();
        let times = chat_times(&chat, &self.occ);
        if !self.replan(&chat) {
            return self.without_questions(&chat, times).await;
        }
        // Re-planning may have found the store damaged: post nothing more.
        if self.engine.shutdown.requested() {
            return Flow::End(false);
        }
        let steps = match self.engine.store.steps(self.chat_id) {
            // The recap thread is the after part's.
            Ok(s) => s
                .into_iter()
                .filter(|s| !s.kind.is_recap())
                .collect::<Vec<_>>(),
            Err(e) => {
                self.engine.store_failed("cannot read the chat's steps", &e);
                return self.pause().await;
            }
        };
        if steps.is_empty() {
            // Re-planning could not save the plan (the store said why):
            // never take "nothing planned" for "all done".
            return self.pause().await;
        }
        self.repin_after_restart(&chat, &steps).await;
        if !self.running && steps.iter().any(|s| s.state != StepState::Pending) {
            if !self.set_state(ChatState::Running).await {
                return self.pause().await;
            }
            self.running = true;
        }
        let Some(step) = steps
            .iter()
            .find(|s| matches!(s.state, StepState::Pending | StepState::Posting))
            .cloned()
        else {
            return self.finish(&chat, &steps).await;
        };
        let last_post = steps.iter().filter_map(|s| s.posted_at).max();
        // The step's slot ends when the next step is due.
        let slot_end = steps
            .iter()
            .map(|s| s.planned_at)
            .filter(|t| *t > step.planned_at)
            .min();
        let span = tracing::info_span!("step", key = %step.key);
        self.step(&chat, &step, times, last_post, slot_end)
            .instrument(span)
            .await
    }

    /// Re-reads the question file and templates and updates the planned
    /// steps. False when there is no usable question file and nothing was
    /// planned before.
    fn replan(&self, chat: &Chat) -> bool {
        let store = &self.engine.store;
        let planned_before = match store.steps(self.chat_id) {
            Ok(s) => !s.is_empty(),
            Err(e) => {
                // Not "nothing planned": that could record the date
                // skipped. The round reads the steps again and pauses.
                self.engine.store_failed("cannot read the chat's steps", &e);
                return true;
            }
        };
        // An unusable week's file is an error like a broken one, never the
        // fallback (one verdict, shared with check and plan).
        let found = prompts::question_file(chat, self.occ.date);
        let Some(loaded) = found.load(chat) else {
            return planned_before;
        };
        let path = found.path();
        let next = plan::next_after(chat, &self.occ);
        let built = loaded.and_then(|qs| {
            let templates = Templates::load(&chat.prompts_dir)?.0;
            plan::build_steps(chat, &self.occ, &qs, &templates, next.as_ref()).map_err(|d| vec![d])
        });
        match built {
            Ok(steps) => {
                if let Err(e) = store.sync_steps(self.chat_id, &steps, self.engine.now()) {
                    self.engine.store_failed("cannot save the plan", &e);
                }
                true
            }
            Err(diags) => {
                let first = diags.first().map(Diagnostic::to_string).unwrap_or_default();
                if planned_before {
                    tracing::warn!(
                        "{} has errors; keeping the last good version (run `chathost check`):\n{first}",
                        path.display()
                    );
                } else {
                    tracing::error!(
                        "{} has errors and there is no earlier good version (run `chathost check`):\n{first}",
                        path.display()
                    );
                }
                self.engine.emit(Event::BrokenQuestions {
                    chat: chat.name.clone(),
                    file: path.display().to_string(),
                    kept_last_good: planned_before,
                    problem: first,
                });
                planned_before
            }
        }
    }

    /// No usable question file, and nothing planned before. A host may
    /// still add one: look again every few minutes until the chat would
    /// have ended, then record the date skipped.
    async fn without_questions(&mut self, chat: &Chat, times: ChatTimes) -> Flow {
        let expected = prompts::dated_path(&chat.prompts_dir, self.occ.date);
        if self.engine.now() >= times.wrap_up {
            tracing::warn!(
                "no question file {}: this week's chat was skipped",
                expected.display()
            );
            if !self.set_state(ChatState::Skipped).await {
                return self.pause().await;
            }
            return Flow::End(true);
        }
        if !self.warned_missing {
            self.warned_missing = true;
            self.engine.emit(Event::NoQuestions {
                chat: chat.name.clone(),
                expected: expected.display().to_string(),
            });
            tracing::warn!(
                "no usable question file {}: the chat will be skipped unless one is added before {}",
                expected.display(),
                times
                    .wrap_up
                    .with_timezone(&chat.zone)
                    .format("%a %H:%M %Z")
            );
        }
        let again = (self.engine.now() + chrono::Duration::minutes(5)).min(times.wrap_up);
        self.engine.wait_until(again).await.into()
    }

    /// Ends the chat date: unpins the welcome, looks again for steps given
    /// up with the outcome unknown (a few minutes at most: the server that
    /// lost their answers may still be failing, and the date must not stay
    /// "running" for hours; the restart and recap looks come later),
    /// records the date done.
    async fn finish(&mut self, chat: &Chat, steps: &[StepRecord]) -> Flow {
        self.unpin_welcome(chat, steps).await;
        let until = recap_due(chat, &self.occ).min(self.engine.now() + FINISH_LOOK);
        if !self.engine.recheck_unknown(chat, self.chat_id, until).await {
            return Flow::End(false);
        }
        if !self.set_state(ChatState::Done).await {
            // Not "over" until recorded; the next round tries again.
            return self.pause().await;
        }
        // Read again: the look may have found a step posted after all.
        let steps = self
            .engine
            .store
            .steps(self.chat_id)
            .unwrap_or_else(|_| steps.to_vec());
        let posted = steps
            .iter()
            .filter(|s| s.state == StepState::Posted)
            .count();
        tracing::info!(posted, of = steps.len(), "chat over");
        self.engine.emit(Event::ChatDone {
            chat: chat.name.clone(),
            date: self.occ.date,
        });
        Flow::End(true)
    }

    /// Records the date's state; false (after saying why) when it could not.
    async fn set_state(&mut self, state: ChatState) -> bool {
        let now = self.engine.now();
        match self.engine.store.set_chat_state(self.chat_id, state, now) {
            Ok(_) => true,
            Err(e) => {
                let doing = format!("cannot record the chat as {state}");
                self.engine.store_failed(&doing, &e);
                false
            }
        }
    }

    /// After a store error: a pause, so that a failing disk does not make
    /// the loop come round at once, again and again.
    pub(super) async fn pause(&mut self) -> Flow {
        if self.engine.pause_after_store_error().await {
            Flow::Next
        } else {
            Flow::End(false)
        }
    }
}

/// The moments of a chat date that decisions depend on.
pub(super) fn chat_times(chat: &Chat, occ: &Occurrence) -> ChatTimes {
    let start = occ.start_utc();
    ChatTimes {
        start,
        wrap_up: start + chrono::Duration::minutes(i64::from(chat.pacing.wrap_up)),
    }
}

/// The longest the end of posting looks again for steps whose outcome is
/// unknown before the date is recorded done.
const FINISH_LOOK: chrono::Duration = chrono::Duration::minutes(5);
