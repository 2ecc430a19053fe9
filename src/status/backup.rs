//! `chathost backup --out FILE`: a consistent copy of the state database,
//! also while the service runs.
//!
//! The copy is made through a read-only connection with SQLite's
//! `VACUUM INTO`, one read transaction: a snapshot of the last commit, the
//! `-wal` included, that never blocks the service. It is written to a new
//! file (an existing one is refused), readable by its owner only (it holds
//! people's answers), then opened and checked (`quick_check`).
//!
//! # Restore
//!
//! 1. Stop the service: `systemctl stop chathost`.
//! 2. Copy the backup over the database: `cp BACKUP /var/lib/chathost/chathost.sqlite3`.
//! 3. Remove any `chathost.sqlite3-wal` and `chathost.sqlite3-shm` beside it
//!    (they belong to the replaced file).
//! 4. Start the service: `systemctl start chathost`.
//!
//! Steps posted after the backup was made are not in it: before the next
//! chat, look at the account's recent posts.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::engine::service::DATABASE;
use crate::store::Store;

/// A copy made and checked.
#[derive(Debug)]
pub struct Copied {
    /// The copy.
    pub path: PathBuf,
    /// Its size.
    pub size_bytes: u64,
    /// Chat dates in it.
    pub chats: usize,
}

/// Copies the database under `state_dir` to `out`, a file that must not
/// exist, and checks the copy.
pub fn backup(state_dir: &Path, out: &Path) -> Result<Copied, String> {
    let source = Store::open_read_only(state_dir.join(DATABASE)).map_err(|e| e.to_string())?;
    // Made empty here (SQLite fills an empty file): refusing an existing
    // file is then atomic, and the copy is the owner's alone from the start.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => format!(
                "{} already exists; a backup never overwrites a file: name a new one",
                out.display()
            ),
            _ => format!("cannot create {}: {e}", out.display()),
        })?;
    let checked = source
        .copy_into(out)
        .map_err(|e| e.to_string())
        .and_then(|()| check(out));
    if checked.is_err() {
        // Half a copy must not pass for a backup later.
        let _ = std::fs::remove_file(out);
    }
    checked
}

/// Opens the copy as chathost would and checks it.
fn check(out: &Path) -> Result<Copied, String> {
    let copy = Store::open_read_only(out).map_err(|e| format!("the copy is unusable: {e}"))?;
    if let Some(report) = copy.quick_check().map_err(|e| e.to_string())? {
        return Err(format!("the copy is damaged: {report}"));
    }
    let chats = copy.chats(None).map_err(|e| e.to_string())?.len();
    let size_bytes = std::fs::metadata(out)
        .map_err(|e| format!("cannot read {}: {e}", out.display()))?
        .len();
    Ok(Copied {
        path: out.to_path_buf(),
        size_bytes,
        chats,
    })
}
