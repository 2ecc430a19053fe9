//! `chathost backup --out FILE`: a consistent copy of the state database,
//! also while the service runs.
//!
//! The copy is made through a read-only connection with SQLite's
//! `VACUUM INTO`, one read transaction: a snapshot of the last commit, the
//! `-wal` included, that never blocks the service. It is written to a new
//! file, `<out>.partial`, readable by its owner only (it holds people's
//! answers), then opened and checked (`quick_check`), and only then linked
//! to `out` (an existing one is refused, never overwritten). A database of
//! an older chathost is copied as it is: back it up before an upgrade.
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
/// exist, and checks the copy. A database of an older chathost is copied
/// as it is (a backup before an upgrade's first start); one of a newer
/// chathost, or not chathost's, is refused.
///
/// The copy is made as `<out>.partial` and only linked to `out` once
/// checked: an interrupted backup never leaves half a copy under the name
/// a host will restore from.
pub fn backup(state_dir: &Path, out: &Path) -> Result<Copied, String> {
    let source = Store::open_for_copy(state_dir.join(DATABASE)).map_err(|e| e.to_string())?;
    if out.symlink_metadata().is_ok() {
        return Err(exists(out));
    }
    let partial = partial_path(out);
    // Made empty here (SQLite fills an empty file): the copy is the
    // owner's alone from the start. One left by a killed backup is ours to
    // replace: nobody restores from a `.partial`.
    let _ = std::fs::remove_file(&partial);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)
        .map_err(|e| format!("cannot create {}: {e}", partial.display()))?;
    let done = source
        .copy_into(&partial)
        .map_err(|e| e.to_string())
        .and_then(|()| check(&partial))
        .and_then(|copied| {
            // A link never replaces a file: one made meanwhile is refused.
            std::fs::hard_link(&partial, out).map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => exists(out),
                _ => format!("cannot create {}: {e}", out.display()),
            })?;
            Ok(Copied {
                path: out.to_path_buf(),
                ..copied
            })
        });
    // Linked or not, the partial name goes: on success `out` is the copy.
    let _ = std::fs::remove_file(&partial);
    done
}

/// `<out>.partial`: where the copy is made before it is checked.
pub fn partial_path(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

fn exists(out: &Path) -> String {
    format!(
        "{} already exists; a backup never overwrites a file: name a new one",
        out.display()
    )
}

/// Opens the copy as chathost would and checks it.
fn check(copy_path: &Path) -> Result<Copied, String> {
    let copy = Store::open_for_copy(copy_path).map_err(|e| format!("the copy is unusable: {e}"))?;
    if let Some(report) = copy.quick_check().map_err(|e| e.to_string())? {
        return Err(format!("the copy is damaged: {report}"));
    }
    let chats = copy.chat_count().map_err(|e| e.to_string())?;
    let size_bytes = std::fs::metadata(copy_path)
        .map_err(|e| format!("cannot read {}: {e}", copy_path.display()))?
        .len();
    Ok(Copied {
        path: copy_path.to_path_buf(),
        size_bytes,
        chats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MIGRATIONS;

    fn folder(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("chathost-backup-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A database as the first chathost left it: migration 1 only.
    fn version_1(dir: &Path) {
        let conn = rusqlite::Connection::open(dir.join(DATABASE)).unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
    }

    #[test]
    fn a_database_of_an_older_chathost_is_backed_up_as_it_is() {
        assert!(MIGRATIONS.len() > 1, "there is no older schema to test");
        let dir = folder("older");
        version_1(&dir);
        let out = dir.join("before-upgrade.sqlite3");
        let copied = backup(&dir, &out).unwrap();
        assert_eq!(copied.path, out);
        assert_eq!(copied.chats, 0);
        let copy = Store::open_for_copy(&out).unwrap();
        assert_eq!(copy.schema_version().unwrap(), 1, "copied, not upgraded");
        // Nor was the original upgraded.
        let original = Store::open_for_copy(dir.join(DATABASE)).unwrap();
        assert_eq!(original.schema_version().unwrap(), 1);
        assert!(!partial_path(&out).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_database_of_a_newer_chathost_is_still_refused() {
        let dir = folder("newer");
        version_1(&dir);
        let newer = MIGRATIONS.len() as i64 + 1;
        rusqlite::Connection::open(dir.join(DATABASE))
            .unwrap()
            .pragma_update(None, "user_version", newer)
            .unwrap();
        let out = dir.join("copy.sqlite3");
        let err = backup(&dir, &out).unwrap_err();
        assert!(err.contains("newer chathost"), "{err}");
        assert!(!out.exists() && !partial_path(&out).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_existing_file_is_refused_and_left_unchanged() {
        let dir = folder("exists");
        drop(Store::open(dir.join(DATABASE)).unwrap());
        let out = dir.join("copy.sqlite3");
        std::fs::write(&out, "the host's own file").unwrap();
        let err = backup(&dir, &out).unwrap_err();
        assert!(err.contains("already exists"), "{err}");
        assert_eq!(std::fs::read(&out).unwrap(), b"the host's own file");
        assert!(!partial_path(&out).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_backup_goes_by_its_final_name_only_once_checked() {
        let dir = folder("partial");
        drop(Store::open(dir.join(DATABASE)).unwrap());
        let out = dir.join("copy.sqlite3");
        // What a killed backup leaves: half a copy, never under `out`.
        std::fs::write(partial_path(&out), "half a copy").unwrap();
        let copied = backup(&dir, &out).unwrap();
        assert_eq!(copied.path, out);
        assert!(!partial_path(&out).exists(), "the .partial is gone");
        let copy = Store::open_read_only(&out).unwrap();
        assert_eq!(copy.quick_check().unwrap(), None);
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(&out).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        assert_eq!(meta.nlink(), 1, "one name only");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
