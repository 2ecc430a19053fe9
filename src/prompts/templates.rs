//! The post templates (minijinja): built in, overridable by
//! `prompts/templates/<kind>.j2`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::diagnostic::{Diagnostic, Severity, SourceFile, did_you_mean};

use super::render::{self, Failure};
use super::text;

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
    /// One question of the recap thread, with its most engaging answers.
    RecapQuestion,
    /// Closes the recap thread: links shared most, the next chat.
    RecapEnd,
    /// Reply to a participant's `next`: the coming chats.
    MentionNext,
    /// Reply to `optout`: confirms, says how to undo.
    MentionOptout,
    /// Reply to `optin`: confirms.
    MentionOptin,
    /// The participation record (`record`, `cpd`), sent by direct message.
    MentionRecord,
    /// Reply to `help`: the commands.
    MentionHelp,
}

impl TemplateKind {
    /// Every kind.
    pub const ALL: [TemplateKind; 13] = [
        TemplateKind::Reminder,
        TemplateKind::Welcome,
        TemplateKind::Question,
        TemplateKind::LastCall,
        TemplateKind::WrapUp,
        TemplateKind::Recap,
        TemplateKind::RecapQuestion,
        TemplateKind::RecapEnd,
        TemplateKind::MentionNext,
        TemplateKind::MentionOptout,
        TemplateKind::MentionOptin,
        TemplateKind::MentionRecord,
        TemplateKind::MentionHelp,
    ];

    /// A reply to a participant's command (rendered with a mention
    /// context, not a [`PostContext`]).
    pub fn is_mention_reply(self) -> bool {
        matches!(
            self,
            TemplateKind::MentionNext
                | TemplateKind::MentionOptout
                | TemplateKind::MentionOptin
                | TemplateKind::MentionRecord
                | TemplateKind::MentionHelp
        )
    }

    /// Its file name under `templates/`.
    pub fn file_name(self) -> &'static str {
        match self {
            TemplateKind::Reminder => "reminder.j2",
            TemplateKind::Welcome => "welcome.j2",
            TemplateKind::Question => "question.j2",
            TemplateKind::LastCall => "last_call.j2",
            TemplateKind::WrapUp => "wrap_up.j2",
            TemplateKind::Recap => "recap.j2",
            TemplateKind::RecapQuestion => "recap_question.j2",
            TemplateKind::RecapEnd => "recap_end.j2",
            TemplateKind::MentionNext => "mention_next.j2",
            TemplateKind::MentionOptout => "mention_optout.j2",
            TemplateKind::MentionOptin => "mention_optin.j2",
            TemplateKind::MentionRecord => "mention_record.j2",
            TemplateKind::MentionHelp => "mention_help.j2",
        }
    }

    fn builtin(self) -> &'static str {
        match self {
            TemplateKind::Reminder => include_str!("../templates/reminder.j2"),
            TemplateKind::Welcome => include_str!("../templates/welcome.j2"),
            TemplateKind::Question => include_str!("../templates/question.j2"),
            TemplateKind::LastCall => include_str!("../templates/last_call.j2"),
            TemplateKind::WrapUp => include_str!("../templates/wrap_up.j2"),
            TemplateKind::Recap => include_str!("../templates/recap.j2"),
            TemplateKind::RecapQuestion => include_str!("../templates/recap_question.j2"),
            TemplateKind::RecapEnd => include_str!("../templates/recap_end.j2"),
            TemplateKind::MentionNext => include_str!("../templates/mention_next.j2"),
            TemplateKind::MentionOptout => include_str!("../templates/mention_optout.j2"),
            TemplateKind::MentionOptin => include_str!("../templates/mention_optin.j2"),
            TemplateKind::MentionRecord => include_str!("../templates/mention_record.j2"),
            TemplateKind::MentionHelp => include_str!("../templates/mention_help.j2"),
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
    /// Recap: how many answers (in a recap question post: to that question).
    pub answers: usize,
    /// Recap: how many took part for the first time.
    pub first_timers: usize,
    /// Recap: the archive's address, or empty.
    pub archive_url: String,
    /// Recap question post: the answers it quotes, most engaging first.
    pub picks: Vec<Pick>,
    /// Recap closing post: the links shared most, most first.
    pub links: Vec<SharedLink>,
    /// Topic of the next chat, or empty.
    pub next_topic: String,
}

/// An answer a recap question post quotes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Pick {
    /// A brief quote: no mention, no hashtag.
    pub quote: String,
    /// The answer's web address.
    pub url: String,
    /// The author's display name, unable to mention anyone.
    pub name: String,
}

/// A link people shared during the chat.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SharedLink {
    /// The address.
    pub url: String,
    /// In how many answers.
    pub count: usize,
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
        // The built-in texts compile: a unit test renders each of them.
        Templates::compile(|_| None).expect("built-in templates compile")
    }

    /// Built-in templates, overridden by `<prompts>/templates/<kind>.j2`.
    /// Errors are syntax errors, located in the template file; warnings are
    /// files in `templates/` that match no kind.
    pub fn load(prompts_dir: &Path) -> Result<(Templates, Vec<Diagnostic>), Vec<Diagnostic>> {
        let dir = prompts_dir.join("templates");
        let templates = Templates::compile(|kind| {
            let path = dir.join(kind.file_name());
            // Any entry by that name, so that a FIFO, a directory or a
            // symlink loop is reported rather than passed over.
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
        env.set_fuel(Some(render::FUEL));
        env.add_filter("plural", render::plural);
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
            if let Some(d) =
                text::check_source(&source).or_else(|| render::check_operators(&source))
            {
                errors.push(d);
                continue;
            }
            match env.add_template_owned(kind.file_name(), source.text.clone()) {
                Ok(()) => {
                    sources.insert(kind, source);
                }
                Err(e) => errors.push(template_error(kind, &source, &e)),
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
        self.sources
            .get(&kind)
            .map_or_else(|| kind.file_name().to_string(), SourceFile::name)
    }

    /// Renders a post. An error (e.g. an unknown variable, a loop that
    /// runs too long, blank text) names the template file and line.
    pub fn render(&self, kind: TemplateKind, ctx: &PostContext) -> Result<String, Diagnostic> {
        self.render_any(kind, ctx, &post_name(kind, ctx))
    }

    /// Renders the reply to a participant's command
    /// ([`TemplateKind::is_mention_reply`]) with its own context (the
    /// fields `crate::mentions::replies` documents); errors as
    /// [`Templates::render`].
    pub fn render_reply(
        &self,
        kind: TemplateKind,
        ctx: &impl Serialize,
    ) -> Result<String, Diagnostic> {
        self.render_any(kind, ctx, &post_name(kind, &PostContext::default()))
    }

    /// Renders `kind` with `ctx`; `what` names the post in errors.
    fn render_any(
        &self,
        kind: TemplateKind,
        ctx: &impl Serialize,
        what: &str,
    ) -> Result<String, Diagnostic> {
        let (Some(source), Ok(template)) = (
            self.sources.get(&kind),
            self.env.get_template(kind.file_name()),
        ) else {
            // Unreachable: `compile` loads every kind or fails.
            return Err(Diagnostic::error(
                kind.file_name(),
                "this template was not loaded",
            ));
        };
        let name = kind.file_name();
        let text = match render::capped(&template, ctx) {
            Ok(text) => tidy(&text),
            Err(Failure::TooLong) => {
                return Err(Diagnostic::error(
                    source.name(),
                    format!(
                        "the template {name} renders more than {} KiB for the {} post",
                        render::MAX_RENDERED / 1024,
                        what
                    ),
                )
                .with_help("a post holds a few thousand characters at most: check the loops in this template"));
            }
            Err(Failure::Template(e)) if e.kind() == minijinja::ErrorKind::OutOfFuel => {
                let mut d = template_error(kind, source, &e);
                d.message =
                    format!("the template {name} is too complex to render (a loop runs too long)");
                return Err(d.with_help(
                    "a post needs no more than a short loop: remove or shorten the loop, or delete the file to use the built-in one",
                ));
            }
            Err(Failure::Template(e)) => return Err(template_error(kind, source, &e)),
        };
        if text.is_empty() {
            return Err(Diagnostic::error(
                source.name(),
                format!(
                    "the template {name} renders blank text for the {} post",
                    what
                ),
            )
            .with_help("the server refuses an empty post: write the post's text in the template, or delete the file to use the built-in one"));
        }
        if let Some((_, c)) = text::find_control(&text) {
            return Err(Diagnostic::error(
                source.name(),
                format!(
                    "the template {name} renders the control character U+{:04X} into the {} post",
                    u32::from(c),
                    what
                ),
            )
            .with_help(format!(
                "remove the control character U+{:04X} from the template or the text it shows",
                u32::from(c)
            )));
        }
        Ok(text)
    }
}

/// The post a render is for, in words: "Q2", "welcome".
fn post_name(kind: TemplateKind, ctx: &PostContext) -> String {
    match kind {
        TemplateKind::Reminder => "reminder".into(),
        TemplateKind::Welcome => "welcome".into(),
        TemplateKind::Question => format!("Q{}", ctx.number),
        TemplateKind::LastCall => "last call".into(),
        TemplateKind::WrapUp => "wrap-up".into(),
        TemplateKind::Recap => "recap".into(),
        TemplateKind::RecapQuestion => format!("recap's Q{}", ctx.number),
        TemplateKind::RecapEnd => "recap's closing".into(),
        TemplateKind::MentionNext => "reply to `next`".into(),
        TemplateKind::MentionOptout => "reply to `optout`".into(),
        TemplateKind::MentionOptin => "reply to `optin`".into(),
        TemplateKind::MentionRecord => "participation record".into(),
        TemplateKind::MentionHelp => "reply to `help`".into(),
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

fn template_error(kind: TemplateKind, source: &SourceFile, e: &minijinja::Error) -> Diagnostic {
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
        minijinja::ErrorKind::UndefinedError if kind.is_mention_reply() => {
            "reply templates can use: bot, period, answers, minutes, hours, chats (each: \
             hashtag, topic, local, utc, guest — for next; date, answers, links, minutes — \
             for record)"
        }
        minijinja::ErrorKind::UndefinedError => {
            "templates can use: hashtag, topic, guest, intro, day, start, end, zone, questions, \
             number, text, before, minutes_left, next_day, next_time, participants, answers, \
             first_timers, archive_url, picks (each: quote, url, name), \
             links (each: url, count), next_topic"
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

    #[test]
    fn builtin_recap_templates_say_only_what_is_there() {
        let t = Templates::builtin();
        let base = PostContext {
            hashtag: "WeNurses".into(),
            topic: "Winter pressures".into(),
            day: "Wednesday 2 December".into(),
            questions: 1,
            participants: 1,
            answers: 1,
            ..Default::default()
        };
        assert_eq!(
            t.render(TemplateKind::Recap, &base).unwrap(),
            "Thank you for the #WeNurses chat on Winter pressures (Wednesday 2 December)! \
             1 person shared 1 answer to 1 question.\n\nThe highlights follow in this thread."
        );
        let full = PostContext {
            first_timers: 3,
            archive_url: "https://chat.example/a/".into(),
            number: 2,
            text: "What helps?".into(),
            picks: vec![Pick {
                quote: "Tea".into(),
                url: "https://x.example/1".into(),
                name: "Ann".into(),
            }],
            links: vec![SharedLink {
                url: "https://l.example".into(),
                count: 2,
            }],
            next_day: "Wednesday 9 December".into(),
            next_time: "20:00 GMT".into(),
            next_topic: "Sleep".into(),
            ..base.clone()
        };
        let head = t.render(TemplateKind::Recap, &full).unwrap();
        assert!(head.contains(" 3 of you joined for the first time — welcome!\n\nThe whole chat: https://chat.example/a/\n\n"), "{head}");
        assert_eq!(
            t.render(TemplateKind::RecapQuestion, &full).unwrap(),
            "Q2: What helps?\n\n1 answer, among them:\n\n“Tea” — Ann https://x.example/1"
        );
        let none = PostContext {
            answers: 0,
            picks: Vec::new(),
            ..full.clone()
        };
        assert_eq!(
            t.render(TemplateKind::RecapQuestion, &none).unwrap(),
            "Q2: What helps?\n\nNo answers this time."
        );
        assert_eq!(
            t.render(TemplateKind::RecapEnd, &full).unwrap(),
            "The links you shared most:\nhttps://l.example (2 times)\n\n\
             Next #WeNurses chat: Wednesday 9 December at 20:00 GMT, on Sleep. See you there!"
        );
    }

    #[test]
    fn a_misspelt_recap_variable_is_an_error_naming_the_right_ones() {
        let source = SourceFile::from_text("recap_end.j2", "Bye {{ next_topc }}");
        let Err(errors) =
            Templates::compile(|k| (k == TemplateKind::RecapEnd).then(|| Ok(source.clone())))
                .map(|t| t.render(TemplateKind::RecapEnd, &PostContext::default()))
                .and_then(|r| r.map_err(|d| vec![d]))
        else {
            panic!("rendered");
        };
        let help = errors[0].help.clone().unwrap_or_default();
        assert!(
            help.contains("next_topic") && help.contains("picks (each: quote, url, name)"),
            "{help}"
        );
    }
}
