//! The writer lock file's owner. A lock file made by root (a host's
//! `sudo chathost collect`) would be root's, mode 0600, and the service
//! (its own user, `DynamicUser=`) could then never open it again: each
//! start would fail the same way. So the file is given to the owner of
//! its folder, which is the service's user.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Gives `file` (the lock file at `path`) to the owner of its folder when
/// they differ. Only root may: for anyone else (EPERM) the file already is
/// theirs or the folder's, and nothing is done. Another failure is logged,
/// not returned: the lock works for this process either way.
pub(super) fn give_to_folder_owner(file: &File, path: &Path) -> std::io::Result<()> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let owner = std::fs::metadata(folder)?;
    let mine = file.metadata()?;
    if (mine.uid(), mine.gid()) == (owner.uid(), owner.gid()) {
        return Ok(());
    }
    match std::os::unix::fs::fchown(file, Some(owner.uid()), Some(owner.gid())) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Ok(()),
        Err(e) => {
            tracing::warn!(
                "could not give {} to the owner of its folder: {e}",
                path.display()
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// Not root's: the uid `nobody` has on most systems.
    const OTHER: u32 = 65534;

    fn running_as_root() -> bool {
        // The process's own files are made with its effective uid.
        let probe = std::env::temp_dir().join(format!("chathost-uid-{}", std::process::id()));
        let uid = File::create(&probe)
            .and_then(|f| f.metadata())
            .map(|m| m.uid());
        let _ = std::fs::remove_file(&probe);
        uid.is_ok_and(|u| u == 0)
    }

    #[test]
    fn a_lock_file_root_makes_belongs_to_the_folder_owner() {
        if !running_as_root() {
            println!("skipped: only root can make a file another user's");
            return;
        }
        let dir = std::env::temp_dir().join(format!("chathost-lockowner-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let dir = std::fs::canonicalize(&dir).unwrap();
        std::os::unix::fs::chown(&dir, Some(OTHER), Some(OTHER)).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let db = dir.join("chathost.sqlite3");

        let store = crate::store::Store::open(&db).unwrap();
        let lock = std::fs::metadata(crate::store::lock_path(&db)).unwrap();
        assert_eq!((lock.uid(), lock.gid()), (OTHER, OTHER));
        assert_eq!(lock.mode() & 0o777, 0o600, "still its owner's alone");
        drop(store);

        // One root already made: given back at the next open.
        let path = crate::store::lock_path(&db);
        std::os::unix::fs::chown(&path, Some(0), Some(0)).unwrap();
        drop(crate::store::Store::open(&db).unwrap());
        let lock = std::fs::metadata(&path).unwrap();
        assert_eq!((lock.uid(), lock.gid()), (OTHER, OTHER));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_file_already_the_folder_owners_is_left_alone() {
        let dir = std::env::temp_dir().join(format!("chathost-lockmine-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.lock");
        let file = File::create(&path).unwrap();
        let before = file.metadata().unwrap();
        give_to_folder_owner(&file, &path).unwrap();
        let after = std::fs::metadata(&path).unwrap();
        assert_eq!((before.uid(), before.gid()), (after.uid(), after.gid()));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
