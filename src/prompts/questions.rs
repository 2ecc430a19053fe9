//! A week's question file: its format, its checks and the minute of each
//! question.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::config::{Chat, Pacing};
use crate::diagnostic::{Diagnostic, Severity, SourceFile, did_you_mean};

use super::text;

/// One week's questions.
#[derive(Debug, Clone, PartialEq)]
pub struct QuestionSet {
    /// The file they were read from.
    pub path: PathBuf,
    /// True when this is the chat's fallback file, not the week's own.
    pub fallback: bool,
    /// The week's topic.
    pub topic: String,
    /// Guest host (a handle such as `@jane@example.social`, or a name).
    pub guest: Option<String>,
    /// A paragraph for the welcome post.
    pub intro: Option<String>,
    /// The questions, in order.
    pub questions: Vec<Question>,
}

/// One question.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    /// Its text, without the `Q1:` prefix (the template adds it).
    pub text: String,
    /// Explicit minute after the start, if the host set one.
    pub at: Option<u32>,
    /// Where the text is in the file, for diagnostics.
    pub span: Range<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuestionFile {
    topic: Spanned<String>,
    guest: Option<Spanned<String>>,
    intro: Option<Spanned<String>>,
    #[serde(default)]
    question: Vec<RawQuestion>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuestion {
    text: Spanned<String>,
    at: Option<Spanned<u32>>,
}

/// Reads and checks a question file against the chat's pacing.
pub fn load_questions(
    path: &Path,
    fallback: bool,
    chat: &Chat,
) -> Result<QuestionSet, Vec<Diagnostic>> {
    let source = SourceFile::read(path).map_err(|d| vec![d])?;
    parse_questions(&source, fallback, &chat.pacing)
}

/// Parses and checks a question file already read.
pub fn parse_questions(
    source: &SourceFile,
    fallback: bool,
    pacing: &Pacing,
) -> Result<QuestionSet, Vec<Diagnostic>> {
    // Raw in the file (the TOML error would quote it raw) or written as an
    // escape (`\u001b`) in a value: either way not for a post.
    if let Some(d) = text::check_source(source) {
        return Err(vec![d]);
    }
    let raw: RawQuestionFile =
        toml::from_str(&source.text).map_err(|e| vec![toml_error(source, &e)])?;
    if let Some(d) = control_in_values(source, &raw) {
        return Err(vec![d]);
    }

    let mut diags = Vec::new();
    if raw.question.is_empty() {
        let span = source.text.find("question").map_or(0..0, |i| i..i + 8);
        diags.push(
            source
                .diag(Severity::Error, span, "this question file has no questions")
                .with_help("add questions as [[question]] tables, each with text = \"…\""),
        );
    }
    if raw.topic.get_ref().trim().is_empty() {
        let span = source.text.find("topic").map_or(0..0, |i| i..i + 5);
        diags.push(
            source
                .diag(Severity::Error, span, "the topic is empty")
                .with_help("name the week's topic; it appears in the reminder and the welcome"),
        );
    }

    let end = pacing.last_call.unwrap_or(pacing.wrap_up);
    let mut previous: Option<u32> = None;
    let mut questions = Vec::new();
    for (i, q) in raw.question.into_iter().enumerate() {
        let n = i + 1;
        if q.text.get_ref().trim().is_empty() {
            diags.push(
                source
                    .diag(
                        Severity::Error,
                        q.text.span(),
                        format!("question {n} is empty"),
                    )
                    .with_help("write the question, or remove the [[question]] table"),
            );
        }
        let at = q.at.as_ref().map(|a| *a.get_ref());
        if let Some(a) = &q.at {
            let minute = *a.get_ref();
            let ending = if pacing.last_call.is_some() {
                "last call"
            } else {
                "wrap-up"
            };
            if minute <= pacing.welcome || minute >= end {
                diags.push(
                    source
                        .diag(
                            Severity::Error,
                            a.span(),
                            format!("question {n} at minute {minute} is outside the chat's question time"),
                        )
                        .with_help(format!(
                            "questions go after the welcome (minute {}) and before the {ending} (minute {end})",
                            pacing.welcome
                        )),
                );
            } else if let Some(p) = previous
                && minute <= p
            {
                diags.push(
                    source
                        .diag(
                            Severity::Error,
                            a.span(),
                            format!("question {n} at minute {minute} is not after the question before it (minute {p})"),
                        )
                        .with_help("questions are posted in file order; give them increasing minutes or reorder them"),
                );
            }
            previous = Some(minute);
        }
        questions.push(Question {
            text: q.text.get_ref().trim().to_string(),
            at,
            span: q.text.span(),
        });
    }
    if diags.is_empty()
        && let Err(msg) = question_minutes(&questions, pacing)
    {
        diags.push(
            source
                .diag(Severity::Error, 0..0, msg)
                .with_help("move first_question or last_call in bot.toml, give explicit `at` minutes, or use fewer questions"),
        );
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    Ok(QuestionSet {
        path: source.path.clone(),
        fallback,
        topic: raw.topic.get_ref().trim().to_string(),
        guest: raw
            .guest
            .map(Spanned::into_inner)
            .filter(|g| !g.trim().is_empty()),
        intro: raw
            .intro
            .map(Spanned::into_inner)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
        questions,
    })
}

/// A TOML error in a question file, with what to do about it.
fn toml_error(source: &SourceFile, e: &toml::de::Error) -> Diagnostic {
    let span = e.span().unwrap_or(0..0);
    let msg = e.message().lines().next().unwrap_or("").to_string();
    let help = if msg.starts_with("unknown field") {
        let unknown = msg.split('`').nth(1).unwrap_or("");
        match did_you_mean(
            unknown,
            ["topic", "guest", "intro", "question", "text", "at"],
        ) {
            Some(s) => format!("did you mean `{s}`?"),
            None => {
                "a question file has topic, guest, intro and [[question]] tables with text and at"
                    .into()
            }
        }
    } else if msg.starts_with("missing field `topic`") {
        "add a line such as: topic = \"Winter pressures\"".into()
    } else if msg.starts_with("missing field `text`") {
        "every [[question]] needs text = \"…\"".into()
    } else {
        "fix the TOML on this line; see prompts/README.md for the format".into()
    };
    source.diag(Severity::Error, span, msg).with_help(help)
}

/// The first control character in a value written as an escape.
fn control_in_values(source: &SourceFile, raw: &RawQuestionFile) -> Option<Diagnostic> {
    let values = [Some(&raw.topic), raw.guest.as_ref(), raw.intro.as_ref()]
        .into_iter()
        .flatten()
        .chain(raw.question.iter().map(|q| &q.text));
    values.into_iter().find_map(|v| {
        text::find_control(v.get_ref())
            .map(|(_, c)| text::control_error(source, v.span(), c, false))
    })
}

/// The minute after the start of each question: explicit `at` where given,
/// the rest spread evenly (to whole minutes) between their neighbours, from
/// the first question slot to the last call (or wrap-up).
pub fn question_minutes(questions: &[Question], pacing: &Pacing) -> Result<Vec<u32>, String> {
    let end = f64::from(pacing.last_call.unwrap_or(pacing.wrap_up));
    let mut minutes: Vec<f64> = Vec::with_capacity(questions.len());
    let mut i = 0;
    while i < questions.len() {
        if let Some(at) = questions[i].at {
            minutes.push(f64::from(at));
            i += 1;
            continue;
        }
        // A run of questions without `at`, between two anchors.
        let run_end = (i..questions.len())
            .find(|&j| questions[j].at.is_some())
            .unwrap_or(questions.len());
        let k = (run_end - i) as f64;
        let next = questions
            .get(run_end)
            .and_then(|q| q.at)
            .map(f64::from)
            .unwrap_or(end);
        match minutes.last() {
            // Leading run: the first one at `first_question`, the rest evenly.
            None => {
                let start = f64::from(pacing.first_question);
                let step = (next - start) / k;
                minutes.extend((0..run_end - i).map(|j| start + step * j as f64));
            }
            Some(&prev) => {
                let step = (next - prev) / (k + 1.0);
                minutes.extend((1..=run_end - i).map(|j| prev + step * j as f64));
            }
        }
        i = run_end;
    }
    let rounded: Vec<u32> = minutes.iter().map(|m| m.round() as u32).collect();
    for w in rounded.windows(2) {
        if w[1] <= w[0] {
            return Err(format!(
                "{} questions do not fit: two would be posted in minute {}",
                questions.len(),
                w[0]
            ));
        }
    }
    if let Some(&first) = rounded.first()
        && first <= pacing.welcome
    {
        return Err(format!(
            "the first question (minute {first}) would come before the welcome (minute {})",
            pacing.welcome
        ));
    }
    if let Some(&last) = rounded.last()
        && f64::from(last) >= end
    {
        return Err(format!(
            "the last question (minute {last}) would come after the last call (minute {end})"
        ));
    }
    Ok(rounded)
}
#[cfg(test)]
mod tests {
    use super::*;

    fn pacing() -> Pacing {
        Pacing {
            welcome: 0,
            first_question: 5,
            last_call: Some(55),
            wrap_up: 60,
        }
    }

    fn q(at: Option<u32>) -> Question {
        Question {
            text: "x".into(),
            at,
            span: 0..0,
        }
    }

    #[test]
    fn five_questions_every_ten_minutes() {
        let qs: Vec<_> = (0..5).map(|_| q(None)).collect();
        assert_eq!(
            question_minutes(&qs, &pacing()).unwrap(),
            vec![5, 15, 25, 35, 45]
        );
    }

    #[test]
    fn explicit_minutes_anchor_the_rest() {
        let qs = vec![q(None), q(Some(20)), q(None), q(None)];
        // After 20, two questions share the 35 minutes to the last call.
        assert_eq!(
            question_minutes(&qs, &pacing()).unwrap(),
            vec![5, 20, 32, 43]
        );
    }

    #[test]
    fn too_many_questions_do_not_fit() {
        let qs: Vec<_> = (0..80).map(|_| q(None)).collect();
        assert!(
            question_minutes(&qs, &pacing())
                .unwrap_err()
                .contains("do not fit")
        );
    }
}
