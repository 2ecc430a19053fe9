//! Which question file serves a chat date, and the files in a prompts folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::config::Chat;
use crate::diagnostic::Diagnostic;

use super::weekday_name;

/// The question file for a chat date, if there is one: the week's own file,
/// else the chat's fallback, else `None` (the week is skipped).
pub fn question_file_for(chat: &Chat, date: NaiveDate) -> Option<(PathBuf, bool)> {
    let own = dated_path(&chat.prompts_dir, date);
    if own.is_file() {
        return Some((own, false));
    }
    chat.fallback.clone().map(|f| (f, true))
}

/// `<dir>/YYYY-MM-DD.toml`.
pub fn dated_path(dir: &Path, date: NaiveDate) -> PathBuf {
    dir.join(format!("{}.toml", date.format("%Y-%m-%d")))
}
/// Question files in a prompts folder by date, and warnings about files
/// that will never be used (misnamed, or on the wrong weekday).
pub fn list_question_files(chat: &Chat) -> (BTreeMap<NaiveDate, PathBuf>, Vec<Diagnostic>) {
    let mut files = BTreeMap::new();
    let mut warnings = Vec::new();
    let Ok(entries) = std::fs::read_dir(&chat.prompts_dir) else {
        return (files, warnings);
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        if chat.fallback.as_deref() == Some(path.as_path()) {
            continue;
        }
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        match NaiveDate::parse_from_str(stem, "%Y-%m-%d") {
            Ok(date) if chrono::Datelike::weekday(&date) == chat.weekday => {
                files.insert(date, path);
            }
            Ok(date) => warnings.push(
                Diagnostic::warning(
                    path.display().to_string(),
                    format!(
                        "{} is a {}, but the {} chat is on {}s: this file will never be used",
                        date,
                        date.format("%A"),
                        chat.name,
                        weekday_name(chat.weekday)
                    ),
                )
                .with_help("rename it to the date of the chat it is for"),
            ),
            Err(_) => warnings.push(
                Diagnostic::warning(
                    path.display().to_string(),
                    "this file is not named after a chat date, so it will never be used",
                )
                .with_help(
                    "name question files YYYY-MM-DD.toml, or set it as `fallback` in bot.toml",
                ),
            ),
        }
    }
    (files, warnings)
}
