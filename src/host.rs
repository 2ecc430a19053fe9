//! The hosting engine: carries out each chat's steps exactly once, on time,
//! through crashes, restarts, timeouts and server errors.
//!
//! One task per configured chat. Each waits for its next chat's first step
//! (a reminder, usually a day ahead), then walks the steps in order:
//!
//! 1. re-read the question file and templates and re-plan (a host may edit
//!    during the week; a broken edit is reported and the last good version,
//!    kept in the store, is used);
//! 2. ask [`policy::decide`] what to do with the next step: wait, post, or
//!    leave it out (catch-up after downtime);
//! 3. post it: record the intent (and its idempotency key) in the store,
//!    POST, record the remote id. If the outcome is unknown (timeout, reset,
//!    5xx, crash), the next attempt first looks for the post among the
//!    bot's own statuses — GoToSocial ignores `Idempotency-Key`.
//!
//! A shutdown (SIGTERM) interrupts waits, never a post in flight: the post's
//! outcome is recorded before the task ends.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use tokio::sync::{mpsc, watch};

use crate::config::{Chat, Config};
use crate::diagnostic::Diagnostic;
use crate::html;
use crate::instance::{FailureClass, Instance, NewStatus};
use crate::plan::{self, Occurrence, StepKind};
use crate::policy::{self, ChatTimes, Decision};
use crate::prompts::{self, Templates};
use crate::schedule::Waiter;
pub use crate::shutdown::{Shutdown, ShutdownTrigger};
use crate::store::{
    ChatId, ChatState, NewChat, RemotePost, StepRecord, StepState, Store, StoreError,
};

/// How far before its planned instant a status can have been created and
/// still be the post of that step (server clock skew).
const RECONCILE_MARGIN: chrono::Duration = chrono::Duration::minutes(10);

/// Longest pause between two attempts at a post.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The shortest pause after a rate-limit answer, whatever the server hints:
/// `Retry-After: 0` or an `X-RateLimit-Reset` already past (clock skew)
/// would otherwise mean "post again now", hundreds of times a second.
const RATE_LIMIT_FLOOR: Duration = Duration::from_secs(5);

/// POSTs of one step before it is given up. With the pauses above this is
/// about half an hour of a failing server: longer than any step's moment,
/// and a bound on what a server answering "retry now" forever can get.
const MAX_ATTEMPTS: u32 = 30;

/// Something worth telling a person watching (rehearsals, tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostEvent {
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
    /// A chat date is over (all steps posted, left out or failed).
    ChatDone {
        /// Chat name.
        chat: String,
        /// Its local date.
        date: chrono::NaiveDate,
    },
}

/// What every chat task shares.
#[derive(Clone)]
pub struct Host {
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
    /// Waits for instants.
    pub waiter: Waiter,
    /// Stop request.
    pub shutdown: Shutdown,
    /// Where to report events (optional).
    pub events: Option<mpsc::UnboundedSender<HostEvent>>,
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

impl Host {
    fn now(&self) -> DateTime<Utc> {
        self.waiter.clock().now()
    }

    fn emit(&self, event: HostEvent) {
        if let Some(tx) = &self.events {
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
        tokio::select! {
            _ = waiter.wait_until(t) => Woke::Time,
            _ = shutdown.wait() => Woke::Stop,
            Ok(()) = config.changed() => Woke::Reload,
        }
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
                tracing::info!(chat = %name, "chat removed from bot.toml; no longer hosting it");
                return;
            };
            let Some(occ) = self.next_occurrence(&chat) else {
                return;
            };
            let opens = occ.start_utc() - longest_lead(&chat);
            if opens > self.now() {
                if announced != Some((occ.date, opens)) {
                    announced = Some((occ.date, opens));
                    tracing::info!(
                        chat = %name,
                        date = %occ.date,
                        starts = %occ.start.format("%Y-%m-%d %H:%M %Z"),
                        "next chat; waiting until {}",
                        opens.format("%Y-%m-%d %H:%MZ")
                    );
                }
                match self.wait_until(opens).await {
                    Woke::Stop => return,
                    Woke::Reload => continue,
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
        let from = now - length - chrono::Duration::hours(1);
        plan::occurrences(chat, from).take(4).find(|occ| {
            match self
                .store
                .chat(&chat.name, occ.date)
                .ok()
                .flatten()
                .map(|r| r.state)
            {
                Some(ChatState::Done | ChatState::Skipped) => false,
                Some(_) => true,
                None => occ.start_utc() + length > now,
            }
        })
    }

    /// Hosts one chat date to its end. Returns false when stopped early.
    pub async fn run_occurrence(&mut self, name: &str, occ: &Occurrence) -> bool {
        let Some(chat) = self.chat_settings(name) else {
            return true;
        };
        let questions_file =
            prompts::question_file_for(&chat, occ.date).map(|(p, _)| p.display().to_string());
        let new = NewChat {
            name: name.to_string(),
            date: occ.date,
            start_utc: occ.start_utc(),
            instance_url: self.instance.url.clone(),
            account: self.acct.clone(),
            questions_file,
        };
        let record = match self.store.upsert_chat(&new, self.now()) {
            Ok(r) => r,
            Err(e) => {
                self.store_failed(name, "cannot record the chat", &e);
                return self.pause_after_store_error().await;
            }
        };
        if matches!(record.state, ChatState::Done | ChatState::Skipped) {
            return true;
        }
        let chat_id = record.id;
        let mut pinned = false;
        let mut warned_missing = false;
        let mut running = record.state == ChatState::Running;
        // Failed looks in a row for an earlier attempt's post (for pauses).
        let mut unsettled = 0u32;
        loop {
            if self.shutdown.requested() {
                return false;
            }
            // Settings may change on SIGHUP; a chat removed mid-way finishes
            // with the settings it had.
            let chat = self.chat_settings(name).unwrap_or_else(|| chat.clone());
            let times = chat_times(&chat, occ);
            if !self.replan(&chat, occ, chat_id) {
                // No usable question file, and nothing planned before. A
                // host may still add one: look again every few minutes
                // until the chat would have ended.
                let expected = prompts::dated_path(&chat.prompts_dir, occ.date);
                if self.now() >= times.wrap_up {
                    tracing::warn!(chat = %name, date = %occ.date, "no question file {}: this week's chat was skipped", expected.display());
                    return self.set_state(name, chat_id, ChatState::Skipped).await;
                }
                if !warned_missing {
                    warned_missing = true;
                    tracing::warn!(
                        chat = %name,
                        date = %occ.date,
                        "no usable question file {}: the chat will be skipped unless one is added before {}",
                        expected.display(),
                        times.wrap_up.with_timezone(&chat.zone).format("%a %H:%M %Z")
                    );
                }
                let again = (self.now() + chrono::Duration::minutes(5)).min(times.wrap_up);
                match self.wait_until(again).await {
                    Woke::Stop => return false,
                    Woke::Reload | Woke::Time => continue,
                }
            }
            let steps = match self.store.steps(chat_id) {
                Ok(s) => s,
                Err(e) => {
                    self.store_failed(name, "cannot read the chat's steps", &e);
                    if !self.pause_after_store_error().await {
                        return false;
                    }
                    continue;
                }
            };
            let last_post = steps.iter().filter_map(|s| s.posted_at).max();
            // Resuming a chat whose welcome is out (a restart): pin it again,
            // the pin may have been lost with the crash.
            if !pinned && chat.pin_welcome {
                let welcome = steps
                    .iter()
                    .find(|s| s.kind == StepKind::Welcome && s.state == StepState::Posted);
                let wrapped = steps
                    .iter()
                    .any(|s| s.kind == StepKind::WrapUp && s.state != StepState::Pending);
                if let (Some(w), false) = (welcome.and_then(|w| w.remote.as_ref()), wrapped) {
                    pinned = true;
                    if let Err(e) = self.instance.pin(&w.id).await {
                        tracing::info!(chat = %name, "re-pinning the welcome after a restart: {e}");
                    }
                }
            }
            if !running && steps.iter().any(|s| s.state != StepState::Pending) {
                running = true;
                if !self.set_state(name, chat_id, ChatState::Running).await {
                    return false;
                }
            }
            let Some(step) = steps
                .iter()
                .find(|s| matches!(s.state, StepState::Pending | StepState::Posting))
                .cloned()
            else {
                return self.finish(&chat, occ, chat_id, &steps).await;
            };
            let kind = step.kind;
            // A step begun before (a crash, an unknown outcome) may be on
            // the server: settle that first. If it is not, it never went
            // out, and the catch-up policy decides as for any pending step:
            // no question after the wrap-up, no "starts in 1 hour" mid-chat.
            if step.state == StepState::Posting {
                match self.find_posted(&step).await {
                    Ok(Some(remote)) => {
                        tracing::info!(chat = %name, step = %step.key, remote_id = %remote.id, "found on the server after an unknown outcome; not posting again");
                        unsettled = 0;
                        self.posted(&chat, &step, remote).await;
                        continue;
                    }
                    Ok(None) => unsettled = 0,
                    Err(e) => {
                        let pause = rate_limit_pause(unsettled);
                        unsettled += 1;
                        tracing::warn!(chat = %name, step = %step.key, "cannot check whether an earlier attempt reached the server ({e}); looking again in {} s", pause.as_secs());
                        match self.wait_until(self.now() + jittered(pause)).await {
                            Woke::Stop => return false,
                            Woke::Reload | Woke::Time => continue,
                        }
                    }
                }
            }
            let decision = policy::decide(
                kind,
                step.planned_at,
                self.now(),
                times,
                last_post,
                &chat.catch_up,
            );
            match decision {
                Decision::WaitUntil(t) => match self.wait_until(t).await {
                    Woke::Stop => return false,
                    Woke::Reload | Woke::Time => continue,
                },
                Decision::Skip(reason) => {
                    tracing::warn!(chat = %name, step = %step.key, "left out: {reason}");
                    if let Err(e) = self.store.mark_skipped(step.id, &reason, self.now()) {
                        // Not recorded: the step would come round again at once.
                        self.store_failed(name, "cannot record a step left out", &e);
                        if !self.pause_after_store_error().await {
                            return false;
                        }
                        continue;
                    }
                    self.emit(HostEvent::Skipped {
                        chat: name.to_string(),
                        key: step.key.clone(),
                        reason,
                    });
                }
                Decision::PostNow => {
                    let deadline = give_up_at(kind, times);
                    match self.post_step(&chat, &step, deadline, false).await {
                        Some(remote_id)
                            if kind == StepKind::Welcome && chat.pin_welcome && !pinned =>
                        {
                            pinned = true;
                            if let Err(e) = self.instance.pin(&remote_id).await {
                                tracing::warn!(chat = %name, "could not pin the welcome: {e}");
                            }
                        }
                        Some(_) => {}
                        None if self.shutdown.requested() => return false,
                        None => {}
                    }
                }
            }
        }
    }

    /// Re-reads the question file and templates and updates the planned
    /// steps. False when there is no question file and nothing was planned.
    fn replan(&self, chat: &Chat, occ: &Occurrence, chat_id: ChatId) -> bool {
        let planned_before = self
            .store
            .steps(chat_id)
            .map(|s| !s.is_empty())
            .unwrap_or(false);
        let Some((path, fallback)) = prompts::question_file_for(chat, occ.date) else {
            return planned_before;
        };
        let next = plan::next_after(chat, occ);
        let built = prompts::load_questions(&path, fallback, chat).and_then(|qs| {
            let templates = Templates::load(&chat.prompts_dir)?.0;
            plan::build_steps(chat, occ, &qs, &templates, next.as_ref()).map_err(|d| vec![d])
        });
        match built {
            Ok(steps) => {
                if let Err(e) = self.store.sync_steps(chat_id, &steps, self.now()) {
                    self.store_failed(&chat.name, "cannot save the plan", &e);
                }
                true
            }
            Err(diags) => {
                let first = diags.first().map(Diagnostic::to_string).unwrap_or_default();
                if planned_before {
                    tracing::warn!(
                        chat = %chat.name,
                        "{} has errors; keeping the last good version (run `chathost check`):\n{first}",
                        path.display()
                    );
                } else {
                    tracing::error!(
                        chat = %chat.name,
                        "{} has errors and there is no earlier good version (run `chathost check`):\n{first}",
                        path.display()
                    );
                }
                planned_before
            }
        }
    }

    /// Posts one step exactly once. Returns the remote id when posted.
    async fn post_step(
        &mut self,
        chat: &Chat,
        step: &StepRecord,
        deadline: DateTime<Utc>,
        mut unknown_outcome: bool,
    ) -> Option<String> {
        loop {
            if let (_, Some(until)) = self.rate_limited
                && until > self.now()
            {
                if until > deadline {
                    let why = moment_passed("the server is limiting our requests");
                    return self.give_up(chat, step, why, unknown_outcome).await;
                }
                if let Woke::Stop = self.wait_until(until).await {
                    return None;
                }
            }
            if let Some(until) = self.instance.pause_until(self.now()) {
                tracing::info!(chat = %chat.name, step = %step.key, "close to the rate limit; pausing until {}", until.format("%H:%M:%SZ"));
                if let Woke::Stop = self.wait_until(until).await {
                    return None;
                }
            }
            if unknown_outcome {
                match self.find_posted(step).await {
                    Ok(Some(remote)) => {
                        tracing::info!(chat = %chat.name, step = %step.key, remote_id = %remote.id, "found on the server after an unknown outcome; not posting again");
                        return self.posted(chat, step, remote).await;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        // Posting blind could post twice: try again later.
                        tracing::warn!(chat = %chat.name, step = %step.key, "cannot check whether it was posted: {e}");
                        if let Err(done) = self.backoff(chat, step, 1, deadline, &e.message).await {
                            return done;
                        }
                        continue;
                    }
                }
            }
            let now = self.now();
            let attempt = match self.store.begin_attempt(step.id, now) {
                Ok(a) => a,
                Err(e) => {
                    self.store_failed(&chat.name, "cannot record the attempt, so not posting", &e);
                    self.pause_after_store_error().await;
                    return None;
                }
            };
            tracing::info!(chat = %chat.name, step = %step.key, attempt = attempt.number, planned = %step.planned_at.format("%H:%M:%SZ"), "posting");
            let result = self
                .instance
                .post_status(&NewStatus {
                    text: &step.text,
                    visibility: chat.visibility,
                    language: &chat.language,
                    in_reply_to_id: None,
                    idempotency_key: &attempt.idempotency_key,
                })
                .await;
            match result {
                Ok(remote) => {
                    self.rate_limited = (0, None);
                    return self.posted(chat, step, remote).await;
                }
                Err(e) => {
                    if let Err(err) =
                        self.store
                            .record_attempt_error(step.id, &e.message, e.status, self.now())
                    {
                        // The attempt stays open: a restart reconciles it.
                        self.store_failed(&chat.name, "cannot record a failed attempt", &err);
                    }
                    let rate_until = self.note_rate_limited(&e.class);
                    if attempt.number >= MAX_ATTEMPTS && e.class != FailureClass::Permanent {
                        let reason = format!(
                            "gave up after {} attempts; the last: {}",
                            attempt.number, e.message
                        );
                        let unknown = e.class == FailureClass::Transient;
                        return self.give_up(chat, step, reason, unknown).await;
                    }
                    match e.class {
                        FailureClass::Permanent => {
                            tracing::error!(chat = %chat.name, step = %step.key, "not posted, and retrying cannot help: {}", e.message);
                            if let Err(err) =
                                self.store
                                    .mark_failed(step.id, &e.message, e.status, self.now())
                            {
                                self.store_failed(&chat.name, "cannot record a refused post", &err);
                                self.pause_after_store_error().await;
                                return None;
                            }
                            self.emit(HostEvent::Failed {
                                chat: chat.name.clone(),
                                key: step.key.clone(),
                                reason: e.message,
                            });
                            return None;
                        }
                        FailureClass::Wait(_) | FailureClass::WaitFor(_) => {
                            let until = rate_until.unwrap_or_else(|| self.now());
                            unknown_outcome = false;
                            tracing::warn!(chat = %chat.name, step = %step.key, attempt = attempt.number, "{}; next attempt at {}", e.message, until.format("%H:%M:%SZ"));
                            if until > deadline {
                                let why = moment_passed(&e.message);
                                return self.give_up(chat, step, why, false).await;
                            }
                            if let Woke::Stop = self.wait_until(until).await {
                                return None;
                            }
                        }
                        FailureClass::Transient => {
                            unknown_outcome = true;
                            tracing::warn!(chat = %chat.name, step = %step.key, attempt = attempt.number, "{}; will check and retry", e.message);
                            if let Err(done) = self
                                .backoff(chat, step, attempt.number, deadline, &e.message)
                                .await
                            {
                                return done;
                            }
                        }
                    }
                }
            }
        }
    }

    /// After a rate-limit answer: the instant before which nothing is
    /// posted, at least a growing floor past now whatever the server hinted.
    fn note_rate_limited(&mut self, class: &FailureClass) -> Option<DateTime<Utc>> {
        let hint = match class {
            FailureClass::Wait(t) => *t,
            FailureClass::WaitFor(d) => {
                self.now() + chrono::Duration::from_std(*d).unwrap_or(chrono::Duration::hours(1))
            }
            _ => return None,
        };
        let streak = self.rate_limited.0;
        let until = hint.max(self.now() + jittered(rate_limit_pause(streak)));
        self.rate_limited = (streak + 1, Some(until));
        Some(until)
    }

    /// Waits before the next attempt after a failure whose outcome is
    /// unknown (exponential, with jitter). `Err` ends the step with what
    /// `post_step` returns: given up past its moment, or stopped.
    async fn backoff(
        &mut self,
        chat: &Chat,
        step: &StepRecord,
        attempt: u32,
        deadline: DateTime<Utc>,
        why: &str,
    ) -> Result<(), Option<String>> {
        let base = Duration::from_secs(1u64 << attempt.min(6)).min(MAX_BACKOFF);
        let until = self.now() + jittered(base);
        if until > deadline {
            return Err(self.give_up(chat, step, moment_passed(why), true).await);
        }
        match self.wait_until(until).await {
            Woke::Stop => Err(None),
            Woke::Time | Woke::Reload => Ok(()),
        }
    }

    /// Stops trying a step. When the last attempt's outcome is unknown
    /// (timeout, reset, 5xx) the post may be on the server: look once more
    /// and record it posted if it is; if even that look fails, leave the
    /// step `posting` for the next round (or a restart) to settle, rather
    /// than record a failure that may be false.
    async fn give_up(
        &mut self,
        chat: &Chat,
        step: &StepRecord,
        reason: String,
        unknown_outcome: bool,
    ) -> Option<String> {
        if unknown_outcome {
            match self.find_posted(step).await {
                Ok(Some(remote)) => {
                    tracing::info!(chat = %chat.name, step = %step.key, remote_id = %remote.id, "found on the server after all; not a failure");
                    return self.posted(chat, step, remote).await;
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(chat = %chat.name, step = %step.key, "{reason}; but whether it reached the server cannot be checked now ({e}): will look again");
                    let again = self.now() + jittered(MAX_BACKOFF);
                    self.wait_until(again).await;
                    return None;
                }
            }
        }
        tracing::error!(chat = %chat.name, step = %step.key, "{reason}");
        if let Err(e) = self.store.mark_failed(step.id, &reason, None, self.now()) {
            self.store_failed(&chat.name, "cannot record a step given up", &e);
            self.pause_after_store_error().await;
            return None;
        }
        self.emit(HostEvent::Failed {
            chat: chat.name.clone(),
            key: step.key.clone(),
            reason,
        });
        None
    }

    async fn posted(
        &mut self,
        chat: &Chat,
        step: &StepRecord,
        remote: crate::instance::RemoteStatus,
    ) -> Option<String> {
        let now = self.now();
        let late_ms = (now - step.planned_at).num_milliseconds();
        let record = RemotePost {
            id: remote.id.clone(),
            uri: remote.uri.clone(),
            url: remote.url.clone(),
            created_at: remote.created_at,
        };
        if let Err(e) = self.store.mark_posted(step.id, &record, now) {
            // The post exists; the database could not say so. The step
            // stays `posting`: the next round (or a restart) reconciles and
            // finds it, never posts it again. Pause first, or that round
            // would come at once, and again, while the disk is full.
            self.store_failed(
                &chat.name,
                &format!("posted {} as {}, but cannot record it", step.key, remote.id),
                &e,
            );
            self.pause_after_store_error().await;
            return Some(remote.id);
        }
        tracing::info!(chat = %chat.name, step = %step.key, remote_id = %remote.id, late_ms, "posted");
        self.emit(HostEvent::Posted {
            chat: chat.name.clone(),
            key: step.key.clone(),
            planned: step.planned_at,
            at: now,
            text: step.text.clone(),
            remote_id: remote.id.clone(),
        });
        Some(remote.id)
    }

    /// Looks for the step's post among the bot's recent statuses.
    async fn find_posted(
        &self,
        step: &StepRecord,
    ) -> Result<Option<crate::instance::RemoteStatus>, crate::instance::CallError> {
        let recent = self.instance.own_recent_statuses(&self.account_id).await?;
        let taken: Vec<String> = self
            .store
            .steps(step.chat_id)
            .unwrap_or_default()
            .into_iter()
            .filter(|s| s.id != step.id)
            .filter_map(|s| s.remote.map(|r| r.id))
            .collect();
        Ok(recent.into_iter().find(|s| {
            s.created_at >= step.planned_at - RECONCILE_MARGIN
                && !taken.contains(&s.id)
                && html::same_post(&step.text, &s.content)
        }))
    }

    /// Ends a chat date: unpins the welcome, records it done. False when
    /// stopped first.
    async fn finish(
        &mut self,
        chat: &Chat,
        occ: &Occurrence,
        chat_id: ChatId,
        steps: &[StepRecord],
    ) -> bool {
        if chat.pin_welcome
            && let Some(welcome) = steps
                .iter()
                .find(|s| s.kind == StepKind::Welcome)
                .and_then(|s| s.remote.as_ref().map(|r| r.id.clone()))
            && let Err(e) = self.instance.unpin(&welcome).await
        {
            tracing::warn!(chat = %chat.name, "could not unpin the welcome: {e}");
        }
        if let Err(e) = self
            .store
            .set_chat_state(chat_id, ChatState::Done, self.now())
        {
            // Not "over" until recorded; the next round tries again.
            self.store_failed(&chat.name, "cannot record the chat as done", &e);
            return self.pause_after_store_error().await;
        }
        let posted = steps
            .iter()
            .filter(|s| s.state == StepState::Posted)
            .count();
        tracing::info!(chat = %chat.name, date = %occ.date, posted, of = steps.len(), "chat over");
        self.emit(HostEvent::ChatDone {
            chat: chat.name.clone(),
            date: occ.date,
        });
        true
    }

    /// Records the chat's state. A failure is never passed over: the loops
    /// that read the state would come round at once, so pause first. False
    /// on shutdown.
    async fn set_state(&mut self, name: &str, chat_id: ChatId, state: ChatState) -> bool {
        match self.store.set_chat_state(chat_id, state, self.now()) {
            Ok(_) => true,
            Err(e) => {
                self.store_failed(name, &format!("cannot record the chat as {state}"), &e);
                self.pause_after_store_error().await
            }
        }
    }

    /// A database call failed. A damaged file stops the whole service: its
    /// record can no longer keep posts exactly once, and retrying cannot
    /// mend it; `main` then says why and exits with a failure, so systemd
    /// shows it. Anything else (a full disk) is logged, and the caller
    /// pauses and tries again.
    fn store_failed(&self, chat: &str, doing: &str, e: &StoreError) {
        if e.is_damaged() {
            if !self.shutdown.requested() {
                tracing::error!(chat = %chat, "{doing}: {e}");
            }
            self.shutdown.fail(e.to_string());
        } else {
            tracing::error!(chat = %chat, "{doing}: {e}");
        }
    }

    /// After a database error: wait a little before trying again. False on
    /// shutdown.
    async fn pause_after_store_error(&mut self) -> bool {
        let until = self.now() + chrono::Duration::seconds(30);
        !matches!(self.wait_until(until).await, Woke::Stop)
    }
}

fn moment_passed(why: &str) -> String {
    format!("gave up: the moment for it has passed ({why})")
}

/// The pause after the `n`th rate-limit answer in a row (from 0): doubling
/// from the floor, at most [`MAX_BACKOFF`].
fn rate_limit_pause(n: u32) -> Duration {
    RATE_LIMIT_FLOOR
        .saturating_mul(1 << n.min(6))
        .min(MAX_BACKOFF)
}

/// `d` stretched by up to half again at random, so that many clients (or
/// steps) told to wait do not all come back in the same instant.
fn jittered(d: Duration) -> chrono::Duration {
    let stretch = rand::thread_rng().gen_range(0.0..0.5);
    chrono::Duration::from_std(d.mul_f64(1.0 + stretch)).unwrap_or(chrono::Duration::seconds(90))
}

fn longest_lead(chat: &Chat) -> chrono::Duration {
    let lead = chat.reminders.iter().max().copied().unwrap_or_default();
    chrono::Duration::from_std(lead).unwrap_or_default() + chrono::Duration::minutes(1)
}

fn chat_times(chat: &Chat, occ: &Occurrence) -> ChatTimes {
    let start = occ.start_utc();
    ChatTimes {
        start,
        wrap_up: start + chrono::Duration::minutes(i64::from(chat.pacing.wrap_up)),
    }
}

/// The last moment worth retrying a step: reminders until the start, chat
/// posts until the wrap-up, the wrap-up for an hour after it.
fn give_up_at(kind: StepKind, times: ChatTimes) -> DateTime<Utc> {
    match kind {
        StepKind::Reminder { .. } => times.start,
        StepKind::WrapUp => times.wrap_up + policy::WRAP_UP_GRACE,
        _ => times.wrap_up,
    }
}
