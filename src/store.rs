//! The store: chathost's memory in one SQLite file under the state folder.
//! It holds each chat date, its steps (the posts the plan asks for) and a
//! log of every attempt to post them, so the host posts every step exactly
//! once across crashes, `kill -9`, restarts, timeouts and server errors.
//!
//! # Exactly once: why steps have states
//!
//! A step moves through these states:
//!
//! ```text
//! pending ──begin_attempt──► posting ──mark_posted──► posted
//!    │                        │  ▲
//!    │                        └──┘ record_attempt_error, begin_attempt (a retry)
//!    ├──mark_failed (also from posting) ────────────► failed    (gave up, with the reason)
//!    ├──mark_skipped (also from posting) ───────────► skipped   (too late, with the reason)
//!    └──sync_steps (no longer planned) ─────────────► cancelled (pending again if re-planned)
//! ```
//!
//! `posted`, `failed` and `skipped` are final. From `posting`, skip or fail
//! a step only once a reconcile has shown that it is not on the server.
//!
//! The host follows "durable before visible": [`Store::begin_attempt`]
//! commits the intent — state `posting` and the step's idempotency key —
//! *before* the POST is sent, and [`Store::mark_posted`] records the remote
//! id *after* the server answers. A crash between the two leaves the step
//! `posting`: the store cannot know whether the status went out, so the
//! host must look at the server's record of the bot's own recent statuses
//! (reconcile) before it tries again. That is why the key is stored before
//! the POST and reused by every retry: for about an hour Mastodon answers a
//! repeated POST with the same `Idempotency-Key` with the status it already
//! made instead of a new one; where a server ignores the header
//! (GoToSocial), or after that hour, the reconcile is what prevents a
//! double post. [`Store::unfinished_steps`] lists the steps to reconcile at startup.
//! Only `pending` steps are ever changed by a re-plan, so a host editing a
//! question file can never change or repost what has gone out.
//!
//! # Storage
//!
//! - Instants are stored as UTC RFC 3339 text to the millisecond
//!   (`2026-12-02T20:00:00.000Z`): readable in the `sqlite3` shell and sorted
//!   in time order as text. Finer parts of a second are dropped.
//! - The file is opened with `journal_mode=WAL`, `synchronous=FULL` (a
//!   commit survives a power cut, not only a crash) and `foreign_keys=ON`;
//!   every change is one transaction, committed before the call returns.
//! - A file store is opened with `locking_mode=EXCLUSIVE` and its write
//!   lock taken at once: while one chathost holds the state folder, a second
//!   one is refused at start instead of posting the same chat again.
//! - The schema is an ordered list of SQL scripts, [`MIGRATIONS`] (files in
//!   `src/store/migrations/`, each table and column commented); the number
//!   applied is kept in `PRAGMA user_version`. A new table (answers,
//!   participants, opt-outs) is a new script at the end of the list; a
//!   script that has shipped is never edited.
//! - Calls take a lock and do a short transaction (one fsync): fine to call
//!   from async code at the pace of a chat; bulk work should go through
//!   `tokio::task::spawn_blocking`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{
    Connection, ErrorCode, OpenFlags, OptionalExtension, Row, ToSql, Transaction,
    TransactionBehavior, params,
};

use crate::plan::{Step, StepKind};

/// The schema, one SQL script per version, applied in order. Version N of
/// the database has the first N applied.
pub const MIGRATIONS: &[&str] = &[include_str!(
    "store/migrations/001_chats_steps_attempts.sql"
)];

/// `PRAGMA application_id` of a chathost database ("chat" in ASCII).
const APPLICATION_ID: i64 = 0x6368_6174;

/// How long a call waits for another process's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A handle on the database; cheap to clone and share between tasks.
#[derive(Debug, Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    path: Arc<PathBuf>,
}

/// The id of a chat in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChatId(pub i64);

/// The id of a step in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StepId(pub i64);

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

/// A failed store call: what it was doing, what went wrong, and the file.
#[derive(Debug)]
pub struct StoreError {
    /// The database file (`:memory:` for an in-memory store).
    pub path: PathBuf,
    /// What the call was doing ("mark a step posted").
    pub doing: &'static str,
    /// What went wrong.
    pub problem: Problem,
}

/// What went wrong in a store call.
#[derive(Debug)]
pub enum Problem {
    /// The folder that should hold the database is missing (or is a file).
    FolderMissing {
        /// The folder.
        folder: PathBuf,
    },
    /// SQLite could not open, create or write the file.
    CannotOpen(rusqlite::Error),
    /// The file is not a SQLite database, or is one of another program.
    NotChathost,
    /// The database was written by a newer chathost.
    TooNew {
        /// Its schema version.
        found: i64,
        /// The newest version this chathost knows.
        known: i64,
    },
    /// Another process held the database past the busy timeout.
    Busy,
    /// Any other SQLite failure.
    Sqlite(rusqlite::Error),
    /// A stored value could not be read back.
    Corrupt(String),
    /// SQLite finds the file damaged (`PRAGMA quick_check`, or "database
    /// disk image is malformed" on the way).
    Damaged(String),
    /// No chat with this id.
    NoSuchChat(ChatId),
    /// No step with this id.
    NoSuchStep(StepId),
    /// Two steps of one plan have the same key.
    DuplicateKey(String),
    /// The step is not in a state that allows the change.
    WrongState {
        /// The step, for people ("q3 of wenurses on 2026-12-02").
        step: String,
        /// Its state.
        state: StepState,
    },
    /// The step is already posted as another status: a double post.
    DoublePost {
        /// The step, for people.
        step: String,
        /// The status id recorded.
        recorded: String,
        /// The other status id now reported.
        reported: String,
    },
    /// The status is already recorded as another step's post.
    PostClaimed {
        /// The step being marked.
        step: String,
        /// The status uri.
        uri: String,
        /// The step that already has it.
        other: String,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "state database {}: could not {}: {}",
            self.path.display(),
            self.doing,
            self.problem
        )
    }
}

impl StoreError {
    /// Whether the file itself is damaged: nothing more should be posted
    /// from it (retrying cannot help, and its record can no longer be
    /// trusted to keep posts exactly once).
    pub fn is_damaged(&self) -> bool {
        matches!(self.problem, Problem::Damaged(_) | Problem::Corrupt(_))
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.problem {
            Problem::CannotOpen(e) | Problem::Sqlite(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::FolderMissing { folder } => write!(
                f,
                "the folder {} does not exist or is not a folder; create it, or set [state] dir in bot.toml",
                folder.display()
            ),
            Problem::CannotOpen(e) => write!(
                f,
                "{e}; check that chathost may create and write files in its folder"
            ),
            Problem::NotChathost => f.write_str(
                "the file is not a chathost database; move it away, or set [state] dir to another folder",
            ),
            Problem::TooNew { found, known } => write!(
                f,
                "it was written by a newer chathost (schema version {found}; this one knows up to {known}); run the newer chathost, or restore a backup made before the upgrade"
            ),
            Problem::Busy => f.write_str(
                "another process kept it locked; is a second chathost running with the same state folder?",
            ),
            Problem::Sqlite(e) => write!(f, "{e}"),
            Problem::Corrupt(what) => write!(f, "a stored value cannot be read ({what})"),
            Problem::Damaged(what) => write!(
                f,
                "the file is damaged ({what}); chathost will not host from it, because it could no longer tell what was already posted. Restore the latest backup of this file, or move it aside (e.g. add .damaged to its name) to start afresh, then check the account's recent posts before the next chat"
            ),
            Problem::NoSuchChat(id) => write!(f, "there is no chat with id {}", id.0),
            Problem::NoSuchStep(id) => write!(f, "there is no step with id {}", id.0),
            Problem::DuplicateKey(key) => {
                write!(f, "the plan has two steps with the key {key}")
            }
            Problem::WrongState { step, state } => {
                write!(f, "step {step} is {state}")
            }
            Problem::DoublePost {
                step,
                recorded,
                reported,
            } => write!(
                f,
                "step {step} is already posted as status {recorded}, and is now reported posted as status {reported}: that is a double post; delete one of them on the server"
            ),
            Problem::PostClaimed { step, uri, other } => write!(
                f,
                "status {uri} was reported for step {step} but is already recorded as step {other}"
            ),
        }
    }
}

impl From<rusqlite::Error> for Problem {
    fn from(e: rusqlite::Error) -> Problem {
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Problem::Busy,
            Some(ErrorCode::NotADatabase) => Problem::NotChathost,
            Some(ErrorCode::DatabaseCorrupt) => Problem::Damaged(e.to_string()),
            // A file or folder chathost may not write reads as "read only".
            Some(ErrorCode::CannotOpen | ErrorCode::ReadOnly | ErrorCode::PermissionDenied) => {
                Problem::CannotOpen(e)
            }
            _ => match e {
                rusqlite::Error::FromSqlConversionFailure(column, _, inner) => {
                    Problem::Corrupt(format!("column {column}: {inner}"))
                }
                e => Problem::Sqlite(e),
            },
        }
    }
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

/// An instant as stored: UTC RFC 3339 text to the millisecond.
struct Ts(DateTime<Utc>);

impl ToSql for Ts {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(
            self.0.to_rfc3339_opts(SecondsFormat::Millis, true),
        ))
    }
}

impl FromSql for Ts {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let s = value.as_str()?;
        DateTime::parse_from_rfc3339(s)
            .map(|t| Ts(t.with_timezone(&Utc)))
            .map_err(|e| FromSqlError::Other(format!("instant {s:?}: {e}").into()))
    }
}

/// A local date as stored: `YYYY-MM-DD`.
struct Day(NaiveDate);

impl ToSql for Day {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.0.format("%Y-%m-%d").to_string()))
    }
}

impl FromSql for Day {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let s = value.as_str()?;
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Day)
            .map_err(|e| FromSqlError::Other(format!("date {s:?}: {e}").into()))
    }
}

/// The stored form of a step kind: a word, and a number for the kinds that
/// have one.
fn kind_parts(kind: &StepKind) -> (&'static str, Option<i64>) {
    match *kind {
        StepKind::Reminder { lead_minutes } => ("reminder", Some(i64::from(lead_minutes))),
        StepKind::Welcome => ("welcome", None),
        StepKind::Question { number } => ("question", i64::try_from(number).ok()),
        StepKind::LastCall => ("last_call", None),
        StepKind::WrapUp => ("wrap_up", None),
    }
}

/// The step kind for its stored form.
fn kind_from_parts(word: &str, number: Option<i64>) -> Option<StepKind> {
    Some(match (word, number) {
        ("reminder", Some(n)) => StepKind::Reminder {
            lead_minutes: u32::try_from(n).ok()?,
        },
        ("welcome", None) => StepKind::Welcome,
        ("question", Some(n)) => StepKind::Question {
            number: usize::try_from(n).ok()?,
        },
        ("last_call", None) => StepKind::LastCall,
        ("wrap_up", None) => StepKind::WrapUp,
        _ => return None,
    })
}

/// A row error for a value that is stored but cannot be turned back into
/// its Rust type.
fn corrupt(column: usize, what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, what.into())
}

const CHAT_COLUMNS: &str = "id, name, local_date, start_utc, instance_url, account, state, \
     questions_file, created_at, updated_at";

fn chat_from_row(row: &Row<'_>) -> rusqlite::Result<ChatRecord> {
    Ok(ChatRecord {
        id: ChatId(row.get(0)?),
        name: row.get(1)?,
        date: row.get::<_, Day>(2)?.0,
        start_utc: row.get::<_, Ts>(3)?.0,
        instance_url: row.get(4)?,
        account: row.get(5)?,
        state: row.get(6)?,
        questions_file: row.get(7)?,
        created_at: row.get::<_, Ts>(8)?.0,
        updated_at: row.get::<_, Ts>(9)?.0,
    })
}

const STEP_COLUMNS: &str = "id, chat_id, key, kind, kind_number, planned_at, text, state, \
     idempotency_key, attempts, remote_id, remote_uri, remote_url, remote_created_at, \
     posted_at, last_error, reason, updated_at";

fn step_from_row(row: &Row<'_>) -> rusqlite::Result<StepRecord> {
    let word: String = row.get(3)?;
    let number: Option<i64> = row.get(4)?;
    let kind = kind_from_parts(&word, number)
        .ok_or_else(|| corrupt(3, format!("unknown step kind {word:?} {number:?}")))?;
    let remote = match (row.get::<_, Option<String>>(10)?, row.get(11)?) {
        (Some(id), Some(uri)) => Some(RemotePost {
            id,
            uri,
            url: row.get(12)?,
            created_at: row
                .get::<_, Option<Ts>>(13)?
                .ok_or_else(|| corrupt(13, "a posted step without created_at".into()))?
                .0,
        }),
        _ => None,
    };
    Ok(StepRecord {
        id: StepId(row.get(0)?),
        chat_id: ChatId(row.get(1)?),
        key: row.get(2)?,
        kind,
        planned_at: row.get::<_, Ts>(5)?.0,
        text: row.get(6)?,
        state: row.get(7)?,
        idempotency_key: row.get(8)?,
        attempts: row.get(9)?,
        remote,
        posted_at: row.get::<_, Option<Ts>>(14)?.map(|t| t.0),
        last_error: row.get(15)?,
        reason: row.get(16)?,
        updated_at: row.get::<_, Ts>(17)?.0,
    })
}

/// A step with the chat it belongs to named, for messages.
struct Located {
    step: StepRecord,
    label: String,
}

/// Reads a step and names it "q3 of wenurses on 2026-12-02".
fn locate(conn: &Connection, id: StepId) -> Result<Located, Problem> {
    let sql = format!(
        "SELECT {STEP_COLUMNS}, (SELECT name || ' on ' || local_date FROM chats WHERE chats.id = steps.chat_id) \
         FROM steps WHERE id = ?1"
    );
    conn.query_row(&sql, [id.0], |row| {
        let step = step_from_row(row)?;
        let chat: String = row.get(18)?;
        Ok(Located {
            label: format!("{} of {chat}", step.key),
            step,
        })
    })
    .optional()?
    .ok_or(Problem::NoSuchStep(id))
}

/// Refuses a change unless the step is in one of `allowed`.
fn require(located: &Located, allowed: &[StepState]) -> Result<(), Problem> {
    if allowed.contains(&located.step.state) {
        Ok(())
    } else {
        Err(Problem::WrongState {
            step: located.label.clone(),
            state: located.step.state,
        })
    }
}

/// Closes the step's attempt still in flight, if there is one.
fn close_open_attempt(
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
    /// Opens the database at `path`, creating the file (not its folder) and
    /// bringing its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        let fail = |problem| StoreError {
            path: path.clone(),
            doing: "open it",
            problem,
        };
        // SQLite would only say "unable to open database file".
        let folder = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if !folder.is_dir() {
            return Err(fail(Problem::FolderMissing {
                folder: folder.to_path_buf(),
            }));
        }
        // No URI flag: a path is only ever a path.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn =
            Connection::open_with_flags(&path, flags).map_err(|e| fail(Problem::CannotOpen(e)))?;
        Store::prepare(conn, path.clone(), true)
    }

    /// A fresh database in memory, gone when the last clone is dropped.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|e| StoreError {
            path: path.clone(),
            doing: "open it",
            problem: Problem::CannotOpen(e),
        })?;
        Store::prepare(conn, path, false)
    }

    /// Sets the connection up and applies the migrations.
    fn prepare(mut conn: Connection, path: PathBuf, on_disk: bool) -> Result<Store, StoreError> {
        let setup = |conn: &mut Connection| -> Result<(), Problem> {
            conn.busy_timeout(BUSY_TIMEOUT)?;
            // Reading the header first turns "not a database" into a clear
            // error before anything is written.
            let app: i64 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
            let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
            let objects: i64 =
                conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
            if app != APPLICATION_ID && (app != 0 || version != 0 || objects != 0) {
                return Err(Problem::NotChathost);
            }
            if on_disk {
                // One chathost per state folder: the connection keeps its
                // file lock until the process ends (even by SIGKILL, when
                // the OS drops it), so a second instance cannot post the
                // same chat a second time; it is refused at start.
                conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
                let mode: String =
                    conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
                if !mode.eq_ignore_ascii_case("wal") {
                    // Still safe (a rollback journal with synchronous=FULL), only slower.
                    tracing::warn!(journal_mode = %mode, "the state database could not use WAL");
                }
            }
            conn.pragma_update(None, "synchronous", "FULL")?;
            conn.pragma_update(None, "foreign_keys", "ON")?;
            if on_disk {
                // A damaged file can open and answer the first queries, then
                // fail at chat time: find out now, while a person is
                // watching the start.
                check_integrity(conn)?;
            }
            migrate(conn)?;
            if on_disk {
                // Take the write lock now (it is then held), not at the
                // first post: a second instance must fail at start.
                let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
                conn.pragma_update(None, "user_version", version)?;
            }
            Ok(())
        };
        match setup(&mut conn) {
            Ok(()) => Ok(Store {
                conn: Arc::new(Mutex::new(conn)),
                path: Arc::new(path),
            }),
            Err(problem) => Err(StoreError {
                path,
                doing: "open it",
                problem,
            }),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while the lock was held dropped its transaction, which
        // rolled back: the connection is as good as before.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn error(&self, doing: &'static str, problem: Problem) -> StoreError {
        StoreError {
            path: self.path.to_path_buf(),
            doing,
            problem,
        }
    }

    /// Runs `f` in one write transaction, committed before returning.
    fn write<T>(
        &self,
        doing: &'static str,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, Problem>,
    ) -> Result<T, StoreError> {
        let mut conn = self.lock();
        // IMMEDIATE takes the write lock up front, so two processes never
        // deadlock upgrading a read to a write.
        let run = || -> Result<T, Problem> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = f(&tx)?;
            tx.commit()?;
            Ok(value)
        };
        run().map_err(|p| self.error(doing, p))
    }

    /// Runs `f` with the connection, for reads.
    fn read<T>(
        &self,
        doing: &'static str,
        f: impl FnOnce(&Connection) -> Result<T, Problem>,
    ) -> Result<T, StoreError> {
        let conn = self.lock();
        f(&conn).map_err(|p| self.error(doing, p))
    }

    /// The schema version of the database ([`MIGRATIONS`] applied).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.read("read the schema version", |conn| {
            Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
        })
    }

    /// The chat date `new.name` on `new.date`, created `planned` if the store
    /// does not know it yet. An existing one is returned unchanged: it keeps
    /// the instance and account its steps went to, which a reconcile must
    /// look at; comparing them with the settings is the caller's business.
    pub fn upsert_chat(&self, new: &NewChat, now: DateTime<Utc>) -> Result<ChatRecord, StoreError> {
        self.write("record the chat", |tx| {
            tx.execute(
                "INSERT INTO chats (name, local_date, start_utc, instance_url, account, state, \
                 questions_file, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) \
                 ON CONFLICT (name, local_date) DO NOTHING",
                params![
                    new.name,
                    Day(new.date),
                    Ts(new.start_utc),
                    new.instance_url,
                    new.account,
                    ChatState::Planned,
                    new.questions_file,
                    Ts(now),
                ],
            )?;
            Ok(tx.query_row(
                &format!("SELECT {CHAT_COLUMNS} FROM chats WHERE name = ?1 AND local_date = ?2"),
                params![new.name, Day(new.date)],
                chat_from_row,
            )?)
        })
    }

    /// The chat `name` on local date `date`, if the store knows it.
    pub fn chat(&self, name: &str, date: NaiveDate) -> Result<Option<ChatRecord>, StoreError> {
        self.read("read a chat", |conn| {
            Ok(conn
                .query_row(
                    &format!(
                        "SELECT {CHAT_COLUMNS} FROM chats WHERE name = ?1 AND local_date = ?2"
                    ),
                    params![name, Day(date)],
                    chat_from_row,
                )
                .optional()?)
        })
    }

    /// The chat with this id.
    pub fn chat_by_id(&self, id: ChatId) -> Result<ChatRecord, StoreError> {
        self.read("read a chat", |conn| {
            conn.query_row(
                &format!("SELECT {CHAT_COLUMNS} FROM chats WHERE id = ?1"),
                [id.0],
                chat_from_row,
            )
            .optional()?
            .ok_or(Problem::NoSuchChat(id))
        })
    }

    /// Sets where a chat date stands.
    pub fn set_chat_state(
        &self,
        id: ChatId,
        state: ChatState,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write("set the chat's state", |tx| {
            let changed = tx.execute(
                "UPDATE chats SET state = ?2, updated_at = ?3 WHERE id = ?1",
                params![id.0, state, Ts(now)],
            )?;
            if changed == 0 {
                return Err(Problem::NoSuchChat(id));
            }
            Ok(())
        })
    }

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
            let existing: HashMap<String, StepRecord> = stmt
                .query_map([chat.0], step_from_row)?
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
            let other: Option<i64> = tx
                .query_row(
                    "SELECT id FROM steps WHERE remote_uri = ?1",
                    [&post.uri],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(other) = other {
                return Err(Problem::PostClaimed {
                    step: located.label,
                    uri: post.uri.clone(),
                    other: locate(tx, StepId(other))?.label,
                });
            }
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
                "UPDATE steps SET state = ?2, reason = ?3, last_error = ?3, updated_at = ?4 \
                 WHERE id = ?1",
                params![id.0, StepState::Failed, reason, Ts(now)],
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

/// Applies the migrations the database lacks, each in its own transaction,
/// or refuses a database from a newer chathost.
/// `PRAGMA quick_check`: O(size of the file), a few milliseconds for a
/// year of chats.
fn check_integrity(conn: &Connection) -> Result<(), Problem> {
    let mut stmt = conn.prepare("PRAGMA quick_check(5)")?;
    let found: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    if found.len() == 1 && found[0] == "ok" {
        Ok(())
    } else {
        // SQLite's report, on one line and short: enough for a bug report.
        let report: Vec<&str> = found
            .iter()
            .flat_map(|f| f.lines())
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("***"))
            .take(3)
            .collect();
        Err(Problem::Damaged(format!(
            "quick_check: {}",
            report.join("; ")
        )))
    }
}

fn migrate(conn: &mut Connection) -> Result<(), Problem> {
    let known = MIGRATIONS.len() as i64;
    loop {
        // IMMEDIATE: a second process opening the same file waits here, then
        // sees the version the first one reached.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > known {
            return Err(Problem::TooNew {
                found: version,
                known,
            });
        }
        let Some(script) = usize::try_from(version)
            .ok()
            .and_then(|v| MIGRATIONS.get(v))
        else {
            return Ok(());
        };
        tx.execute_batch(script)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
        tracing::info!(version = version + 1, "state database schema updated");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_kind_survives_the_round_trip() {
        let kinds = [
            StepKind::Reminder { lead_minutes: 60 },
            StepKind::Welcome,
            StepKind::Question { number: 12 },
            StepKind::LastCall,
            StepKind::WrapUp,
        ];
        for kind in kinds {
            let (word, number) = kind_parts(&kind);
            assert_eq!(kind_from_parts(word, number), Some(kind));
        }
        assert_eq!(kind_from_parts("question", None), None);
        assert_eq!(kind_from_parts("poll", Some(1)), None);
    }

    #[test]
    fn every_state_word_parses_back() {
        for s in [
            StepState::Pending,
            StepState::Posting,
            StepState::Posted,
            StepState::Failed,
            StepState::Skipped,
            StepState::Cancelled,
        ] {
            assert_eq!(StepState::parse(s.as_str()), Some(s));
        }
        for s in [
            ChatState::Planned,
            ChatState::Running,
            ChatState::Done,
            ChatState::Skipped,
        ] {
            assert_eq!(ChatState::parse(s.as_str()), Some(s));
        }
        assert_eq!(StepState::parse("Posted"), None);
    }

    #[test]
    fn instants_are_stored_as_utc_text_to_the_millisecond() {
        let store = Store::open_in_memory().unwrap();
        let conn = store.lock();
        let t = DateTime::parse_from_rfc3339("2026-12-02T21:00:00.123456+01:00")
            .unwrap()
            .with_timezone(&Utc);
        let stored: String = conn.query_row("SELECT ?1", [Ts(t)], |r| r.get(0)).unwrap();
        assert_eq!(stored, "2026-12-02T20:00:00.123Z");
        let back: Ts = conn
            .query_row("SELECT ?1", [&stored], |r| r.get(0))
            .unwrap();
        assert_eq!(back.0.timestamp_millis(), t.timestamp_millis());
        let bad = conn.query_row("SELECT 'yesterday'", [], |r| r.get::<_, Ts>(0));
        assert!(bad.is_err());
    }

    #[test]
    fn a_store_can_be_shared_between_tasks() {
        fn shareable<T: Send + Sync + Clone + 'static>() {}
        shareable::<Store>();
    }

    #[test]
    fn a_file_store_is_durable_at_every_commit() {
        let dir = std::env::temp_dir().join(format!("chathost-store-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open(dir.join("chathost.db")).unwrap();
        let value = |name: &str| -> String {
            store
                .lock()
                .pragma_query_value(None, name, |r| r.get::<_, rusqlite::types::Value>(0))
                .map(|v| format!("{v:?}"))
                .unwrap()
        };
        assert_eq!(value("journal_mode"), r#"Text("wal")"#);
        assert_eq!(value("synchronous"), "Integer(2)"); // FULL
        assert_eq!(value("foreign_keys"), "Integer(1)");
        assert_eq!(value("busy_timeout"), "Integer(5000)");
        assert_eq!(
            value("application_id"),
            format!("Integer({APPLICATION_ID})")
        );
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_in_memory_store_has_the_whole_schema_and_foreign_keys_on() {
        let store = Store::open_in_memory().unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
        let conn = store.lock();
        let fk: i64 = conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
        // A step must belong to a chat.
        let orphan = conn.execute(
            "INSERT INTO steps (chat_id, key, kind, planned_at, text, state, created_at, updated_at) \
             VALUES (999, 'q1', 'question', 'x', 'x', 'pending', 'x', 'x')",
            [],
        );
        assert!(orphan.is_err());
    }
}
