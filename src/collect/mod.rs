//! Collecting the answers of a chat date, as a part beside posting, from a
//! few minutes before the welcome to a grace after the wrap-up, then a
//! final sweep before the recap.
//!
//! Every source feeds one idempotent path into the store
//! ([`Collector::ingest`]), deduplicated on the status `uri` (ids differ
//! from instance to instance):
//!
//! - the bot's instance's tag timeline, the record ([`timeline`]): read
//!   forward from the last post seen (`min_id`), so a restart or a gap of
//!   any length is caught up; a tag never used there is no error;
//! - the replies of the latest questions (answers that forgot the hashtag);
//! - a stream for speed ([`live`]): the hashtag stream, or on GoToSocial,
//!   whose hashtag stream is silent, the followed tag on the user stream;
//!   after every (re)connection the timeline is read at once;
//! - other instances' public tag timelines (`extra_sources`), for posts
//!   that never reached the bot's instance.
//!
//! Then [`sweep`] reads the whole window again, so edits, deletions and
//! engagement made while nobody listened are honoured.
//!
//! What counts ([`judge`]): public or unlisted posts in the window with the
//! hashtag or in a question's replies; not the bot's own, not boosts, not
//! automated accounts. Who may be quoted ([`consent`]): `#nobot`,
//! `#noindex` and `noindex` accounts are counted, never stored for
//! display. Which question ([`attribute`]): a reply chain, else
//! an `A3:` prefix, else the time. All within a third of the rate limit
//! ([`budget`]): posting keeps the rest.

pub mod attribute;
pub mod budget;
mod collector;
pub mod command;
pub mod consent;
pub mod judge;
mod live;
pub mod report;
mod sweep;
pub mod text;
mod timeline;

pub use collector::{Collector, Setup};
pub use judge::Window;

use crate::config::Chat;
use crate::plan::Occurrence;

/// The window of a chat date's answers: from ten minutes before the start
/// (greetings count) to `grace_minutes` after the wrap-up.
pub fn window(chat: &Chat, occ: &Occurrence) -> Window {
    let start = occ.start_utc();
    let wrap_up = start + chrono::Duration::minutes(i64::from(chat.pacing.wrap_up));
    Window {
        from: start - chrono::Duration::minutes(10),
        until: wrap_up + chrono::Duration::minutes(i64::from(chat.collect.grace_minutes)),
    }
}

impl Collector {
    /// Collects the chat date's answers to the end of its window and
    /// sweeps. True when done (now or by an earlier run), false when
    /// stopped.
    pub async fn run(mut self) -> bool {
        // A store that fails for a moment (a full disk) is asked again; a
        // damaged one stops the service (the engine's rule).
        loop {
            match self.store.chat_by_id(self.chat_id) {
                Ok(chat) if chat.swept_at.is_some() => return true,
                Ok(_) => break,
                Err(e) => {
                    self.store_failed("cannot read the chat's record", &e);
                    let again = self.now() + chrono::Duration::seconds(30);
                    if !self.sleep_until(again).await {
                        return false;
                    }
                }
            }
        }
        if let Err(e) = self.load_answers().and_then(|()| self.load_questions()) {
            tracing::error!("cannot read what was collected before: {e}");
        }
        if self.now() < self.window.from {
            let waiter = self.waiter.clone();
            if self
                .or_stop(waiter.wait_until(self.window.from))
                .await
                .is_none()
            {
                return false;
            }
        }
        if self.now() < self.window.until {
            tracing::info!(until = %self.window.until.format("%H:%MZ"), "collecting answers");
            if !self.live().await {
                return false;
            }
        }
        if !self.sweep().await {
            return false;
        }
        if let Err(e) = self.store.mark_swept(self.chat_id, self.now()) {
            // The next run sweeps again: harmless, idempotent.
            tracing::error!("cannot record the final sweep: {e}");
        }
        self.summary();
        true
    }

    /// Reads a past chat date's window again from every source (`chathost
    /// collect`): for a date the bot was down for, or to refresh edits,
    /// deletions and engagement. `Err` says why it could not finish; a
    /// window the timeline no longer reaches back to is such a reason.
    pub async fn recollect(mut self) -> Result<(), String> {
        self.patience = chrono::Duration::minutes(collector::COMMAND_PATIENCE_MINUTES);
        self.strict = true;
        self.load_answers()
            .and_then(|()| self.load_questions())
            .map_err(|e| format!("cannot read what was collected before: {e}"))?;
        let finished = self.sweep().await;
        if self.progress.take().is_some() {
            eprintln!();
        }
        if !finished {
            return Err("collection stopped before it finished".into());
        }
        if let Some(why) = self.incomplete.take() {
            return Err(format!("{why}; nothing more was marked collected"));
        }
        self.store
            .mark_swept(self.chat_id, self.now())
            .map_err(|e| format!("cannot record the sweep: {e}"))?;
        self.summary();
        Ok(())
    }

    /// One line for the host: answers, people, requests.
    fn summary(&self) {
        let answers = self.store.answers(self.chat_id).unwrap_or_default();
        let shown: Vec<_> = answers.iter().filter(|a| a.deleted_at.is_none()).collect();
        let people: std::collections::HashSet<&str> =
            shown.iter().map(|a| a.acct.as_str()).collect();
        tracing::info!(
            answers = shown.len(),
            deleted = answers.len() - shown.len(),
            participants = people.len(),
            requests = self.budget.total(),
            peak_per_5_minutes = self.budget.peak(),
            "answers collected"
        );
    }
}
