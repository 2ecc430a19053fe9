//! Collected answers, the accounts that made them, and how far each source
//! was read. One idempotent path in ([`Store::record_answers`]), keyed on
//! the chat date and the status `uri`: the same post read from the tag
//! timeline, a question's replies, the stream and another instance is one
//! row (a post carrying the hashtags of two chats held at once counts for
//! each).
//!
//! Rules, each kept in one transaction per batch:
//! - a deleted post stays a tombstone: nothing read later brings its text
//!   back (a stream can deliver an update after the delete);
//! - an edit replaces text, HTML and link when it is at least as new as
//!   what is stored; an older version never overwrites a newer one;
//! - consent is per account: an account that may not be quoted has its
//!   name and link, and the text, HTML and link of every answer it made
//!   (all chats), stored as NULL from the moment that is known; and it
//!   stays so (a stale copy of the profile read later does not undo it);
//! - an account's first chat is the chat of its earliest answer collected
//!   (collecting a past chat later moves it back), for first-timer counts.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};

use super::codec::Ts;
use super::error::Problem;
use super::participants::{FORGOTTEN, is_forgotten};
use super::records::ChatId;
use super::{Store, StoreError};

/// The id of an answer in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AnswerId(pub i64);

/// Favourites, boosts and replies of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Engagement {
    /// Favourites.
    pub favourites: u64,
    /// Boosts.
    pub reblogs: u64,
    /// Replies.
    pub replies: u64,
}

/// An account as read with a post.
#[derive(Debug, Clone, Copy)]
pub struct SeenAccount<'a> {
    /// `user@host`, lower-case.
    pub acct: &'a str,
    /// Display name (plain text).
    pub display_name: &'a str,
    /// Profile page.
    pub url: Option<&'a str>,
    /// Whether it may be quoted, named and linked.
    pub quotable: bool,
    /// Why not.
    pub why_not: Option<&'a str>,
}

/// A post as read, judged an answer.
#[derive(Debug, Clone, Copy)]
pub struct SeenAnswer<'a> {
    /// Global id.
    pub uri: &'a str,
    /// Its author.
    pub account: SeenAccount<'a>,
    /// Base URL of the instance it was read from.
    pub source: &'a str,
    /// Id on the bot's instance.
    pub remote_id: Option<&'a str>,
    /// Parent's id on the bot's instance.
    pub in_reply_to_id: Option<&'a str>,
    /// It carries the hashtag.
    pub via_tag: bool,
    /// It is in a question's replies.
    pub via_reply: bool,
    /// public | unlisted.
    pub visibility: &'a str,
    /// Language.
    pub language: Option<&'a str>,
    /// Made at.
    pub created_at: DateTime<Utc>,
    /// Last edit.
    pub edited_at: Option<DateTime<Utc>>,
    /// Plain text.
    pub text: &'a str,
    /// The server's HTML.
    pub html: &'a str,
    /// Web page.
    pub url: Option<&'a str>,
    /// Counts as read; `None` leaves the stored ones.
    pub engagement: Option<Engagement>,
}

/// What recording a post did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    /// A new answer.
    New,
    /// Its text, reasons or ids changed.
    Changed,
    /// Nothing that shows changed (engagement may have).
    Same,
}

/// An answer as stored, with its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerRecord {
    /// Its id.
    pub id: AnswerId,
    /// Its chat date.
    pub chat_id: ChatId,
    /// Global id.
    pub uri: String,
    /// Author's `user@host`.
    pub acct: String,
    /// Author's display name; `None` when not quotable.
    pub display_name: Option<String>,
    /// Author's profile page; likewise.
    pub account_url: Option<String>,
    /// Whether the author may be quoted.
    pub quotable: bool,
    /// The author's first chat date with an answer.
    pub first_chat_id: Option<ChatId>,
    /// Where it was first read.
    pub source: String,
    /// Id on the bot's instance.
    pub remote_id: Option<String>,
    /// Parent's id on the bot's instance.
    pub in_reply_to_id: Option<String>,
    /// The question it answers.
    pub question: Option<u32>,
    /// reply | prefix | time.
    pub method: Option<String>,
    /// It carries the hashtag.
    pub via_tag: bool,
    /// It is in a question's replies.
    pub via_reply: bool,
    /// public | unlisted.
    pub visibility: String,
    /// Language.
    pub language: Option<String>,
    /// Made at.
    pub created_at: DateTime<Utc>,
    /// Last edit.
    pub edited_at: Option<DateTime<Utc>>,
    /// Deleted at (a tombstone).
    pub deleted_at: Option<DateTime<Utc>>,
    /// Plain text; `None` when not quotable or deleted.
    pub text: Option<String>,
    /// The server's HTML; likewise.
    pub html: Option<String>,
    /// Web page; likewise.
    pub url: Option<String>,
    /// Engagement as last read.
    pub engagement: Engagement,
}

/// How far a source of a chat date was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRecord {
    /// tag | replies | status | stream | extra:<url>.
    pub source: String,
    /// Newest id read.
    pub cursor: Option<String>,
    /// Requests sent.
    pub requests: u64,
    /// Posts delivered.
    pub posts: u64,
    /// Last read.
    pub last_read_at: Option<DateTime<Utc>>,
}

pub(super) const ANSWER_COLUMNS: &str = "a.id, a.chat_id, a.uri, c.acct, c.display_name, c.url, c.quotable, \
     c.first_chat_id, a.source, a.remote_id, a.in_reply_to_id, a.question, a.method, a.via_tag, \
     a.via_reply, a.visibility, a.language, a.created_at, a.edited_at, a.deleted_at, a.text, \
     a.html, a.url, a.favourites, a.reblogs, a.replies";

pub(super) fn answer_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<AnswerRecord> {
    let count = |i| row.get::<_, i64>(i).map(|n| u64::try_from(n).unwrap_or(0));
    Ok(AnswerRecord {
        id: AnswerId(row.get(0)?),
        chat_id: ChatId(row.get(1)?),
        uri: row.get(2)?,
        acct: row.get(3)?,
        display_name: row.get(4)?,
        account_url: row.get(5)?,
        quotable: row.get(6)?,
        first_chat_id: row.get::<_, Option<i64>>(7)?.map(ChatId),
        source: row.get(8)?,
        remote_id: row.get(9)?,
        in_reply_to_id: row.get(10)?,
        question: row.get(11)?,
        method: row.get(12)?,
        via_tag: row.get(13)?,
        via_reply: row.get(14)?,
        visibility: row.get(15)?,
        language: row.get(16)?,
        created_at: row.get::<_, Ts>(17)?.0,
        edited_at: row.get::<_, Option<Ts>>(18)?.map(|t| t.0),
        deleted_at: row.get::<_, Option<Ts>>(19)?.map(|t| t.0),
        text: row.get(20)?,
        html: row.get(21)?,
        url: row.get(22)?,
        engagement: Engagement {
            favourites: count(23)?,
            reblogs: count(24)?,
            replies: count(25)?,
        },
    })
}

/// SQLite integers are i64: counts beyond that are clamped, never wrapped.
fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// `NoSuchChat` unless the chat date is stored.
fn require_chat(tx: &Transaction<'_>, chat: ChatId) -> Result<(), Problem> {
    let known: Option<i64> = tx
        .query_row("SELECT id FROM chats WHERE id = ?1", params![chat.0], |r| {
            r.get(0)
        })
        .optional()?;
    known.map(|_| ()).ok_or(Problem::NoSuchChat(chat))
}

impl Store {
    /// Records a batch of posts of chat date `chat` in one transaction (a
    /// page of 40 is one fsync). One outcome per post, in order.
    pub fn record_answers(
        &self,
        chat: ChatId,
        batch: &[SeenAnswer<'_>],
        now: DateTime<Utc>,
    ) -> Result<Vec<Upserted>, StoreError> {
        self.write("record collected answers", |tx| {
            require_chat(tx, chat)?;
            batch
                .iter()
                .map(|a| {
                    // Erased on request: counted, never named or quoted again.
                    let seen = if is_forgotten(tx, a.account.acct)? {
                        SeenAccount {
                            quotable: false,
                            why_not: Some(FORGOTTEN),
                            ..a.account
                        }
                    } else {
                        a.account
                    };
                    let (account, quotable) = upsert_account(tx, &seen, chat, a.created_at, now)?;
                    let outcome = upsert_answer(tx, chat, (account, quotable), a, now)?;
                    if !quotable {
                        forget_words(tx, account)?;
                    }
                    Ok(outcome)
                })
                .collect()
        })
    }

    /// Tombstones the post whose id on the bot's instance is `remote_id`:
    /// its text, HTML and link go. False when no answer has that id (or it
    /// was already deleted).
    pub fn record_deleted(&self, remote_id: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        self.tombstone("remote_id = ?2", params![Ts(now), remote_id])
    }

    /// The same, by uri (a post only seen on another instance).
    pub fn record_deleted_uri(&self, uri: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        self.tombstone("uri = ?2", params![Ts(now), uri])
    }

    /// The same, for the chat date `chat`'s row only.
    pub fn record_deleted_in(
        &self,
        chat: ChatId,
        uri: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.tombstone("chat_id = ?3 AND uri = ?2", params![Ts(now), uri, chat.0])
    }

    /// Tombstones the live answers `which` selects (`?1` is now).
    fn tombstone(&self, which: &str, args: &[&dyn rusqlite::ToSql]) -> Result<bool, StoreError> {
        self.write("record a deleted answer", |tx| {
            let sql = format!(
                "UPDATE answers SET deleted_at = ?1, text = NULL, html = NULL, url = NULL, \
                 updated_at = ?1 WHERE {which} AND deleted_at IS NULL"
            );
            Ok(tx.execute(&sql, args)? > 0)
        })
    }

    /// Stores which question each answer answers, and how that is known.
    pub fn set_attributions(
        &self,
        list: &[(AnswerId, Option<u32>, Option<&str>)],
    ) -> Result<(), StoreError> {
        self.write("record which question answers answer", |tx| {
            let mut stmt =
                tx.prepare_cached("UPDATE answers SET question = ?2, method = ?3 WHERE id = ?1")?;
            for (id, question, method) in list {
                if stmt.execute(params![id.0, question, method])? == 0 {
                    // The whole list or nothing: the transaction rolls back.
                    return Err(Problem::NoSuchAnswer(*id));
                }
            }
            Ok(())
        })
    }

    /// Every answer of the chat date, deleted ones included, in time order.
    pub fn answers(&self, chat: ChatId) -> Result<Vec<AnswerRecord>, StoreError> {
        self.read("read collected answers", |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {ANSWER_COLUMNS} FROM answers a JOIN accounts c ON c.id = a.account_id \
                 WHERE a.chat_id = ?1 ORDER BY a.created_at, a.id"
            ))?;
            let rows = stmt.query_map(params![chat.0], answer_from_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// How far `source` of the chat date was read.
    pub fn source(&self, chat: ChatId, source: &str) -> Result<Option<SourceRecord>, StoreError> {
        self.read("read a collection source", |conn| {
            Ok(conn
                .query_row(
                    "SELECT source, cursor, requests, posts, last_read_at FROM sources \
                     WHERE chat_id = ?1 AND source = ?2",
                    params![chat.0, source],
                    source_from_row,
                )
                .optional()?)
        })
    }

    /// Every source of the chat date.
    pub fn sources(&self, chat: ChatId) -> Result<Vec<SourceRecord>, StoreError> {
        self.read("read collection sources", |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT source, cursor, requests, posts, last_read_at FROM sources \
                 WHERE chat_id = ?1 ORDER BY source",
            )?;
            let rows = stmt.query_map(params![chat.0], source_from_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Adds to a source's counters; moves its cursor when one is given.
    pub fn note_source(
        &self,
        chat: ChatId,
        source: &str,
        cursor: Option<&str>,
        requests: u64,
        posts: u64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write("record a collection source", |tx| {
            require_chat(tx, chat)?;
            tx.execute(
                "INSERT INTO sources (chat_id, source, cursor, requests, posts, last_read_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                 ON CONFLICT (chat_id, source) DO UPDATE SET \
                 cursor = coalesce(excluded.cursor, cursor), \
                 requests = requests + excluded.requests, posts = posts + excluded.posts, \
                 last_read_at = excluded.last_read_at",
                params![
                    chat.0,
                    source,
                    cursor,
                    count(requests),
                    count(posts),
                    Ts(now)
                ],
            )?;
            Ok(())
        })
    }

    /// Records the chat date's final sweep as done.
    pub fn mark_swept(&self, chat: ChatId, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.write("record the final sweep", |tx| {
            let changed = tx.execute(
                "UPDATE chats SET swept_at = ?2, updated_at = ?2 WHERE id = ?1",
                params![chat.0, Ts(now)],
            )?;
            if changed == 0 {
                return Err(Problem::NoSuchChat(chat));
            }
            Ok(())
        })
    }
}

fn source_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<SourceRecord> {
    Ok(SourceRecord {
        source: row.get(0)?,
        cursor: row.get(1)?,
        requests: u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
        posts: u64::try_from(row.get::<_, i64>(3)?).unwrap_or(0),
        last_read_at: row.get::<_, Option<Ts>>(4)?.map(|t| t.0),
    })
}

/// The account's row id, created or brought up to date.
/// An opt-out sticks: a server may still hold an older copy of the profile
/// (Mastodon refreshes remote ones lazily), and an opt-out must not flicker
/// with whichever copy was read last. Only the participant's own `optin`
/// undoes it. Returns the id and whether it may be quoted.
fn upsert_account(
    tx: &Transaction<'_>,
    a: &SeenAccount<'_>,
    chat: ChatId,
    answered_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(i64, bool), Problem> {
    let (name, url) = if a.quotable {
        (Some(a.display_name), a.url)
    } else {
        (None, None)
    };
    let row = tx.query_row(
        "INSERT INTO accounts (acct, display_name, url, quotable, why_not, first_seen_at, \
         first_chat_id, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         ON CONFLICT (acct) DO UPDATE SET \
         display_name = CASE WHEN quotable THEN excluded.display_name END, \
         url = CASE WHEN quotable THEN excluded.url END, \
         why_not = CASE WHEN quotable THEN excluded.why_not ELSE why_not END, \
         quotable = quotable AND excluded.quotable, \
         first_chat_id = CASE WHEN excluded.first_seen_at < first_seen_at \
             THEN excluded.first_chat_id ELSE first_chat_id END, \
         first_seen_at = min(first_seen_at, excluded.first_seen_at), \
         updated_at = excluded.updated_at \
         RETURNING id, quotable",
        params![
            a.acct,
            name,
            url,
            a.quotable,
            a.why_not,
            Ts(answered_at),
            chat.0,
            Ts(now)
        ],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(row)
}

/// An account that may not be quoted: the words and links of every answer
/// it made, in every chat, go.
pub(super) fn forget_words(tx: &Transaction<'_>, account: i64) -> Result<(), Problem> {
    tx.execute(
        "UPDATE answers SET text = NULL, html = NULL, url = NULL \
         WHERE account_id = ?1 AND (text IS NOT NULL OR html IS NOT NULL OR url IS NOT NULL)",
        params![account],
    )?;
    Ok(())
}

/// What is stored of an answer, for comparing with a new read.
struct Stored {
    id: i64,
    deleted: bool,
    version: DateTime<Utc>,
    text: Option<String>,
    html: Option<String>,
    url: Option<String>,
    remote_id: Option<String>,
    in_reply_to_id: Option<String>,
    via_tag: bool,
    via_reply: bool,
}

/// What is stored of the answer `uri`, if anything.
fn stored_answer(tx: &Transaction<'_>, chat: ChatId, uri: &str) -> Result<Option<Stored>, Problem> {
    Ok(tx
        .query_row(
            "SELECT id, deleted_at IS NOT NULL, coalesce(edited_at, created_at), text, html, url, \
             remote_id, in_reply_to_id, via_tag, via_reply FROM answers \
             WHERE chat_id = ?1 AND uri = ?2",
            params![chat.0, uri],
            |r| {
                Ok(Stored {
                    id: r.get(0)?,
                    deleted: r.get(1)?,
                    version: r.get::<_, Ts>(2)?.0,
                    text: r.get(3)?,
                    html: r.get(4)?,
                    url: r.get(5)?,
                    remote_id: r.get(6)?,
                    in_reply_to_id: r.get(7)?,
                    via_tag: r.get(8)?,
                    via_reply: r.get(9)?,
                })
            },
        )
        .optional()?)
}

fn upsert_answer(
    tx: &Transaction<'_>,
    chat: ChatId,
    (account, q): (i64, bool),
    a: &SeenAnswer<'_>,
    now: DateTime<Utc>,
) -> Result<Upserted, Problem> {
    let (text, html, url) = if q {
        (Some(a.text), Some(a.html), a.url)
    } else {
        (None, None, None)
    };
    let stored = stored_answer(tx, chat, a.uri)?;
    let Some(s) = stored else {
        insert_answer(tx, chat, account, a, (text, html, url), now)?;
        return Ok(Upserted::New);
    };
    if s.deleted {
        // A tombstone stays one.
        return Ok(Upserted::Same);
    }
    if let Some(e) = a.engagement {
        // Counts alone are no change a reader shows.
        tx.execute(
            "UPDATE answers SET favourites = ?2, reblogs = ?3, replies = ?4 WHERE id = ?1",
            params![
                s.id,
                count(e.favourites),
                count(e.reblogs),
                count(e.replies)
            ],
        )?;
    }
    let version = a.edited_at.unwrap_or(a.created_at);
    let newer_text = version >= s.version
        && (s.text.as_deref() != text || s.html.as_deref() != html || s.url.as_deref() != url);
    let more = (a.via_tag && !s.via_tag)
        || (a.via_reply && !s.via_reply)
        || (s.remote_id.is_none() && a.remote_id.is_some())
        || (s.in_reply_to_id.is_none() && a.in_reply_to_id.is_some());
    if !newer_text && !more {
        return Ok(Upserted::Same);
    }
    if newer_text {
        tx.execute(
            "UPDATE answers SET text = ?2, html = ?3, url = ?4, edited_at = ?5, account_id = ?6, \
             language = coalesce(?7, language) WHERE id = ?1",
            params![
                s.id,
                text,
                html,
                url,
                a.edited_at.map(Ts),
                account,
                a.language
            ],
        )?;
    }
    tx.execute(
        "UPDATE answers SET via_tag = via_tag OR ?2, via_reply = via_reply OR ?3, \
         remote_id = coalesce(remote_id, ?4), in_reply_to_id = coalesce(in_reply_to_id, ?5), \
         updated_at = ?6 WHERE id = ?1",
        params![
            s.id,
            a.via_tag,
            a.via_reply,
            a.remote_id,
            a.in_reply_to_id,
            Ts(now)
        ],
    )?;
    Ok(Upserted::Changed)
}

/// A new answer's row.
fn insert_answer(
    tx: &Transaction<'_>,
    chat: ChatId,
    account: i64,
    a: &SeenAnswer<'_>,
    (text, html, url): (Option<&str>, Option<&str>, Option<&str>),
    now: DateTime<Utc>,
) -> Result<(), Problem> {
    let e = a.engagement.unwrap_or_default();
    tx.execute(
        "INSERT INTO answers (chat_id, uri, account_id, source, remote_id, in_reply_to_id, \
         via_tag, via_reply, visibility, language, created_at, edited_at, text, html, url, \
         favourites, reblogs, replies, collected_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
         ?18, ?19, ?19)",
        params![
            chat.0,
            a.uri,
            account,
            a.source,
            a.remote_id,
            a.in_reply_to_id,
            a.via_tag,
            a.via_reply,
            a.visibility,
            a.language,
            Ts(a.created_at),
            a.edited_at.map(Ts),
            text,
            html,
            url,
            count(e.favourites),
            count(e.reblogs),
            count(e.replies),
            Ts(now),
        ],
    )?;
    Ok(())
}
