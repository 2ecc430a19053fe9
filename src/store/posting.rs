//! The posting protocol: an attempt's intent before the POST, its outcome
//! after, and a step's final states.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::codec::*;
use super::error::Problem;
use super::records::*;
use super::{Store, StoreError};

/// A step with the chat it belongs to named, for messages.
pub(super) struct Located {
    pub(super) step: StepRecord,
    pub(super) label: String,
}

/// Reads a step and names it "q3 of wenurses on 2026-12-02".
pub(super) fn locate(conn: &Connection, id: StepId) -> Result<Located, Problem> {
    let sql = format!(
        "SELECT {STEP_COLUMNS}, (SELECT name || ' on ' || local_date FROM chats WHERE chats.id = steps.chat_id) \
         FROM steps WHERE id = ?1"
    );
    conn.query_row(&sql, [id.0], |row| {
        let step = step_from_row(row)?;
        let chat: String = row.get(19)?;
        Ok(Located {
            label: format!("{} of {chat}", step.key),
            step,
        })
    })
    .optional()?
    .ok_or(Problem::NoSuchStep(id))
}

/// Refuses a change unless the step is in one of `allowed`.
pub(super) fn require(located: &Located, allowed: &[StepState]) -> Result<(), Problem> {
    if allowed.contains(&located.step.state) {
        Ok(())
    } else {
        Err(Problem::WrongState {
            step: located.label.clone(),
            state: located.step.state,
        })
    }
}

/// Refuses a status another step is already recorded as (a status is one
/// step's post, never two).
fn refuse_claimed(conn: &Connection, label: String, post: &RemotePost) -> Result<(), Problem> {
    let other: Option<i64> = conn
        .query_row(
            "SELECT id FROM steps WHERE remote_uri = ?1",
            [&post.uri],
            |r| r.get(0),
        )
        .optional()?;
    match other {
        Some(other) => Err(Problem::PostClaimed {
            step: label,
            uri: post.uri.clone(),
            other: locate(conn, StepId(other))?.label,
        }),
        None => Ok(()),
    }
}

/// Refuses a change unless the step is `failed` with the outcome unknown.
fn require_unknown(located: &Located) -> Result<(), Problem> {
    require(located, &[StepState::Failed])?;
    if located.step.outcome_unknown {
        Ok(())
    } else {
        Err(Problem::Invalid(format!(
            "{} failed and is known not to be on the server",
            located.label
        )))
    }
}

/// Closes the step's attempt still in flight, if there is one.
pub(super) fn close_open_attempt(
    tx: &Transaction<'_>,
    step: StepId,
    outcome: AttemptOutcome,
    error: Option<&str>,
    http_status: Option<u16>,
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE attempts SET finished_at = ?2, outcome = ?3, error = ?4, http_status = ?5 \
         WHERE step_id = ?1 AND outcome IS NULL",
        params![step.0, Ts(now), outcome, error, http_status],
    )?;
    Ok(())
}

impl Store {
    /// The step's attempt log, oldest first.
    pub fn attempts(&self, step: StepId) -> Result<Vec<AttemptRecord>, StoreError> {
        self.read("read the attempt log", |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT number, started_at, finished_at, outcome, error, http_status \
                 FROM attempts WHERE step_id = ?1 ORDER BY number",
            )?;
            let rows = stmt
                .query_map([step.0], |row| {
                    Ok(AttemptRecord {
                        number: row.get(0)?,
                        started_at: row.get::<_, Ts>(1)?.0,
                        finished_at: row.get::<_, Option<Ts>>(2)?.map(|t| t.0),
                        outcome: row.get(3)?,
                        error: row.get(4)?,
                        http_status: row.get(5)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }

    /// Records the intent to post: the step becomes `posting`, its attempt
    /// count goes up and an attempt is logged, all committed before this
    /// returns. The first attempt draws the idempotency key; every later
    /// one reuses it. Allowed from `pending` and `posting` — but a step
    /// found `posting` (see [`Store::unfinished_steps`]) must be reconciled
    /// with the server first: its last attempt may have gone out.
    pub fn begin_attempt(&self, id: StepId, now: DateTime<Utc>) -> Result<Attempt, StoreError> {
        self.write("record the start of a post", |tx| {
            let located = locate(tx, id)?;
            require(&located, &[StepState::Pending, StepState::Posting])?;
            // An attempt never closed belongs to a process that stopped, or
            // one whose outcome the caller did not record.
            close_open_attempt(tx, id, AttemptOutcome::Unknown, None, None, now)?;
            let key = match located.step.idempotency_key {
                Some(key) => key,
                None => format!("{:032x}", rand::random::<u128>()),
            };
            let number = located.step.attempts + 1;
            tx.execute(
                "UPDATE steps SET state = ?2, idempotency_key = ?3, attempts = ?4, updated_at = ?5 \
                 WHERE id = ?1",
                params![id.0, StepState::Posting, key, number, Ts(now)],
            )?;
            tx.execute(
                "INSERT INTO attempts (step_id, number, started_at) VALUES (?1, ?2, ?3)",
                params![id.0, number, Ts(now)],
            )?;
            Ok(Attempt {
                step_id: id,
                number,
                idempotency_key: key,
            })
        })
    }

    /// Records that the step is on the server as `post` (from the POST's
    /// answer, or found by a reconcile). Marking it again with the same
    /// status is harmless; with another status it is a double post and an
    /// error, as is a status already recorded for another step.
    pub fn mark_posted(
        &self,
        id: StepId,
        post: &RemotePost,
        now: DateTime<Utc>,
    ) -> Result<StepRecord, StoreError> {
        self.write("record a post", |tx| {
            let located = locate(tx, id)?;
            if let Some(recorded) = &located.step.remote {
                return if recorded.id == post.id {
                    Ok(located.step)
                } else {
                    Err(Problem::DoublePost {
                        step: located.label,
                        recorded: recorded.id.clone(),
                        reported: post.id.clone(),
                    })
                };
            }
            require(&located, &[StepState::Posting])?;
            refuse_claimed(tx, located.label, post)?;
            close_open_attempt(tx, id, AttemptOutcome::Posted, None, None, now)?;
            tx.execute(
                "UPDATE steps SET state = ?2, remote_id = ?3, remote_uri = ?4, remote_url = ?5, \
                 remote_created_at = ?6, posted_at = ?7, updated_at = ?7 WHERE id = ?1",
                params![
                    id.0,
                    StepState::Posted,
                    post.id,
                    post.uri,
                    post.url,
                    Ts(post.created_at),
                    Ts(now),
                ],
            )?;
            Ok(locate(tx, id)?.step)
        })
    }

    /// Records the error of one attempt that will be retried; the step
    /// stays `posting` (its outcome may still be unknown: a timeout or a
    /// lost answer can hide a post that went out).
    pub fn record_attempt_error(
        &self,
        id: StepId,
        error: &str,
        http_status: Option<u16>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write("record a failed attempt", |tx| {
            let located = locate(tx, id)?;
            require(&located, &[StepState::Posting])?;
            close_open_attempt(tx, id, AttemptOutcome::Error, Some(error), http_status, now)?;
            tx.execute(
                "UPDATE steps SET last_error = ?2, updated_at = ?3 WHERE id = ?1",
                params![id.0, error, Ts(now)],
            )?;
            Ok(())
        })
    }

    /// Gives up on the step: it ends `failed` with `reason` (what a host
    /// reads in the log), and its open attempt, if any, with it.
    pub fn mark_failed(
        &self,
        id: StepId,
        reason: &str,
        http_status: Option<u16>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.fail(id, reason, http_status, false, now)
    }

    /// Gives up on a step whose post may be on the server: the last
    /// attempt's outcome is unknown and the server could not be asked. It
    /// ends `failed` with the outcome unknown, so that the chat goes on;
    /// [`Store::mark_found_later`] or [`Store::clear_outcome_unknown`]
    /// settle it once a look succeeds.
    pub fn mark_failed_unknown(
        &self,
        id: StepId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.fail(id, reason, None, true, now)
    }

    fn fail(
        &self,
        id: StepId,
        reason: &str,
        http_status: Option<u16>,
        unknown: bool,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write("record that a post failed", |tx| {
            let located = locate(tx, id)?;
            require(&located, &[StepState::Pending, StepState::Posting])?;
            close_open_attempt(
                tx,
                id,
                AttemptOutcome::Failed,
                Some(reason),
                http_status,
                now,
            )?;
            tx.execute(
                "UPDATE steps SET state = ?2, reason = ?3, last_error = ?3, updated_at = ?4, \
                 outcome_unknown = ?5 WHERE id = ?1",
                params![id.0, StepState::Failed, reason, Ts(now), unknown],
            )?;
            Ok(())
        })
    }

    /// Records that a step failed with the outcome unknown is on the server
    /// as `post` after all: it becomes `posted`. Refused for any other step
    /// (a step known failed was never posted), and for a status another
    /// step is recorded as.
    pub fn mark_found_later(
        &self,
        id: StepId,
        post: &RemotePost,
        now: DateTime<Utc>,
    ) -> Result<StepRecord, StoreError> {
        self.write("record a post found later", |tx| {
            let located = locate(tx, id)?;
            require_unknown(&located)?;
            refuse_claimed(tx, located.label, post)?;
            tx.execute(
                "UPDATE steps SET state = ?2, remote_id = ?3, remote_uri = ?4, remote_url = ?5, \
                 remote_created_at = ?6, posted_at = ?7, updated_at = ?7, reason = NULL, \
                 outcome_unknown = 0 WHERE id = ?1",
                params![
                    id.0,
                    StepState::Posted,
                    post.id,
                    post.uri,
                    post.url,
                    Ts(post.created_at),
                    Ts(now),
                ],
            )?;
            Ok(locate(tx, id)?.step)
        })
    }

    /// Records that a step failed with the outcome unknown is known not to
    /// be on the server: it stays `failed`, with `reason`.
    pub fn clear_outcome_unknown(
        &self,
        id: StepId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write("record that a post is not on the server", |tx| {
            let located = locate(tx, id)?;
            require_unknown(&located)?;
            tx.execute(
                "UPDATE steps SET outcome_unknown = 0, reason = ?2, updated_at = ?3 WHERE id = ?1",
                params![id.0, reason, Ts(now)],
            )?;
            Ok(())
        })
    }

    /// Records that the step will not be posted because it is too late
    /// (the catch-up policy's decision), with the reason. From `posting`,
    /// only once a reconcile has shown the post did not go out.
    pub fn mark_skipped(
        &self,
        id: StepId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write("record that a post was skipped", |tx| {
            let located = locate(tx, id)?;
            require(&located, &[StepState::Pending, StepState::Posting])?;
            close_open_attempt(tx, id, AttemptOutcome::Unknown, None, None, now)?;
            tx.execute(
                "UPDATE steps SET state = ?2, reason = ?3, updated_at = ?4 WHERE id = ?1",
                params![id.0, StepState::Skipped, reason, Ts(now)],
            )?;
            Ok(())
        })
    }
}
