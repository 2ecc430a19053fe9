//! The meaning of each setting: every value checked, each problem a
//! located diagnostic.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::chat::check_chat;
use super::instance::check_instance;
use super::locate::Locator;
use super::raw::{RawAccount, RawSettings};
use super::{AccountSettings, Config, DEFAULT_TOKEN_ENV};
use crate::diagnostic::{Diagnostic, Severity};
use crate::secret::{looks_like_token, token_defect};

pub(super) fn check_settings(
    raw: RawSettings,
    base_dir: &Path,
    env: &BTreeMap<String, String>,
    loc: &Locator<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Config> {
    let before = diags.iter().filter(|d| d.is_error()).count();

    let instance = check_instance(&raw.instance, loc, diags);
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

    let mentions = check_mentions(&raw.mentions, loc, diags);

    let errors = diags.iter().filter(|d| d.is_error()).count();
    if errors != before {
        return None;
    }
    Some(Config {
        path: loc.source.path.clone(),
        base_dir: base_dir.to_path_buf(),
        instance: instance?,
        account,
        state_dir,
        chats,
        mentions: mentions?,
    })
}

/// `[mentions]`, each number in its range.
fn check_mentions(
    raw: &super::raw::RawMentions,
    loc: &Locator<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<super::MentionSettings> {
    let d = super::MentionSettings::default();
    let table = ["mentions"];
    let max_age = raw.max_age_hours.map_or(Some(d.max_age_hours), |v| {
        super::numbers::bounded(&super::numbers::MAX_AGE_HOURS, &table, v, loc, diags)
    });
    let per_hour = raw.per_hour.map_or(Some(d.per_hour), |v| {
        super::numbers::bounded(&super::numbers::PER_HOUR, &table, v, loc, diags)
    });
    Some(super::MentionSettings {
        enabled: raw.enabled.unwrap_or(d.enabled),
        max_age_hours: max_age?,
        per_hour: per_hour?,
    })
}

pub(super) fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
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
                .with_help(format!("put the token in {what} and name {what} here"))
                .hiding(value.unwrap_or_default().trim()),
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
