//! The plan of a chat, computed without any I/O: from the settings, a
//! week's questions, the templates and a date, the exact list of posts —
//! kind, instant (UTC and local) and text. The host, `chathost plan` and
//! `chathost check` all use this one function, so what a host previews is
//! what gets posted.
//!
//! Chat starts are computed per date in the chat's real zone, so a chat at
//! 20:00 Europe/London stays at 20:00 local across the DST changes (20:00Z
//! in winter, 19:00Z in summer).

use chrono::{
    DateTime, Datelike, Days, Duration, LocalResult, NaiveDate, NaiveTime, Offset, TimeZone, Utc,
};
use chrono_tz::Tz;
use serde::Serialize;

use crate::config::{Chat, describe_lead};
use crate::diagnostic::Diagnostic;
use crate::prompts::{PostContext, QuestionSet, TemplateKind, Templates, question_minutes};

/// The last day a chat may end on, in UTC and locally: RFC 3339 (the
/// plan's JSON, the state file) has four-digit years.
pub const LAST_DAY: NaiveDate = match NaiveDate::from_ymd_opt(9999, 12, 31) {
    Some(d) => d,
    None => NaiveDate::MAX, // unreachable: 9999-12-31 is a valid date
};

/// One chat date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    /// The local date of the chat.
    pub date: NaiveDate,
    /// The start, in the chat's zone.
    pub start: DateTime<Tz>,
    /// Set when the configured start time does not exist or exists twice
    /// on that date (a DST change), saying what the bot does.
    pub start_note: Option<String>,
}

impl Occurrence {
    /// The start in UTC.
    pub fn start_utc(&self) -> DateTime<Utc> {
        self.start.with_timezone(&Utc)
    }

    /// The zone's abbreviation at the start ("GMT", "BST").
    pub fn zone_abbreviation(&self) -> String {
        self.start.format("%Z").to_string()
    }

    /// The UTC offset at the start, in seconds.
    pub fn offset_seconds(&self) -> i32 {
        self.start.offset().fix().local_minus_utc()
    }
}

/// The local start of a chat on `date`, resolved in `zone`. On a date where
/// the time does not exist (clocks go forward over it) the chat starts the
/// same span after the change (01:30 becomes 02:30); where it exists twice
/// (clocks go back) the chat starts at the first of the two.
pub fn resolve_start(zone: Tz, date: NaiveDate, time: NaiveTime) -> Occurrence {
    let naive = date.and_time(time);
    match zone.from_local_datetime(&naive) {
        LocalResult::Single(start) => Occurrence {
            date,
            start,
            start_note: None,
        },
        LocalResult::Ambiguous(first, second) => Occurrence {
            date,
            start: first,
            start_note: Some(format!(
                "{} happens twice on {date} in {zone} (clocks go back); the chat starts at the first, {} ({}), not the second ({})",
                time.format("%H:%M"),
                first.format("%H:%M %Z"),
                first.with_timezone(&Utc).format("%H:%MZ"),
                second.with_timezone(&Utc).format("%H:%MZ"),
            )),
        },
        LocalResult::None => {
            // Read the wall time with the offset in force before the gap.
            let before = naive
                .checked_sub_signed(Duration::hours(3))
                .and_then(|t| zone.from_local_datetime(&t).earliest())
                .map(|t| t.offset().fix())
                .unwrap_or_else(|| Utc.fix());
            // At the very ends of chrono's range, keep the naive time.
            let instant = naive
                .checked_sub_signed(Duration::seconds(i64::from(before.local_minus_utc())))
                .unwrap_or(naive)
                .and_utc();
            let start = instant.with_timezone(&zone);
            Occurrence {
                date,
                start,
                start_note: Some(format!(
                    "{} does not exist on {date} in {zone} (clocks go forward); the chat starts at {} that day",
                    time.format("%H:%M"),
                    start.format("%H:%M %Z"),
                )),
            }
        }
    }
}

/// The chat dates whose chat has not ended by `from`, in order, up to the
/// last that ends by [`LAST_DAY`] (the iterator ends there).
pub fn occurrences(chat: &Chat, from: DateTime<Utc>) -> impl Iterator<Item = Occurrence> + '_ {
    let local_today = from.with_timezone(&chat.zone).date_naive();
    // Start a week early so a chat in progress at `from` is included.
    let first = local_today
        .checked_sub_days(Days::new(7))
        .map(|d| {
            let ahead =
                (7 + chat.weekday.num_days_from_monday() - d.weekday().num_days_from_monday()) % 7;
            d.checked_add_days(Days::new(u64::from(ahead)))
        })
        .unwrap_or(None);
    let length = Duration::minutes(i64::from(chat.duration_minutes));
    std::iter::successors(first, |d| d.checked_add_days(Days::new(7)))
        .map(move |d| resolve_start(chat.zone, d, chat.time))
        .take_while(move |o| ends_by_last_day(o, length))
        .filter(move |o| o.start_utc() + length > from)
}

/// Whether a chat of `length` starting at `occ` ends by [`LAST_DAY`], both
/// locally and in UTC.
fn ends_by_last_day(occ: &Occurrence, length: Duration) -> bool {
    occ.start.checked_add_signed(length).is_some_and(|end| {
        end.date_naive() <= LAST_DAY && end.with_timezone(&Utc).date_naive() <= LAST_DAY
    })
}

/// The first chat date after `occ` has ended (named in the wrap-up).
pub fn next_after(chat: &Chat, occ: &Occurrence) -> Option<Occurrence> {
    let end = occ.start_utc() + Duration::minutes(i64::from(chat.duration_minutes));
    occurrences(chat, end).find(|o| o.start_utc() >= end)
}

/// The kind of a step of a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepKind {
    /// A reminder, `lead_minutes` before the start.
    Reminder {
        /// Minutes before the start.
        lead_minutes: u32,
    },
    /// The welcome post.
    Welcome,
    /// Question `number` (1-based).
    Question {
        /// Its number.
        number: usize,
    },
    /// The last call.
    LastCall,
    /// The wrap-up.
    WrapUp,
    /// A post of the recap thread after the chat, composed once from the
    /// answers collected (never planned ahead).
    Recap {
        /// Its place in the thread, from 1.
        part: usize,
        /// Part of the head post (posted public; the rest follow the
        /// chat's visibility).
        head: bool,
    },
}

impl StepKind {
    /// Whether it belongs to the recap thread rather than the chat's plan.
    pub fn is_recap(&self) -> bool {
        matches!(self, StepKind::Recap { .. })
    }

    /// A stable key for the step within its chat (`q3`, `reminder-60m`…),
    /// used to post each step exactly once.
    pub fn key(&self) -> String {
        match self {
            StepKind::Reminder { lead_minutes } => format!("reminder-{lead_minutes}m"),
            StepKind::Welcome => "welcome".into(),
            StepKind::Question { number } => format!("q{number}"),
            StepKind::LastCall => "last-call".into(),
            StepKind::WrapUp => "wrap-up".into(),
            // Zero-padded: steps sort by key within an instant.
            StepKind::Recap { part, head: true } => format!("recap-{part:03}-head"),
            StepKind::Recap { part, head: false } => format!("recap-{part:03}"),
        }
    }

    /// The kind a [`StepKind::key`] names.
    pub fn from_key(key: &str) -> Option<StepKind> {
        Some(match key {
            "welcome" => StepKind::Welcome,
            "last-call" => StepKind::LastCall,
            "wrap-up" => StepKind::WrapUp,
            k => {
                if let Some(n) = k.strip_prefix("recap-") {
                    let (n, head) = match n.strip_suffix("-head") {
                        Some(n) => (n, true),
                        None => (n, false),
                    };
                    StepKind::Recap {
                        part: n.parse().ok()?,
                        head,
                    }
                } else if let Some(n) = k.strip_prefix('q') {
                    StepKind::Question {
                        number: n.parse().ok()?,
                    }
                } else {
                    let m = k.strip_prefix("reminder-")?.strip_suffix('m')?;
                    StepKind::Reminder {
                        lead_minutes: m.parse().ok()?,
                    }
                }
            }
        })
    }

    /// A short label for people: "reminder", "Q3", "wrap-up".
    pub fn label(&self) -> String {
        match self {
            StepKind::Reminder { .. } => "reminder".into(),
            StepKind::Welcome => "welcome".into(),
            StepKind::Question { number } => format!("Q{number}"),
            StepKind::LastCall => "last call".into(),
            StepKind::WrapUp => "wrap-up".into(),
            StepKind::Recap { part, .. } => format!("recap {part}"),
        }
    }
}

/// One post of a chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What it is.
    pub kind: StepKind,
    /// When it is posted.
    pub at: DateTime<Utc>,
    /// The full text.
    pub text: String,
}

/// The template context shared by every post of one chat.
pub fn base_context(
    chat: &Chat,
    occ: &Occurrence,
    questions: &QuestionSet,
    next: Option<&Occurrence>,
) -> PostContext {
    let end = occ.start + Duration::minutes(i64::from(chat.duration_minutes));
    PostContext {
        hashtag: chat.hashtag.clone(),
        topic: questions.topic.clone(),
        guest: questions.guest.clone().unwrap_or_default(),
        intro: questions.intro.clone().unwrap_or_default(),
        day: occ.start.format("%A %-d %B").to_string(),
        start: occ.start.format("%H:%M").to_string(),
        end: end.format("%H:%M").to_string(),
        zone: occ.zone_abbreviation(),
        questions: questions.questions.len(),
        minutes_left: chat.duration_minutes
            - chat.pacing.last_call.unwrap_or(chat.duration_minutes),
        next_day: next
            .map(|n| n.start.format("%A %-d %B").to_string())
            .unwrap_or_default(),
        next_time: next
            .map(|n| n.start.format("%H:%M %Z").to_string())
            .unwrap_or_default(),
        ..PostContext::default()
    }
}

/// Every post of the chat on `occ`, in time order: reminders, welcome,
/// questions, last call, wrap-up. `next` is the following chat date, named
/// in the wrap-up.
pub fn build_steps(
    chat: &Chat,
    occ: &Occurrence,
    questions: &QuestionSet,
    templates: &Templates,
    next: Option<&Occurrence>,
) -> Result<Vec<Step>, Diagnostic> {
    let start = occ.start_utc();
    let at_minute = |m: u32| start + Duration::minutes(i64::from(m));
    let base = base_context(chat, occ, questions, next);
    let minutes = question_minutes(&questions.questions, &chat.pacing)
        .map_err(|m| Diagnostic::error(questions.path.display().to_string(), m))?;

    let mut steps = Vec::new();
    for lead in &chat.reminders {
        let ctx = PostContext {
            before: describe_lead(*lead),
            ..base.clone()
        };
        steps.push(Step {
            kind: StepKind::Reminder {
                lead_minutes: (lead.as_secs() / 60) as u32,
            },
            at: Duration::from_std(*lead)
                .ok()
                .and_then(|lead| start.checked_sub_signed(lead))
                .unwrap_or(start),
            text: templates.render(TemplateKind::Reminder, &ctx)?,
        });
    }
    steps.push(Step {
        kind: StepKind::Welcome,
        at: at_minute(chat.pacing.welcome),
        text: templates.render(TemplateKind::Welcome, &base)?,
    });
    for (i, (q, minute)) in questions.questions.iter().zip(minutes).enumerate() {
        let ctx = PostContext {
            number: i + 1,
            text: q.text.clone(),
            ..base.clone()
        };
        steps.push(Step {
            kind: StepKind::Question { number: i + 1 },
            at: at_minute(minute),
            text: templates.render(TemplateKind::Question, &ctx)?,
        });
    }
    if let Some(m) = chat.pacing.last_call {
        steps.push(Step {
            kind: StepKind::LastCall,
            at: at_minute(m),
            text: templates.render(TemplateKind::LastCall, &base)?,
        });
    }
    steps.push(Step {
        kind: StepKind::WrapUp,
        at: at_minute(chat.pacing.wrap_up),
        text: templates.render(TemplateKind::WrapUp, &base)?,
    });
    steps.sort_by_key(|s| s.at);
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn london(date: &str) -> Occurrence {
        resolve_start(
            chrono_tz::Europe::London,
            NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap(),
            NaiveTime::from_hms_opt(20, 0, 0).unwrap(),
        )
    }

    #[test]
    fn eight_pm_london_is_eight_pm_utc_in_winter_and_seven_in_summer() {
        assert_eq!(
            london("2027-03-24").start_utc().to_rfc3339(),
            "2027-03-24T20:00:00+00:00"
        );
        assert_eq!(
            london("2027-03-31").start_utc().to_rfc3339(),
            "2027-03-31T19:00:00+00:00"
        );
        assert_eq!(
            london("2027-10-27").start_utc().to_rfc3339(),
            "2027-10-27T19:00:00+00:00"
        );
        assert_eq!(
            london("2027-11-03").start_utc().to_rfc3339(),
            "2027-11-03T20:00:00+00:00"
        );
    }

    #[test]
    fn step_keys_read_back() {
        for kind in [
            StepKind::Reminder { lead_minutes: 1440 },
            StepKind::Welcome,
            StepKind::Question { number: 12 },
            StepKind::LastCall,
            StepKind::WrapUp,
        ] {
            assert_eq!(StepKind::from_key(&kind.key()), Some(kind));
        }
        assert_eq!(StepKind::from_key("q"), None);
        assert_eq!(StepKind::from_key("reminder-x"), None);
    }

    #[test]
    fn a_start_in_the_spring_gap_moves_forward_by_the_gap() {
        let o = resolve_start(
            chrono_tz::Europe::London,
            NaiveDate::from_ymd_opt(2027, 3, 28).unwrap(),
            NaiveTime::from_hms_opt(1, 30, 0).unwrap(),
        );
        assert_eq!(o.start.format("%H:%M %Z").to_string(), "02:30 BST");
        assert_eq!(o.start_utc().to_rfc3339(), "2027-03-28T01:30:00+00:00");
        assert!(o.start_note.unwrap().contains("does not exist"));
    }

    #[test]
    fn a_start_in_the_autumn_overlap_takes_the_first() {
        let o = resolve_start(
            chrono_tz::Europe::London,
            NaiveDate::from_ymd_opt(2027, 10, 31).unwrap(),
            NaiveTime::from_hms_opt(1, 30, 0).unwrap(),
        );
        assert_eq!(o.start.format("%H:%M %Z").to_string(), "01:30 BST");
        assert_eq!(o.start_utc().to_rfc3339(), "2027-10-31T00:30:00+00:00");
        assert!(o.start_note.unwrap().contains("twice"));
    }
}
