//! The host's words: a question file per chat date under the chat's prompts
//! folder (`prompts/2026-12-02.toml`) and the post templates (minijinja),
//! built in and overridable by `prompts/templates/<kind>.j2`.
//!
//! Question files are read again before every chat step, so a host can edit
//! them during the week — and a broken edit is reported while the last good
//! version keeps being used (the caller keeps it; this module only reads).

mod lookup;
mod questions;
mod render;
mod templates;
mod text;

pub use lookup::{QuestionFile, dated_path, list_question_files, question_file};
pub use questions::{Question, QuestionSet, load_questions, parse_questions, question_minutes};
pub use templates::{Pick, PostContext, SharedLink, TemplateKind, Templates};
pub use text::escape_controls;

/// "Wednesday" for `Weekday::Wed`.
pub fn weekday_name(w: chrono::Weekday) -> &'static str {
    use chrono::Weekday::*;
    match w {
        Mon => "Monday",
        Tue => "Tuesday",
        Wed => "Wednesday",
        Thu => "Thursday",
        Fri => "Friday",
        Sat => "Saturday",
        Sun => "Sunday",
    }
}
