//! Store failures, in words a host understands.

use std::fmt;
use std::path::PathBuf;

use rusqlite::ErrorCode;

use super::answers::AnswerId;
use super::records::*;

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
    /// The database file does not exist (a read-only open: nothing creates
    /// it but the service or another command that writes).
    NoDatabase,
    /// Another chathost (the service, most likely) holds the writer lock
    /// on `<database>.lock`: only one process may write the state folder.
    InUse,
    /// The writer lock file could not be opened, created or locked.
    LockFile {
        /// `<database>.lock`.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The file is not a SQLite database, or is one of another program.
    NotChathost,
    /// The database was written by a newer chathost.
    TooNew {
        /// Its schema version.
        found: i64,
        /// The newest version this chathost knows.
        known: i64,
    },
    /// The database was written by an older chathost and is opened read
    /// only: it cannot be upgraded here.
    Outdated {
        /// Its schema version.
        found: i64,
        /// This chathost's version.
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
    /// No collected answer with this id.
    NoSuchAnswer(AnswerId),
    /// No mention with this id.
    NoSuchMention(MentionId),
    /// No reply post with this id.
    NoSuchReply(ReplyId),
    /// A value the store will not keep (an unknown visibility word).
    Invalid(String),
    /// The reply post is not in a state that allows the change.
    ReplyState {
        /// The reply, for people ("part 2 of the reply to mention 7").
        reply: String,
        /// Its state.
        state: StepState,
    },
    /// The mention is not in a state that allows the change.
    MentionState {
        /// The mention's id.
        mention: MentionId,
        /// Its state.
        state: MentionState,
    },
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
        // "Not a database" after a good open means its first page was
        // overwritten while we ran.
        matches!(
            self.problem,
            Problem::Damaged(_) | Problem::Corrupt(_) | Problem::NotChathost
        )
    }
}

impl StoreError {
    /// Whether the store refused the change as contradicting what it holds
    /// (the status is another step's, the step is past that state): doing
    /// the same again gives the same answer.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self.problem,
            Problem::WrongState { .. }
                | Problem::DoublePost { .. }
                | Problem::PostClaimed { .. }
                | Problem::ReplyState { .. }
                | Problem::MentionState { .. }
        )
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.problem {
            Problem::CannotOpen(e) | Problem::Sqlite(e) => Some(e),
            Problem::LockFile { error, .. } => Some(error),
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
            // The path is the StoreError's; a host who ran this in
            // /etc/chathost without STATE_DIRECTORY looked in the wrong folder.
            Problem::NoDatabase => f.write_str(
                "no database in this folder; the systemd service keeps it in /var/lib/chathost: run `sudo env STATE_DIRECTORY=/var/lib/chathost chathost status --config /etc/chathost/bot.toml` (or the command you ran, the same way). Before the service's first start there is none: `chathost run` creates it",
            ),
            Problem::InUse => f.write_str(
                "another chathost (probably the service, `chathost run`) is using this state folder, and only one may write it: is a second chathost running with the same state folder? Commands that only read (status, chats, answers, recap without --post, participant without --forget, backup) work beside it; for this one, stop the service first (systemctl stop chathost) and start it again afterwards",
            ),
            Problem::LockFile { path, error }
                if error.kind() == std::io::ErrorKind::PermissionDenied =>
            {
                // Most likely made by a `sudo chathost …` before this
                // chathost gave lock files to the folder's owner: the
                // service fails the same way at each start until then.
                let folder = path.parent().unwrap_or(std::path::Path::new("."));
                write!(
                    f,
                    "cannot take the writer lock {}: {error}; another user (root, by a `sudo chathost …`) probably owns it: give it to the folder's owner with `sudo chown --reference={} {}`",
                    path.display(),
                    folder.display(),
                    path.display()
                )
            }
            Problem::LockFile { path, error } => write!(
                f,
                "cannot take the writer lock {}: {error}; check that chathost may create and write files in its folder",
                path.display()
            ),
            Problem::NotChathost => f.write_str(
                "the file is not a chathost database; move it away, or set [state] dir to another folder",
            ),
            Problem::TooNew { found, known } => write!(
                f,
                "it was written by a newer chathost (schema version {found}; this one knows up to {known}); run the newer chathost, or restore a backup made before the upgrade"
            ),
            Problem::Outdated { found, known } => write!(
                f,
                "it has schema version {found} and this chathost reads {known}; `chathost run` (or any command that writes) upgrades it"
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
            Problem::NoSuchAnswer(id) => write!(f, "there is no collected answer with id {}", id.0),
            Problem::NoSuchMention(id) => write!(f, "there is no mention with id {}", id.0),
            Problem::NoSuchReply(id) => write!(f, "there is no reply post with id {}", id.0),
            Problem::Invalid(what) => f.write_str(what),
            Problem::ReplyState { reply, state } => write!(f, "{reply} is {state}"),
            Problem::MentionState { mention, state } => {
                write!(f, "mention {} is {state}", mention.0)
            }
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
