//! `[instance]`: the server's address and the numbers about it. An address
//! that would fail online (spaces, a fragment, a query, credentials, another
//! scheme) fails here, offline, with the address to write instead.

use super::InstanceSettings;
use super::locate::Locator;
use super::numbers::{CHARACTERS_PER_URL, MAX_CHARACTERS, TIMEOUT_SECONDS, bounded};
use super::raw::RawInstance;
use crate::diagnostic::{Diagnostic, Severity};

/// The checked `[instance]` table; `None` when any value is wrong.
pub(super) fn check_instance(
    raw: &RawInstance,
    loc: &Locator<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<InstanceSettings> {
    let url_ok = check_url(&raw.url, &["instance", "url"], true, loc, diags);
    let table = ["instance"];
    let max_characters = bounded(&MAX_CHARACTERS, &table, raw.max_characters, loc, diags);
    let per_url = bounded(
        &CHARACTERS_PER_URL,
        &table,
        raw.characters_per_url,
        loc,
        diags,
    );
    let timeout: Option<u64> = bounded(&TIMEOUT_SECONDS, &table, raw.timeout_seconds, loc, diags);
    url_ok.then_some(())?;
    Some(InstanceSettings {
        url: raw.url.trim_end_matches('/').to_string(),
        max_characters: max_characters?,
        characters_per_url: per_url?,
        software: raw.software,
        timeout: std::time::Duration::from_secs(timeout?),
    })
}

/// Checks a server's address at `path` (the bot's instance, or another
/// instance read without a token: `sends_token` false spares the plain-http
/// warning); false when it is an error (warnings still true).
pub(super) fn check_url(
    url: &str,
    path: &[&str],
    sends_token: bool,
    loc: &Locator<'_>,
    diags: &mut Vec<Diagnostic>,
) -> bool {
    let parsed = match reqwest::Url::parse(url.trim()) {
        Ok(u) => u,
        Err(e) => {
            diags.push(
                loc.at(Severity::Error, path, format!("not a valid URL: {e}"))
                    .with_help(
                        "write the instance's address, e.g. url = \"https://mastodon.social\"",
                    )
                    .hiding(userinfo(url)),
            );
            return false;
        }
    };
    let web = matches!(parsed.scheme(), "https" | "http");
    let what = if sends_token {
        "the instance URL"
    } else {
        "the address"
    };
    let problem = if url != url.trim() {
        Some(format!("{what} has spaces around it"))
    } else if !web {
        Some(format!("`{}` is not a web address", parsed.scheme()))
    } else if !parsed.username().is_empty() || parsed.password().is_some() {
        // Never shown: the password is in there.
        Some(format!("{what} carries a user name or password"))
    } else if parsed.query().is_some() {
        Some(format!("{what} has a query (`?…`)"))
    } else if parsed.fragment().is_some() {
        Some(format!("{what} has a fragment (`#…`)"))
    } else if parsed.path() != "/" && !parsed.path().is_empty() {
        Some(format!("{what} has a path (`{}`)", parsed.path()))
    } else {
        None
    };
    if let Some(message) = problem {
        diags.push(
            loc.at(Severity::Error, path, message)
                .with_help(suggestion(&parsed, web))
                .hiding(userinfo(url)),
        );
        return false;
    }
    let loopback = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if sends_token && parsed.scheme() == "http" && !loopback {
        diags.push(
            loc.at(
                Severity::Warning,
                path,
                "plain http sends the access token unencrypted",
            )
            .with_help("use https:// unless the server is on this machine"),
        );
    }
    true
}

/// The `user:password` part of an address as written, whatever its
/// scheme (or none): it is never shown. Empty when there is none, or when
/// it is too short to hide without garbling the line.
pub(super) fn userinfo(url: &str) -> &str {
    let before_query = url.split(['?', '#']).next().unwrap_or("");
    let Some((before_at, _)) = before_query.rsplit_once('@') else {
        return "";
    };
    // From the last `/` before the `@` (`https://`, `https//`, or none).
    let info = before_at.rsplit('/').next().unwrap_or("").trim();
    if info.chars().count() >= 2 { info } else { "" }
}

/// What to write instead: scheme, host and port only (no credentials).
fn suggestion(u: &reqwest::Url, web: bool) -> String {
    let scheme = if web { u.scheme() } else { "https" };
    match u.host_str() {
        Some(host) if !host.is_empty() => {
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!(
                "give only the server's address: url = \"{scheme}://{host}{port}\"; \
                 the token goes in [account]"
            )
        }
        _ => "write the instance's address, e.g. url = \"https://mastodon.social\"".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::userinfo;

    #[test]
    fn the_user_and_password_are_found_however_the_address_is_written() {
        for (url, info) in [
            ("https://bot:hunter2@mastodon.example", "bot:hunter2"),
            ("bot:hunter2@mastodon.example", "bot:hunter2"),
            ("https//bot:hunter2@mastodon.example/x", "bot:hunter2"),
            ("https://a@mastodon.example", ""),
            ("https://mastodon.example/@alice", ""),
            ("https://mastodon.example", ""),
        ] {
            assert_eq!(userinfo(url), info, "{url}");
        }
    }
}
