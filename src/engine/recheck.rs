//! Steps given up while their post may be on the server: the last
//! attempt's outcome was unknown and even the look for it failed (a 429, a
//! timeout). They are recorded failed with the outcome unknown so that the
//! chat goes on, and looked for again here — once posting is over, before
//! the recap is composed (answers to a question found later are tied to
//! it), and at a restart while the date's after part is still owed. Found:
//! recorded posted after all. Not there: failed, now known. Still unknown
//! when the time allowed runs out: left as it is, and said once.

use chrono::{DateTime, Utc};

use super::after::recap_due;
use super::poster::{jittered, rate_limit_pause};
use super::{Engine, Event};
use crate::config::Chat;
use crate::instance::{FailureClass, RemoteStatus};
use crate::plan::{self, Occurrence, StepKind};
use crate::policy;
use crate::store::{ChatId, ChatRecord, ChatState, RemotePost, StepRecord};

/// Looks at most this many times for one step (each failed look waits a
/// rate-limit pause, or the server's reset, first).
const MAX_LOOKS: u32 = 6;

/// A part of a chat date run beside the others.
pub(super) type Part = std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>;

/// How long a restart past the recap's moment looks again for steps of
/// unknown outcome before the recap goes on without them.
const RESTART_RECHECK: chrono::Duration = chrono::Duration::minutes(5);

impl Engine {
    /// At a restart after posting ended, while the date's after part may
    /// still be owed: a part that looks again for steps given up with the
    /// outcome unknown, before the recap (until it is due, or for a few
    /// minutes when that has passed).
    pub(super) fn recheck_at_restart(
        &self,
        chat: &Chat,
        occ: &Occurrence,
        record: &ChatRecord,
    ) -> Option<Part> {
        let now = self.now();
        let due = recap_due(chat, occ);
        if record.state != ChatState::Done || now >= due + policy::RECAP_LATEST {
            return None;
        }
        let until = due.max(now + RESTART_RECHECK);
        let mut engine = self.clone();
        let (chat, id) = (chat.clone(), record.id);
        Some(Box::pin(async move {
            engine.recheck_unknown(&chat, id, until).await
        }))
    }

    /// Looks again for the chat date's steps failed with the outcome
    /// unknown, waiting no later than `until` (a look due later is not
    /// made). False when stopped.
    pub(super) async fn recheck_unknown(
        &mut self,
        chat: &Chat,
        chat_id: ChatId,
        until: DateTime<Utc>,
    ) -> bool {
        let steps = match self.store.outcome_unknown_steps(chat_id) {
            Ok(s) => s,
            Err(e) => {
                // Left as they are: a restart looks again.
                self.store_failed("cannot read the steps of unknown outcome", &e);
                return !self.shutdown.requested();
            }
        };
        for step in steps {
            if !self.recheck_step(chat, &step, until).await {
                return false;
            }
        }
        true
    }

    /// Looks for one step until found, known absent, out of looks or of
    /// time. False when stopped.
    pub(super) async fn recheck_step(
        &mut self,
        chat: &Chat,
        step: &StepRecord,
        until: DateTime<Utc>,
    ) -> bool {
        let mut looks = 0;
        loop {
            // Respect the server's read allowance before asking. Not
            // posting's pause (a 429 on a POST): reading the bot's own
            // statuses may well be allowed meanwhile.
            let limited = self
                .instance
                .pause_until(self.now())
                .filter(|t| *t > self.now());
            if let Some(t) = limited {
                if t > until {
                    self.still_unknown(step, "the server is limiting our requests");
                    return true;
                }
                if !self.hold_until(t).await {
                    return false;
                }
            }
            if self.shutdown.requested() {
                return false;
            }
            looks += 1;
            let e = match self.find_posted(step).await {
                Ok(Some(remote)) => {
                    self.found_later(chat, step, remote);
                    return true;
                }
                Ok(None) => {
                    self.known_absent(step);
                    return true;
                }
                Err(e) => e,
            };
            let now = self.now();
            let next = match e.class {
                FailureClass::Permanent => None,
                FailureClass::Wait(_) | FailureClass::WaitFor(_) => {
                    self.note_rate_limited(&e.class)
                }
                FailureClass::Transient => Some(now + jittered(rate_limit_pause(looks - 1))),
            };
            match next {
                Some(next) if looks < MAX_LOOKS && next <= until => {
                    tracing::info!(
                        key = %step.key,
                        "cannot look for it yet ({e}); looking again at {}",
                        next.format("%H:%M:%SZ")
                    );
                    if !self.hold_until(next).await {
                        return false;
                    }
                }
                _ => {
                    self.still_unknown(step, &e.message);
                    return true;
                }
            }
        }
    }

    /// Records a step found on the server after all, and says so.
    fn found_later(&mut self, chat: &Chat, step: &StepRecord, remote: RemoteStatus) {
        let now = self.now();
        let record = RemotePost {
            id: remote.id.clone(),
            uri: remote.uri,
            url: remote.url,
            created_at: remote.created_at,
        };
        if let Err(e) = self.store.mark_found_later(step.id, &record, now) {
            if e.is_refusal() {
                // Asking again gets the same refusal (the status is held by
                // another step, or another chat): known now, never looked
                // for again.
                let reason = format!(
                    "the post found for it ({}) cannot be recorded: {e}",
                    remote.id
                );
                if let Err(e) = self.store.clear_outcome_unknown(step.id, &reason, now) {
                    self.store_failed("cannot record why a post found later is not its", &e);
                }
                tracing::warn!(key = %step.key, "{reason}");
                return;
            }
            // Left failed with the outcome unknown: a restart looks again.
            self.store_failed(
                &format!(
                    "{} is on the server as {}, but cannot be recorded",
                    step.key, remote.id
                ),
                &e,
            );
            return;
        }
        tracing::info!(key = %step.key, remote_id = %remote.id, "found on the server after all; recorded posted");
        if matches!(step.kind, StepKind::Question { .. }) {
            self.retie_answers(chat, step.chat_id);
        }
        self.emit(Event::Posted {
            chat: chat.name.clone(),
            key: step.key.clone(),
            planned: step.planned_at,
            at: now,
            text: step.text.clone(),
            remote_id: remote.id,
        });
    }

    /// Ties the date's stored answers to its questions again (the final
    /// sweep may be over: replies to a question found later were tied to
    /// nothing). The store alone: nothing is read from or posted to the
    /// server. A failure is said; the recap then counts fewer answers.
    fn retie_answers(&self, chat: &Chat, chat_id: ChatId) {
        let record = match self.store.chat_by_id(chat_id) {
            Ok(r) => r,
            Err(e) => {
                self.store_failed("cannot read the chat to tie its answers again", &e);
                return;
            }
        };
        let occ = plan::resolve_start(chat.zone, record.date, chat.time);
        let mut collector = self.collector(chat, &occ, chat_id);
        if let Err(e) = collector.retie_stored() {
            self.store_failed("cannot tie the answers to a question found later", &e);
        }
    }

    /// Records a step known not to be on the server: it stays failed.
    fn known_absent(&mut self, step: &StepRecord) {
        let was = step.reason.as_deref().unwrap_or("gave up");
        // The old reason told the host to look at the account: no longer.
        let was = was
            .split("; whether it reached the server")
            .next()
            .unwrap_or(was);
        let reason = format!("{was}; it is not on the server (looked again later)");
        if let Err(e) = self
            .store
            .clear_outcome_unknown(step.id, &reason, self.now())
        {
            self.store_failed("cannot record that a post is not on the server", &e);
            return;
        }
        tracing::warn!(key = %step.key, "looked again: not on the server; it stays failed");
    }

    /// Says once that a step's outcome is still unknown.
    fn still_unknown(&self, step: &StepRecord, why: &str) {
        tracing::warn!(
            key = %step.key,
            "still cannot tell whether it reached the server ({why}); it stays recorded failed with the outcome unknown: look at the bot's account"
        );
    }
}
