//! The meaning of each setting: every value checked, each problem a
//! located diagnostic.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono_tz::Tz;

use super::locate::Locator;
use super::raw::{RawAccount, RawChat, RawPacing, RawSettings};
use super::values::{check_hashtag, parse_lead, parse_time, parse_weekday};
use super::{
    AccountSettings, ArchiveSettings, Chat, Config, DEFAULT_TOKEN_ENV, InstanceSettings, Pacing,
    Visibility,
};
use crate::diagnostic::{Diagnostic, Severity, did_you_mean};
use crate::secret::{looks_like_token, token_defect};

pub(super) fn check_settings(
    raw: RawSettings,
    base_dir: &Path,
    env: &BTreeMap<String, String>,
    loc: &Locator<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Config> {
    let before = diags.iter().filter(|d| d.is_error()).count();

    check_instance_url(&raw.instance.url, loc, diags);
    if raw.instance.max_characters < 100 {
        diags.push(
            loc.at(
                Severity::Error,
                &["instance", "max_characters"],
                "max_characters is below 100",
            )
            .with_help("use the instance's limit: 500 on stock Mastodon, 5000 on GoToSocial"),
        );
    }

    if !(1..=300).contains(&raw.instance.timeout_seconds) {
        diags.push(
            loc.at(
                Severity::Error,
                &["instance", "timeout_seconds"],
                "timeout_seconds must be between 1 and 300",
            )
            .with_help("15 suits most servers; raise it for a slow one"),
        );
    }
    let account = check_account(raw.account, base_dir, loc, diags);

    let state_dir = match raw.state.dir {
        Some(d) => resolve(base_dir, &d),
        None => match env.get("STATE_DIRECTORY") {
            // systemd's StateDirectory= may list several, colon-separated.
            Some(s) if !s.is_empty() => PathBuf::from(s.split(':').next().unwrap_or(s)),
            _ => base_dir.join("state"),
        },
    };

    if raw.chats.is_empty() {
        diags.push(
            loc.at(Severity::Error, &[], "bot.toml defines no chat")
                .with_help("add a [chats.NAME] table with hashtag, weekday, time and zone"),
        );
    }
    let mut chats = Vec::new();
    let mut hashtags = BTreeMap::<String, String>::new();
    for (name, chat) in raw.chats {
        if let Some(c) = check_chat(&name, chat, base_dir, &state_dir, loc, diags) {
            if let Some(other) = hashtags.insert(c.hashtag.to_lowercase(), name.clone()) {
                diags.push(
                    loc.at(
                        Severity::Warning,
                        &["chats", &name, "hashtag"],
                        format!(
                            "chats `{other}` and `{name}` use the same hashtag #{}",
                            c.hashtag
                        ),
                    )
                    .with_help(
                        "answers of the two chats will be mixed up unless they never overlap",
                    ),
                );
            }
            chats.push(c);
        }
    }

    let errors = diags.iter().filter(|d| d.is_error()).count();
    (errors == before).then(|| Config {
        path: loc.source.path.clone(),
        base_dir: base_dir.to_path_buf(),
        instance: InstanceSettings {
            url: raw.instance.url.trim_end_matches('/').to_string(),
            max_characters: raw.instance.max_characters,
            characters_per_url: raw.instance.characters_per_url,
            software: raw.instance.software,
            timeout: std::time::Duration::from_secs(raw.instance.timeout_seconds),
        },
        account,
        state_dir,
        chats,
    })
}

fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

fn check_instance_url(url: &str, loc: &Locator<'_>, diags: &mut Vec<Diagnostic>) {
    let path = ["instance", "url"];
    match reqwest::Url::parse(url) {
        Ok(u) if u.scheme() != "https" && u.scheme() != "http" => diags.push(
            loc.at(
                Severity::Error,
                &path,
                format!("`{}` is not a web address", u.scheme()),
            )
            .with_help("write the instance's address, e.g. url = \"https://mastodon.social\""),
        ),
        Ok(u) if !u.username().is_empty() || u.password().is_some() || u.query().is_some() => diags
            .push(
                loc.at(
                    Severity::Error,
                    &path,
                    "the instance URL must not carry credentials or a query",
                )
                .with_help("give only the address; the token goes in [account]"),
            ),
        Ok(u) if u.path() != "/" && !u.path().is_empty() => diags.push(
            loc.at(
                Severity::Error,
                &path,
                format!("the instance URL has a path (`{}`)", u.path()),
            )
            .with_help("give only the server's address, e.g. \"https://mastodon.social\""),
        ),
        Ok(u) => {
            let loopback = matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
            if u.scheme() == "http" && !loopback {
                diags.push(
                    loc.at(
                        Severity::Warning,
                        &path,
                        "plain http sends the access token unencrypted",
                    )
                    .with_help("use https:// unless the server is on this machine"),
                );
            }
        }
        Err(e) => diags.push(
            loc.at(Severity::Error, &path, format!("not a valid URL: {e}"))
                .with_help("write the instance's address, e.g. url = \"https://mastodon.social\""),
        ),
    }
}

fn check_account(
    raw: RawAccount,
    base_dir: &Path,
    loc: &Locator<'_>,
    diags: &mut Vec<Diagnostic>,
) -> AccountSettings {
    if raw.token.is_some() {
        diags.push(
            loc.at(
                Severity::Warning,
                &["account", "token"],
                "the access token is written in bot.toml",
            )
            .with_help(
                "anyone who can read this file can post as the bot; prefer token_file, \
                 the CHATHOST_TOKEN variable or a systemd credential",
            ),
        );
    }
    if let Some(name) = &raw.credential
        && (name.is_empty() || name.contains('/'))
    {
        diags.push(
            loc.at(Severity::Error, &["account", "credential"], "a credential name cannot be empty or contain `/`")
                .with_help("use the name given to LoadCredential= in the systemd unit, e.g. \"mastodon-token\""),
        );
    }
    check_token_places(&raw, loc, diags);
    AccountSettings {
        credential: raw.credential,
        token_file: raw.token_file.map(|p| resolve(base_dir, &p)),
        token_env: raw.token_env.unwrap_or_else(|| DEFAULT_TOKEN_ENV.into()),
        inline_token: raw
            .token
            .map(|t| crate::secret::Secret::new(t.trim().to_string())),
    }
}

/// A token pasted where a path or a name belongs, or an inline token that
/// could not be sent: located errors that never repeat the value.
fn check_token_places(raw: &RawAccount, loc: &Locator<'_>, diags: &mut Vec<Diagnostic>) {
    let token_file = raw.token_file.as_ref().map(|p| p.to_string_lossy());
    let places = [
        ("token_file", token_file.as_deref(), "a path", "the file"),
        (
            "token_env",
            raw.token_env.as_deref(),
            "a variable name",
            "the variable",
        ),
        (
            "credential",
            raw.credential.as_deref(),
            "a credential name",
            "the credential",
        ),
    ];
    for (key, value, noun, what) in places {
        if value.is_some_and(looks_like_token) {
            diags.push(
                loc.at(
                    Severity::Error,
                    &["account", key],
                    format!("this looks like a token, not {noun} (it is not shown)"),
                )
                .with_help(format!("put the token in {what} and name {what} here")),
            );
        }
    }
    if let Some(why) = raw.token.as_deref().and_then(|t| token_defect(t.trim())) {
        diags.push(
            loc.at(Severity::Error, &["account", "token"], why)
                .with_help("write the token on one line between double quotes, or use token_file"),
        );
    }
}

fn check_chat(
    name: &str,
    raw: RawChat,
    base_dir: &Path,
    state_dir: &Path,
    loc: &Locator<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Chat> {
    let before = diags.iter().filter(|d| d.is_error()).count();
    let at = |key: &'static str| vec!["chats", name, key];
    let err = |path: &[&str], msg: String, help: String| {
        loc.at(Severity::Error, path, msg).with_help(help)
    };

    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        diags.push(err(
            &["chats", name],
            format!("chat name `{name}` must be lowercase letters, digits and `_`"),
            "rename the table, e.g. [chats.wenurses]; the name is used in environment overrides and the database".into(),
        ));
    }

    if let Err((msg, help)) = check_hashtag(&raw.hashtag) {
        diags.push(err(&at("hashtag"), msg, help));
    }

    let weekday = match parse_weekday(&raw.weekday) {
        Some(w) => Some(w),
        None => {
            diags.push(err(
                &at("weekday"),
                format!("`{}` is not a day of the week", raw.weekday),
                "write the day in English, e.g. weekday = \"Wednesday\" (or \"Wed\")".into(),
            ));
            None
        }
    };

    let time = match parse_time(&raw.time) {
        Some(t) => Some(t),
        None => {
            diags.push(err(
                &at("time"),
                format!("`{}` is not a time of day", raw.time),
                "write the local start time as 24-hour HH:MM, e.g. time = \"20:00\"".into(),
            ));
            None
        }
    };

    let zone = match Tz::from_str(&raw.zone) {
        Ok(z) => Some(z),
        Err(_) => {
            let names = chrono_tz::TZ_VARIANTS.iter().map(|z| z.name());
            let help = match did_you_mean(&raw.zone, names) {
                Some(s) => format!("did you mean \"{s}\"? Zones are IANA names"),
                None => {
                    "use an IANA zone name such as \"Europe/London\" or \"America/New_York\"".into()
                }
            };
            diags.push(err(
                &at("zone"),
                format!("unknown time zone `{}`", raw.zone),
                help,
            ));
            None
        }
    };

    if !(10..=240).contains(&raw.duration_minutes) {
        diags.push(err(
            &at("duration_minutes"),
            format!("a chat of {} minutes", raw.duration_minutes),
            "use a length between 10 and 240 minutes (most chats are 60)".into(),
        ));
    }
    let pacing = check_pacing(name, &raw.pacing, raw.duration_minutes, loc, diags);

    let language_ok = (2..=3).contains(&raw.language.len())
        && raw.language.chars().all(|c| c.is_ascii_lowercase());
    if !language_ok {
        diags.push(err(
            &at("language"),
            format!("`{}` is not an ISO 639 language code", raw.language),
            "use a two-letter code such as \"en\", \"cy\" or \"fr\"".into(),
        ));
    }

    if raw.visibility != Visibility::Public {
        diags.push(
            loc.at(
                Severity::Warning,
                &at("visibility"),
                format!(
                    "{} posts do not appear on the #{} timeline",
                    raw.visibility.as_str(),
                    raw.hashtag
                ),
            )
            .with_help(
                "participants following the hashtag will not see the questions; use \"public\"",
            ),
        );
    }

    let mut reminders = Vec::new();
    for (i, r) in raw.reminders.iter().enumerate() {
        let path = ["chats", name, "reminders"];
        match parse_lead(r) {
            Some(d) if d.as_secs() >= 60 && d.as_secs() <= 14 * 86400 => reminders.push(d),
            _ => diags.push(err(
                &path,
                format!(
                    "reminder {} (`{r}`) is not a lead time between 1 minute and 14 days",
                    i + 1
                ),
                "write lead times like \"24h\", \"1h\", \"30m\" or \"2d\"".into(),
            )),
        }
    }
    reminders.sort_by(|a, b| b.cmp(a));
    reminders.dedup();

    let prompts_dir = resolve(base_dir, &raw.prompts);
    let fallback = raw.fallback.as_ref().map(|f| prompts_dir.join(f));
    if let Some(f) = &fallback
        && !f.is_file()
    {
        diags.push(err(
            &at("fallback"),
            format!("fallback question file {} does not exist", f.display()),
            "create it, or remove `fallback` so that weeks without a question file are skipped"
                .into(),
        ));
    }
    if !prompts_dir.is_dir() {
        diags.push(
            loc.at(
                Severity::Warning,
                &at("prompts"),
                format!("question folder {} does not exist", prompts_dir.display()),
            )
            .with_help("create it and add a question file per chat date, e.g. 2026-12-02.toml"),
        );
    }

    let archive_dir = match &raw.archive.dir {
        Some(d) => resolve(base_dir, d),
        None => state_dir.join("archive"),
    };

    let errors = diags.iter().filter(|d| d.is_error()).count();
    if errors != before {
        return None;
    }
    Some(Chat {
        name: name.to_string(),
        hashtag: raw.hashtag,
        weekday: weekday?,
        time: time?,
        zone: zone?,
        duration_minutes: raw.duration_minutes,
        prompts_dir,
        fallback,
        visibility: raw.visibility,
        language: raw.language,
        pin_welcome: raw.pin_welcome,
        reminders,
        pacing: pacing?,
        catch_up: raw.catch_up,
        recap: raw.recap,
        archive: ArchiveSettings {
            enabled: raw.archive.enabled,
            dir: archive_dir,
        },
    })
}

fn check_pacing(
    name: &str,
    raw: &RawPacing,
    duration: u32,
    loc: &Locator<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Pacing> {
    let welcome = raw.welcome.unwrap_or(0);
    let first_question = raw.first_question.unwrap_or(welcome + 5);
    let last_call = match raw.last_call {
        Some(0) => None,
        Some(m) => Some(m),
        None => Some(duration.saturating_sub(5)),
    };
    let wrap_up = raw.wrap_up.unwrap_or(duration);
    let p = Pacing {
        welcome,
        first_question,
        last_call,
        wrap_up,
    };
    // Each part must come strictly after the one before, within the hour.
    let parts: Vec<(&str, Option<u32>)> = vec![
        ("welcome", Some(welcome)),
        ("first_question", Some(first_question)),
        ("last_call", last_call),
        ("wrap_up", Some(wrap_up)),
    ];
    let mut prev: Option<(&str, u32)> = None;
    let mut ok = true;
    for (key, value) in parts {
        let Some(v) = value else { continue };
        if let Some((pk, pv)) = prev
            && v <= pv
        {
            diags.push(
                loc.at(
                    Severity::Error,
                    &["chats", name, "pacing", key],
                    format!("{key} at minute {v} does not come after {pk} at minute {pv}"),
                )
                .with_help("pacing is minutes after the start: welcome < first_question < last_call < wrap_up"),
            );
            ok = false;
        }
        prev = Some((key, v));
    }
    if wrap_up > duration {
        diags.push(
            loc.at(
                Severity::Error,
                &["chats", name, "pacing", "wrap_up"],
                format!("wrap_up at minute {wrap_up} is after the end of a {duration}-minute chat"),
            )
            .with_help("set wrap_up to at most duration_minutes"),
        );
        ok = false;
    }
    ok.then_some(p)
}
