//! `[chats.NAME.collect]`: how long late answers count, and the other
//! instances read for posts that never reached the bot's.

use super::CollectSettings;
use super::instance::{check_url, userinfo};
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
    let first = diags.len();
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
    // Every diagnostic shows the whole `extra_sources` line: hide the user
    // and password of every address on it, not only the one at fault.
    let found: Vec<Diagnostic> = diags.drain(first..).collect();
    diags.extend(found.into_iter().map(|d| {
        raw.extra_sources
            .iter()
            .fold(d, |d, url| d.hiding(userinfo(url)))
    }));
    ok.then_some(())?;
    Some(CollectSettings {
        enabled: raw.enabled.unwrap_or(true),
        grace_minutes: grace?,
        extra_sources: sources,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::config::load_source;
    use crate::diagnostic::SourceFile;

    const BASE: &str = "[instance]\nurl = \"https://mastodon.example\"\n\n[chats.w]\nhashtag = \"WeNurses\"\nweekday = \"Wednesday\"\ntime = \"20:00\"\nzone = \"Europe/London\"\n";

    fn load(collect: &str) -> Result<crate::config::CollectSettings, String> {
        let source = SourceFile {
            path: "/nonexistent/bot.toml".into(),
            text: format!("{BASE}\n[chats.w.collect]\n{collect}\n"),
        };
        load_source(source, &BTreeMap::new())
            .map(|l| l.config.chats[0].collect.clone())
            .map_err(|d| d.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn defaults_collect_with_a_grace_and_no_other_instances() {
        let c = load("").unwrap();
        assert!(c.enabled);
        assert_eq!(c.grace_minutes, 15);
        assert!(c.extra_sources.is_empty());
    }

    #[test]
    fn other_instances_are_base_urls_once_each() {
        let c = load("extra_sources = [\"https://nurses.social/\", \"https://nurses.social\", \"http://gts.example\"]").unwrap();
        assert_eq!(
            c.extra_sources,
            ["https://nurses.social", "http://gts.example"]
        );
        let e = load("extra_sources = [\"https://nurses.social/tags/WeNurses\"]").unwrap_err();
        assert!(
            e.contains("has a path") && e.contains("extra_sources"),
            "{e}"
        );
        let e = load("extra_sources = [\"https://me:secret99@nurses.social\"]").unwrap_err();
        assert!(
            e.contains("user name or password") && !e.contains("secret99"),
            "{e}"
        );
        // Another address's password on the same line stays hidden too.
        let e =
            load("extra_sources = [\"ftp://x\", \"https://u:pw123456@h.example\"]").unwrap_err();
        assert!(
            e.contains("not a web address") && !e.contains("pw123456"),
            "{e}"
        );
        let many: Vec<String> = (0..11)
            .map(|i| format!("\"https://s{i}.example\""))
            .collect();
        let e = load(&format!("extra_sources = [{}]", many.join(", "))).unwrap_err();
        assert!(e.contains("at most 10"), "{e}");
    }

    #[test]
    fn grace_is_bounded() {
        assert_eq!(load("grace_minutes = 0").unwrap().grace_minutes, 0);
        let e = load("grace_minutes = 100000").unwrap_err();
        assert!(e.contains("grace_minutes") && e.contains("1440"), "{e}");
        let e = load("unknown = 1").unwrap_err();
        assert!(e.contains("unknown"), "{e}");
    }
}
