//! After the chat: the recap thread and the archive, the last part of a
//! chat date. It starts once posting and collecting are over (the final
//! sweep has read edits, deletions and engagement) and `delay_minutes`
//! after the wrap-up have passed.
//!
//! The thread is composed once, from the answers as stored, into recap
//! steps of the store; from then on each post goes through the same path
//! as a question (intent before the POST, the server's id after, an
//! unknown outcome looked for before anything is posted again), each
//! answering the one before. The archive is rewritten whole each time, so
//! writing it again is harmless.

use chrono::{DateTime, Duration, Utc};
use tracing::Instrument;

use super::occurrence::{Flow, Posting, chat_times};
use super::{Engine, Event};
use crate::config::Chat;
use crate::plan::Occurrence;
use crate::plan::StepKind;
use crate::policy::RECAP_LATEST;
use crate::recap::{self, ChatData};
use crate::store::{ChatId, ChatRecord, ChatState, RecapState, StepState, ThreadStep};

/// How long the end of a recap thread waits, at most, to look again for
/// its posts given up with the outcome unknown.
const THREAD_RECHECK: Duration = Duration::minutes(5);

/// The recap and archive part of one chat date.
pub(super) struct AfterChat {
    pub(super) engine: Engine,
    pub(super) occ: Occurrence,
    pub(super) chat_id: ChatId,
    /// The settings the date began with, refreshed on reload.
    pub(super) chat: Chat,
    /// A host's `chathost recap --post`: the thread goes out whatever
    /// `[recap] enabled` says and however late.
    pub(super) on_purpose: bool,
    /// Whether this run composed the thread (from the answers as they are
    /// now): an older, untouched composition is made again first.
    pub(super) composed_here: bool,
}

/// When the recap of `occ` is due: `delay_minutes` after the wrap-up.
pub fn recap_due(chat: &Chat, occ: &Occurrence) -> DateTime<Utc> {
    occ.start_utc()
        + Duration::minutes(i64::from(chat.pacing.wrap_up))
        + Duration::minutes(i64::from(chat.recap.delay_minutes))
}

/// Whether chat date `record` still owes its recap thread or archive at
/// `now` (the service takes such a date up again after a restart). The
/// thread is owed until it would be too late ([`RECAP_LATEST`]); the
/// archive for as long as the service looks back.
pub fn after_owed(chat: &Chat, occ: &Occurrence, record: &ChatRecord, now: DateTime<Utc>) -> bool {
    if record.state != ChatState::Done {
        return false;
    }
    let recap = chat.recap.enabled
        && !matches!(record.recap, Some(RecapState::Done | RecapState::Skipped))
        && now < recap_due(chat, occ) + RECAP_LATEST;
    let archive =
        chat.archive.enabled && record.archived_at.is_none() && record.archive_error.is_none();
    recap || archive
}

impl AfterChat {
    /// True when the part is over (done, or nothing to do); false when
    /// stopped.
    pub(super) async fn run(mut self) -> bool {
        if let Some(chat) = self.engine.chat_settings(&self.chat.name) {
            self.chat = chat;
        }
        let due = recap_due(&self.chat, &self.occ);
        if self.engine.now() < due {
            tracing::info!("recap and archive at {}", due.format("%H:%M:%SZ"));
            if !self.engine.hold_until(due).await {
                return false;
            }
            // A reload during the wait (recap turned off) counts.
            if let Some(chat) = self.engine.chat_settings(&self.chat.name) {
                self.chat = chat;
            }
        }
        // A date recorded skipped (no questions) has nothing to recap.
        let Some(record) = self.record().await else {
            return false;
        };
        if record.state != ChatState::Done {
            return true;
        }
        if self.chat.recap.enabled && !self.recap(due).await {
            return false;
        }
        if self.chat.archive.enabled {
            return self.archive().in_current_span().await;
        }
        true
    }

    /// The date's record, read again after any store hiccup; `None` when
    /// stopped meanwhile.
    async fn record(&mut self) -> Option<ChatRecord> {
        loop {
            match self.engine.store.chat_by_id(self.chat_id) {
                Ok(r) => return Some(r),
                Err(e) => {
                    self.engine
                        .store_failed("cannot read the chat's record", &e);
                    if !self.engine.pause_after_store_error().await {
                        return None;
                    }
                }
            }
        }
    }

    /// Composes the thread once, then posts it. True when settled.
    async fn recap(&mut self, due: DateTime<Utc>) -> bool {
        loop {
            let Some(record) = self.record().await else {
                return false;
            };
            let outcome = match record.recap {
                Some(RecapState::Done | RecapState::Skipped) => return true,
                // Composed by an earlier run and never tried: compose it
                // again, so an opt-out or a deletion since is honoured.
                Some(RecapState::Composed) if !self.composed_here => {
                    self.composed_here = true;
                    let now = self.engine.now();
                    self.engine
                        .store
                        .discard_untouched_recap(self.chat_id, now)
                        .map(|_| ())
                }
                Some(RecapState::Composed) => return self.post_thread().await,
                None => {
                    self.composed_here = true;
                    self.compose(record, due)
                }
            };
            if let Err(e) = outcome {
                self.engine
                    .store_failed("cannot store the recap thread", &e);
                if !self.engine.pause_after_store_error().await {
                    return false;
                }
            }
        }
    }

    /// Composes the thread into recap steps, or records why there is none.
    fn compose(
        &self,
        record: ChatRecord,
        due: DateTime<Utc>,
    ) -> Result<(), crate::store::StoreError> {
        let store = &self.engine.store;
        let now = self.engine.now();
        let skip = |why: &str| {
            tracing::warn!("no recap thread: {why}");
            store.set_recap_state(self.chat_id, RecapState::Skipped, Some(why), now)
        };
        if now >= due + RECAP_LATEST {
            return skip(&format!(
                "chathost was not running within {} hours of the chat; `chathost recap --post` posts it now",
                RECAP_LATEST.num_hours()
            ));
        }
        let data = ChatData::load(store, &self.chat, record)?;
        if !data.has_answers() {
            return skip(if self.chat.collect.enabled {
                "no answers were collected"
            } else {
                "collection is off ([chats.X.collect] enabled = false), so there are no answers to recap"
            });
        }
        let posts = match recap::compose_thread(&self.chat, &self.occ, &data, self.engine.limit) {
            Ok((posts, warnings)) => {
                for w in warnings {
                    tracing::warn!("{w}");
                }
                posts
            }
            Err(why) => return skip(&why),
        };
        let steps: Vec<ThreadStep> = posts
            .into_iter()
            .map(|p| ThreadStep {
                text: p.text,
                head: p.head,
            })
            .collect();
        store.compose_recap(self.chat_id, &steps, due, now)?;
        tracing::info!(posts = steps.len(), "recap thread composed");
        Ok(())
    }

    /// Posts the composed thread and records it done.
    async fn post_thread(&mut self) -> bool {
        let mut posting = Posting::new(
            self.engine.clone(),
            self.occ.clone(),
            self.chat_id,
            self.chat.clone(),
        );
        posting.on_purpose = self.on_purpose;
        if !posting.post_thread().await {
            return false;
        }
        // A post of the thread given up with the outcome unknown: one more
        // look, for a few minutes at most, before the thread is called over.
        let until = self.engine.now() + THREAD_RECHECK;
        let chat = self.chat.clone();
        if !self
            .engine
            .recheck_unknown(&chat, self.chat_id, until)
            .await
        {
            return false;
        }
        loop {
            let thread = self.engine.store.steps(self.chat_id).map(|steps| {
                let thread: Vec<_> = steps.into_iter().filter(|s| s.kind.is_recap()).collect();
                let posted = thread
                    .iter()
                    .filter(|s| s.state == StepState::Posted)
                    .count();
                (posted, thread.len())
            });
            let written = thread.and_then(|(posted, of)| {
                let note = format!("{posted} of {of} posts posted");
                tracing::info!("recap thread over: {note}");
                self.engine.store.set_recap_state(
                    self.chat_id,
                    RecapState::Done,
                    Some(&note),
                    self.engine.now(),
                )
            });
            match written {
                Ok(()) => return true,
                Err(e) => {
                    self.engine
                        .store_failed("cannot record the recap thread", &e);
                    if !self.engine.pause_after_store_error().await {
                        return false;
                    }
                }
            }
        }
    }

    /// Writes the archive folder and the chat's index and feed. A folder
    /// that cannot be written is recorded, said once, and not tried again
    /// by the service (`chathost archive` can).
    async fn archive(&mut self) -> bool {
        let data = loop {
            let Some(record) = self.record().await else {
                return false;
            };
            match ChatData::load(&self.engine.store, &self.chat, record) {
                Ok(d) => break d,
                Err(e) => {
                    self.engine
                        .store_failed("cannot read the chat for its archive", &e);
                    if !self.engine.pause_after_store_error().await {
                        return false;
                    }
                }
            }
        };
        let as_of = data
            .record
            .swept_at
            .unwrap_or_else(|| recap_due(&self.chat, &self.occ));
        let input = data.archive_input(&self.chat, &self.occ, &self.engine.acct, as_of);
        let chat = self.chat.clone();
        let written =
            tokio::task::spawn_blocking(move || recap::write_archive(&chat, &input)).await;
        let outcome = match written {
            Ok(Ok((dir, warnings))) => {
                for w in warnings {
                    tracing::warn!("{w}");
                }
                tracing::info!("archive written to {}", dir.display());
                self.engine.emit(Event::Archived {
                    chat: self.chat.name.clone(),
                    date: self.occ.date,
                    dir,
                });
                Ok(())
            }
            Ok(Err(e)) => Err(e),
            Err(e) => Err(format!("writing the archive ended abnormally: {e}")),
        };
        if let Err(why) = &outcome {
            tracing::error!("{why}");
        }
        loop {
            let now = self.engine.now();
            let why = outcome.as_ref().err().map(String::as_str);
            let recorded = match why {
                None => self.engine.store.record_archive(self.chat_id, Ok(()), now),
                Some(w) => self.engine.store.record_archive(self.chat_id, Err(w), now),
            };
            match recorded {
                Ok(()) => return true,
                Err(e) => {
                    self.engine.store_failed("cannot record the archive", &e);
                    if !self.engine.pause_after_store_error().await {
                        return false;
                    }
                }
            }
        }
    }
}

impl Engine {
    /// `chathost recap --post`: composes the thread of a chat date that
    /// has none (also one the service left out: too late, or no answers
    /// then), and posts every post not yet posted, each exactly once and
    /// chained. Running it again posts nothing.
    pub async fn post_recap_now(&mut self, chat: &Chat, occ: &Occurrence) -> Result<(), String> {
        let store = self.store.clone();
        let record = store
            .chat(&chat.name, occ.date)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("the store has no {} chat of {}", chat.name, occ.date))?;
        if matches!(record.state, ChatState::Planned | ChatState::Running) {
            return Err(format!(
                "the {} chat of {} is not over; the service posts its recap after it",
                chat.name, occ.date
            ));
        }
        let now = self.now();
        // A thread composed before and never tried is composed again from
        // the answers as they are now.
        store
            .discard_untouched_recap(record.id, now)
            .map_err(|e| e.to_string())?;
        let composed = store
            .steps(record.id)
            .map_err(|e| e.to_string())?
            .iter()
            .any(|s| s.kind.is_recap());
        if composed {
            store
                .reschedule_recap(record.id, now)
                .map_err(|e| e.to_string())?;
        } else {
            let data = ChatData::load(&store, chat, record.clone()).map_err(|e| e.to_string())?;
            if !data.has_answers() {
                return Err(format!(
                    "no answers are stored for the {} chat of {}: nothing to recap (`chathost collect` reads them again)",
                    chat.name, occ.date
                ));
            }
            let (posts, warnings) = recap::compose_thread(chat, occ, &data, self.limit)?;
            for w in warnings {
                tracing::warn!("{w}");
            }
            let steps: Vec<ThreadStep> = posts
                .into_iter()
                .map(|p| ThreadStep {
                    text: p.text,
                    head: p.head,
                })
                .collect();
            store
                .compose_recap(record.id, &steps, now, now)
                .map_err(|e| e.to_string())?;
        }
        let mut part = AfterChat {
            engine: self.clone(),
            occ: occ.clone(),
            chat_id: record.id,
            chat: chat.clone(),
            on_purpose: true,
            composed_here: true,
        };
        if !part.post_thread().await {
            return Err(self
                .shutdown
                .fatal()
                .unwrap_or_else(|| "stopped before the thread was posted".into()));
        }
        // Say so when the thread has holes: the command then fails.
        let thread: Vec<_> = store
            .steps(record.id)
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|s| s.kind.is_recap())
            .collect();
        let missing: Vec<String> = thread
            .iter()
            .filter(|s| s.state != StepState::Posted)
            .map(|s| format!("{}: {}", s.key, s.reason.as_deref().unwrap_or("not posted")))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(format!(
            "{} of {} posts of the thread are not on the server:\n  {}",
            missing.len(),
            thread.len(),
            missing.join("\n  ")
        ))
    }
}

impl Posting {
    /// Posts the date's composed recap thread in order, each post exactly
    /// once, through the same decisions as any step. True when every post
    /// is settled; false when stopped.
    pub(super) async fn post_thread(mut self) -> bool {
        // Each head is looked for at most once before parts are left out.
        let mut heads_looked = Vec::new();
        loop {
            if self.engine.shutdown.requested() {
                return false;
            }
            if let Some(chat) = self.engine.chat_settings(&self.chat.name) {
                self.chat = chat;
            }
            let steps = match self.engine.store.steps(self.chat_id) {
                Ok(s) => s,
                Err(e) => {
                    self.engine.store_failed("cannot read the recap thread", &e);
                    match self.pause().await {
                        Flow::End(_) => return false,
                        Flow::Next => continue,
                    }
                }
            };
            let next = steps
                .into_iter()
                .filter(|s| matches!(s.state, StepState::Pending | StepState::Posting))
                .filter_map(|s| match s.kind {
                    StepKind::Recap { part, .. } => Some((part, s)),
                    _ => None,
                })
                .min_by_key(|(part, _)| *part);
            let Some((_, step)) = next else {
                return true;
            };
            if step.state == StepState::Pending {
                if !self.look_for_head(&step, &mut heads_looked).await {
                    return false;
                }
                let why = match self.leave_out(&step) {
                    Ok(why) => why,
                    Err(e) => {
                        self.engine.store_failed("cannot read the recap thread", &e);
                        match self.pause().await {
                            Flow::End(_) => return false,
                            Flow::Next => continue,
                        }
                    }
                };
                if let Some(why) = why {
                    if let Flow::End(finished) = self.skip(&step, why.into()).await {
                        return finished;
                    }
                    continue;
                }
            }
            let chat = self.chat.clone();
            let times = chat_times(&chat, &self.occ);
            let span = tracing::info_span!("step", key = %step.key);
            // A post whose outcome cannot be learnt is given up at last
            // (also when a host posts on purpose): never looked for forever.
            let slot_end = Some(step.planned_at + RECAP_LATEST);
            match self
                .step(&chat, &step, times, None, slot_end)
                .instrument(span)
                .await
            {
                Flow::Next => {}
                Flow::End(finished) => return finished,
            }
        }
    }

    /// A head part before `step` given up with the outcome unknown may be
    /// on the server: looked for (a few minutes at most) before the parts
    /// after it are left out for it. False when stopped.
    async fn look_for_head(
        &mut self,
        step: &crate::store::StepRecord,
        looked: &mut Vec<crate::store::StepId>,
    ) -> bool {
        let StepKind::Recap { part, .. } = step.kind else {
            return true;
        };
        // Unreadable: `leave_out` reads again and says so.
        let Ok(steps) = self.engine.store.steps(self.chat_id) else {
            return true;
        };
        let until = self.engine.now() + THREAD_RECHECK;
        let chat = self.chat.clone();
        let heads: Vec<_> = steps
            .into_iter()
            .filter(|s| {
                matches!(s.kind, StepKind::Recap { head: true, part: p } if p < part)
                    && s.state == StepState::Failed
                    && s.outcome_unknown
                    && !looked.contains(&s.id)
            })
            .collect();
        for head in &heads {
            looked.push(head.id);
            if !self.engine.recheck_step(&chat, head, until).await {
                return false;
            }
        }
        true
    }

    /// Why a pending post of the thread is left out, if it is: the recap
    /// was turned off in bot.toml meanwhile, or a part of the head before
    /// it did not go out (a reply to nothing, or a head's second half
    /// alone, would start a second, headless thread).
    fn leave_out(
        &self,
        step: &crate::store::StepRecord,
    ) -> Result<Option<&'static str>, crate::store::StoreError> {
        if !self.on_purpose && !self.chat.recap.enabled {
            return Ok(Some("the recap was turned off in bot.toml"));
        }
        let StepKind::Recap { part, .. } = step.kind else {
            return Ok(None);
        };
        let steps = self.engine.store.steps(self.chat_id)?;
        let head_lost = steps.iter().any(|s| {
            matches!(s.kind, StepKind::Recap { head: true, part: p } if p < part)
                && matches!(s.state, StepState::Failed | StepState::Skipped)
        });
        Ok(head_lost.then_some("the thread's head post could not be posted"))
    }
}
