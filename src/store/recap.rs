//! After the chat: the recap thread, composed once into steps, and the
//! archive's outcome.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::codec::*;
use super::error::Problem;
use super::records::*;
use super::{Store, StoreError};
use crate::plan::StepKind;

/// One post of a recap thread to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadStep {
    /// Its text, final.
    pub text: String,
    /// Part of the head post.
    pub head: bool,
}

impl Store {
    /// Stores the recap thread of chat date `chat` as pending steps due at
    /// `due`, and marks it composed, in one transaction. Composed once: if
    /// the chat already has recap steps, nothing changes and the answer is
    /// false (the thread stays as first composed, so a restart never posts
    /// a second, different thread).
    pub fn compose_recap(
        &self,
        chat: ChatId,
        posts: &[ThreadStep],
        due: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.write("store the recap thread", |tx| {
            let exists: Option<i64> = tx
                .query_row("SELECT id FROM chats WHERE id = ?1", [chat.0], |r| r.get(0))
                .optional()?;
            if exists.is_none() {
                return Err(Problem::NoSuchChat(chat));
            }
            let already: i64 = tx.query_row(
                "SELECT count(*) FROM steps WHERE chat_id = ?1 AND kind IN ('recap_head', 'recap')",
                [chat.0],
                |r| r.get(0),
            )?;
            if already > 0 {
                // Its steps and its state are written together; should they
                // ever disagree, the steps win (never a second thread).
                tx.execute(
                    "UPDATE chats SET recap_state = ?2 WHERE id = ?1 AND recap_state IS NULL",
                    params![chat.0, RecapState::Composed],
                )?;
                return Ok(false);
            }
            for (i, post) in posts.iter().enumerate() {
                let kind = StepKind::Recap {
                    part: i + 1,
                    head: post.head,
                };
                let (word, number) = kind_parts(&kind);
                tx.execute(
                    "INSERT INTO steps (chat_id, key, kind, kind_number, planned_at, text, \
                     state, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
                    params![
                        chat.0,
                        kind.key(),
                        word,
                        number,
                        Ts(due),
                        post.text,
                        StepState::Pending,
                        Ts(now),
                    ],
                )?;
            }
            tx.execute(
                "UPDATE chats SET recap_state = ?2, recap_note = NULL, updated_at = ?3 WHERE id = ?1",
                params![chat.0, RecapState::Composed, Ts(now)],
            )?;
            Ok(true)
        })
    }

    /// Forgets a composed thread none of whose posts was ever tried (no
    /// attempt: nothing can be on the server), so that it is composed again
    /// from the answers as they are now (an opt-out or a deletion since).
    /// True when forgotten; a thread with any attempt stays as it is.
    pub fn discard_untouched_recap(
        &self,
        chat: ChatId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.write("compose the recap thread again", |tx| {
            let touched: i64 = tx.query_row(
                "SELECT count(*) FROM steps WHERE chat_id = ?1 \
                 AND kind IN ('recap_head', 'recap') AND (state != 'pending' OR attempts > 0)",
                [chat.0],
                |r| r.get(0),
            )?;
            if touched > 0 {
                return Ok(false);
            }
            let gone = tx.execute(
                "DELETE FROM steps WHERE chat_id = ?1 AND kind IN ('recap_head', 'recap')",
                [chat.0],
            )?;
            tx.execute(
                "UPDATE chats SET recap_state = NULL, recap_note = NULL, updated_at = ?2 WHERE id = ?1",
                params![chat.0, Ts(now)],
            )?;
            Ok(gone > 0)
        })
    }

    /// Plans the thread's posts not yet tried for `now` (a host posting a
    /// late thread on purpose): pending ones, and ones left out without
    /// an attempt (too late, recap turned off), which nothing can have
    /// put on the server. Posts begun stay as they were: their moment is
    /// what finds them on the server.
    pub fn reschedule_recap(&self, chat: ChatId, now: DateTime<Utc>) -> Result<usize, StoreError> {
        self.write("plan the recap thread again", |tx| {
            Ok(tx.execute(
                "UPDATE steps SET planned_at = ?2, state = 'pending', reason = NULL, updated_at = ?2 \
                 WHERE chat_id = ?1 AND kind IN ('recap_head', 'recap') \
                 AND (state = 'pending' OR (state = 'skipped' AND attempts = 0))",
                params![chat.0, Ts(now)],
            )?)
        })
    }

    /// Records where the recap thread stands, and why.
    pub fn set_recap_state(
        &self,
        chat: ChatId,
        state: RecapState,
        note: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write("record the recap thread's state", |tx| {
            let changed = tx.execute(
                "UPDATE chats SET recap_state = ?2, recap_note = ?3, updated_at = ?4 WHERE id = ?1",
                params![chat.0, state, note, Ts(now)],
            )?;
            if changed == 0 {
                return Err(Problem::NoSuchChat(chat));
            }
            Ok(())
        })
    }

    /// Records the archive written (`Ok`) or why it could not be.
    pub fn record_archive(
        &self,
        chat: ChatId,
        outcome: Result<(), &str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write("record the archive", |tx| {
            let changed = match outcome {
                Ok(()) => tx.execute(
                    "UPDATE chats SET archived_at = ?2, archive_error = NULL, updated_at = ?2 \
                     WHERE id = ?1",
                    params![chat.0, Ts(now)],
                )?,
                Err(why) => tx.execute(
                    "UPDATE chats SET archive_error = ?2, updated_at = ?3 WHERE id = ?1",
                    params![chat.0, why, Ts(now)],
                )?,
            };
            if changed == 0 {
                return Err(Problem::NoSuchChat(chat));
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewChat;
    use chrono::NaiveDate;

    fn at(hm: &str) -> DateTime<Utc> {
        format!("2026-12-02T{hm}:00Z").parse().unwrap()
    }

    fn new_chat() -> NewChat {
        NewChat {
            name: "wenurses".into(),
            date: NaiveDate::from_ymd_opt(2026, 12, 2).unwrap(),
            start_utc: at("20:00"),
            instance_url: "https://mastodon.example".into(),
            account: "chatbot@mastodon.example".into(),
            questions_file: None,
        }
    }

    fn posts(n: usize) -> Vec<ThreadStep> {
        (1..=n)
            .map(|i| ThreadStep {
                text: format!("post {i}"),
                head: i == 1,
            })
            .collect()
    }

    #[test]
    fn a_thread_is_composed_once_and_never_touched_by_a_new_plan() {
        let store = Store::open_in_memory().unwrap();
        let chat = store.upsert_chat(&new_chat(), at("19:00")).unwrap();
        assert!(
            store
                .compose_recap(chat.id, &posts(3), at("21:15"), at("21:15"))
                .unwrap()
        );
        // A second composition (a restart, more answers since) changes nothing.
        assert!(
            !store
                .compose_recap(chat.id, &posts(5), at("22:00"), at("22:00"))
                .unwrap()
        );
        let steps = store.steps(chat.id).unwrap();
        let keys: Vec<&str> = steps.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(keys, ["recap-001-head", "recap-002", "recap-003"]);
        assert_eq!(
            steps[0].kind,
            StepKind::Recap {
                part: 1,
                head: true
            }
        );
        assert!(steps.iter().all(|s| s.state == StepState::Pending));
        assert_eq!(
            store.chat_by_id(chat.id).unwrap().recap,
            Some(RecapState::Composed)
        );
        // Re-planning the chat (an empty plan) leaves the thread alone.
        let report = store.sync_steps(chat.id, &[], at("22:01")).unwrap();
        assert!(report.cancelled.is_empty(), "{report:?}");
        assert!(
            store
                .steps(chat.id)
                .unwrap()
                .iter()
                .all(|s| s.state == StepState::Pending)
        );
        store
            .set_recap_state(chat.id, RecapState::Done, Some("3 posted"), at("22:02"))
            .unwrap();
        store
            .record_archive(chat.id, Err("permission denied"), at("22:03"))
            .unwrap();
        let r = store.chat_by_id(chat.id).unwrap();
        assert_eq!(
            (r.recap, r.recap_note.as_deref()),
            (Some(RecapState::Done), Some("3 posted"))
        );
        assert_eq!(
            (r.archived_at, r.archive_error.as_deref()),
            (None, Some("permission denied"))
        );
        store.record_archive(chat.id, Ok(()), at("22:04")).unwrap();

        // Untouched, a thread is composed again; once a post was tried,
        // never (it may be on the server).
        let other = store
            .upsert_chat(
                &NewChat {
                    date: NaiveDate::from_ymd_opt(2026, 12, 9).unwrap(),
                    ..new_chat()
                },
                at("22:05"),
            )
            .unwrap();
        store
            .compose_recap(other.id, &posts(2), at("22:15"), at("22:15"))
            .unwrap();
        assert!(
            store
                .discard_untouched_recap(other.id, at("22:16"))
                .unwrap()
        );
        assert!(store.steps(other.id).unwrap().is_empty());
        assert_eq!(store.chat_by_id(other.id).unwrap().recap, None);
        store
            .compose_recap(other.id, &posts(2), at("22:15"), at("22:17"))
            .unwrap();
        let first = store.steps(other.id).unwrap()[0].id;
        store.begin_attempt(first, at("22:18")).unwrap();
        assert!(
            !store
                .discard_untouched_recap(other.id, at("22:19"))
                .unwrap()
        );
        assert_eq!(store.steps(other.id).unwrap().len(), 2);

        // On purpose: a post left out untried goes back to pending; one
        // tried stays as it is.
        let second = store.steps(other.id).unwrap()[1].id;
        store.mark_skipped(second, "too late", at("22:20")).unwrap();
        assert_eq!(store.reschedule_recap(other.id, at("23:00")).unwrap(), 1);
        let steps = store.steps(other.id).unwrap();
        let again = steps.iter().find(|s| s.id == second).unwrap();
        assert_eq!(
            (again.state, again.planned_at),
            (StepState::Pending, at("23:00"))
        );
        let tried = steps.iter().find(|s| s.id == first).unwrap();
        assert_eq!(tried.state, StepState::Posting);
        let r = store.chat_by_id(chat.id).unwrap();
        assert_eq!((r.archived_at, r.archive_error), (Some(at("22:04")), None));
    }
}
