//! A chat date's steps: synced with the plan (only pending steps change),
//! read back.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::codec::*;
use super::error::Problem;
use super::posting::locate;
use super::records::*;
use super::{Store, StoreError};
use crate::plan::Step;

impl Store {
    /// Brings the chat's steps in line with a fresh plan, in one
    /// transaction: new steps are added `pending`; `pending` steps take the
    /// new text and instant; `cancelled` ones that are planned again go back
    /// to `pending`; `pending` steps missing from the plan are `cancelled`.
    /// A step past `pending` is never changed: what has gone out (or may
    /// have) stays as it was.
    pub fn sync_steps(
        &self,
        chat: ChatId,
        plan: &[Step],
        now: DateTime<Utc>,
    ) -> Result<SyncReport, StoreError> {
        self.write("save the chat's plan", |tx| {
            let exists: Option<i64> = tx
                .query_row("SELECT id FROM chats WHERE id = ?1", [chat.0], |r| r.get(0))
                .optional()?;
            if exists.is_none() {
                return Err(Problem::NoSuchChat(chat));
            }
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {STEP_COLUMNS} FROM steps WHERE chat_id = ?1"
            ))?;
            // The recap thread is not part of the plan: never touched here.
            let existing: HashMap<String, StepRecord> = stmt
                .query_map([chat.0], step_from_row)?
                .filter(|r| !r.as_ref().is_ok_and(|s| s.kind.is_recap()))
                .map(|r| r.map(|s| (s.key.clone(), s)))
                .collect::<rusqlite::Result<_>>()?;

            let mut report = SyncReport::default();
            let mut planned = HashSet::new();
            for step in plan {
                let key = step.kind.key();
                if !planned.insert(key.clone()) {
                    return Err(Problem::DuplicateKey(key));
                }
                // Compare as stored, to the millisecond.
                let same = |old: &StepRecord| {
                    old.text == step.text
                        && old.planned_at.timestamp_millis() == step.at.timestamp_millis()
                };
                match existing.get(&key) {
                    None => {
                        let (word, number) = kind_parts(&step.kind);
                        tx.execute(
                            "INSERT INTO steps (chat_id, key, kind, kind_number, planned_at, text, \
                             state, created_at, updated_at) \
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
                            params![
                                chat.0,
                                key,
                                word,
                                number,
                                Ts(step.at),
                                step.text,
                                StepState::Pending,
                                Ts(now),
                            ],
                        )?;
                        report.added.push(key);
                    }
                    Some(old) if old.state == StepState::Pending => {
                        if !same(old) {
                            tx.execute(
                                "UPDATE steps SET planned_at = ?2, text = ?3, updated_at = ?4 \
                                 WHERE id = ?1",
                                params![old.id.0, Ts(step.at), step.text, Ts(now)],
                            )?;
                            report.updated.push(key);
                        }
                    }
                    Some(old) if old.state == StepState::Cancelled => {
                        tx.execute(
                            "UPDATE steps SET state = ?2, planned_at = ?3, text = ?4, \
                             reason = NULL, updated_at = ?5 WHERE id = ?1",
                            params![old.id.0, StepState::Pending, Ts(step.at), step.text, Ts(now)],
                        )?;
                        report.restored.push(key);
                    }
                    Some(old) => {
                        if !same(old) {
                            report.locked.push(key);
                        }
                    }
                }
            }
            let mut gone: Vec<&StepRecord> = existing
                .values()
                .filter(|s| !planned.contains(&s.key))
                .collect();
            gone.sort_by(|a, b| (a.planned_at, &a.key).cmp(&(b.planned_at, &b.key)));
            for old in gone {
                match old.state {
                    StepState::Pending => {
                        tx.execute(
                            "UPDATE steps SET state = ?2, reason = ?3, updated_at = ?4 WHERE id = ?1",
                            params![
                                old.id.0,
                                StepState::Cancelled,
                                "removed from the plan before it was posted",
                                Ts(now),
                            ],
                        )?;
                        report.cancelled.push(old.key.clone());
                    }
                    StepState::Cancelled => {}
                    _ => report.locked.push(old.key.clone()),
                }
            }
            Ok(report)
        })
    }

    /// The chat's steps, by planned instant, then key.
    pub fn steps(&self, chat: ChatId) -> Result<Vec<StepRecord>, StoreError> {
        self.read("read the chat's steps", |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {STEP_COLUMNS} FROM steps WHERE chat_id = ?1 ORDER BY planned_at, key"
            ))?;
            let steps = stmt
                .query_map([chat.0], step_from_row)?
                .collect::<rusqlite::Result<_>>()?;
            Ok(steps)
        })
    }

    /// The step with this id.
    pub fn step(&self, id: StepId) -> Result<StepRecord, StoreError> {
        self.read("read a step", |conn| Ok(locate(conn, id)?.step))
    }

    /// The steps of any chat left `posting`: their outcome is unknown (the
    /// process stopped, or the server never answered), so they must be
    /// reconciled with the server before anything else is posted.
    pub fn unfinished_steps(&self) -> Result<Vec<StepRecord>, StoreError> {
        self.read("read the unfinished steps", |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {STEP_COLUMNS} FROM steps WHERE state = 'posting' \
                 ORDER BY planned_at, chat_id, key"
            ))?;
            let steps = stmt
                .query_map([], step_from_row)?
                .collect::<rusqlite::Result<_>>()?;
            Ok(steps)
        })
    }

    /// The chat's `failed` steps whose post may be on the server after all
    /// ([`Store::mark_failed_unknown`]), by planned instant.
    pub fn outcome_unknown_steps(&self, chat: ChatId) -> Result<Vec<StepRecord>, StoreError> {
        self.read("read the steps of unknown outcome", |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {STEP_COLUMNS} FROM steps WHERE chat_id = ?1 AND state = 'failed' \
                 AND outcome_unknown = 1 ORDER BY planned_at, key"
            ))?;
            let steps = stmt
                .query_map([chat.0], step_from_row)?
                .collect::<rusqlite::Result<_>>()?;
            Ok(steps)
        })
    }
}
