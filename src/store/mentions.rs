//! Participants' commands: each mention of the bot recorded once, its
//! reply planned (with the command's effect on the sender's own account)
//! in one transaction, and each post of the reply sent exactly once with
//! the steps' protocol (see the module documentation of the store):
//!
//! ```text
//! pending ──begin_reply──► posting ──reply_posted──► posted
//!    │                      │  ▲
//!    │                      └──┘ begin_reply (a retry, after looking on the server)
//!    └──reply_failed (also from posting) ──────────► failed
//! ```
//!
//! Also the named read cursors ("notifications").

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::answers::forget_words;
use super::codec::Ts;
use super::error::Problem;
use super::records::{MentionId, MentionState, ReplyId, StepState};
use super::{Store, StoreError};

/// A mention as read, to record.
#[derive(Debug, Clone, Copy)]
pub struct NewMention<'a> {
    /// The notification's id (opaque).
    pub notification_id: &'a str,
    /// The mentioning status's id on the bot's instance.
    pub status_id: &'a str,
    /// Its uri.
    pub status_uri: &'a str,
    /// The sender, `user@host` lower-case.
    pub acct: &'a str,
    /// The notification's `created_at`.
    pub created_at: DateTime<Utc>,
    /// `next`, `optout`, `optin`, `record`, `help` or `unknown`.
    pub command: &'a str,
    /// The command's argument as written (record's period).
    pub argument: Option<&'a str>,
}

/// A mention as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MentionRecord {
    /// Its id.
    pub id: MentionId,
    /// The notification's id.
    pub notification_id: String,
    /// The mentioning status's id.
    pub status_id: String,
    /// Its uri.
    pub status_uri: String,
    /// The sender, `user@host` lower-case.
    pub acct: String,
    /// The notification's `created_at`.
    pub created_at: DateTime<Utc>,
    /// When the bot first read it.
    pub received_at: DateTime<Utc>,
    /// The command word.
    pub command: String,
    /// Its argument.
    pub argument: Option<String>,
    /// Where it stands.
    pub state: MentionState,
    /// Why it was ignored.
    pub reason: Option<String>,
}

/// One post of the bot's reply to a mention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyRecord {
    /// Its id.
    pub id: ReplyId,
    /// The mention it answers.
    pub mention_id: MentionId,
    /// 1 for the first post.
    pub part: u32,
    /// The text to post.
    pub text: String,
    /// `direct`, `public`, `unlisted` or `private`.
    pub visibility: String,
    /// `pending`, `posting`, `posted` or `failed`.
    pub state: StepState,
    /// Sent with every attempt; set by the first.
    pub idempotency_key: Option<String>,
    /// Attempts started.
    pub attempts: u32,
    /// The status, once posted.
    pub remote_id: Option<String>,
    /// Why it failed.
    pub last_error: Option<String>,
}

/// What a command does to the sender's own account, besides the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Nothing (`next`, `record`, `help`).
    None,
    /// Never quoted, named or linked again; what is stored is erased.
    OptOut,
    /// Undoes an opt-out (words already erased stay erased).
    OptIn,
}

/// The words a reply's visibility may be.
const VISIBILITIES: &[&str] = &["direct", "public", "unlisted", "private"];

/// Why an account opted out by command is not quotable.
pub(super) const OPTED_OUT: &str = "opted out (optout command)";

const MENTION_COLUMNS: &str = "id, notification_id, status_id, status_uri, acct, created_at, \
     received_at, command, argument, state, reason";

fn mention_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<MentionRecord> {
    Ok(MentionRecord {
        id: MentionId(row.get(0)?),
        notification_id: row.get(1)?,
        status_id: row.get(2)?,
        status_uri: row.get(3)?,
        acct: row.get(4)?,
        created_at: row.get::<_, Ts>(5)?.0,
        received_at: row.get::<_, Ts>(6)?.0,
        command: row.get(7)?,
        argument: row.get(8)?,
        state: row.get(9)?,
        reason: row.get(10)?,
    })
}

const REPLY_COLUMNS: &str = "id, mention_id, part, text, visibility, state, idempotency_key, \
     attempts, remote_id, last_error";

fn reply_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ReplyRecord> {
    Ok(ReplyRecord {
        id: ReplyId(row.get(0)?),
        mention_id: MentionId(row.get(1)?),
        part: row.get(2)?,
        text: row.get(3)?,
        visibility: row.get(4)?,
        state: row.get(5)?,
        idempotency_key: row.get(6)?,
        attempts: row.get(7)?,
        remote_id: row.get(8)?,
        last_error: row.get(9)?,
    })
}

fn mention(conn: &Connection, id: MentionId) -> Result<MentionRecord, Problem> {
    conn.query_row(
        &format!("SELECT {MENTION_COLUMNS} FROM mentions WHERE id = ?1"),
        [id.0],
        mention_from_row,
    )
    .optional()?
    .ok_or(Problem::NoSuchMention(id))
}

/// Reads a reply post, refusing the change unless it is in `allowed`.
fn reply_in(conn: &Connection, id: ReplyId, allowed: &[StepState]) -> Result<ReplyRecord, Problem> {
    let reply = conn
        .query_row(
            &format!("SELECT {REPLY_COLUMNS} FROM replies WHERE id = ?1"),
            [id.0],
            reply_from_row,
        )
        .optional()?
        .ok_or(Problem::NoSuchReply(id))?;
    if allowed.contains(&reply.state) {
        Ok(reply)
    } else {
        Err(Problem::ReplyState {
            reply: format!(
                "part {} of the reply to mention {}",
                reply.part, reply.mention_id.0
            ),
            state: reply.state,
        })
    }
}

/// The command's effect on the sender's own account row (none when the
/// account never answered: there is nothing stored to change, and
/// [`Store::record_answers`] reads the opt-out from the row it creates).
fn apply_effect(
    tx: &Transaction<'_>,
    acct: &str,
    effect: Effect,
    now: DateTime<Utc>,
) -> Result<(), Problem> {
    match effect {
        Effect::None => {}
        Effect::OptOut => {
            let account: Option<i64> = tx
                .query_row(
                    "UPDATE accounts SET opted_out_at = coalesce(opted_out_at, ?2), quotable = 0, \
                     display_name = NULL, url = NULL, why_not = ?3, updated_at = ?2 \
                     WHERE acct = ?1 RETURNING id",
                    params![acct, Ts(now), OPTED_OUT],
                    |r| r.get(0),
                )
                .optional()?;
            match account {
                Some(account) => forget_words(tx, account)?,
                // Not collected yet: a row that says so, so the first
                // answer collected is stored counted-only. Its first
                // answer's instant is unknown: the latest possible, so the
                // first one collected takes its place.
                None => {
                    tx.execute(
                        "INSERT INTO accounts (acct, quotable, why_not, first_seen_at, \
                         updated_at, opted_out_at) VALUES (?1, 0, ?2, ?3, ?4, ?4)",
                        params![acct, OPTED_OUT, NEVER, Ts(now)],
                    )?;
                }
            }
        }
        Effect::OptIn => {
            // Clears the command's opt-out and the sticky profile one: the
            // next profile read decides again (a #nobot still there wins).
            tx.execute(
                "UPDATE accounts SET opted_out_at = NULL, quotable = 1, why_not = NULL, \
                 updated_at = ?2 WHERE acct = ?1",
                params![acct, Ts(now)],
            )?;
        }
    }
    Ok(())
}

/// `first_seen_at` of an account known only by its opt-out: later than any
/// answer.
pub(super) const NEVER: &str = "9999-12-31T23:59:59.999Z";

impl Store {
    /// Records a mention once (UNIQUE notification_id and status_uri):
    /// `Ok(None)` when already known, by either.
    pub fn record_mention(
        &self,
        m: &NewMention<'_>,
        now: DateTime<Utc>,
    ) -> Result<Option<MentionRecord>, StoreError> {
        self.record_mention_as(m, None, now)
    }

    /// Records a mention once, already settled with no reply when `ignored`
    /// gives why (a bot, too old, too many, no command): decided before it
    /// is stored, so no crash can leave it pending and answered.
    pub fn record_mention_as(
        &self,
        m: &NewMention<'_>,
        ignored: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<MentionRecord>, StoreError> {
        let state = if ignored.is_some() {
            MentionState::Ignored
        } else {
            MentionState::Pending
        };
        self.write("record a mention", |tx| {
            let id: Option<i64> = tx
                .query_row(
                    "INSERT INTO mentions (notification_id, status_id, status_uri, acct, \
                     created_at, received_at, command, argument, state, reason, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?6) \
                     ON CONFLICT DO NOTHING RETURNING id",
                    params![
                        m.notification_id,
                        m.status_id,
                        m.status_uri,
                        m.acct.to_lowercase(),
                        Ts(m.created_at),
                        Ts(now),
                        m.command,
                        m.argument,
                        state,
                        ignored,
                    ],
                    |r| r.get(0),
                )
                .optional()?;
            id.map(|id| mention(tx, MentionId(id))).transpose()
        })
    }

    /// Mentions not yet settled (pending or replying), oldest first.
    pub fn open_mentions(&self) -> Result<Vec<MentionRecord>, StoreError> {
        self.read("read open mentions", |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {MENTION_COLUMNS} FROM mentions WHERE state IN ('pending', 'replying') \
                 ORDER BY created_at, id"
            ))?;
            let rows = stmt.query_map([], mention_from_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// One mention.
    pub fn mention(&self, id: MentionId) -> Result<MentionRecord, StoreError> {
        self.read("read a mention", |conn| mention(conn, id))
    }

    /// Settles a mention with no reply (unknown command, too old,
    /// rate-limited, a bot): state ignored, with the reason. Ignoring an
    /// ignored mention again keeps the first reason; one being replied to
    /// is refused.
    pub fn ignore_mention(
        &self,
        id: MentionId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write("record an ignored mention", |tx| {
            let m = mention(tx, id)?;
            match m.state {
                MentionState::Ignored => Ok(()),
                MentionState::Pending => {
                    tx.execute(
                        "UPDATE mentions SET state = ?2, reason = ?3, updated_at = ?4 WHERE id = ?1",
                        params![id.0, MentionState::Ignored, reason, Ts(now)],
                    )?;
                    Ok(())
                }
                state => Err(Problem::MentionState { mention: id, state }),
            }
        })
    }

    /// In one transaction: applies the command's effect on the sender's own
    /// account (see [`Effect`]; an opt-out erases the name, link and the
    /// words and links of every answer, as a profile opt-out does), stores
    /// the reply's posts (text, visibility) as pending, numbered from 1,
    /// and sets the mention `replying`. A mention already past pending is
    /// left alone: `Ok(false)`.
    pub fn plan_reply(
        &self,
        id: MentionId,
        effect: Effect,
        parts: &[(String, &str)],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.write("plan a reply to a mention", |tx| {
            let m = mention(tx, id)?;
            if m.state != MentionState::Pending {
                return Ok(false);
            }
            apply_effect(tx, &m.acct, effect, now)?;
            for (part, (text, visibility)) in (1u32..).zip(parts) {
                if !VISIBILITIES.contains(visibility) {
                    return Err(Problem::Invalid(format!(
                        "{visibility:?} is not a visibility"
                    )));
                }
                tx.execute(
                    "INSERT INTO replies (mention_id, part, text, visibility, state, created_at, \
                     updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                    params![id.0, part, text, visibility, StepState::Pending, Ts(now)],
                )?;
            }
            tx.execute(
                "UPDATE mentions SET state = ?2, updated_at = ?3 WHERE id = ?1",
                params![id.0, MentionState::Replying, Ts(now)],
            )?;
            Ok(true)
        })
    }

    /// The posts of the reply to a mention, by part.
    pub fn replies(&self, mention: MentionId) -> Result<Vec<ReplyRecord>, StoreError> {
        self.read("read a mention's replies", |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {REPLY_COLUMNS} FROM replies WHERE mention_id = ?1 ORDER BY part"
            ))?;
            let rows = stmt.query_map([mention.0], reply_from_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Records the intent to post a reply, committed before this returns:
    /// state `posting`, attempts + 1, and the idempotency key (drawn by the
    /// first attempt, reused by every retry), which it returns. From
    /// `posting` (a retry) only once the server has been looked at
    /// ([`crate::instance::Instance::own_replies_to`]): the last attempt
    /// may have gone out. A posted or failed reply is refused.
    pub fn begin_reply(&self, id: ReplyId, now: DateTime<Utc>) -> Result<String, StoreError> {
        self.write("record the start of a reply", |tx| {
            let reply = reply_in(tx, id, &[StepState::Pending, StepState::Posting])?;
            let key = reply
                .idempotency_key
                .unwrap_or_else(|| format!("{:032x}", rand::random::<u128>()));
            tx.execute(
                "UPDATE replies SET state = ?2, idempotency_key = ?3, attempts = attempts + 1, \
                 updated_at = ?4 WHERE id = ?1",
                params![id.0, StepState::Posting, key, Ts(now)],
            )?;
            Ok(key)
        })
    }

    /// Records the reply on the server as status `remote_id`. Again with
    /// the same id is harmless; with another it is a double post, refused.
    pub fn reply_posted(
        &self,
        id: ReplyId,
        remote_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write("record a reply posted", |tx| {
            let all = [StepState::Pending, StepState::Posting, StepState::Posted];
            let reply = reply_in(tx, id, &all)?;
            match (reply.state, reply.remote_id.as_deref()) {
                (StepState::Posted, Some(recorded)) if recorded == remote_id => return Ok(()),
                (StepState::Posted, Some(recorded)) => {
                    return Err(Problem::DoublePost {
                        step: format!(
                            "part {} of the reply to mention {}",
                            reply.part, reply.mention_id.0
                        ),
                        recorded: recorded.to_string(),
                        reported: remote_id.to_string(),
                    });
                }
                _ => {}
            }
            // Only an attempt begun can have put it on the server.
            reply_in(tx, id, &[StepState::Posting])?;
            tx.execute(
                "UPDATE replies SET state = ?2, remote_id = ?3, last_error = NULL, updated_at = ?4 \
                 WHERE id = ?1",
                params![id.0, StepState::Posted, remote_id, Ts(now)],
            )?;
            Ok(())
        })
    }

    /// Gives up on a reply post (from pending or posting — from posting
    /// only once the server has been seen not to have it), with the reason.
    pub fn reply_failed(
        &self,
        id: ReplyId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write("record a reply that failed", |tx| {
            reply_in(tx, id, &[StepState::Pending, StepState::Posting])?;
            tx.execute(
                "UPDATE replies SET state = ?2, last_error = ?3, updated_at = ?4 WHERE id = ?1",
                params![id.0, StepState::Failed, reason, Ts(now)],
            )?;
            Ok(())
        })
    }

    /// Sets a `replying` mention `replied` once every post of its reply is
    /// posted or failed; otherwise (posts still to go, or another state)
    /// leaves it as it is.
    pub fn settle_mention(&self, id: MentionId, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.write("record a mention answered", |tx| {
            let m = mention(tx, id)?;
            let open: i64 = tx.query_row(
                "SELECT count(*) FROM replies WHERE mention_id = ?1 \
                 AND state NOT IN ('posted', 'failed')",
                [id.0],
                |r| r.get(0),
            )?;
            if m.state == MentionState::Replying && open == 0 {
                tx.execute(
                    "UPDATE mentions SET state = ?2, updated_at = ?3 WHERE id = ?1",
                    params![id.0, MentionState::Replied, Ts(now)],
                )?;
            }
            Ok(())
        })
    }

    /// How many mentions from `acct` the bot received (first read) at or
    /// after `since`, whatever became of them — the one being decided
    /// included once recorded: for the per-account rate limit, which so
    /// holds across restarts.
    pub fn mentions_since(&self, acct: &str, since: DateTime<Utc>) -> Result<usize, StoreError> {
        self.read("count an account's mentions", |conn| {
            let n: i64 = conn.query_row(
                // Commands only: answers that mention the bot are no command.
                "SELECT count(*) FROM mentions WHERE acct = ?1 AND received_at >= ?2 \
                 AND command <> 'unknown'",
                params![acct.to_lowercase(), Ts(since)],
                |r| r.get(0),
            )?;
            Ok(usize::try_from(n).unwrap_or(0))
        })
    }

    /// A named cursor (e.g. "notifications"): the newest id read.
    pub fn cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.read("read a cursor", |conn| {
            Ok(conn
                .query_row("SELECT value FROM cursors WHERE name = ?1", [name], |r| {
                    r.get(0)
                })
                .optional()?)
        })
    }

    /// Moves a named cursor.
    pub fn set_cursor(
        &self,
        name: &str,
        value: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write("record a cursor", |tx| {
            tx.execute(
                "INSERT INTO cursors (name, value, updated_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value, \
                 updated_at = excluded.updated_at",
                params![name, value, Ts(now)],
            )?;
            Ok(())
        })
    }
}
