//! Posting one step exactly once: intent and idempotency key in the store
//! before the POST, the server's id after; an unknown outcome is settled by
//! reading the bot's own statuses before anything is posted again; every
//! retry waits at least a floor, and a step has a bounded number of
//! attempts.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

use super::{Engine, Event, Woke};
use crate::config::{Chat, Visibility};
use crate::html;
use crate::instance::{CallError, FailureClass, NewStatus, RemoteStatus};
use crate::plan::StepKind;
use crate::policy::{self, ChatTimes};
use crate::store::{RemotePost, StepRecord, StoreError};

/// How far before its planned instant a status can have been created and
/// still be the post of that step (server clock skew).
const RECONCILE_MARGIN: chrono::Duration = chrono::Duration::minutes(10);

/// The shortest pause after an attempt whose outcome is unknown, before
/// the bot's statuses are read to see whether it went out.
pub(super) const UNKNOWN_OUTCOME_FLOOR: Duration = Duration::from_secs(30);

/// Longest pause between two attempts at a post.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The shortest pause after a rate-limit answer, whatever the server hints:
/// `Retry-After: 0` or an `X-RateLimit-Reset` already past (clock skew)
/// would otherwise mean "post again now", hundreds of times a second.
const RATE_LIMIT_FLOOR: Duration = Duration::from_secs(5);

/// The longest rate-limit pause a server's hint is taken at: Mastodon's
/// longest window is three hours; a hint of years would otherwise
/// overflow the clock.
const MAX_HINT: Duration = Duration::from_secs(3 * 3600);

/// POSTs of one step before it is given up. With the pauses above this is
/// about half an hour of a failing server: longer than any step's moment,
/// and a bound on what a server answering "retry now" forever can get.
const MAX_ATTEMPTS: u32 = 30;

impl Engine {
    /// Posts one step exactly once; with `send_at` (a moment ahead), the
    /// checks and the intent are done now, the POST at that instant. Returns the remote id when posted;
    /// `None` when given up, stopped, or after a rate-limit pause (the
    /// caller asks the catch-up policy again: the step may be too late now).
    pub(super) async fn post_step(
        &mut self,
        chat: &Chat,
        step: &StepRecord,
        deadline: DateTime<Utc>,
        mut unknown_outcome: bool,
        mut send_at: Option<DateTime<Utc>>,
    ) -> Option<String> {
        loop {
            // A damaged store found meanwhile stops everything: post nothing.
            if self.shutdown.requested() {
                return None;
            }
            let limited = match self.rate_limited {
                (_, Some(until)) if until > self.now() => Some(until),
                _ => self.instance.pause_until(self.now()),
            }
            .filter(|until| *until > self.now());
            if let Some(until) = limited {
                if until > deadline {
                    let why = moment_passed("the server is limiting our requests");
                    return self.give_up(chat, step, why, unknown_outcome).await;
                }
                tracing::info!(
                    "close to or past the rate limit; pausing until {}",
                    until.format("%H:%M:%SZ")
                );
                self.wait_until(until).await;
                return None;
            }
            if unknown_outcome {
                match self.find_posted(step).await {
                    Ok(Some(remote)) => {
                        tracing::info!(remote_id = %remote.id, "found on the server after an unknown outcome; not posting again");
                        return self.posted(chat, step, remote).await;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        // Posting blind could post twice. The round looks
                        // again for as long as the catch-up policy would
                        // still post the step.
                        tracing::warn!("cannot check whether it was posted: {e}");
                        if let Err(done) = self.backoff(chat, step, 1, deadline, &e.message).await {
                            return done;
                        }
                        return None;
                    }
                }
            }
            // A recap post answers the thread's previous one; its head is
            // public, the rest follow the chat.
            let (visibility, parent) = match step.kind {
                StepKind::Recap { head, .. } => match self.thread_parent(step) {
                    Ok(parent) => (
                        if head {
                            Visibility::Public
                        } else {
                            chat.visibility
                        },
                        parent,
                    ),
                    Err(e) => {
                        self.store_failed("cannot read the recap thread", &e);
                        self.pause_after_store_error().await;
                        return None;
                    }
                },
                _ => (chat.visibility, None),
            };
            let now = self.now();
            let attempt = match self.store.begin_attempt(step.id, now) {
                Ok(a) => a,
                Err(e) => {
                    self.store_failed("cannot record the attempt, so not posting", &e);
                    self.pause_after_store_error().await;
                    return None;
                }
            };
            tracing::info!(attempt = attempt.number, planned = %step.planned_at.format("%H:%M:%SZ"), "posting");
            if let Some(at) = send_at.take()
                && !self.send_at(at).await
            {
                return None;
            }
            let result = self
                .instance
                .post_status(&NewStatus {
                    text: &step.text,
                    visibility,
                    language: &chat.language,
                    in_reply_to_id: parent.as_deref(),
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
                        self.store_failed("cannot record a failed attempt", &err);
                    }
                    let rate_until = self.note_rate_limited(&e.class);
                    if attempt.number >= MAX_ATTEMPTS && e.class != FailureClass::Permanent {
                        let reason = format!(
                            "gave up after {} attempts; the last: {}",
                            attempt.number, e.message
                        );
                        let unknown = e.class == FailureClass::Transient;
                        if unknown {
                            let until = self.now() + jittered(UNKNOWN_OUTCOME_FLOOR);
                            if !self.hold_until(until).await {
                                return None;
                            }
                        }
                        return self.give_up(chat, step, reason, unknown).await;
                    }
                    match e.class {
                        FailureClass::Permanent => {
                            tracing::error!("not posted, and retrying cannot help: {}", e.message);
                            if let Err(err) =
                                self.store
                                    .mark_failed(step.id, &e.message, e.status, self.now())
                            {
                                self.store_failed("cannot record a refused post", &err);
                                self.pause_after_store_error().await;
                                return None;
                            }
                            self.emit(Event::Failed {
                                chat: chat.name.clone(),
                                key: step.key.clone(),
                                reason: e.message,
                            });
                            return None;
                        }
                        FailureClass::Wait(_) | FailureClass::WaitFor(_) => {
                            let until = rate_until.unwrap_or_else(|| self.now());
                            tracing::warn!(
                                attempt = attempt.number,
                                "{}; next attempt at {}",
                                e.message,
                                until.format("%H:%M:%SZ")
                            );
                            if until > deadline {
                                let why = moment_passed(&e.message);
                                return self.give_up(chat, step, why, false).await;
                            }
                            self.wait_until(until).await;
                            return None;
                        }
                        FailureClass::Transient => {
                            unknown_outcome = true;
                            tracing::warn!(
                                attempt = attempt.number,
                                "{}; will check and retry",
                                e.message
                            );
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

    /// Waits for the instant a prepared post leaves (plan read, checks
    /// done, intent stored: its fsync is the slowest part). A stop in the
    /// last moment still posts and the service stops right after; a stop
    /// while the instant is further off (the wall clock was set back)
    /// posts nothing: the step stays `posting`, settled on restart like
    /// any attempt cut short. So does a crash meanwhile. False: not posted.
    async fn send_at(&mut self, at: DateTime<Utc>) -> bool {
        let clock = self.waiter.clock().clone();
        let mut shutdown = self.shutdown.clone();
        tokio::select! {
            () = clock.sleep_until_exact(at) => true,
            _ = shutdown.wait() => {
                if at - self.now() > chrono::Duration::seconds(1) {
                    return false;
                }
                clock.sleep_until_exact(at).await;
                true
            }
        }
    }

    /// After a rate-limit answer: the instant before which nothing is
    /// posted, at least a growing floor past now whatever the server hinted.
    pub(super) fn note_rate_limited(&mut self, class: &FailureClass) -> Option<DateTime<Utc>> {
        let now = self.now();
        let longest =
            now + chrono::Duration::from_std(MAX_HINT).unwrap_or(chrono::Duration::hours(3));
        let hint = match class {
            FailureClass::Wait(t) => *t,
            FailureClass::WaitFor(d) => {
                now + chrono::Duration::from_std((*d).min(MAX_HINT * 2))
                    .unwrap_or(chrono::Duration::hours(6))
            }
            _ => return None,
        };
        // A hint past the longest window Mastodon has (a reset in 2099, a
        // Retry-After of years: a wrong clock, a broken proxy) is nonsense:
        // the growing floor alone decides, so one bad answer cannot stop
        // every post for hours.
        let hint = if hint > longest { now } else { hint };
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
        // At least the floor: a server still finishing the request that
        // timed out may store the post after a quick look, and GoToSocial
        // ignores Idempotency-Key, so posting again then would double it.
        let base =
            Duration::from_secs(1u64 << attempt.min(6)).clamp(UNKNOWN_OUTCOME_FLOOR, MAX_BACKOFF);
        let until = self.now() + jittered(base);
        // The pause holds even past the step's moment: the last look, the
        // give-up's, must not be a quick one either (it only looks).
        if !self.hold_until(until).await {
            return Err(None);
        }
        if until > deadline {
            return Err(self.give_up(chat, step, moment_passed(why), true).await);
        }
        Ok(())
    }

    /// Waits until `until`, through reloads (they wake a wait early).
    /// False on shutdown.
    pub(super) async fn hold_until(&mut self, until: DateTime<Utc>) -> bool {
        while self.now() < until {
            if let Woke::Stop = self.wait_until(until).await {
                return false;
            }
        }
        true
    }

    /// Stops trying a step. When the last attempt's outcome is unknown
    /// (timeout, reset, 5xx) the post may be on the server: look once more
    /// and record it posted if it is. If even that look fails, the step is
    /// recorded failed with the outcome unknown: a chat never stalls on a
    /// server that cannot be asked.
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
                    tracing::info!(remote_id = %remote.id, "found on the server after all; not a failure");
                    return self.posted(chat, step, remote).await;
                }
                Ok(None) => {}
                Err(e) => {
                    let reason = outcome_unknown(&reason, &e);
                    self.fail_step_unknown(chat, step, reason).await;
                    return None;
                }
            }
        }
        self.fail_step(chat, step, reason).await;
        None
    }

    /// Records a step failed and says so.
    pub(super) async fn fail_step(&mut self, chat: &Chat, step: &StepRecord, reason: String) {
        self.fail_with(chat, step, reason, false).await;
    }

    /// Records a step failed while its post may be on the server (the look
    /// for it failed): it is looked for again before the recap.
    pub(super) async fn fail_step_unknown(
        &mut self,
        chat: &Chat,
        step: &StepRecord,
        reason: String,
    ) {
        self.fail_with(chat, step, reason, true).await;
    }

    async fn fail_with(&mut self, chat: &Chat, step: &StepRecord, reason: String, unknown: bool) {
        tracing::error!("{reason}");
        let now = self.now();
        let recorded = if unknown {
            self.store.mark_failed_unknown(step.id, &reason, now)
        } else {
            self.store.mark_failed(step.id, &reason, None, now)
        };
        if let Err(e) = recorded {
            self.store_failed("cannot record a step given up", &e);
            self.pause_after_store_error().await;
            return;
        }
        self.emit(Event::Failed {
            chat: chat.name.clone(),
            key: step.key.clone(),
            reason,
        });
    }

    pub(super) async fn posted(
        &mut self,
        chat: &Chat,
        step: &StepRecord,
        remote: RemoteStatus,
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
            if e.is_refusal() {
                // Asking again gets the same refusal (the status is another
                // step's, or another chat's): end the step, never loop.
                let reason = format!(
                    "the post found for it ({}) cannot be recorded: {e}",
                    remote.id
                );
                self.fail_step(chat, step, reason).await;
                return None;
            }
            // The post exists; the database could not say so. The step
            // stays `posting`: the next round (or a restart) reconciles and
            // finds it, never posts it again. Pause first, or that round
            // would come at once, and again, while the disk is full.
            self.store_failed(
                &format!("posted {} as {}, but cannot record it", step.key, remote.id),
                &e,
            );
            self.pause_after_store_error().await;
            return Some(remote.id);
        }
        tracing::info!(remote_id = %remote.id, late_ms, "posted");
        self.emit(Event::Posted {
            chat: chat.name.clone(),
            key: step.key.clone(),
            planned: step.planned_at,
            at: now,
            text: step.text.clone(),
            remote_id: remote.id.clone(),
        });
        Some(remote.id)
    }

    /// The status a recap post answers: the latest earlier post of the
    /// thread that went out (one given up is passed over, so the thread
    /// stays one chain).
    fn thread_parent(&self, step: &StepRecord) -> Result<Option<String>, StoreError> {
        let StepKind::Recap { part, .. } = step.kind else {
            return Ok(None);
        };
        let steps = self.store.steps(step.chat_id)?;
        Ok(steps
            .into_iter()
            .filter_map(|s| match s.kind {
                StepKind::Recap { part: p, .. } if p < part => Some((p, s.remote?.id)),
                _ => None,
            })
            .max_by_key(|(p, _)| *p)
            .map(|(_, id)| id))
    }

    /// Looks for the step's post among the bot's statuses, paging back
    /// from the newest until before the step's moment (less a margin for
    /// clock skew): recap threads and replies may have come after it.
    pub(super) async fn find_posted(
        &self,
        step: &StepRecord,
    ) -> Result<Option<RemoteStatus>, CallError> {
        // Statuses other steps are already recorded as: never claim one twice.
        let steps = self.store.steps(step.chat_id).map_err(|e| {
            self.store_failed("cannot read the chat's steps", &e);
            CallError {
                status: None,
                message: e.to_string(),
                class: FailureClass::Transient,
            }
        })?;
        let taken: Vec<String> = steps
            .into_iter()
            .filter(|s| s.id != step.id)
            .filter_map(|s| s.remote.map(|r| r.id))
            .collect();
        let since = step.planned_at - RECONCILE_MARGIN;
        let mut max_id: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page = self
                .instance
                .own_statuses_before(&self.account_id, max_id.as_deref())
                .await?;
            let found = page
                .iter()
                .find(|s| s.created_at >= since && !taken.contains(&s.id) && is_our_post(step, s));
            if let Some(found) = found {
                return Ok(Some(found.clone()));
            }
            match page.last() {
                Some(oldest) if oldest.created_at >= since => max_id = Some(oldest.id.clone()),
                _ => return Ok(None),
            }
        }
        Ok(None)
    }
}

/// How many pages of 40 of the bot's own statuses a look goes back at
/// most: a thousand statuses, far more than a chat and its recap make.
const MAX_PAGES: usize = 25;

/// Whether a status is the step's post: its source text where the server
/// gives it back, else its rendered HTML.
fn is_our_post(step: &StepRecord, status: &RemoteStatus) -> bool {
    match &status.source_text {
        Some(text) => html::same_text(&step.text, text),
        None => html::same_post(&step.text, &status.content),
    }
}

/// The reason recorded for a step whose post may or may not have reached
/// the server: the host is told to look at the account (until a later look
/// settles it).
pub(super) fn outcome_unknown(reason: &str, e: &CallError) -> String {
    format!(
        "{reason}; whether it reached the server is unknown: the server could not be asked ({e}); look at the bot's account"
    )
}

fn moment_passed(why: &str) -> String {
    format!("gave up: the moment for it has passed ({why})")
}

/// The pause after the `n`th rate-limit answer in a row (from 0): doubling
/// from the floor, at most [`MAX_BACKOFF`].
pub(super) fn rate_limit_pause(n: u32) -> Duration {
    RATE_LIMIT_FLOOR
        .saturating_mul(1 << n.min(6))
        .min(MAX_BACKOFF)
}

/// `d` stretched by up to half again at random, so that many clients (or
/// steps) told to wait do not all come back in the same instant.
pub(super) fn jittered(d: Duration) -> chrono::Duration {
    let stretch = rand::thread_rng().gen_range(0.0..0.5);
    chrono::Duration::from_std(d.mul_f64(1.0 + stretch)).unwrap_or(chrono::Duration::seconds(90))
}

/// The last moment worth retrying a step: reminders until the start, chat
/// posts until the wrap-up, the wrap-up for an hour after it.
pub(super) fn give_up_at(
    kind: StepKind,
    planned: DateTime<Utc>,
    times: ChatTimes,
) -> DateTime<Utc> {
    match kind {
        StepKind::Reminder { .. } => times.start,
        StepKind::WrapUp => times.wrap_up + policy::WRAP_UP_GRACE,
        StepKind::Recap { .. } => planned + policy::RECAP_LATEST,
        _ => times.wrap_up,
    }
}
