//! What the store holds, as the rest of chathost sees it.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::ToSql;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};

use crate::plan::StepKind;

/// The id of a chat in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChatId(pub i64);

/// The id of a step in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StepId(pub i64);

/// The id of a recorded mention in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MentionId(pub i64);

/// The id of one post of a reply in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplyId(pub i64);

/// Where a mention of the bot stands.
///
/// ```text
/// pending ──plan_reply──► replying ──settle_mention (every part posted or failed)──► replied
///    └──ignore_mention──► ignored
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MentionState {
    /// Recorded, not decided yet.
    Pending,
    /// Its reply is stored and being posted.
    Replying,
    /// Every part of its reply is settled (posted or failed).
    Replied,
    /// Settled with no reply, with the reason.
    Ignored,
}

/// Where a chat date stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatState {
    /// Not started yet.
    Planned,
    /// The host is posting its steps.
    Running,
    /// Every step has ended (posted, failed, skipped or cancelled).
    Done,
    /// The whole chat was not held (too late to catch up, or called off).
    Skipped,
}

/// Where a step stands; see the module documentation for the transitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    /// Planned, not tried yet.
    Pending,
    /// An attempt has started: the outcome is unknown until it is marked.
    Posting,
    /// On the server; the remote id is recorded.
    Posted,
    /// Given up, with the reason.
    Failed,
    /// Not posted because it was too late, with the reason.
    Skipped,
    /// Removed from the plan before it was posted.
    Cancelled,
}

/// The outcome of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The status was posted (or found on the server by a reconcile).
    Posted,
    /// It failed in a way worth retrying.
    Error,
    /// It failed and the host gave up on the step.
    Failed,
    /// No outcome was recorded: the process stopped during the attempt, or
    /// a later attempt or a skip replaced it.
    Unknown,
}

/// A chat date as the store knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatRecord {
    /// Its id.
    pub id: ChatId,
    /// The chat's name in `bot.toml` (`[chats.NAME]`).
    pub name: String,
    /// The local date of the chat.
    pub date: NaiveDate,
    /// Its start.
    pub start_utc: DateTime<Utc>,
    /// The instance its steps are posted to.
    pub instance_url: String,
    /// The account they are posted as.
    pub account: String,
    /// Where it stands.
    pub state: ChatState,
    /// The question file it was planned from, if known.
    pub questions_file: Option<String>,
    /// When the store first saw it.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When collection's final sweep finished.
    pub swept_at: Option<DateTime<Utc>>,
    /// Where the recap thread stands; `None` until it is composed.
    pub recap: Option<RecapState>,
    /// Why the thread was skipped, or what came of it.
    pub recap_note: Option<String>,
    /// When the archive folder was last written.
    pub archived_at: Option<DateTime<Utc>>,
    /// Why the archive could not be written (not tried again by the
    /// service; `chathost archive` can).
    pub archive_error: Option<String>,
}

/// Where a chat date's recap thread stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecapState {
    /// Its posts are steps, being posted.
    Composed,
    /// Every post of the thread is settled.
    Done,
    /// No thread (see the note).
    Skipped,
}

/// What [`Store::upsert_chat`] needs to know about a chat date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChat {
    /// The chat's name in `bot.toml`.
    pub name: String,
    /// The local date of the chat.
    pub date: NaiveDate,
    /// Its start.
    pub start_utc: DateTime<Utc>,
    /// The instance its steps will be posted to.
    pub instance_url: String,
    /// The account they will be posted as.
    pub account: String,
    /// The question file it is planned from, if there is one.
    pub questions_file: Option<String>,
}

/// A status on the server: what it said when the post went through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotePost {
    /// The status id on the bot's instance (opaque: never parse it).
    pub id: String,
    /// Its `uri`, the same on every instance.
    pub uri: String,
    /// Its web page, when the server gives one.
    pub url: Option<String>,
    /// Its `created_at`, by the server's clock.
    pub created_at: DateTime<Utc>,
}

/// A step as the store knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRecord {
    /// Its id.
    pub id: StepId,
    /// The chat date it belongs to.
    pub chat_id: ChatId,
    /// Stable within the chat ([`StepKind::key`]: `q3`, `welcome`…).
    pub key: String,
    /// What it is.
    pub kind: StepKind,
    /// When it is to be posted.
    pub planned_at: DateTime<Utc>,
    /// The text to post (as last planned while pending; as posted after).
    pub text: String,
    /// Where it stands.
    pub state: StepState,
    /// Sent with every attempt; set by the first.
    pub idempotency_key: Option<String>,
    /// How many attempts have started.
    pub attempts: u32,
    /// The status, once posted.
    pub remote: Option<RemotePost>,
    /// When it was marked posted, by our clock.
    pub posted_at: Option<DateTime<Utc>>,
    /// The latest attempt's error, if any.
    pub last_error: Option<String>,
    /// Why it was failed, skipped or cancelled.
    pub reason: Option<String>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// A `failed` step whose post may be on the server after all (the look
    /// for it failed): looked for again before the recap.
    pub outcome_unknown: bool,
}

/// The start of an attempt, as [`Store::begin_attempt`] recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The step being posted.
    pub step_id: StepId,
    /// 1 for the step's first attempt.
    pub number: u32,
    /// The `Idempotency-Key` header to send: the same on every attempt.
    pub idempotency_key: String,
}

/// One line of a step's attempt log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    /// 1 for the step's first attempt.
    pub number: u32,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When its outcome was recorded.
    pub finished_at: Option<DateTime<Utc>>,
    /// Its outcome; `None` while in flight, or if nothing came of it yet.
    pub outcome: Option<AttemptOutcome>,
    /// The error, when it failed.
    pub error: Option<String>,
    /// The HTTP status, when the server answered with an error.
    pub http_status: Option<u16>,
}

/// What [`Store::sync_steps`] changed, by step key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// New steps, now pending.
    pub added: Vec<String>,
    /// Pending steps whose text or instant changed.
    pub updated: Vec<String>,
    /// Cancelled steps planned again, back to pending.
    pub restored: Vec<String>,
    /// Pending steps no longer planned, now cancelled.
    pub cancelled: Vec<String>,
    /// Steps the new plan changes or drops but that are past pending
    /// (posting, posted, failed, skipped): left exactly as they were.
    pub locked: Vec<String>,
}

/// Gives an enum its stored word: `as_str` and `parse`, `Display` (the same
/// word, in messages) and the conversions to and from SQLite text.
macro_rules! text_enum {
    ($ty:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            /// The word stored in the database.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),+ }
            }

            /// The value for a stored word.
            pub fn parse(s: &str) -> Option<$ty> {
                match s { $($text => Some($ty::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ToSql for $ty {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $ty {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                let s = value.as_str()?;
                $ty::parse(s).ok_or_else(|| {
                    FromSqlError::Other(format!("unknown {} {s:?}", stringify!($ty)).into())
                })
            }
        }
    };
}

text_enum!(ChatState {
    Planned => "planned",
    Running => "running",
    Done => "done",
    Skipped => "skipped",
});

text_enum!(RecapState {
    Composed => "composed",
    Done => "done",
    Skipped => "skipped",
});

text_enum!(StepState {
    Pending => "pending",
    Posting => "posting",
    Posted => "posted",
    Failed => "failed",
    Skipped => "skipped",
    Cancelled => "cancelled",
});

text_enum!(AttemptOutcome {
    Posted => "posted",
    Error => "error",
    Failed => "failed",
    Unknown => "unknown",
});

text_enum!(MentionState {
    Pending => "pending",
    Replying => "replying",
    Replied => "replied",
    Ignored => "ignored",
});
