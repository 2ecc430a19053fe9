//! The host's words: a question file per chat date under the chat's prompts
//! folder (`prompts/2026-12-02.toml`) and the post templates (minijinja),
//! built in and overridable by `prompts/templates/<kind>.j2`.
//!
//! Question files are read again before every chat step, so a host can edit
//! them during the week — and a broken edit is reported while the last good
//! version keeps being used (the caller keeps it; this module only reads).

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::config::{Chat, Pacing};
use crate::diagnostic::{Diagnostic, Severity, SourceFile, did_you_mean};

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
    topic: String,
    guest: Option<String>,
    intro: Option<String>,
    #[serde(default)]
    question: Vec<RawQuestion>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuestion {
    text: Spanned<String>,
    at: Option<Spanned<u32>>,
}

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
    let raw: RawQuestionFile = toml::from_str(&source.text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let msg = e.message().lines().next().unwrap_or("").to_string();
        let help = if msg.starts_with("unknown field") {
            let unknown = msg.split('`').nth(1).unwrap_or("");
            match did_you_mean(unknown, ["topic", "guest", "intro", "question", "text", "at"]) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "a question file has topic, guest, intro and [[question]] tables with text and at".into(),
            }
        } else if msg.starts_with("missing field `topic`") {
            "add a line such as: topic = \"Winter pressures\"".into()
        } else if msg.starts_with("missing field `text`") {
            "every [[question]] needs text = \"…\"".into()
        } else {
            "fix the TOML on this line; see prompts/README.md for the format".into()
        };
        vec![source.diag(Severity::Error, span, msg).with_help(help)]
    })?;

    let mut diags = Vec::new();
    if raw.question.is_empty() {
        let span = source.text.find("question").map_or(0..0, |i| i..i + 8);
        diags.push(
            source
                .diag(Severity::Error, span, "this question file has no questions")
                .with_help("add questions as [[question]] tables, each with text = \"…\""),
        );
    }
    if raw.topic.trim().is_empty() {
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
        topic: raw.topic.trim().to_string(),
        guest: raw.guest.filter(|g| !g.trim().is_empty()),
        intro: raw
            .intro
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
        questions,
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

// ---------------------------------------------------------------------------
// Templates
// ---------------------------------------------------------------------------

/// The kinds of post a template exists for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateKind {
    /// Before the chat.
    Reminder,
    /// Opens the chat.
    Welcome,
    /// One question.
    Question,
    /// A few minutes before the end.
    LastCall,
    /// Closes the chat.
    WrapUp,
    /// Heads the recap thread after the chat.
    Recap,
}

impl TemplateKind {
    /// Every kind.
    pub const ALL: [TemplateKind; 6] = [
        TemplateKind::Reminder,
        TemplateKind::Welcome,
        TemplateKind::Question,
        TemplateKind::LastCall,
        TemplateKind::WrapUp,
        TemplateKind::Recap,
    ];

    /// Its file name under `templates/`.
    pub fn file_name(self) -> &'static str {
        match self {
            TemplateKind::Reminder => "reminder.j2",
            TemplateKind::Welcome => "welcome.j2",
            TemplateKind::Question => "question.j2",
            TemplateKind::LastCall => "last_call.j2",
            TemplateKind::WrapUp => "wrap_up.j2",
            TemplateKind::Recap => "recap.j2",
        }
    }

    fn builtin(self) -> &'static str {
        match self {
            TemplateKind::Reminder => include_str!("templates/reminder.j2"),
            TemplateKind::Welcome => include_str!("templates/welcome.j2"),
            TemplateKind::Question => include_str!("templates/question.j2"),
            TemplateKind::LastCall => include_str!("templates/last_call.j2"),
            TemplateKind::WrapUp => include_str!("templates/wrap_up.j2"),
            TemplateKind::Recap => include_str!("templates/recap.j2"),
        }
    }
}

/// What a template can use. Every field is always present (possibly empty),
/// so `{% if guest %}` works and a misspelt name is an error.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PostContext {
    /// The hashtag, without `#`.
    pub hashtag: String,
    /// The week's topic.
    pub topic: String,
    /// Guest host, or empty.
    pub guest: String,
    /// Intro paragraph, or empty.
    pub intro: String,
    /// The chat's day, e.g. "Wednesday 2 December".
    pub day: String,
    /// Local start time, "20:00".
    pub start: String,
    /// Local end time, "21:00".
    pub end: String,
    /// Zone abbreviation at the start, "GMT" or "BST".
    pub zone: String,
    /// How many questions.
    pub questions: usize,
    /// The question's number (question posts).
    pub number: usize,
    /// The question's text (question posts).
    pub text: String,
    /// Lead time of a reminder, "24 hours".
    pub before: String,
    /// Minutes from the last call to the end.
    pub minutes_left: u32,
    /// Day of the next chat, or empty.
    pub next_day: String,
    /// Local start of the next chat with its zone, "20:00 GMT", or empty.
    pub next_time: String,
    /// Recap: how many people took part.
    pub participants: usize,
    /// Recap: how many answers.
    pub answers: usize,
}

/// The templates of one prompts folder, ready to render.
#[derive(Debug)]
pub struct Templates {
    env: minijinja::Environment<'static>,
    /// Each kind's source (the host's file or the built-in text), to locate
    /// a render error in it.
    sources: BTreeMap<TemplateKind, SourceFile>,
}

impl Templates {
    /// The built-in templates only.
    pub fn builtin() -> Templates {
        Templates::compile(|_| None).expect("built-in templates compile")
    }

    /// Built-in templates, overridden by `<prompts>/templates/<kind>.j2`.
    /// Errors are syntax errors, located in the template file; warnings are
    /// files in `templates/` that match no kind.
    pub fn load(prompts_dir: &Path) -> Result<(Templates, Vec<Diagnostic>), Vec<Diagnostic>> {
        let dir = prompts_dir.join("templates");
        let templates = Templates::compile(|kind| {
            let path = dir.join(kind.file_name());
            std::fs::symlink_metadata(&path)
                .is_ok()
                .then(|| SourceFile::read(&path))
        })?;
        let mut warnings = Vec::new();
        if let Ok(entries) = std::fs::read_dir(&dir) {
            let known = TemplateKind::ALL.map(TemplateKind::file_name);
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if !known.contains(&name.as_str()) {
                    let help = match did_you_mean(&name, known) {
                        Some(s) => format!("did you mean {s}?"),
                        None => format!("template files are: {}", known.join(", ")),
                    };
                    warnings.push(
                        Diagnostic::warning(
                            e.path().display().to_string(),
                            "this template file is not used",
                        )
                        .with_help(help),
                    );
                }
            }
        }
        Ok((templates, warnings))
    }

    /// Compiles every kind from the host's file where `override_of` gives
    /// one, else from the built-in text.
    fn compile(
        override_of: impl Fn(TemplateKind) -> Option<Result<SourceFile, Diagnostic>>,
    ) -> Result<Templates, Vec<Diagnostic>> {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(false);
        let mut sources = BTreeMap::new();
        let mut errors = Vec::new();
        for kind in TemplateKind::ALL {
            let source = match override_of(kind) {
                Some(Ok(s)) => s,
                Some(Err(d)) => {
                    errors.push(d);
                    continue;
                }
                None => SourceFile::from_text(
                    format!("(built-in) {}", kind.file_name()),
                    kind.builtin(),
                ),
            };
            match env.add_template_owned(kind.file_name(), source.text.clone()) {
                Ok(()) => {
                    sources.insert(kind, source);
                }
                Err(e) => errors.push(template_error(&source, &e)),
            }
        }
        if errors.is_empty() {
            Ok(Templates { env, sources })
        } else {
            Err(errors)
        }
    }

    /// Where a kind's template comes from: the host's file, or
    /// `(built-in) <kind>.j2`.
    pub fn origin(&self, kind: TemplateKind) -> String {
        self.sources[&kind].name()
    }

    /// Renders a post. An error (e.g. an unknown variable) names the
    /// template file and line.
    pub fn render(&self, kind: TemplateKind, ctx: &PostContext) -> Result<String, Diagnostic> {
        let template = self
            .env
            .get_template(kind.file_name())
            .expect("every kind is loaded");
        template
            .render(ctx)
            .map(|s| tidy(&s))
            .map_err(|e| template_error(&self.sources[&kind], &e))
    }
}

/// Trims the post and folds runs of blank lines left by `{% if %}` blocks.
fn tidy(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blank = 0;
    for line in s.trim().lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim_end().to_string()
}

fn template_error(source: &SourceFile, e: &minijinja::Error) -> Diagnostic {
    let span = e.range().unwrap_or_else(|| {
        // Only a line is known: point at its first character.
        let line = e.line().unwrap_or(1);
        let start = source
            .text
            .split_inclusive('\n')
            .take(line.saturating_sub(1))
            .map(str::len)
            .sum::<usize>();
        start..start
    });
    let detail = e
        .detail()
        .map(str::to_string)
        .unwrap_or_else(|| e.kind().to_string());
    let help = match e.kind() {
        minijinja::ErrorKind::UndefinedError => {
            "templates can use: hashtag, topic, guest, intro, day, start, end, zone, questions, \
             number, text, before, minutes_left, next_day, next_time, participants, answers"
        }
        minijinja::ErrorKind::SyntaxError => {
            "check the {{ … }} and {% … %} tags on this line (minijinja syntax)"
        }
        _ => "fix the template, or delete the file to use the built-in one",
    };
    source
        .diag(Severity::Error, span, format!("template: {detail}"))
        .with_help(help)
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

    #[test]
    fn builtin_templates_render_without_leftover_blank_lines() {
        let t = Templates::builtin();
        let ctx = PostContext {
            hashtag: "WeNurses".into(),
            topic: "Winter pressures".into(),
            number: 2,
            text: "What helps?".into(),
            questions: 5,
            ..Default::default()
        };
        let welcome = t.render(TemplateKind::Welcome, &ctx).unwrap();
        assert!(
            welcome.starts_with("Welcome to the #WeNurses chat!\n\nTopic: Winter pressures\n"),
            "{welcome}"
        );
        assert!(!welcome.contains("\n\n\n"), "{welcome}");
        assert_eq!(
            t.render(TemplateKind::Question, &ctx).unwrap(),
            "Q2: What helps?\n\nAnswer with \"A2: …\" #WeNurses"
        );
    }
}
