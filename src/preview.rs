//! `chathost plan`: the coming chats and every post in them, for a host to
//! read (text) or a script to check (JSON). It marks a change of the clocks
//! since the chat before, and a week with no (or a broken) question file.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;

use crate::config::{Chat, Config};
use crate::plan::{self, Occurrence};
use crate::prompts::{self, Templates};

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
    /// The posts, in order.
    pub posts: Vec<PlannedPost>,
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
    let previous = plan::resolve_start(chat.zone, occ.date - Duration::days(7), chat.time);
    let next = plan::next_after(chat, occ);
    let clock_change = (previous.offset_seconds() != occ.offset_seconds()).then(|| {
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
        posts: vec![],
    };
    let Some((path, fallback)) = prompts::question_file_for(chat, occ.date) else {
        planned.skipped = true;
        planned.problems.push(format!(
            "no question file {}: this week is skipped (add the file, or set `fallback` in bot.toml)",
            prompts::dated_path(&chat.prompts_dir, occ.date).display()
        ));
        return planned;
    };
    planned.questions_file = Some(path.display().to_string());
    planned.fallback = fallback;
    let built = prompts::load_questions(&path, fallback, chat)
        .map_err(|d| {
            d.iter()
                .map(|d| d.to_string().trim_end().to_string())
                .collect::<Vec<_>>()
        })
        .and_then(|qs| {
            let templates = Templates::load(&chat.prompts_dir)
                .map_err(|d| d.iter().map(ToString::to_string).collect::<Vec<_>>())?
                .0;
            plan::build_steps(chat, occ, &qs, &templates, next.as_ref())
                .map_err(|d| vec![d.to_string()])
        });
    match built {
        Ok(steps) => {
            planned.posts = steps
                .iter()
                .map(|s| PlannedPost {
                    key: s.kind.key(),
                    kind: s.kind.label(),
                    local: s.at.with_timezone(&chat.zone).to_rfc3339(),
                    utc: utc(s.at),
                    first_line: s.text.lines().next().unwrap_or("").to_string(),
                    text: s.text.clone(),
                })
                .collect()
        }
        Err(problems) => {
            planned.skipped = true;
            planned.problems = problems;
            planned
                .problems
                .push("run `chathost check` to see every problem; a running bot keeps the last good version".into());
        }
    }
    planned
}

fn utc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The preview as text for a terminal.
pub fn render_text(chats: &[PlannedChat]) -> String {
    let mut out = String::new();
    for c in chats {
        let start = DateTime::parse_from_rfc3339(&c.start_local).expect("we wrote it");
        let zone: chrono_tz::Tz = c.zone.parse().expect("we wrote it");
        let local = start.with_timezone(&zone);
        out.push_str(&format!(
            "{} #{} — {} ({})\n",
            c.chat,
            c.hashtag,
            local.format("%a %-d %b %Y, %H:%M %Z"),
            start.with_timezone(&Utc).format("%H:%MZ"),
        ));
        if let Some(change) = &c.clock_change {
            out.push_str(&format!("  ! {change}\n"));
        }
        if let Some(note) = &c.start_note {
            out.push_str(&format!("  ! {note}\n"));
        }
        match &c.questions_file {
            Some(f) if c.fallback => out.push_str(&format!("  questions: {f} (fallback)\n")),
            Some(f) => out.push_str(&format!("  questions: {f}\n")),
            None => {}
        }
        for p in &c.problems {
            for line in p.lines() {
                out.push_str(&format!("  ! {line}\n"));
            }
        }
        for p in &c.posts {
            let at = DateTime::parse_from_rfc3339(&p.local).expect("we wrote it");
            let at = at.with_timezone(&zone);
            out.push_str(&format!(
                "  {}  {}  {:<9}  {}\n",
                at.format("%a %d %b %H:%M %Z"),
                at.with_timezone(&Utc).format("%H:%MZ"),
                p.kind,
                p.first_line
            ));
        }
        out.push('\n');
    }
    out
}
