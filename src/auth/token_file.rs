//! Writing the token file: mode 0600 from its first byte (never a moment
//! readable by others), written whole to a temporary file in the same
//! folder and then put in place, so a crash leaves no half token.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::secret::Secret;

/// `Err` when `path` exists and `force` is not given: checked before the
/// server is asked anything, so a host does not approve an app for nothing.
pub fn check_free(path: &Path, force: bool) -> Result<(), String> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => Err(format!(
            "{} is a folder: give the token file's own name (--token-file)",
            path.display()
        )),
        Ok(_) if !force => Err(format!(
            "{} already exists: pass --force to replace it, or choose another --token-file",
            path.display()
        )),
        _ => Ok(()),
    }
}

/// Writes `token` to `path` with mode 0600. Without `force` an existing
/// file is left alone (even one made meanwhile); nothing is left behind on
/// failure.
pub fn write(path: &Path, token: &Secret, force: bool) -> Result<(), String> {
    let temp = temp_path(path);
    let result = write_temp(&temp, token).and_then(|()| place(&temp, path, force));
    // Gone after a rename; after a failure, removed.
    let _ = fs::remove_file(&temp);
    result
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "token".into());
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

fn write_temp(temp: &Path, token: &Secret) -> Result<(), String> {
    let cannot = |e: std::io::Error| format!("cannot write {}: {e}", temp.display());
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(temp)
        .map_err(cannot)?;
    file.write_all(token.expose().as_bytes()).map_err(cannot)?;
    file.write_all(b"\n").map_err(cannot)?;
    file.sync_all().map_err(cannot)
}

fn place(temp: &Path, path: &Path, force: bool) -> Result<(), String> {
    let placed = if force {
        fs::rename(temp, path)
    } else {
        // A hard link fails when the name is taken: no overwrite race.
        fs::hard_link(temp, path)
    };
    placed.map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => format!(
            "{} already exists: pass --force to replace it",
            path.display()
        ),
        _ => format!("cannot write {}: {e}", path.display()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("chathost-tf-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn the_file_is_0600_and_an_existing_one_is_kept_without_force() {
        let d = dir("mode");
        let path = d.join("token");
        write(&path, &Secret::new("abc"), false).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(fs::read_to_string(&path).unwrap(), "abc\n");
        assert!(check_free(&path, false).is_err());
        assert!(write(&path, &Secret::new("xyz"), false).is_err());
        assert_eq!(fs::read_to_string(&path).unwrap(), "abc\n");
        write(&path, &Secret::new("xyz"), true).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "xyz\n");
        // No temporary file is left.
        assert_eq!(fs::read_dir(&d).unwrap().count(), 1);
        let _ = fs::remove_dir_all(&d);
    }
}
