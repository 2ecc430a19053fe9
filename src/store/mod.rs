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
//!
//! posting ──mark_failed_unknown──► failed + outcome unknown ──mark_found_later──► posted
//!                                          │
//!                                          └──clear_outcome_unknown──► failed (known)
//! ```
//!
//! `posted`, `skipped` and a known `failed` are final. From `posting`, skip
//! or fail a step only once a reconcile has shown that it is not on the
//! server — or, when the server cannot even be asked, fail it with the
//! outcome unknown ([`Store::mark_failed_unknown`]) so that the chat goes
//! on: such a step is looked for again ([`Store::outcome_unknown_steps`])
//! and only then ends `posted` or known `failed`.
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
//! - One writer, any number of readers. [`Store::open`] (read-write) first
//!   takes an exclusive advisory lock (`flock`) on a sidecar file,
//!   `<database>.lock` (created 0600, named from the database's real
//!   path so that a symlink to it shares the lock, and given to the owner
//!   of its folder when root made it), and keeps it for as long as any
//!   clone of the store lives; the OS drops it when the process ends, even
//!   by SIGKILL. A second writer (another `chathost run`, or `collect`
//!   while the service runs) is refused with [`Problem::InUse`] (after a
//!   second's patience, for a lock being let go) instead of posting the
//!   same chat again.
//!   [`Store::open_read_only`] takes no such lock: WAL lets `status`,
//!   `chats`, `answers` and the like read a consistent snapshot while the
//!   service writes, in short read transactions that never block it.
//!   SQLite's own locking stays in its normal mode, so readers can share
//!   the file (its `-wal` and `-shm` beside it).
//! - The schema is an ordered list of SQL scripts, [`MIGRATIONS`] (files in
//!   `src/store/migrations/`, each table and column commented); the number
//!   applied is kept in `PRAGMA user_version`. A new table (answers,
//!   participants, opt-outs) is a new script at the end of the list; a
//!   script that has shipped is never edited.
//! - Calls take a lock and do a short transaction (one fsync): fine to call
//!   from async code at the pace of a chat; bulk work should go through
//!   `tokio::task::spawn_blocking`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

#[cfg(test)]
mod answer_tests;
mod answers;
mod chats;
mod codec;
mod error;
mod lock;
#[cfg(test)]
mod mention_tests;
mod mentions;
mod participants;
mod posting;
mod recap;
mod records;
mod steps;
#[cfg(test)]
mod tests;

pub use answers::{
    AnswerId, AnswerRecord, Engagement, SeenAccount, SeenAnswer, SourceRecord, Upserted,
};
pub use error::{Problem, StoreError};
pub use mentions::{Effect, MentionRecord, NewMention, ReplyRecord};
pub use participants::{Forgotten, ParticipantChat, ParticipantData};
pub use recap::ThreadStep;
pub use records::*;

/// The schema, one SQL script per version, applied in order. Version N of
/// the database has the first N applied.
pub const MIGRATIONS: &[&str] = &[
    include_str!("migrations/001_chats_steps_attempts.sql"),
    include_str!("migrations/002_answers_accounts_sources.sql"),
    include_str!("migrations/003_recap_archive.sql"),
    include_str!("migrations/004_mentions.sql"),
    include_str!("migrations/005_outcome_unknown.sql"),
];

/// `PRAGMA application_id` of a chathost database ("chat" in ASCII).
const APPLICATION_ID: i64 = 0x6368_6174;

/// How long a call waits for another process's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a reader waits for a lock: a reader must never hold the
/// writer up, and a WAL reader only waits during a checkpoint's instant.
const READER_BUSY_TIMEOUT: Duration = Duration::from_millis(200);

/// A handle on the database; cheap to clone and share between tasks.
#[derive(Debug, Clone)]
pub struct Store {
    // Declared first, dropped first: SQLite closes (and checkpoints) before
    // the writer lock is let go.
    conn: Arc<Mutex<Connection>>,
    path: Arc<PathBuf>,
    /// The writer lock on `<database>.lock`, held while any clone lives;
    /// `None` for read-only and in-memory stores.
    _writer: Option<Arc<File>>,
}

/// The sidecar lock file of the database at `path`: `<path>.lock`.
pub fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Whether some process holds the writer lock of the database at `path`
/// (the service, usually). Probes with a shared lock let go at once; a
/// missing lock file means no writer. Holding the probe for an instant is
/// harmless: a writer starting in that instant is refused and restarted.
pub fn writer_active(path: &Path) -> std::io::Result<bool> {
    let file = match File::open(writer_lock_path(path)) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    match file.try_lock_shared() {
        // Dropping the file lets the shared lock go.
        Ok(()) => Ok(false),
        Err(std::fs::TryLockError::WouldBlock) => Ok(true),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// The lock file of the database at `path`, named from the file itself:
/// through a symlink, or `..` in the path, it is still the one lock file.
/// A database not yet made: its folder's real path and its name.
fn writer_lock_path(path: &Path) -> PathBuf {
    let real = std::fs::canonicalize(path).or_else(|e| match (path.parent(), path.file_name()) {
        (Some(folder), Some(name)) if !folder.as_os_str().is_empty() => {
            std::fs::canonicalize(folder).map(|f| f.join(name))
        }
        _ => Err(e),
    });
    lock_path(&real.unwrap_or_else(|_| path.to_path_buf()))
}

/// Takes the writer lock of the database at `path`, or says who has it.
fn take_writer_lock(path: &Path) -> Result<File, Problem> {
    use std::os::unix::fs::OpenOptionsExt;
    let lock = writer_lock_path(path);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&lock)
        .map_err(|error| Problem::LockFile {
            path: lock.clone(),
            error,
        })?;
    lock::give_to_folder_owner(&file, &lock).map_err(|error| Problem::LockFile {
        path: lock.clone(),
        error,
    })?;
    // A lock let go this instant can still be held for a moment by a
    // process forked meanwhile (until its exec closes the copy): look a
    // few times before calling the folder in use.
    let deadline = std::time::Instant::now() + LOCK_PATIENCE;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(std::fs::TryLockError::WouldBlock) => return Err(Problem::InUse),
            Err(std::fs::TryLockError::Error(error)) => {
                return Err(Problem::LockFile { path: lock, error });
            }
        }
    }
}

/// How long opening waits for a writer lock that is about to be let go.
const LOCK_PATIENCE: Duration = Duration::from_secs(1);

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
        // Before SQLite: a second writer must not even start a migration.
        let writer = take_writer_lock(&path).map_err(fail)?;
        // No URI flag: a path is only ever a path.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn =
            Connection::open_with_flags(&path, flags).map_err(|e| fail(Problem::CannotOpen(e)))?;
        let mut store = Store::prepare(conn, path.clone(), true)?;
        store._writer = Some(Arc::new(writer));
        Ok(store)
    }

    /// Opens an existing database to read only, for a command that looks
    /// (`status`, `chats`, `answers`, `recap`, `plan`'s recap preview),
    /// also while the service writes it: no writer lock, no migration, a
    /// short wait, each query its own short read transaction. A missing
    /// file is [`Problem::NoDatabase`]; a database from another chathost
    /// version is refused rather than upgraded.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        Store::open_reading(path.as_ref(), false)
    }

    /// Opens an existing database to copy it (`chathost backup`): like
    /// [`Store::open_read_only`], but a database of an older chathost is
    /// accepted too, so that a backup can be made before the upgraded
    /// service's first start migrates it. Only [`Store::copy_into`],
    /// [`Store::quick_check`], [`Store::schema_version`] and
    /// [`Store::chat_count`] are meant for such a store: the other queries
    /// expect the newest schema.
    pub fn open_for_copy(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        Store::open_reading(path.as_ref(), true)
    }

    /// [`Store::open_read_only`]; `older` accepts an older schema.
    fn open_reading(path: &Path, older: bool) -> Result<Store, StoreError> {
        let path = path.to_path_buf();
        let fail = |problem| StoreError {
            path: path.clone(),
            doing: "read it",
            problem,
        };
        // SQLite would only say "unable to open database file".
        match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(fail(Problem::NoDatabase));
            }
            _ => {}
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn =
            Connection::open_with_flags(&path, flags).map_err(|e| fail(Problem::CannotOpen(e)))?;
        let check = |conn: &Connection| -> Result<(), Problem> {
            conn.busy_timeout(READER_BUSY_TIMEOUT)?;
            let app: i64 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
            let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
            if app != APPLICATION_ID {
                return Err(Problem::NotChathost);
            }
            let known = MIGRATIONS.len() as i64;
            if version > known {
                return Err(Problem::TooNew {
                    found: version,
                    known,
                });
            }
            if version < known && !older {
                return Err(Problem::Outdated {
                    found: version,
                    known,
                });
            }
            Ok(())
        };
        check(&conn).map_err(fail)?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
            path: Arc::new(path),
            _writer: None,
        })
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
                // One writer per state folder is the lock file's job
                // (Store::open); SQLite's locking stays normal so that
                // readers can share the file beside the service.
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
            Ok(())
        };
        match setup(&mut conn) {
            Ok(()) => Ok(Store {
                conn: Arc::new(Mutex::new(conn)),
                path: Arc::new(path),
                _writer: None,
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

    /// How many chat dates the database holds (any schema version).
    pub fn chat_count(&self) -> Result<usize, StoreError> {
        self.read("count its chats", |conn| {
            let n: i64 = conn.query_row("SELECT count(*) FROM chats", [], |r| r.get(0))?;
            Ok(usize::try_from(n).unwrap_or(0))
        })
    }

    /// `PRAGMA quick_check`: `Ok(None)` when SQLite finds the file sound,
    /// `Ok(Some(report))` (short, one line) when it finds damage.
    pub fn quick_check(&self) -> Result<Option<String>, StoreError> {
        self.read("check it", |conn| match check_integrity(conn) {
            Ok(()) => Ok(None),
            Err(Problem::Damaged(report)) => Ok(Some(report)),
            Err(other) => Err(other),
        })
    }

    /// Writes a consistent copy of the whole database to `out` with
    /// `VACUUM INTO` (one read transaction: a snapshot, also of a file the
    /// service is writing, which it does not block). `out` must not exist
    /// or be an empty file; SQLite refuses anything else.
    pub fn copy_into(&self, out: &Path) -> Result<(), StoreError> {
        let Some(target) = out.to_str() else {
            return Err(self.error(
                "copy it",
                Problem::Invalid(format!(
                    "{} is not a UTF-8 path; name the copy with plain characters",
                    out.display()
                )),
            ));
        };
        self.read("copy it", |conn| {
            conn.execute("VACUUM INTO ?1", [target])?;
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
