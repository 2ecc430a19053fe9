//! The sane range of every number in bot.toml. TOML hands us an i64; a
//! value outside its range is a located error naming the range, so that
//! nothing wraps around or overflows into a different, valid-looking value.

use std::ops::RangeInclusive;

use super::locate::Locator;
use crate::diagnostic::{Diagnostic, Severity};

/// One number setting: its key, its range and what to write.
pub(super) struct Bound {
    pub(super) key: &'static str,
    pub(super) range: RangeInclusive<i64>,
    pub(super) help: &'static str,
}

pub(super) const MAX_CHARACTERS: Bound = Bound {
    key: "max_characters",
    range: 100..=100_000,
    help: "use the instance's limit: 500 on stock Mastodon, 5000 on GoToSocial",
};
pub(super) const CHARACTERS_PER_URL: Bound = Bound {
    key: "characters_per_url",
    range: 1..=1000,
    help: "Mastodon counts every link as 23 characters",
};
pub(super) const TIMEOUT_SECONDS: Bound = Bound {
    key: "timeout_seconds",
    range: 1..=300,
    help: "15 suits most servers; raise it for a slow one",
};
pub(super) const DURATION_MINUTES: Bound = Bound {
    key: "duration_minutes",
    range: 15..=240,
    help: "the length of the chat in minutes; most chats are 60",
};
pub(super) const SPACING_SECONDS: Bound = Bound {
    key: "spacing_seconds",
    range: 0..=3600,
    help: "seconds between two posts caught up late; 60 is usual",
};
pub(super) const REMINDER_GRACE_MINUTES: Bound = Bound {
    key: "reminder_grace_minutes",
    range: 0..=1440,
    help: "minutes a reminder may be late and still go out; 10 is usual",
};
pub(super) const RECAP_DELAY_MINUTES: Bound = Bound {
    key: "delay_minutes",
    range: 0..=1440,
    help: "minutes after the wrap-up before the recap; 15 is usual",
};
pub(super) const GRACE_MINUTES: Bound = Bound {
    key: "grace_minutes",
    range: 0..=1440,
    help: "minutes after the wrap-up that late answers still count; 15 is usual",
};
pub(super) const MAX_AGE_HOURS: Bound = Bound {
    key: "max_age_hours",
    range: 1..=720,
    help: "hours a mention may wait for a reply while the bot is down; 24 is usual",
};
pub(super) const PER_HOUR: Bound = Bound {
    key: "per_hour",
    range: 1..=100,
    help: "commands one account may send in an hour before the bot stops replying; 5 is usual",
};
pub(super) const ANSWERS_PER_QUESTION: Bound = Bound {
    key: "answers_per_question",
    range: 0..=20,
    help: "how many answers to link under each question; 3 is usual",
};

/// The longest chat, for bounding pacing when the duration itself is wrong.
pub(super) fn max_duration() -> i64 {
    *DURATION_MINUTES.range.end()
}

/// `value` when it is within the bound; otherwise a located error at
/// `table` + the bound's key, naming the range.
pub(super) fn bounded<T: TryFrom<i64>>(
    bound: &Bound,
    table: &[&str],
    value: i64,
    loc: &Locator<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<T> {
    let ok = bound.range.contains(&value);
    let converted = T::try_from(value).ok().filter(|_| ok);
    if converted.is_none() {
        let mut path = table.to_vec();
        path.push(bound.key);
        diags.push(out_of_range(bound.key, value, &bound.range, &path, loc).with_help(bound.help));
    }
    converted
}

/// "KEY is V; it must be between MIN and MAX", at the value.
pub(super) fn out_of_range(
    key: &str,
    value: i64,
    range: &RangeInclusive<i64>,
    path: &[&str],
    loc: &Locator<'_>,
) -> Diagnostic {
    loc.at(
        Severity::Error,
        path,
        format!(
            "{key} is {value}; it must be between {} and {}",
            range.start(),
            range.end()
        ),
    )
}
