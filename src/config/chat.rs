//! `[chats.NAME]`: one weekly chat, every value checked and located.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{NaiveTime, Weekday};
use chrono_tz::Tz;

use super::locate::Locator;
use super::numbers::{
    ANSWERS_PER_QUESTION, DURATION_MINUTES, RECAP_DELAY_MINUTES, REMINDER_GRACE_MINUTES,
    SPACING_SECONDS, bounded, max_duration, out_of_range,
};
use super::raw::{RawCatchUp, RawChat, RawPacing, RawRecap};
use super::validate::resolve;
use super::values::{check_hashtag, parse_lead, parse_time, parse_weekday};
use super::{ArchiveSettings, CatchUp, Chat, Pacing, RecapSettings, Visibility};
use crate::diagnostic::{Diagnostic, Severity, did_you_mean};

/// Where a chat's problems go: its name, the locator and the list.
struct Ctx<'a, 'l> {
    name: &'a str,
    loc: &'a Locator<'l>,
    diags: &'a mut Vec<Diagnostic>,
}

impl Ctx<'_, '_> {
    fn error(&mut self, key: &str, message: String, help: impl Into<String>) {
        let path = ["chats", self.name, key];
        let d = self.loc.at(Severity::Error, &path, message).with_help(help);
        self.diags.push(d);
    }

    fn warning(&mut self, key: &str, message: String, help: &str) {
        let path = ["chats", self.name, key];
        let d = self
            .loc
            .at(Severity::Warning, &path, message)
            .with_help(help);
        self.diags.push(d);
    }
}

impl<'a> Ctx<'a, '_> {
    /// The key path of one of the chat's sub-tables.
    fn table(&self, sub: &'static str) -> [&'a str; 3] {
        ["chats", self.name, sub]
    }
}

/// The checked chat; `None` when any of its values is wrong.
pub(super) fn check_chat(
    name: &str,
    raw: RawChat,
    base_dir: &Path,
    state_dir: &Path,
    loc: &Locator<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Chat> {
    let before = diags.iter().filter(|d| d.is_error()).count();
    let mut cx = Ctx { name, loc, diags };
    check_name(&mut cx);
    if let Err((msg, help)) = check_hashtag(&raw.hashtag) {
        cx.error("hashtag", msg, help);
    }
    let (weekday, time, zone) = check_when(&mut cx, &raw);
    let duration: Option<u32> = bounded(
        &DURATION_MINUTES,
        &["chats", name],
        raw.duration_minutes,
        loc,
        cx.diags,
    );
    let pacing = check_pacing(&mut cx, &raw.pacing, duration);
    check_language_and_visibility(&mut cx, &raw);
    let reminders = check_reminders(&mut cx, &raw.reminders);
    let catch_up = check_catch_up(&mut cx, &raw.catch_up);
    let recap = check_recap(&mut cx, &raw.recap);
    let collect = super::collect::check_collect(cx.name, &raw.collect, cx.loc, cx.diags);
    let (prompts_dir, fallback) = check_prompts(&mut cx, &raw, base_dir);
    let archive_dir = match &raw.archive.dir {
        Some(d) => resolve(base_dir, d),
        None => state_dir.join("archive"),
    };
    let archive_url = check_archive_url(&mut cx, raw.archive.url.as_deref());

    if cx.diags.iter().filter(|d| d.is_error()).count() != before {
        return None;
    }
    Some(Chat {
        name: name.to_string(),
        hashtag: raw.hashtag,
        weekday: weekday?,
        time: time?,
        zone: zone?,
        duration_minutes: duration?,
        prompts_dir,
        fallback,
        visibility: raw.visibility,
        language: raw.language,
        pin_welcome: raw.pin_welcome,
        reminders,
        pacing: pacing?,
        catch_up: catch_up?,
        recap: recap?,
        archive: ArchiveSettings {
            enabled: raw.archive.enabled,
            dir: archive_dir,
            url: archive_url?,
        },
        collect: collect?,
    })
}

/// `[chats.X.archive] url`: a web address where the archive folder is
/// published (a path is fine; a password, query or fragment is not).
fn check_archive_url(cx: &mut Ctx<'_, '_>, url: Option<&str>) -> Option<Option<String>> {
    let Some(url) = url else {
        return Some(None);
    };
    let problem = match reqwest::Url::parse(url) {
        Err(e) => Some(format!("not a valid URL: {e}")),
        Ok(u) if !matches!(u.scheme(), "https" | "http") => {
            Some(format!("`{}` is not a web address", u.scheme()))
        }
        Ok(u) if !u.username().is_empty() || u.password().is_some() => {
            Some("the address carries a user name or password".into())
        }
        Ok(u) if u.query().is_some() || u.fragment().is_some() => {
            Some("the address has a query (`?…`) or fragment (`#…`)".into())
        }
        Ok(_) => None,
    };
    match problem {
        None => Some(Some(url.trim_end_matches('/').to_string())),
        Some(p) => {
            let path = ["chats", cx.name, "archive", "url"];
            cx.diags.push(
                cx.loc
                    .at(Severity::Error, &path, p)
                    .with_help("the web address where the archive folder is published, e.g. url = \"https://wenurses.example/archive\"")
                    .hiding(super::instance::userinfo(url)),
            );
            None
        }
    }
}

fn check_name(cx: &mut Ctx<'_, '_>) {
    let name = cx.name;
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok {
        let d = cx
            .loc
            .at(
                Severity::Error,
                &["chats", name],
                format!("chat name `{name}` must be lowercase letters, digits and `_`"),
            )
            .with_help(
                "rename the table, e.g. [chats.wenurses]; the name is used in environment \
                 overrides and the database",
            );
        cx.diags.push(d);
    }
}

/// Weekday, start time and zone.
fn check_when(
    cx: &mut Ctx<'_, '_>,
    raw: &RawChat,
) -> (Option<Weekday>, Option<NaiveTime>, Option<Tz>) {
    let weekday = parse_weekday(&raw.weekday);
    if weekday.is_none() {
        cx.error(
            "weekday",
            format!("`{}` is not a day of the week", raw.weekday),
            "write the day in English, e.g. weekday = \"Wednesday\" (or \"Wed\")",
        );
    }
    let time = parse_time(&raw.time);
    if time.is_none() {
        cx.error(
            "time",
            format!("`{}` is not a time of day", raw.time),
            "write the local start time as 24-hour HH:MM, e.g. time = \"20:00\"",
        );
    }
    let zone = Tz::from_str(&raw.zone).ok();
    if zone.is_none() {
        let names = chrono_tz::TZ_VARIANTS.iter().map(|z| z.name());
        let help = match did_you_mean(&raw.zone, names) {
            Some(s) => format!("did you mean \"{s}\"? Zones are IANA names"),
            None => {
                "use an IANA zone name such as \"Europe/London\" or \"America/New_York\"".into()
            }
        };
        cx.error("zone", format!("unknown time zone `{}`", raw.zone), help);
    }
    (weekday, time, zone)
}

fn check_language_and_visibility(cx: &mut Ctx<'_, '_>, raw: &RawChat) {
    let language_ok = (2..=3).contains(&raw.language.len())
        && raw.language.chars().all(|c| c.is_ascii_lowercase());
    if !language_ok {
        cx.error(
            "language",
            format!("`{}` is not an ISO 639 language code", raw.language),
            "use a two-letter code such as \"en\", \"cy\" or \"fr\"",
        );
    }
    if raw.visibility == Visibility::Direct {
        cx.error(
            "visibility",
            "\"direct\" posts reach only the accounts they mention, so nobody would see the chat's questions".to_string(),
            "use \"public\" (or \"unlisted\")",
        );
    } else if raw.visibility != Visibility::Public {
        cx.warning(
            "visibility",
            format!(
                "{} posts do not appear on the #{} timeline",
                raw.visibility.as_str(),
                raw.hashtag
            ),
            "participants following the hashtag will not see the questions; use \"public\"",
        );
    }
}

/// Lead times between 1 minute and 14 days, longest first.
fn check_reminders(cx: &mut Ctx<'_, '_>, raw: &[String]) -> Vec<std::time::Duration> {
    let mut reminders = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        match parse_lead(r) {
            Some(d) if d.as_secs() >= 60 && d.as_secs() <= 14 * 86400 => reminders.push(d),
            _ => cx.error(
                "reminders",
                format!(
                    "reminder {} (`{r}`) is not a lead time between 1 minute and 14 days",
                    i + 1
                ),
                "write lead times like \"24h\", \"1h\", \"30m\" or \"2d\"",
            ),
        }
    }
    reminders.sort_by(|a, b| b.cmp(a));
    reminders.dedup();
    reminders
}

fn check_catch_up(cx: &mut Ctx<'_, '_>, raw: &RawCatchUp) -> Option<CatchUp> {
    let d = CatchUp::default();
    let table = cx.table("catch_up");
    let spacing = raw.spacing_seconds.unwrap_or(d.spacing_seconds.into());
    let grace = raw
        .reminder_grace_minutes
        .unwrap_or(d.reminder_grace_minutes.into());
    let spacing = bounded(&SPACING_SECONDS, &table, spacing, cx.loc, cx.diags);
    let grace = bounded(&REMINDER_GRACE_MINUTES, &table, grace, cx.loc, cx.diags);
    Some(CatchUp {
        missed: raw.missed,
        spacing_seconds: spacing?,
        reminder_grace_minutes: grace?,
    })
}

fn check_recap(cx: &mut Ctx<'_, '_>, raw: &RawRecap) -> Option<RecapSettings> {
    let d = RecapSettings::default();
    let table = cx.table("recap");
    let delay = raw.delay_minutes.unwrap_or(d.delay_minutes.into());
    let answers = raw
        .answers_per_question
        .unwrap_or(d.answers_per_question.into());
    let delay = bounded(&RECAP_DELAY_MINUTES, &table, delay, cx.loc, cx.diags);
    let answers = bounded(&ANSWERS_PER_QUESTION, &table, answers, cx.loc, cx.diags);
    Some(RecapSettings {
        enabled: raw.enabled.unwrap_or(d.enabled),
        delay_minutes: delay?,
        answers_per_question: answers?,
    })
}

/// The question folder (warned about when missing) and the fallback file.
fn check_prompts(
    cx: &mut Ctx<'_, '_>,
    raw: &RawChat,
    base_dir: &Path,
) -> (PathBuf, Option<PathBuf>) {
    let prompts_dir = resolve(base_dir, &raw.prompts);
    let fallback = raw.fallback.as_ref().map(|f| prompts_dir.join(f));
    if let Some(f) = &fallback
        && !f.is_file()
    {
        cx.error(
            "fallback",
            format!("fallback question file {} does not exist", f.display()),
            "create it, or remove `fallback` so that weeks without a question file are skipped",
        );
    }
    if !prompts_dir.is_dir() {
        cx.warning(
            "prompts",
            format!("question folder {} does not exist", prompts_dir.display()),
            "create it and add a question file per chat date, e.g. 2026-12-02.toml",
        );
    }
    (prompts_dir, fallback)
}

/// Each part of the chat at a minute within it, in order. A minute outside
/// 0..=duration is reported at its own key with the range, before any
/// comparison, so that no default is computed from a wild value.
fn check_pacing(cx: &mut Ctx<'_, '_>, raw: &RawPacing, duration: Option<u32>) -> Option<Pacing> {
    let dur = duration.map_or(max_duration(), i64::from);
    let range = 0..=dur;
    let table = cx.table("pacing");
    let mut minute = |key: &str, value: Option<i64>| -> Result<Option<u32>, ()> {
        match value {
            None => Ok(None),
            Some(v) if range.contains(&v) => Ok(u32::try_from(v).ok()),
            Some(v) => {
                let path = [table[0], table[1], table[2], key];
                let d = out_of_range(key, v, &range, &path, cx.loc).with_help(
                    "pacing is minutes after the start, within the chat's duration_minutes",
                );
                cx.diags.push(d);
                Err(())
            }
        }
    };
    let welcome = minute("welcome", raw.welcome);
    let first_question = minute("first_question", raw.first_question);
    let last_call = minute("last_call", raw.last_call);
    let wrap_up = minute("wrap_up", raw.wrap_up);
    let (Ok(welcome), Ok(first_question), Ok(last_call), Ok(wrap_up), Some(duration)) =
        (welcome, first_question, last_call, wrap_up, duration)
    else {
        return None;
    };
    let welcome = welcome.unwrap_or(0);
    let p = Pacing {
        welcome,
        first_question: first_question.unwrap_or(welcome.saturating_add(5)),
        last_call: match last_call {
            Some(0) => None,
            Some(m) => Some(m),
            None => Some(duration.saturating_sub(5)),
        },
        wrap_up: wrap_up.unwrap_or(duration),
    };
    check_order(cx, &p).then_some(p)
}

/// welcome < first_question < last_call < wrap_up.
fn check_order(cx: &mut Ctx<'_, '_>, p: &Pacing) -> bool {
    let parts = [
        ("welcome", Some(p.welcome)),
        ("first_question", Some(p.first_question)),
        ("last_call", p.last_call),
        ("wrap_up", Some(p.wrap_up)),
    ];
    let mut prev: Option<(&str, u32)> = None;
    let mut ok = true;
    for (key, value) in parts {
        let Some(v) = value else { continue };
        if let Some((pk, pv)) = prev
            && v <= pv
        {
            let path = ["chats", cx.name, "pacing", key];
            let d = cx
                .loc
                .at(
                    Severity::Error,
                    &path,
                    format!("{key} at minute {v} does not come after {pk} at minute {pv}"),
                )
                .with_help(
                    "pacing is minutes after the start: welcome < first_question < last_call < wrap_up",
                );
            cx.diags.push(d);
            ok = false;
        }
        prev = Some((key, v));
    }
    ok
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::config::load_source;
    use crate::diagnostic::SourceFile;

    const BASE: &str = "[instance]\nurl = \"https://mastodon.example\"\n\n[chats.w]\nhashtag = \"WeNurses\"\nweekday = \"Wednesday\"\ntime = \"20:00\"\nzone = \"Europe/London\"\n";

    fn archive_url(url: &str) -> Result<Option<String>, String> {
        let source = SourceFile {
            path: "/nonexistent/bot.toml".into(),
            text: format!("{BASE}\n[chats.w.archive]\nurl = \"{url}\"\n"),
        };
        load_source(source, &BTreeMap::new())
            .map(|l| l.config.chats[0].archive.url.clone())
            .map_err(|d| d.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn the_archive_address_is_a_web_address_with_no_password() {
        assert_eq!(
            archive_url("https://wenurses.example/archive/").unwrap(),
            Some("https://wenurses.example/archive".into())
        );
        let e = archive_url("https://ann:secret99@wenurses.example/a").unwrap_err();
        assert!(
            e.contains("bot.toml:")
                && e.contains("user name or password")
                && !e.contains("secret99"),
            "{e}"
        );
        let e = archive_url("javascript:alert(1)").unwrap_err();
        assert!(e.contains("not a web address"), "{e}");
        let e = archive_url("https://wenurses.example/a?x=1").unwrap_err();
        assert!(e.contains("query"), "{e}");
    }

    #[test]
    fn a_chat_may_not_post_direct() {
        let load = |visibility: &str| {
            let source = SourceFile {
                path: "/nonexistent/bot.toml".into(),
                text: format!("{BASE}visibility = \"{visibility}\"\n"),
            };
            load_source(source, &BTreeMap::new())
                .map(|l| l.config.chats[0].visibility)
                .map_err(|d| d.iter().map(ToString::to_string).collect::<String>())
        };
        let e = load("direct").unwrap_err();
        assert!(e.contains("visibility") && e.contains("\"direct\""), "{e}");
        assert_eq!(load("unlisted"), Ok(crate::config::Visibility::Unlisted));
        assert_eq!(crate::config::Visibility::Direct.as_str(), "direct");
    }
}
