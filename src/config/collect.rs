//! `[chats.NAME.collect]`: how long late answers count, and the other
//! instances read for posts that never reached the bot's.

use super::CollectSettings;
use super::instance::check_url;
use super::locate::Locator;
use super::numbers::{GRACE_MINUTES, bounded};
use super::raw::RawCollect;
use crate::diagnostic::{Diagnostic, Severity};

/// Default minutes after the wrap-up that answers still count: the same as
/// the recap's default delay, so a recap sees every late answer.
const DEFAULT_GRACE: i64 = 15;

/// At most this many other instances: each costs requests every poll.
const MAX_EXTRA_SOURCES: usize = 10;

/// The checked table; `None` when a value is wrong.
pub(super) fn check_collect(
    name: &str,
    raw: &RawCollect,
    loc: &Locator<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<CollectSettings> {
    let table = ["chats", name, "collect"];
    let grace = bounded(
        &GRACE_MINUTES,
        &table,
        raw.grace_minutes.unwrap_or(DEFAULT_GRACE),
        loc,
        diags,
    );
    let path = ["chats", name, "collect", "extra_sources"];
    let mut ok = true;
    let mut sources: Vec<String> = Vec::new();
    for url in &raw.extra_sources {
        ok &= check_url(url, &path, false, loc, diags);
        let url = url.trim_end_matches('/').to_string();
        if !sources.contains(&url) {
            sources.push(url);
        }
    }
    if sources.len() > MAX_EXTRA_SOURCES {
        diags.push(
            loc.at(
                Severity::Error,
                &path,
                format!(
                    "{} other instances listed; at most {MAX_EXTRA_SOURCES}",
                    sources.len()
                ),
            )
            .with_help("keep the instances where many participants have their accounts"),
        );
        ok = false;
    }
    ok.then_some(())?;
    Some(CollectSettings {
        enabled: raw.enabled.unwrap_or(true),
        grace_minutes: grace?,
        extra_sources: sources,
    })
}
