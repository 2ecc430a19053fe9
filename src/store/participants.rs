//! One participant's data: what the store holds about an account (for
//! `chathost participant` and the `record` command), and erasing it on
//! request, for good (the `forgotten` list keeps later collection from
//! storing the account's name, words or links again).

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{OptionalExtension, Transaction, params};

use super::answers::{ANSWER_COLUMNS, AnswerRecord, answer_from_row};
use super::codec::{Day, Ts};
use super::error::Problem;
use super::{Store, StoreError};

/// Everything stored about one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantData {
    /// `user@host`, lower-case.
    pub acct: String,
    /// Display name; `None` when not quotable.
    pub display_name: Option<String>,
    /// Whether it may be quoted, named and linked.
    pub quotable: bool,
    /// Why not.
    pub why_not: Option<String>,
    /// When it asked the bot `optout`, unless undone.
    pub opted_out_at: Option<DateTime<Utc>>,
    /// The chat dates it answered in, newest first.
    pub chats: Vec<ParticipantChat>,
}

/// One chat date a participant answered in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantChat {
    /// The chat's name in `bot.toml`.
    pub chat: String,
    /// Its local date.
    pub date: NaiveDate,
    /// Its start.
    pub start_utc: DateTime<Utc>,
    /// The participant's answers in it that are not deleted, in time order.
    pub answers: Vec<AnswerRecord>,
}

/// What [`Store::forget`] erased.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Forgotten {
    /// Answers deleted (tombstones included).
    pub answers: usize,
    /// Mentions of the bot deleted, with the bot's replies to them.
    pub mentions: usize,
}

/// Whether `acct` was erased on request: its posts are counted only.
pub(super) fn is_forgotten(tx: &Transaction<'_>, acct: &str) -> Result<bool, Problem> {
    Ok(tx
        .query_row(
            "SELECT 1 FROM forgotten WHERE acct = ?1",
            [acct],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Why a forgotten account is not quotable.
pub(super) const FORGOTTEN: &str = "erased on request";

impl Store {
    /// Everything stored about one account: its row (consent, opt-out) and
    /// every answer not deleted, grouped by chat date, newest date first.
    /// `None` when the store holds no row for it.
    pub fn participant(&self, acct: &str) -> Result<Option<ParticipantData>, StoreError> {
        let acct = acct.to_lowercase();
        self.read("read a participant's data", |conn| {
            let row = conn
                .query_row(
                    "SELECT id, acct, display_name, quotable, why_not, opted_out_at \
                     FROM accounts WHERE acct = ?1",
                    [&acct],
                    |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            ParticipantData {
                                acct: r.get(1)?,
                                display_name: r.get(2)?,
                                quotable: r.get(3)?,
                                why_not: r.get(4)?,
                                opted_out_at: r.get::<_, Option<Ts>>(5)?.map(|t| t.0),
                                chats: Vec::new(),
                            },
                        ))
                    },
                )
                .optional()?;
            let Some((account, mut data)) = row else {
                return Ok(None);
            };
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {ANSWER_COLUMNS}, ch.name, ch.local_date, ch.start_utc \
                 FROM answers a JOIN accounts c ON c.id = a.account_id \
                 JOIN chats ch ON ch.id = a.chat_id \
                 WHERE a.account_id = ?1 AND a.deleted_at IS NULL \
                 ORDER BY ch.start_utc DESC, ch.id, a.created_at, a.id"
            ))?;
            let n = ANSWER_COLUMNS.split(',').count();
            let rows = stmt.query_map([account], |r| {
                Ok((
                    answer_from_row(r)?,
                    r.get::<_, String>(n)?,
                    r.get::<_, Day>(n + 1)?.0,
                    r.get::<_, Ts>(n + 2)?.0,
                ))
            })?;
            for row in rows {
                let (answer, chat, date, start_utc) = row?;
                match data.chats.last_mut() {
                    Some(last) if last.chat == chat && last.date == date => {
                        last.answers.push(answer)
                    }
                    _ => data.chats.push(ParticipantChat {
                        chat,
                        date,
                        start_utc,
                        answers: vec![answer],
                    }),
                }
            }
            Ok(Some(data))
        })
    }

    /// Erases an account (a data-protection request), in one transaction:
    /// its answers, its mentions of the bot and the bot's replies to them,
    /// and its row are deleted, and the acct is added to the `forgotten`
    /// list so that posts collected later are stored counted-only (no
    /// name, text or link). Recap and archive texts already composed are
    /// not touched here. Returns what was erased.
    pub fn forget(&self, acct: &str, now: DateTime<Utc>) -> Result<Forgotten, StoreError> {
        let acct = acct.to_lowercase();
        self.write("erase a participant", |tx| {
            let answers = tx.execute(
                "DELETE FROM answers WHERE account_id IN (SELECT id FROM accounts WHERE acct = ?1)",
                [&acct],
            )?;
            // Replies go with their mentions (ON DELETE CASCADE).
            let mentions = tx.execute("DELETE FROM mentions WHERE acct = ?1", [&acct])?;
            tx.execute("DELETE FROM accounts WHERE acct = ?1", [&acct])?;
            tx.execute(
                "INSERT INTO forgotten (acct, forgotten_at) VALUES (?1, ?2) \
                 ON CONFLICT (acct) DO UPDATE SET forgotten_at = excluded.forgotten_at",
                params![acct, Ts(now)],
            )?;
            Ok(Forgotten { answers, mentions })
        })
    }
}
