//! Reading a host's files safely: only regular files, and only up to a
//! size no real settings file, question list or token comes near. A FIFO,
//! a device (`/dev/zero`), a directory or a symlink loop named by mistake
//! gets a clear error instead of a hang or gigabytes of memory.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// The most any of the host's text files may hold: `bot.toml`, a question
/// list, a template. A year of questions is a few KiB.
pub const TEXT_LIMIT: u64 = 1024 * 1024;

/// The most a token file may hold (a token is under 100 bytes).
pub const TOKEN_LIMIT: u64 = 16 * 1024;

/// Why a file could not be read.
#[derive(Debug)]
pub enum FileError {
    /// An I/O error (not found, permission denied, a symlink loop…).
    Io(std::io::Error),
    /// Not a regular file: a directory, FIFO, socket or device.
    NotAFile(&'static str),
    /// Larger than the limit.
    TooLarge { limit: u64 },
    /// Not UTF-8 text.
    NotText,
}

impl FileError {
    /// The I/O error kind, when there is one.
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            FileError::Io(e) => Some(e.kind()),
            _ => None,
        }
    }

    /// What the host should do about it.
    pub fn help(&self) -> &'static str {
        match self {
            FileError::Io(e) => match e.kind() {
                std::io::ErrorKind::NotFound => "check the path",
                std::io::ErrorKind::PermissionDenied => {
                    "make the file readable by the user chathost runs as"
                }
                _ if is_loop(e) => {
                    "a symbolic link points (through others) back at itself: fix the link"
                }
                _ => "check that the path names a readable text file",
            },
            FileError::NotAFile(_) => "name a plain text file here",
            FileError::TooLarge { .. } => {
                "this is far larger than any real one: check that the path names the right file"
            }
            FileError::NotText => "save the file as UTF-8 text",
        }
    }
}

fn is_loop(e: &std::io::Error) -> bool {
    // ELOOP; the ErrorKind for it is not stable on our minimum Rust.
    e.raw_os_error() == Some(40)
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Io(e) if is_loop(e) => f.write_str("a symbolic link loop"),
            FileError::Io(e) => write!(f, "{e}"),
            FileError::NotAFile(what) => write!(f, "this is {what}, not a file"),
            FileError::TooLarge { limit } => {
                write!(f, "larger than {} KiB", limit / 1024)
            }
            FileError::NotText => f.write_str("not UTF-8 text"),
        }
    }
}

impl std::error::Error for FileError {}

/// Reads a regular file of at most `limit` bytes as UTF-8 text.
pub fn read_text(path: &Path, limit: u64) -> Result<String, FileError> {
    let file = open_nonblocking(path).map_err(FileError::Io)?;
    let meta = file.metadata().map_err(FileError::Io)?;
    let kind = meta.file_type();
    if !kind.is_file() {
        return Err(FileError::NotAFile(describe(&kind)));
    }
    if meta.len() > limit {
        return Err(FileError::TooLarge { limit });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // The size can change between the stat and the read: read one byte
    // more than allowed to notice.
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(FileError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge { limit });
    }
    String::from_utf8(bytes).map_err(|_| FileError::NotText)
}

/// Opens without blocking: opening a FIFO for reading would otherwise
/// wait for a writer forever, before we could see it is not a file.
#[cfg(unix)]
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    const O_NONBLOCK: i32 = 0o4000; // the same on every Linux architecture we build for
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

fn describe(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    if kind.is_dir() {
        "a directory"
    } else {
        "something other than a file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh folder, removed afterwards.
    struct Dir(std::path::PathBuf);

    impl Dir {
        fn new(name: &str) -> Dir {
            let dir =
                std::env::temp_dir().join(format!("chathost-files-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Dir(dir)
        }

        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_directory_is_refused() {
        let dir = Dir::new("dir");
        let e = read_text(dir.path(), TEXT_LIMIT).unwrap_err();
        assert_eq!(e.to_string(), "this is a directory, not a file");
    }

    #[cfg(unix)]
    #[test]
    fn a_device_is_refused_without_reading_it() {
        let e = read_text(Path::new("/dev/zero"), TEXT_LIMIT).unwrap_err();
        assert_eq!(e.to_string(), "this is a device, not a file");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_waiting_for_a_writer() {
        let dir = Dir::new("fifo");
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let e = read_text(&fifo, TEXT_LIMIT).unwrap_err();
        assert_eq!(e.to_string(), "this is a named pipe (FIFO), not a file");
    }

    #[test]
    fn a_file_over_the_limit_is_refused() {
        let dir = Dir::new("big");
        let big = dir.path().join("big.toml");
        std::fs::write(&big, vec![b'#'; 2048]).unwrap();
        assert!(matches!(
            read_text(&big, 1024),
            Err(FileError::TooLarge { limit: 1024 })
        ));
        assert_eq!(read_text(&big, 2048).unwrap().len(), 2048);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_loop_is_named() {
        let dir = Dir::new("loop");
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::os::unix::fs::symlink(&b, &a).unwrap();
        std::os::unix::fs::symlink(&a, &b).unwrap();
        let e = read_text(&a, TEXT_LIMIT).unwrap_err();
        assert_eq!(e.to_string(), "a symbolic link loop");
        assert!(e.help().contains("points"));
    }
}
