//! The final sweep, after the window: the whole window read again from
//! every source, so that edits, deletions, late-federated posts and
//! engagement made while nobody listened are in the store before the
//! recap. An answer that no read returned is asked for by id: the server's
//! "not found" is a deletion.

use std::collections::HashSet;

use chrono::Duration;

use super::collector::{Collector, From};
use crate::instance::CallError;

impl Collector {
    /// Sweeps until done or stopped (false). A server that keeps failing,
    /// or a store that keeps refusing, is given up on after `patience`
    /// (counted from the sweep's start), with a warning and the reason in
    /// `incomplete`.
    pub(super) async fn sweep(&mut self) -> bool {
        let give_up = self.now() + self.patience;
        let mut failures = 0u32;
        loop {
            // Each pass starts clean: a hiccup a later pass mends is no
            // reason to call the sweep incomplete.
            self.incomplete = None;
            let store_failures = self.store_failures;
            let problem = match self.sweep_once().await {
                Ok(false) => return false,
                // Answers the store could not take are read again.
                Ok(true) if self.store_failures > store_failures => {
                    "some answers could not be stored (see the log above)".to_string()
                }
                Ok(true) => return true,
                Err(e) => {
                    self.read_failed("the chat's answers for the final sweep", &e, failures + 1);
                    e.to_string()
                }
            };
            failures += 1;
            if self.now() >= give_up {
                tracing::warn!(
                    "the final sweep could not finish ({problem}); keeping the answers as collected"
                );
                self.incomplete = Some(format!("the final sweep could not finish: {problem}"));
                return true;
            }
            let at = (self.now() + Duration::seconds(30 << failures.min(4))).min(give_up);
            if !self.sleep_until(at).await {
                return false;
            }
        }
    }

    async fn sweep_once(&mut self) -> Result<bool, CallError> {
        if let Err(e) = self.load_questions() {
            tracing::warn!("cannot read the chat's questions: {e}");
        }
        let mut seen: HashSet<String> = HashSet::new();
        let store_failures = self.store_failures;
        let Some(scan) = self.scan_back(From::Tag).await? else {
            return Ok(false);
        };
        if self.store_failures > store_failures {
            // The store refused a page: no point going on with half a
            // read (the caller sees the failure and tries again).
            return Ok(true);
        }
        if !scan.complete {
            let why = format!(
                "the hashtag timeline holds more posts after this chat than chathost reads back \
                 ({} pages): older answers may be missing",
                scan.seen.len().div_ceil(40)
            );
            tracing::warn!("{why}");
            self.incomplete = Some(why);
        }
        seen.extend(scan.seen);
        let ids: Vec<String> = self.questions.iter().map(|q| q.status_id.clone()).collect();
        if self
            .read_replies(&ids, Some(&mut seen))
            .await
            .transpose()?
            .is_none()
        {
            return Ok(false);
        }
        for i in 0..self.extra.len() {
            // In the service, another instance that refuses us is no
            // reason to hold back the recap: its posts stay as collected.
            // `chathost collect` (strict) reports it instead.
            match self.scan_back(From::Extra(i)).await {
                // An empty answer (the tag hidden, logged-out reading
                // closed) says nothing about deletions.
                Ok(Some(scan)) if scan.complete && !scan.uris.is_empty() => {
                    self.deleted_elsewhere(i, &scan.uris)
                }
                Ok(Some(_)) if self.strict => {
                    self.incomplete = Some(format!(
                        "{} was not read to the chat's start",
                        self.extra[i].url()
                    ));
                }
                Ok(Some(_)) => {}
                Ok(None) => return Ok(false),
                Err(e) if self.strict => return Err(e),
                Err(e) => tracing::warn!("cannot sweep {}: {e}", self.extra[i].url()),
            }
        }
        if !self.check_missing(&seen).await? {
            return Ok(false);
        }
        self.dirty = true;
        if let Err(e) = self.attribute_all() {
            tracing::warn!("cannot attribute answers to questions: {e}");
        }
        Ok(true)
    }

    /// Answers read only from another instance that its complete scan no
    /// longer shows were deleted there.
    fn deleted_elsewhere(&mut self, i: usize, uris: &HashSet<String>) {
        let url = self.extra[i].url().to_string();
        let gone: Vec<String> = match self.store.answers(self.chat_id) {
            Ok(answers) => answers
                .into_iter()
                .filter(|a| a.deleted_at.is_none() && a.remote_id.is_none() && a.source == url)
                .filter(|a| !uris.contains(&a.uri))
                .map(|a| a.uri)
                .collect(),
            Err(e) => {
                tracing::warn!("cannot read the collected answers: {e}");
                return;
            }
        };
        for uri in gone {
            // This chat's row only: the post may still count for another
            // chat held at the same time (its other hashtag).
            match self.store.record_deleted_in(self.chat_id, &uri, self.now()) {
                Ok(_) => self.dirty = true,
                Err(e) => tracing::warn!("cannot record a deleted answer: {e}"),
            }
        }
    }

    /// Asks for each collected answer (on the bot's instance) that no read
    /// of the sweep returned: gone means deleted; found, its current text
    /// and engagement are stored. `Ok(false)` on stop.
    async fn check_missing(&mut self, seen: &HashSet<String>) -> Result<bool, CallError> {
        let answers = match self.store.answers(self.chat_id) {
            Ok(a) => a,
            Err(e) => {
                tracing::error!("cannot read the collected answers: {e}");
                self.store_failures += 1;
                return Ok(true);
            }
        };
        let missing: Vec<(String, bool)> = answers
            .iter()
            .filter(|a| a.deleted_at.is_none())
            .filter_map(|a| Some((a.remote_id.clone()?, a.via_reply)))
            .filter(|(id, _)| !seen.contains(id))
            .collect();
        if !missing.is_empty() {
            tracing::info!(
                posts = missing.len(),
                "looking up answers the timelines no longer show"
            );
        }
        for (id, via_reply) in missing {
            if !self.request_slot().await {
                return Ok(false);
            }
            let instance = self.instance.clone();
            let Some(found) = self.or_stop(instance.status(&id)).await else {
                return Ok(false);
            };
            let found = found?;
            self.note("status", None, usize::from(found.is_some()));
            let stored = match found {
                None => self.deleted(&id),
                Some(s) => {
                    let from = if via_reply { From::Replies } else { From::Tag };
                    self.ingest(std::slice::from_ref(&s), from).map(|_| ())
                }
            };
            if let Err(e) = stored {
                tracing::error!("cannot store an answer's last state: {e}");
                self.store_failures += 1;
            }
        }
        Ok(true)
    }
}
