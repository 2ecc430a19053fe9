//! Which question file serves a chat date, and the files in a prompts folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::config::Chat;
use crate::diagnostic::{Diagnostic, SourceFile};

use super::{QuestionSet, load_questions, weekday_name};

/// The verdict on a chat date's question file. `check`, `plan` and the
/// engine all ask [`question_file`], so they never disagree about a week.
#[derive(Debug, Clone)]
pub enum QuestionFile {
    /// A file to read: the week's own, or the chat's fallback.
    Found {
        /// The file.
        path: PathBuf,
        /// True for the chat's fallback.
        fallback: bool,
    },
    /// Nothing at the week's path and no fallback: the week is skipped.
    Missing {
        /// The file that would have been used.
        expected: PathBuf,
    },
    /// Something is at the week's path but it cannot be a question file (a
    /// directory, a symlink loop, a dangling link…). An error, never a
    /// reason to use the fallback: the host meant this week to have its
    /// own questions.
    Unusable {
        /// The week's path.
        path: PathBuf,
        /// Why, as `chathost check` reports it.
        problem: Diagnostic,
    },
}

impl QuestionFile {
    /// The file found, expected or unusable.
    pub fn path(&self) -> &Path {
        match self {
            QuestionFile::Found { path, .. }
            | QuestionFile::Unusable { path, .. }
            | QuestionFile::Missing { expected: path } => path,
        }
    }

    /// Reads and checks the questions: `None` when the week has no file
    /// (it is skipped), else the questions or every problem found.
    pub fn load(&self, chat: &Chat) -> Option<Result<QuestionSet, Vec<Diagnostic>>> {
        match self {
            QuestionFile::Found { path, fallback } => Some(load_questions(path, *fallback, chat)),
            QuestionFile::Missing { .. } => None,
            QuestionFile::Unusable { problem, .. } => Some(Err(vec![problem.clone()])),
        }
    }
}

/// The question file for a chat date: the week's own file, else (only when
/// nothing at all is at its path) the chat's fallback.
pub fn question_file(chat: &Chat, date: NaiveDate) -> QuestionFile {
    let own = dated_path(&chat.prompts_dir, date);
    match std::fs::symlink_metadata(&own) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match &chat.fallback {
            Some(f) => QuestionFile::Found {
                path: f.clone(),
                fallback: true,
            },
            None => QuestionFile::Missing { expected: own },
        },
        Ok(meta) if meta.is_file() => QuestionFile::Found {
            path: own,
            fallback: false,
        },
        // A link, a directory, a device or an error: reading it says
        // whether it is usable, and if not, why.
        _ => match SourceFile::read(&own) {
            Ok(_) => QuestionFile::Found {
                path: own,
                fallback: false,
            },
            Err(problem) => QuestionFile::Unusable { path: own, problem },
        },
    }
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
