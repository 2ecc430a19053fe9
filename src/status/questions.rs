//! The next chat's question file, as `check` would judge it: found by the
//! same lookup the engine uses, read, its posts built from the templates
//! and measured against the offline length limit.

use serde::Serialize;

use crate::config::{Chat, Config};
use crate::diagnostic::{Diagnostic, Severity, SourceFile};
use crate::length::post_length;
use crate::plan::{self, Occurrence, StepKind};
use crate::prompts::{self, QuestionFile, QuestionSet, Templates};

/// The question file of a chat date and whether it passes `check`.
#[derive(Debug, Serialize)]
pub struct Questions {
    /// `own` (the date's file), `fallback`, `none` (the week is skipped) or
    /// `unusable` (something at the date's path that is no file).
    pub source: &'static str,
    /// The file used, or the one expected when there is none.
    pub file: Option<String>,
    /// True when the file reads and every post builds and fits.
    pub passes_check: bool,
    /// How many errors `check` would report for it.
    pub errors: usize,
    /// The first of them.
    pub first_error: Option<FirstError>,
}

/// An error in a question file or template, located.
#[derive(Debug, Serialize)]
pub struct FirstError {
    /// `file:line:col`, or the file alone.
    pub position: String,
    /// What is wrong.
    pub message: String,
}

impl Questions {
    /// Why the host should look, if they should.
    pub fn attention(&self) -> Option<String> {
        let file = self.file.as_deref().unwrap_or("?");
        if self.source == "none" {
            return Some(format!(
                "no questions: {file} is missing and there is no fallback, so the week will be skipped"
            ));
        }
        let first = self.first_error.as_ref()?;
        Some(format!(
            "{file} fails check ({} error{}; first: {}: {})",
            self.errors,
            if self.errors == 1 { "" } else { "s" },
            first.position,
            first.message
        ))
    }
}

/// Judges the question file of `occ`.
pub fn check_next(config: &Config, chat: &Chat, occ: &Occurrence) -> Questions {
    let found = prompts::question_file(chat, occ.date);
    let source = match &found {
        QuestionFile::Found {
            fallback: false, ..
        } => "own",
        QuestionFile::Found { fallback: true, .. } => "fallback",
        QuestionFile::Missing { .. } => "none",
        QuestionFile::Unusable { .. } => "unusable",
    };
    let errors = match found.load(chat) {
        None => Vec::new(),
        Some(Err(diags)) => diags,
        Some(Ok(qs)) => build(config, chat, occ, &qs),
    };
    let errors: Vec<Diagnostic> = errors.into_iter().filter(Diagnostic::is_error).collect();
    Questions {
        source,
        file: Some(found.path().display().to_string()),
        passes_check: source != "none" && errors.is_empty(),
        errors: errors.len(),
        first_error: errors.first().map(|d| FirstError {
            position: d.position(),
            message: d.message.clone(),
        }),
    }
}

/// The errors of building every post of `occ` from `qs`: templates,
/// rendering and length (the limit from bot.toml, as offline `check`).
fn build(config: &Config, chat: &Chat, occ: &Occurrence, qs: &QuestionSet) -> Vec<Diagnostic> {
    let templates = match Templates::load(&chat.prompts_dir) {
        Ok((t, _)) => t,
        Err(errors) => return errors,
    };
    let next = plan::next_after(chat, occ);
    let steps = match plan::build_steps(chat, occ, qs, &templates, next.as_ref()) {
        Ok(s) => s,
        Err(d) => return vec![d],
    };
    let (max, per_url) = (
        config.instance.max_characters,
        config.instance.characters_per_url,
    );
    let source = SourceFile::read(&qs.path).ok();
    let mut errors = Vec::new();
    for step in &steps {
        let len = post_length(&step.text, per_url);
        if len <= max {
            continue;
        }
        let message = format!(
            "the {} post of {} is {len} characters after templating; the limit (bot.toml) is {max}",
            step.kind.label(),
            occ.date
        );
        // A question is located in its file; other posts at the file.
        let span = match step.kind {
            StepKind::Question { number } => number
                .checked_sub(1)
                .and_then(|i| qs.questions.get(i))
                .map(|q| q.span.clone()),
            _ => None,
        };
        errors.push(match (span, &source) {
            (Some(span), Some(source)) => source.diag(Severity::Error, span, message),
            _ => Diagnostic::error(qs.path.display().to_string(), message),
        });
    }
    errors
}
