//! A chat date's recap thread and archive, made from its [`ChatData`]
//! with the host's templates and settings: what the service and the
//! `recap` and `archive` commands share.

use std::path::PathBuf;

use chrono::NaiveDate;

use super::load::ChatData;
use super::thread::{self, ThreadPost};
use crate::archive::{self, ChatArchive};
use crate::config::Chat;
use crate::length::PostLimit;
use crate::plan::Occurrence;
use crate::prompts::Templates;

/// The thread of a chat date, with warnings for the log. A host's broken
/// template never costs the thread: the built-in wording is used instead,
/// and a warning says so. `Err` only when even that fails.
pub fn compose_thread(
    chat: &Chat,
    occ: &Occurrence,
    data: &ChatData,
    limit: PostLimit,
) -> Result<(Vec<ThreadPost>, Vec<String>), String> {
    let questions = data.numbered_questions();
    let links = archive::shared_links(&data.answers);
    let archive_url = super::load::published_at(chat, occ);
    let input = data.thread_input(chat, occ, &questions, &links, archive_url.as_deref());
    let mut warnings = Vec::new();
    match Templates::load(&chat.prompts_dir) {
        Ok((templates, _)) => match thread::compose(&input, &templates, limit.max, limit.per_url) {
            Ok(posts) => return Ok((posts, warnings)),
            Err(d) => warnings.push(format!(
                "the recap cannot be written with the host's templates, so the built-in ones are used (run `chathost check`):\n{d}"
            )),
        },
        Err(diags) => warnings.push(format!(
            "the templates have errors, so the recap uses the built-in ones (run `chathost check`):\n{}",
            diags.first().map(ToString::to_string).unwrap_or_default()
        )),
    }
    thread::compose(&input, &Templates::builtin(), limit.max, limit.per_url)
        .map(|posts| (posts, warnings))
        .map_err(|d| format!("the recap thread cannot be composed: {d}"))
}

/// The archive folder of chat date `date`: `<archive dir>/<chat>/<date>/`.
pub fn archive_dir(chat: &Chat, date: NaiveDate) -> PathBuf {
    chat.archive.dir.join(&chat.name).join(date.to_string())
}

/// Writes a chat date's archive into its folder, then the chat's index
/// and feed beside it. The folder written and warnings (chat dates the
/// index had to leave out), or why not.
pub fn write_archive(chat: &Chat, input: &ChatArchive) -> Result<(PathBuf, Vec<String>), String> {
    let dir = archive_dir(chat, input.date);
    write_folder(&dir, input)?;
    let chat_dir = chat.archive.dir.join(&chat.name);
    let base = chat
        .archive
        .url
        .as_ref()
        .map(|u| format!("{}/{}/", u.trim_end_matches('/'), chat.name));
    let index = archive::write_chat_index(&chat_dir, base.as_deref()).map_err(|e| {
        format!(
            "wrote {}, but cannot write the chat's index in {}: {e}",
            dir.display(),
            chat_dir.display()
        )
    })?;
    let warnings = index
        .skipped
        .iter()
        .map(|s| {
            format!(
                "the chat's index leaves out {}: {} (`chathost archive` writes it again)",
                s.path.display(),
                s.reason
            )
        })
        .collect();
    Ok((dir, warnings))
}

/// Writes the chat date's four files into `dir` only (`chathost archive
/// --out`): the chat's index and feed stay where the service keeps them.
pub fn write_folder(dir: &std::path::Path, input: &ChatArchive) -> Result<PathBuf, String> {
    archive::write(dir, input)
        .map_err(|e| format!("cannot write the archive in {}: {e}", dir.display()))?;
    Ok(dir.to_path_buf())
}
