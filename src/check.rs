//! `chathost check`: is everything ready for the coming chats?
//!
//! Validates bot.toml, every upcoming question file and every template,
//! renders every post of every prepared chat through the same
//! [`plan::build_steps`] the host uses, and measures each against the
//! instance's length limit. With `--online` it also asks the server for the
//! limit and verifies the token and the account.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};

use crate::config::{self, Chat, Loaded};
use crate::diagnostic::{Diagnostic, Severity, SourceFile};
use crate::length::post_length;
use crate::mentions::{NextChat, Period, Record, RecordChat, Replies};
use crate::plan::{self, Occurrence, Step, StepKind};
use crate::prompts::{
    self, Pick, PostContext, QuestionFile, QuestionSet, SharedLink, TemplateKind, Templates,
};
use crate::secret::find_token;

/// What `check` found.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Problems, errors first.
    pub diagnostics: Vec<Diagnostic>,
    /// What was checked, one line each.
    pub notes: Vec<String>,
}

impl CheckReport {
    /// How many errors.
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    /// How many warnings.
    pub fn warnings(&self) -> usize {
        self.diagnostics.len() - self.errors()
    }
}

/// Length limit to check posts against.
#[derive(Debug, Clone, Copy)]
struct Limit {
    max: usize,
    per_url: usize,
    source: &'static str,
}

/// Runs the checks. `env` stands for the process environment.
pub async fn check(
    path: &Path,
    online: bool,
    env: &BTreeMap<String, String>,
    now: DateTime<Utc>,
) -> CheckReport {
    let mut report = CheckReport::default();
    let loaded = match config::load_with_env(path, env) {
        Ok(l) => l,
        Err(diags) => {
            report.diagnostics = diags;
            return report;
        }
    };
    report.diagnostics.extend(loaded.warnings.iter().cloned());
    let cfg = &loaded.config;
    report.notes.push(format!(
        "{}: {} chat{} on {}",
        cfg.path.display(),
        cfg.chats.len(),
        if cfg.chats.len() == 1 { "" } else { "s" },
        cfg.instance.url
    ));

    let mut limit = Limit {
        max: cfg.instance.max_characters,
        per_url: cfg.instance.characters_per_url,
        source: "bot.toml",
    };
    let getenv = |k: &str| env.get(k).cloned();
    match find_token(&cfg.account, &getenv) {
        Ok(found) => {
            report.notes.push(format!("token: from {}", found.source));
            report.diagnostics.extend(found.warnings.iter().cloned());
            if online {
                check_online(&loaded, &found, &mut limit, &mut report).await;
            }
        }
        Err(mut d) => {
            if !online && d.message.starts_with(crate::secret::NOT_FOUND) {
                d.severity = Severity::Warning;
                d.message = format!("{} — `chathost run` will need one", d.message);
            }
            report.diagnostics.push(d);
        }
    }

    for chat in &cfg.chats {
        check_chat(&loaded, chat, limit, now, &mut report);
    }
    report
        .diagnostics
        .sort_by_key(|d| std::cmp::Reverse(d.severity));
    report
}

async fn check_online(
    loaded: &Loaded,
    found: &crate::secret::FoundToken,
    limit: &mut Limit,
    report: &mut CheckReport,
) {
    use crate::instance::{Instance, check_token};
    let url = &loaded.config.instance.url;
    if let Err(e) = check_token(&found.token) {
        report.diagnostics.push(Diagnostic::error(
            format!("the token (from {})", found.source),
            e.message,
        ));
        return;
    }
    let instance = match Instance::connect(&loaded.config.instance, &found.token).await {
        Ok(i) => i,
        Err(e) => return report.diagnostics.push(online_error(loaded, e)),
    };
    let f = match instance.facts().await {
        Ok(f) => f,
        Err(e) => return report.diagnostics.push(online_error(loaded, e)),
    };
    *limit = Limit {
        max: f.max_characters,
        per_url: f.characters_per_url.unwrap_or(limit.per_url),
        source: "the instance",
    };
    report.notes.push(format!(
        "instance: {url} ({:?} {}), posts up to {} characters",
        instance.software, f.version, f.max_characters
    ));
    report.notes.push(format!(
        "account: @{} — token verified{}",
        f.acct,
        if f.bot { ", marked as a bot" } else { "" }
    ));
    if !f.bot {
        report.diagnostics.push(
            Diagnostic::warning(
                format!("account @{}", f.acct),
                "the account is not marked as a bot",
            )
            .with_help(
                "tick \"This is an automated account\" in the profile settings, so people know a bot hosts the chat",
            ),
        );
    }
    if let Some(scopes) = instance.token_scopes().await {
        let can_post = scopes.iter().any(|s| s == "write" || s == "write:statuses");
        report.notes.push(if can_post {
            format!("token scopes: {} — can post", scopes.join(" "))
        } else {
            format!(
                "token scopes: {} — CANNOT post (needs write or write:statuses)",
                scopes.join(" ")
            )
        });
    }
}

/// A failed online call as a diagnostic. The message already names the
/// cause and the fix; only a rejected token (401, 403) is about the token,
/// everything else points at `[instance] url`.
fn online_error(loaded: &Loaded, e: crate::instance::CallError) -> Diagnostic {
    if matches!(e.status, Some(401 | 403)) {
        Diagnostic::error("the access token", e.message).with_help(
            "authorise the bot account again with `chathost auth --instance URL --force` (it asks for exactly the permissions chathost needs)",
        )
    } else {
        loaded.diag_at(Severity::Error, &["instance", "url"], e.message)
    }
}

fn check_chat(
    loaded: &Loaded,
    chat: &Chat,
    limit: Limit,
    now: DateTime<Utc>,
    report: &mut CheckReport,
) {
    report.notes.push(format!(
        "chat `{}`: #{} on {}s at {} {}, {} minutes",
        chat.name,
        chat.hashtag,
        prompts::weekday_name(chat.weekday),
        chat.time.format("%H:%M"),
        chat.zone,
        chat.duration_minutes
    ));

    // A start time that a DST change removes or doubles, within a year.
    if let Some(o) = plan::occurrences(chat, now)
        .take(53)
        .find(|o| o.start_note.is_some())
    {
        report.diagnostics.push(
            loaded
                .diag_at(
                    Severity::Warning,
                    &["chats", &chat.name, "time"],
                    o.start_note.clone().unwrap_or_default(),
                )
                .with_help("pick a start time away from the night the clocks change to avoid this"),
        );
    }

    let templates = match Templates::load(&chat.prompts_dir) {
        Ok((t, warnings)) => {
            report.diagnostics.extend(warnings);
            t
        }
        Err(errors) => {
            report.diagnostics.extend(errors);
            return;
        }
    };

    let (files, warnings) = prompts::list_question_files(chat);
    report.diagnostics.extend(warnings);
    let mut upcoming = plan::occurrences(chat, now);
    let Some(next) = upcoming.next() else { return };

    let mut checked = 0;
    for (date, path) in files.range(next.date..) {
        let occ = plan::resolve_start(chat.zone, *date, chat.time);
        if let Some(qs) = load(path, false, chat, report) {
            check_posts(chat, &occ, &qs, &templates, limit, report);
            checked += 1;
        }
    }
    if let Some(fallback) = &chat.fallback
        && let Some(qs) = load(fallback, true, chat, report)
    {
        check_posts(chat, &next, &qs, &templates, limit, report);
        checked += 1;
    }
    // The next date's verdict, from the same lookup plan and run use.
    let expected = prompts::dated_path(&chat.prompts_dir, next.date);
    let d = match prompts::question_file(chat, next.date) {
        QuestionFile::Found {
            fallback: false, ..
        } => None,
        // Listed above only when named like a chat date's file.
        QuestionFile::Unusable { problem, .. } => {
            (!files.contains_key(&next.date)).then_some(problem)
        }
        QuestionFile::Found { path, .. } => Some(Diagnostic::warning(
            expected.display().to_string(),
            format!(
                "no question file for the next chat ({}): the fallback {} will be used",
                next.date,
                path.display()
            ),
        )),
        QuestionFile::Missing { .. } => Some(Diagnostic::warning(
            expected.display().to_string(),
            format!(
                "no question file for the next chat ({}): that week will be skipped",
                next.date
            ),
        )),
    };
    if let Some(d) = d {
        let d = if d.is_error() {
            d
        } else {
            d.with_help("create the file with a topic and [[question]] tables")
        };
        report.diagnostics.push(d);
    }

    check_recap(chat, &templates, report);
    check_mention_replies(chat, &templates, limit, report);
    report.notes.push(format!(
        "chat `{}`: {checked} question file{} checked; next chat {} ({})",
        chat.name,
        if checked == 1 { "" } else { "s" },
        next.start.format("%a %-d %b %Y %H:%M %Z"),
        next.start_utc().format("%H:%MZ")
    ));
}

/// The recap thread's templates, rendered with generous samples (long
/// quotes, links and topics): a render error is located in its template.
/// Length is no error here: the recap splits a long post into several.
fn check_recap(chat: &Chat, templates: &Templates, report: &mut CheckReport) {
    let long = "a topic of typical length for this chat, and then some more words ".repeat(3);
    let pick = |i: usize| Pick {
        quote: "A long answer that someone gave, quoted in full up to the length a recap allows. "
            .repeat(3),
        url: format!("https://nurses.example/@someone_with_a_long_name/11353637383940414{i}"),
        name: "A display name of thirty chars".into(),
    };
    let sample = PostContext {
        hashtag: chat.hashtag.clone(),
        topic: long.trim().to_string(),
        day: "Wednesday 30 September".into(),
        questions: 10,
        participants: 9999,
        answers: 99999,
        first_timers: 9999,
        archive_url: "https://chat.example/archive/wenurses/2026-09-30/index.html".into(),
        number: 10,
        text: long.trim().to_string(),
        picks: (1..=3).map(pick).collect(),
        links: (1..=5)
            .map(|i| SharedLink {
                url: format!("https://www.example.org/guidance/a/long/path/to/page-{i}?ref=chat"),
                count: 100 - i,
            })
            .collect(),
        next_day: "Wednesday 7 October".into(),
        next_time: "20:00 BST".into(),
        next_topic: long.trim().to_string(),
        ..PostContext::default()
    };
    for kind in [
        TemplateKind::Recap,
        TemplateKind::RecapQuestion,
        TemplateKind::RecapEnd,
    ] {
        if let Err(d) = templates.render(kind, &sample) {
            report.diagnostics.push(d);
        }
    }
}

/// The replies to participants' commands, rendered with generous samples
/// (two coming chats, a record of 20 chats with long topics and several
/// answers each): a render error is located in its template. A long record
/// or `next` splits into several posts; a fixed reply that does not fit
/// one post is worth a warning.
fn check_mention_replies(
    chat: &Chat,
    templates: &Templates,
    limit: Limit,
    report: &mut CheckReport,
) {
    let replies = Replies {
        templates,
        max_characters: limit.max,
        url_length: limit.per_url,
        bot: "chatbot",
    };
    let sender = "a_long_account_name@a.long.instance.example";
    let (next, record) = reply_samples(chat);
    let fixed = [
        (TemplateKind::MentionOptout, replies.optout(sender)),
        (TemplateKind::MentionOptin, replies.optin(sender)),
        (TemplateKind::MentionHelp, replies.help(sender)),
    ];
    for r in [replies.next(sender, &next), replies.record(sender, &record)] {
        if let Err(d) = r {
            report.diagnostics.push(d);
        }
    }
    for (kind, r) in fixed {
        match r {
            Err(d) => report.diagnostics.push(d),
            Ok(parts) if parts.len() > 1 => report.diagnostics.push(
                Diagnostic::warning(
                    templates.origin(kind),
                    format!(
                        "the reply {} takes {} posts; the limit ({}) is {}",
                        kind.file_name(),
                        parts.len(),
                        limit.source,
                        limit.max
                    ),
                )
                .with_help("shorten the template so the reply fits one post"),
            ),
            Ok(_) => {}
        }
    }
}

/// Two coming chats and a record of 20 chats, long topics and five
/// answers each: more than a reply usually shows.
fn reply_samples(chat: &Chat) -> (Vec<NextChat>, Record) {
    let topic = "a topic of typical length for this chat, and then some more words ".repeat(2);
    let next: Vec<NextChat> = [
        "Wednesday 30 September, 20:00 BST",
        "Wednesday 7 October, 20:00 BST",
    ]
    .into_iter()
    .map(|local| NextChat {
        chat: chat.hashtag.clone(),
        local: local.into(),
        utc: "19:00 UTC".into(),
        topic: topic.trim().to_string(),
        guest: "@a_guest_host@nurses.example".into(),
    })
    .collect();
    let first = chrono::NaiveDate::from_ymd_opt(2026, 1, 7).unwrap_or_default();
    let chats = (0..20u32)
        .map(|i| RecordChat {
            hashtag: chat.hashtag.clone(),
            date: first + chrono::Days::new(7 * u64::from(i)),
            topic: topic.trim().to_string(),
            answers: (0..5)
                .map(|a| format!("https://a.long.instance.example/@a_long_account_name/11353637383940{i:02}{a}"))
                .collect(),
            minutes: chat.duration_minutes,
        })
        .collect();
    let record = Record {
        period: Period::parse("2026"),
        chats,
        hours: f64::from(chat.duration_minutes) * 20.0 / 60.0,
    };
    (next, record)
}

fn load(path: &Path, fallback: bool, chat: &Chat, report: &mut CheckReport) -> Option<QuestionSet> {
    match prompts::load_questions(path, fallback, chat) {
        Ok(qs) => Some(qs),
        Err(diags) => {
            report.diagnostics.extend(diags);
            None
        }
    }
}

fn check_posts(
    chat: &Chat,
    occ: &Occurrence,
    qs: &QuestionSet,
    templates: &Templates,
    limit: Limit,
    report: &mut CheckReport,
) {
    let next = plan::next_after(chat, occ);
    let steps = match plan::build_steps(chat, occ, qs, templates, next.as_ref()) {
        Ok(s) => s,
        Err(d) => {
            report.diagnostics.push(d);
            return;
        }
    };
    let source = SourceFile::read(&qs.path).ok();
    for step in &steps {
        check_step(chat, occ, qs, step, source.as_ref(), limit, report);
    }
}

fn check_step(
    chat: &Chat,
    occ: &Occurrence,
    qs: &QuestionSet,
    step: &Step,
    source: Option<&SourceFile>,
    limit: Limit,
    report: &mut CheckReport,
) {
    let what = format!("the {} post of {}", step.kind.label(), occ.date);
    let question = match step.kind {
        StepKind::Question { number } => qs.questions.get(number - 1),
        _ => None,
    };
    let located = question.and_then(|q| source.map(|s| (s, q.span.clone())));
    let origin = qs.path.display().to_string();
    length_check(&step.text, &what, limit, located, &origin, report);
    if matches!(step.kind, StepKind::Question { .. } | StepKind::Welcome)
        && !step
            .text
            .to_lowercase()
            .contains(&format!("#{}", chat.hashtag.to_lowercase()))
    {
        report.diagnostics.push(
            Diagnostic::warning(
                qs.path.display().to_string(),
                format!("{what} does not contain #{}", chat.hashtag),
            )
            .with_help("posts without the hashtag do not appear on its timeline; keep #{{ hashtag }} in the template"),
        );
    }
}

fn length_check(
    text: &str,
    what: &str,
    limit: Limit,
    at: Option<(&SourceFile, std::ops::Range<usize>)>,
    origin: &str,
    report: &mut CheckReport,
) {
    let len = post_length(text, limit.per_url);
    if len <= limit.max {
        return;
    }
    let over = len - limit.max;
    let message = format!(
        "{what} is {len} characters after templating; the limit ({}) is {}",
        limit.source, limit.max
    );
    let d = match at {
        Some((source, span)) => source
            .diag(Severity::Error, span, message)
            .with_help(format!(
                "shorten this question by at least {over} characters"
            )),
        None => Diagnostic::error(origin, message).with_help(format!(
            "shorten the topic, intro or template text by at least {over} characters"
        )),
    };
    report.diagnostics.push(d);
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOT: &str = r#"[instance]
url = "https://mastodon.example"
max_characters = 500

[account]
token_env = "TEST_TOKEN"

[chats.wenurses]
hashtag = "WeNurses"
weekday = "Wednesday"
time = "20:00"
zone = "Europe/London"
"#;

    /// `chathost check` on a folder whose templates/ holds `files`.
    async fn check_with_templates(name: &str, files: &[(&str, &str)]) -> CheckReport {
        let dir = std::env::temp_dir().join(format!("chathost-unit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("prompts/templates")).unwrap();
        std::fs::write(dir.join("bot.toml"), BOT).unwrap();
        for (file, text) in files {
            std::fs::write(dir.join("prompts/templates").join(file), text).unwrap();
        }
        let env = BTreeMap::from([("TEST_TOKEN".to_string(), "t0k3n".to_string())]);
        let now = "2026-11-27T12:00:00Z".parse().unwrap();
        let report = check(&dir.join("bot.toml"), false, &env, now).await;
        let _ = std::fs::remove_dir_all(&dir);
        report
    }

    #[tokio::test]
    async fn builtin_reply_templates_pass_and_a_broken_one_is_located() {
        let fine = check_with_templates("replies-ok", &[]).await;
        assert_eq!(fine.errors(), 0, "{:#?}", fine.diagnostics);
        assert!(
            !fine
                .diagnostics
                .iter()
                .any(|d| d.message.contains("mention_")),
            "{:#?}",
            fine.diagnostics
        );

        let broken = check_with_templates(
            "replies-bad",
            &[
                // A misspelt field, only reached with a chat in the record.
                (
                    "mention_record.j2",
                    "Record\n{% for c in chats %}{{ c.dat }}{% endfor %}",
                ),
                ("mention_help.j2", &"Too long a help text. ".repeat(40)),
            ],
        )
        .await;
        assert_eq!(broken.errors(), 1, "{:#?}", broken.diagnostics);
        let e = &broken.diagnostics[0];
        assert!(e.is_error() && e.message.starts_with("template:"), "{e}");
        assert!(
            e.position()
                .contains("prompts/templates/mention_record.j2:2:"),
            "{e}"
        );
        let w = broken
            .diagnostics
            .iter()
            .find(|d| d.message.contains("mention_help.j2 takes 2 posts"))
            .unwrap_or_else(|| panic!("{:#?}", broken.diagnostics));
        assert!(!w.is_error());
    }
}
