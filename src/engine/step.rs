//! One step of a chat date: settle an attempt begun before (a crash, an
//! unknown outcome), then ask the catch-up policy and post, wait or leave
//! it out. The round before a post runs a moment ahead, so the POST leaves
//! at the planned instant itself.

use chrono::{DateTime, Utc};

use super::occurrence::{Flow, Posting};
use super::{Event, poster};
use crate::config::Chat;
use crate::instance::FailureClass;
use crate::plan::StepKind;
use crate::policy::{self, ChatTimes, Decision};
use crate::store::{StepRecord, StepState};

/// How far ahead of a post's instant its round runs (re-reading the
/// question file and templates, re-planning, the rate-limit checks, the
/// fsync'd intent), so the POST leaves at the instant itself: a few
/// milliseconds of work on a quiet machine, more on a loaded one. A stop
/// in this moment still lets the post go out (`Engine::send_at`).
const POST_LEAD: chrono::Duration = chrono::Duration::milliseconds(100);

impl Posting {
    /// Settles, decides and acts on one step.
    pub(super) async fn step(
        &mut self,
        chat: &Chat,
        step: &StepRecord,
        times: ChatTimes,
        last_post: Option<DateTime<Utc>>,
        slot_end: Option<DateTime<Utc>>,
    ) -> Flow {
        let on_purpose = self.on_purpose && step.kind.is_recap();
        let decide = |now| {
            if on_purpose && step.planned_at <= now {
                return Decision::PostNow;
            }
            policy::decide(
                step.kind,
                step.planned_at,
                now,
                times,
                last_post,
                &chat.catch_up,
            )
        };
        if step.state == StepState::Posting
            && let Some(flow) = self.settle(chat, step, &decide, slot_end).await
        {
            return flow;
        }
        let now = self.engine.now();
        match decide(now) {
            // The round before a post runs a moment ahead, so re-planning
            // and storing the intent are done when the instant comes.
            Decision::WaitUntil(t) if t - now > POST_LEAD => {
                self.engine.wait_until(t - POST_LEAD).await.into()
            }
            Decision::WaitUntil(t) if decide(t) != Decision::PostNow => {
                self.engine.wait_until(t).await.into()
            }
            Decision::WaitUntil(t) => self.post(chat, step, times, Some(t)).await,
            Decision::Skip(reason) => self.skip(step, reason).await,
            Decision::PostNow => self.post(chat, step, times, None).await,
        }
    }

    /// Posts `step`, at `send_at` when given (a moment ahead).
    async fn post(
        &mut self,
        chat: &Chat,
        step: &StepRecord,
        times: ChatTimes,
        send_at: Option<DateTime<Utc>>,
    ) -> Flow {
        let deadline = poster::give_up_at(step.kind, step.planned_at, times);
        let posted = self
            .engine
            .post_step(chat, step, deadline, false, send_at)
            .await;
        match posted {
            Some(remote_id) if step.kind == StepKind::Welcome => {
                self.pin_welcome(chat, &remote_id).await;
                Flow::Next
            }
            None if self.engine.shutdown.requested() => Flow::End(false),
            _ => Flow::Next,
        }
    }

    /// A step begun before (a crash, an unknown outcome) may be on the
    /// server: look first. If it is not, it never went out, and the
    /// catch-up policy decides as for any pending step: no question after
    /// the wrap-up, no "starts in 1 hour" mid-chat. While the server cannot
    /// be asked, the step is looked for again until the next step is due
    /// (or the policy would no longer post it), then recorded failed with
    /// the outcome unknown: never posted blind, never a stalled chat.
    /// `Some` when this round is over.
    async fn settle(
        &mut self,
        chat: &Chat,
        step: &StepRecord,
        decide: &impl Fn(DateTime<Utc>) -> Decision,
        slot_end: Option<DateTime<Utc>>,
    ) -> Option<Flow> {
        // An attempt cut short a moment ago (a restart right after a
        // timeout) may still be stored by a slow server: the first look
        // waits as long as after a timeout in this run.
        if let Ok(attempts) = self.engine.store.attempts(step.id)
            && let Some(last) = attempts.last()
        {
            let ready = last.started_at
                + chrono::Duration::from_std(
                    self.engine.instance.timeout() + poster::UNKNOWN_OUTCOME_FLOOR,
                )
                .unwrap_or(chrono::Duration::seconds(60));
            if self.engine.now() < ready {
                return Some(self.engine.wait_until(ready).await.into());
            }
        }
        match self.engine.find_posted(step).await {
            Ok(Some(remote)) => {
                tracing::info!(remote_id = %remote.id, "found on the server after an unknown outcome; not posting again");
                self.unsettled = 0;
                self.engine.posted(chat, step, remote).await;
                Some(Flow::Next)
            }
            Ok(None) => {
                self.unsettled = 0;
                None
            }
            Err(e) => {
                let now = self.engine.now();
                if e.class == FailureClass::Permanent
                    || slot_end.is_some_and(|end| now >= end)
                    || matches!(decide(now), Decision::Skip(_))
                {
                    let why = "an earlier attempt was cut short";
                    let reason = poster::outcome_unknown(why, &e);
                    self.engine.fail_step_unknown(chat, step, reason).await;
                    return Some(Flow::Next);
                }
                let pause = poster::rate_limit_pause(self.unsettled);
                self.unsettled += 1;
                tracing::warn!(
                    "cannot check whether an earlier attempt reached the server ({e}); looking again in {} s",
                    pause.as_secs()
                );
                let mut again = now + poster::jittered(pause);
                if let Some(end) = slot_end {
                    again = again.min(end);
                }
                Some(self.engine.wait_until(again).await.into())
            }
        }
    }

    /// Leaves a step out, for the policy's reason.
    pub(super) async fn skip(&mut self, step: &StepRecord, reason: String) -> Flow {
        tracing::warn!("left out: {reason}");
        let now = self.engine.now();
        if let Err(e) = self.engine.store.mark_skipped(step.id, &reason, now) {
            // Not recorded: the step would come round again at once.
            self.engine
                .store_failed("cannot record a step left out", &e);
            return self.pause().await;
        }
        self.engine.emit(Event::Skipped {
            chat: self.chat.name.clone(),
            key: step.key.clone(),
            reason,
        });
        Flow::Next
    }
}
