//! `bot.toml` as written: the serde shapes, before any value is checked.
//! Unknown keys are errors everywhere. Numbers are read as TOML's own
//! integer (i64) so that `-5` or `4294967296` reach the range checks in
//! `numbers` and get "must be between…" at their line, not a parser error.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::{Missed, Software, Visibility};

// ---------------------------------------------------------------------------
// The file as written (serde shapes). Unknown keys are errors everywhere.
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSettings {
    pub(super) instance: RawInstance,
    #[serde(default)]
    pub(super) account: RawAccount,
    #[serde(default)]
    pub(super) state: RawState,
    #[serde(default)]
    pub(super) chats: BTreeMap<String, RawChat>,
    #[serde(default)]
    pub(super) mentions: RawMentions,
}

/// `[mentions]`: participants' commands to the bot.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMentions {
    pub(super) enabled: Option<bool>,
    pub(super) max_age_hours: Option<i64>,
    pub(super) per_hour: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInstance {
    pub(super) url: String,
    #[serde(default = "default_max_characters")]
    pub(super) max_characters: i64,
    #[serde(default = "default_url_length")]
    pub(super) characters_per_url: i64,
    #[serde(default)]
    pub(super) software: Software,
    #[serde(default = "default_timeout")]
    pub(super) timeout_seconds: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAccount {
    pub(super) credential: Option<String>,
    pub(super) token_file: Option<PathBuf>,
    pub(super) token_env: Option<String>,
    pub(super) token: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawState {
    pub(super) dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawChat {
    pub(super) hashtag: String,
    pub(super) weekday: String,
    pub(super) time: String,
    pub(super) zone: String,
    #[serde(default = "default_duration")]
    pub(super) duration_minutes: i64,
    #[serde(default = "default_prompts")]
    pub(super) prompts: PathBuf,
    pub(super) fallback: Option<String>,
    #[serde(default)]
    pub(super) visibility: Visibility,
    #[serde(default = "default_language")]
    pub(super) language: String,
    #[serde(default = "default_true")]
    pub(super) pin_welcome: bool,
    #[serde(default = "default_reminders")]
    pub(super) reminders: Vec<String>,
    #[serde(default)]
    pub(super) pacing: RawPacing,
    #[serde(default)]
    pub(super) catch_up: RawCatchUp,
    #[serde(default)]
    pub(super) recap: RawRecap,
    #[serde(default)]
    pub(super) archive: RawArchive,
    #[serde(default)]
    pub(super) collect: RawCollect,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPacing {
    pub(super) welcome: Option<i64>,
    pub(super) first_question: Option<i64>,
    pub(super) last_call: Option<i64>,
    pub(super) wrap_up: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawArchive {
    #[serde(default = "default_true")]
    pub(super) enabled: bool,
    pub(super) dir: Option<PathBuf>,
    pub(super) url: Option<String>,
}

impl Default for RawArchive {
    fn default() -> Self {
        RawArchive {
            enabled: true,
            dir: None,
            url: None,
        }
    }
}

fn default_max_characters() -> i64 {
    500
}
fn default_url_length() -> i64 {
    23
}
fn default_timeout() -> i64 {
    15
}
fn default_duration() -> i64 {
    60
}
fn default_prompts() -> PathBuf {
    PathBuf::from("prompts")
}
fn default_language() -> String {
    "en".into()
}
pub(super) fn default_true() -> bool {
    true
}
fn default_reminders() -> Vec<String> {
    vec!["24h".into(), "1h".into()]
}

/// `[chats.NAME.catch_up]`; missing numbers take `CatchUp::default()`'s.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCatchUp {
    #[serde(default)]
    pub(super) missed: Missed,
    pub(super) spacing_seconds: Option<i64>,
    pub(super) reminder_grace_minutes: Option<i64>,
}

/// `[chats.NAME.collect]`; missing values take the defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCollect {
    pub(super) enabled: Option<bool>,
    pub(super) grace_minutes: Option<i64>,
    #[serde(default)]
    pub(super) extra_sources: Vec<String>,
}

/// `[chats.NAME.recap]`; missing values take `RecapSettings::default()`'s.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRecap {
    pub(super) enabled: Option<bool>,
    pub(super) delay_minutes: Option<i64>,
    pub(super) answers_per_question: Option<i64>,
}
