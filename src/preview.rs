//! `chathost plan`: the coming chats and every post in them, for a host to
//! read (text) or a script to check (JSON). It marks a change of the clocks
//! since the chat before, and a week with no (or a broken) question file.

use chrono::{DateTime, Days, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::config::{Chat, Config};
use crate::plan::{self, Occurrence};
use crate::prompts::{self, QuestionFile, Templates, escape_controls};

/// One chat date as previewed.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedChat {
    /// The chat's name in bot.toml.
    pub chat: String,
    /// Its hashtag.
    pub hashtag: String,
    /// Local date.
    pub date: String,
    /// IANA zone.
    pub zone: String,
    /// Start, local time with offset (RFC 3339).
    pub start_local: String,
    /// Start in UTC (RFC 3339, `Z`).
    pub start_utc: String,
    /// The question file used, if any.
    pub questions_file: Option<String>,
    /// True when the chat's fallback questions are used.
    pub fallback: bool,
    /// True when the chat will not be held (no or broken question file).
    pub skipped: bool,
    /// Why it is skipped, or other problems.
    pub problems: Vec<String>,
    /// Set when the UTC offset differs from the previous week's chat.
    pub clock_change: Option<String>,
    /// Set when the start time falls in a DST gap or overlap that day.
    pub start_note: Option<String>,
    /// True when the question file or a template has errors: `plan`
    /// exits non-zero, as `check` does.
    pub broken: bool,
    /// The posts, in order.
    pub posts: Vec<PlannedPost>,
    /// The start, for the text rendering.
    #[serde(skip)]
    start: DateTime<Tz>,
}

/// One post as previewed.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedPost {
    /// Stable step key (`welcome`, `q1`, `reminder-60m`…).
    pub key: String,
    /// Kind, for people ("Q1", "last call").
    pub kind: String,
    /// Local time with offset (RFC 3339).
    pub local: String,
    /// UTC (RFC 3339, `Z`).
    pub utc: String,
    /// The first line of the text.
    pub first_line: String,
    /// The whole text.
    pub text: String,
    /// When, for the text rendering.
    #[serde(skip)]
    at: DateTime<Tz>,
}

/// The next `count` chats (of all configured chats, in time order) whose
/// chat has not ended by `from`.
pub fn upcoming(config: &Config, from: DateTime<Utc>, count: usize) -> Vec<PlannedChat> {
    let mut dates: Vec<(&Chat, Occurrence)> = config
        .chats
        .iter()
        .flat_map(|c| plan::occurrences(c, from).take(count).map(move |o| (c, o)))
        .collect();
    dates.sort_by_key(|(_, o)| o.start_utc());
    dates.truncate(count);
    dates.into_iter().map(|(c, o)| preview(c, &o)).collect()
}

fn preview(chat: &Chat, occ: &Occurrence) -> PlannedChat {
    let clock_change = occ
        .date
        .checked_sub_days(Days::new(7))
        .map(|d| plan::resolve_start(chat.zone, d, chat.time))
        .filter(|previous| previous.offset_seconds() != occ.offset_seconds())
        .map(|previous| {
            format!(
                "the clocks changed since the previous chat: {} is now {} (UTC{}), was {} (UTC{})",
                chat.time.format("%H:%M"),
                occ.zone_abbreviation(),
                occ.start.format("%:z"),
                previous.zone_abbreviation(),
                previous.start.format("%:z"),
            )
        });
    let mut planned = PlannedChat {
        chat: chat.name.clone(),
        hashtag: chat.hashtag.clone(),
        date: occ.date.to_string(),
        zone: chat.zone.name().to_string(),
        start_local: occ.start.to_rfc3339(),
        start_utc: utc(occ.start_utc()),
        questions_file: None,
        fallback: false,
        skipped: false,
        problems: vec![],
        clock_change,
        start_note: occ.start_note.clone(),
        broken: false,
        posts: vec![],
        start: occ.start,
    };
    let found = prompts::question_file(chat, occ.date);
    let Some(loaded) = found.load(chat) else {
        planned.skipped = true;
        planned.problems.push(format!(
            "no question file {}: this week is skipped (add the file, or set `fallback` in bot.toml)",
            found.path().display()
        ));
        return planned;
    };
    planned.questions_file = Some(found.path().display().to_string());
    planned.fallback = matches!(found, QuestionFile::Found { fallback: true, .. });
    match loaded.and_then(|qs| posts(chat, occ, &qs)) {
        Ok(posts) => planned.posts = posts,
        Err(problems) => {
            planned.skipped = true;
            planned.broken = true;
            planned.problems = problems
                .iter()
                .map(|d| d.to_string().trim_end().to_string())
                .collect();
            planned
                .problems
                .push("run `chathost check` to see every problem; a running bot keeps the last good version".into());
        }
    }
    planned
}

/// Every post of the chat on `occ`, rendered from `qs` and the templates.
fn posts(
    chat: &Chat,
    occ: &Occurrence,
    qs: &prompts::QuestionSet,
) -> Result<Vec<PlannedPost>, Vec<crate::diagnostic::Diagnostic>> {
    let templates = Templates::load(&chat.prompts_dir)?.0;
    let next = plan::next_after(chat, occ);
    let steps = plan::build_steps(chat, occ, qs, &templates, next.as_ref()).map_err(|d| vec![d])?;
    Ok(steps
        .iter()
        .map(|s| {
            let at = s.at.with_timezone(&chat.zone);
            PlannedPost {
                key: s.kind.key(),
                kind: s.kind.label(),
                local: at.to_rfc3339(),
                utc: utc(s.at),
                first_line: s.text.lines().next().unwrap_or("").to_string(),
                text: s.text.clone(),
                at,
            }
        })
        .collect())
}

fn utc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Said when fewer chats than asked for fit before the end of the calendar.
pub fn calendar_end_note(shown: usize, asked: usize) -> Option<String> {
    (shown < asked).then(|| {
        format!(
            "no more chats fit before the end of the calendar ({})",
            plan::LAST_DAY
        )
    })
}

/// The preview as text for a terminal. Anything from the host's files is
/// printed with control characters escaped: ESC must not drive the terminal.
pub fn render_text(chats: &[PlannedChat]) -> String {
    let mut out = String::new();
    for c in chats {
        out.push_str(&format!(
            "{} #{} — {} ({})\n",
            c.chat,
            c.hashtag,
            c.start.format("%a %-d %b %Y, %H:%M %Z"),
            c.start.with_timezone(&Utc).format("%H:%MZ"),
        ));
        if let Some(change) = &c.clock_change {
            out.push_str(&format!("  ! {change}\n"));
        }
        if let Some(note) = &c.start_note {
            out.push_str(&format!("  ! {note}\n"));
        }
        match &c.questions_file {
            Some(f) if c.fallback => {
                out.push_str(&format!("  questions: {} (fallback)\n", escape_controls(f)))
            }
            Some(f) => out.push_str(&format!("  questions: {}\n", escape_controls(f))),
            None => {}
        }
        for p in &c.problems {
            for line in p.lines() {
                out.push_str(&format!("  ! {}\n", escape_controls(line)));
            }
        }
        for p in &c.posts {
            out.push_str(&format!(
                "  {}  {}  {:<9}  {}\n",
                p.at.format("%a %d %b %H:%M %Z"),
                p.at.with_timezone(&Utc).format("%H:%MZ"),
                p.kind,
                escape_controls(&p.first_line)
            ));
        }
        out.push('\n');
    }
    out
}
