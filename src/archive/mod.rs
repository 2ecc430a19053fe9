//! The archive of a chat date (issue 9): a folder the community owns,
//! rewritten idempotently, with `index.html` (one self-contained page),
//! `transcript.md`, `chat.json` (schema in `chat.schema.json`) and
//! `activity.svg`; and beyond one chat, the hashtag's own `index.html` and
//! Atom `feed.xml` ([`index`]).
//!
//! Pure rendering and file writing: no network, no engine, no clock. The
//! input ([`ChatArchive`]) is plain data a loader fills from the store; the
//! output's bytes depend on it alone. Consent holds in every file: deleted
//! answers are absent, and accounts that asked not to be quoted are counted
//! but never named, linked or quoted.

mod escape;
pub mod index;
mod json;
pub mod model;
mod page;
mod page_stats;
pub mod stats;
mod svg;
mod transcript;

#[cfg(test)]
mod fixture;
#[cfg(test)]
mod tests;

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

pub use index::{IndexWritten, Skipped, write_chat_index};
pub use json::SCHEMA_VERSION;
pub use model::{ArchiveQuestion, ChatArchive};
pub use stats::{Stats, shared_links, stats};

/// The four files of a chat date's archive, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// `index.html`: the self-contained page.
    pub index_html: String,
    /// `transcript.md`: Markdown for blogs and wikis.
    pub transcript_md: String,
    /// `chat.json`: the data, schema version [`SCHEMA_VERSION`].
    pub chat_json: String,
    /// `activity.svg`: answers per minute, questions marked.
    pub activity_svg: String,
}

/// The files [`write()`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Their paths, in the order `index.html`, `transcript.md`,
    /// `chat.json`, `activity.svg`.
    pub files: Vec<PathBuf>,
}

/// The files of a chat date's folder, in [`Written::files`] order.
const FILES: [&str; 4] = ["index.html", "transcript.md", "chat.json", "activity.svg"];

/// The four files of `a`.
pub fn render(a: &ChatArchive) -> Rendered {
    let st = stats(a);
    let activity_svg = svg::render(a);
    Rendered {
        index_html: page::render(a, &st, &activity_svg),
        transcript_md: transcript::render(a, &st),
        chat_json: json::render(a, &st),
        activity_svg,
    }
}

/// Writes the four files of `a` into `dir` (created with its parents),
/// each atomically: a reader sees the old file or the new one, never half.
pub fn write(dir: &Path, a: &ChatArchive) -> io::Result<Written> {
    let r = render(a);
    fs::create_dir_all(dir)?;
    remove_stale_temps(dir, &FILES);
    let mut files = Vec::new();
    let texts = [
        &r.index_html,
        &r.transcript_md,
        &r.chat_json,
        &r.activity_svg,
    ];
    for (name, text) in FILES.into_iter().zip(texts) {
        files.push(write_atomic(dir, name, text.as_bytes())?);
    }
    sync_dir(dir);
    Ok(Written { files })
}

/// Writes `dir/name` through a temporary file in the same folder and a
/// rename; the temporary file is removed if anything fails.
pub(crate) fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<PathBuf> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, &path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(path)
}

/// Removes the temporary files [`write_atomic`] leaves when the process
/// dies between writing one and renaming it: `.NAME.PID.tmp` of `names`.
pub(crate) fn remove_stale_temps(dir: &Path, names: &[&str]) {
    let Ok(list) = fs::read_dir(dir) else { return };
    for item in list.flatten() {
        let file = item.file_name();
        let Some(file) = file.to_str() else { continue };
        let stale = names.iter().any(|n| {
            file.strip_prefix(&format!(".{n}."))
                .and_then(|rest| rest.strip_suffix(".tmp"))
                .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
        });
        if stale {
            let _ = fs::remove_file(item.path());
        }
    }
}

/// Makes the renames durable. Best effort: not every platform can open a
/// folder, and the files are already complete either way.
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}
