//! `bot.toml`: the host's settings, read into typed values.
//!
//! The file is parsed twice on purpose. First strictly with `toml`, which
//! knows lines and columns, so that a syntax error, a wrong type or an
//! unknown key is reported at its place. Then through the `config` crate,
//! which layers `CHATHOST__SECTION__KEY` environment overrides on top (the
//! `config` crate alone would report no line numbers and would quietly turn
//! `5` into `"5"`). Finally every value is checked for meaning (zone,
//! weekday, hashtag, pacing…) and each problem becomes a [`Diagnostic`]
//! pointing at the value — or at the environment variable that set it.

mod chat;
mod collect;
mod env;
mod instance;
mod locate;
mod numbers;
mod raw;
mod validate;
mod values;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{NaiveTime, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;

use crate::diagnostic::{Diagnostic, Severity, SourceFile};

use env::{env_overrides, layer_env};
use locate::{Locator, toml_error};
use raw::{RawSettings, default_true};
use validate::check_settings;
pub use values::{check_hashtag, describe_lead, parse_lead, parse_time, parse_weekday};

/// The prefix of environment overrides: `CHATHOST__INSTANCE__URL=…`.
pub const ENV_PREFIX: &str = "CHATHOST";
/// The default environment variable holding the access token.
pub const DEFAULT_TOKEN_ENV: &str = "CHATHOST_TOKEN";

// ---------------------------------------------------------------------------
// The checked settings the rest of chathost uses.
// ---------------------------------------------------------------------------

/// Everything in `bot.toml`, checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from.
    pub path: PathBuf,
    /// The folder relative paths are resolved against (bot.toml's folder).
    pub base_dir: PathBuf,
    /// The server.
    pub instance: InstanceSettings,
    /// Where the access token comes from.
    pub account: AccountSettings,
    /// Where chathost keeps its database and archives.
    pub state_dir: PathBuf,
    /// The chats, in name order.
    pub chats: Vec<Chat>,
    /// Participants' commands to the bot (`[mentions]`).
    pub mentions: MentionSettings,
}

/// `[mentions]`: how the bot answers participants who mention it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MentionSettings {
    /// Read and answer mentions at all.
    pub enabled: bool,
    /// A mention older than this when read (the bot was down) gets no reply.
    pub max_age_hours: u32,
    /// Commands one account may send in an hour; beyond, no reply.
    pub per_hour: u32,
}

impl Default for MentionSettings {
    fn default() -> Self {
        MentionSettings {
            enabled: true,
            max_age_hours: 24,
            per_hour: 5,
        }
    }
}

/// The server the bot posts to.
#[derive(Debug, Clone)]
pub struct InstanceSettings {
    /// Base URL, e.g. `https://mastodon.example`.
    pub url: String,
    /// Post length limit used when the instance is not asked (`check` offline).
    pub max_characters: usize,
    /// How many characters a link counts for (23 on Mastodon).
    pub characters_per_url: usize,
    /// Which server software to speak to; `auto` asks the server.
    pub software: Software,
    /// How long one API call may take before it counts as failed.
    pub timeout: std::time::Duration,
}

/// Server software, which decides quirks (see `platform-facts.md`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Software {
    /// Detect it from the instance's nodeinfo.
    #[default]
    Auto,
    /// Mastodon and close relatives.
    Mastodon,
    /// GoToSocial.
    Gotosocial,
    /// Pleroma and Akkoma.
    Pleroma,
}

/// Where the token comes from. The first source that is present wins:
/// systemd credential, then file, then environment variable, then inline.
#[derive(Debug, Clone)]
pub struct AccountSettings {
    /// Name of a systemd credential under `$CREDENTIALS_DIRECTORY`.
    pub credential: Option<String>,
    /// A file holding the token (absolute, or relative to bot.toml).
    pub token_file: Option<PathBuf>,
    /// The environment variable holding the token.
    pub token_env: String,
    /// An inline token (allowed, warned about).
    pub inline_token: Option<crate::secret::Secret>,
}

/// Who may see a post.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Everyone, and on the hashtag timeline.
    #[default]
    Public,
    /// Everyone with the link, but not on hashtag timelines.
    Unlisted,
    /// Followers only.
    Private,
    /// Only the accounts mentioned: the bot's answers to a participant's
    /// own request (their record). Refused for a chat's posts.
    Direct,
}

impl Visibility {
    /// The API's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Unlisted => "unlisted",
            Visibility::Private => "private",
            Visibility::Direct => "direct",
        }
    }
}

/// One weekly chat.
#[derive(Debug, Clone)]
pub struct Chat {
    /// Its name in bot.toml (`[chats.NAME]`).
    pub name: String,
    /// The hashtag without `#`.
    pub hashtag: String,
    /// Day of the week, in the chat's zone.
    pub weekday: Weekday,
    /// Local start time.
    pub time: NaiveTime,
    /// IANA zone the start time is in.
    pub zone: Tz,
    /// Length in minutes.
    pub duration_minutes: u32,
    /// Folder with `YYYY-MM-DD.toml` question files and `templates/`.
    pub prompts_dir: PathBuf,
    /// Question file used for a week that has none.
    pub fallback: Option<PathBuf>,
    /// Visibility of the chat's posts.
    pub visibility: Visibility,
    /// ISO 639 language code of the posts.
    pub language: String,
    /// Pin the welcome post during the chat.
    pub pin_welcome: bool,
    /// Reminders, as durations before the start, longest first.
    pub reminders: Vec<std::time::Duration>,
    /// When each part of the hour happens.
    pub pacing: Pacing,
    /// What to do with steps missed while chathost was down.
    pub catch_up: CatchUp,
    /// The recap thread after the chat.
    pub recap: RecapSettings,
    /// The archive written after the chat.
    pub archive: ArchiveSettings,
    /// Gathering the answers.
    pub collect: CollectSettings,
}

/// What to do with steps whose time passed while chathost was not running
/// (started late, restarted, or the server was down).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct CatchUp {
    /// `post`: post missed questions late, in order, spaced, until the chat
    /// ends; `skip`: leave them out. The wrap-up always goes out.
    #[serde(default)]
    pub missed: Missed,
    /// Seconds between two posts caught up late, so nobody is flooded.
    #[serde(default = "default_spacing")]
    pub spacing_seconds: u32,
    /// A reminder later than this many minutes is left out (it would say
    /// "in 1 hour" at the wrong time).
    #[serde(default = "default_reminder_grace")]
    pub reminder_grace_minutes: u32,
}

impl Default for CatchUp {
    fn default() -> Self {
        CatchUp {
            missed: Missed::default(),
            spacing_seconds: default_spacing(),
            reminder_grace_minutes: default_reminder_grace(),
        }
    }
}

/// Whether to post missed questions late.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Missed {
    /// Post them late, in order, spaced, while the chat lasts.
    #[default]
    Post,
    /// Leave them out.
    Skip,
}

fn default_spacing() -> u32 {
    60
}
fn default_reminder_grace() -> u32 {
    10
}

/// Minutes after the start at which each part of the chat happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Pacing {
    /// The welcome post.
    pub welcome: u32,
    /// The first question (later ones are spread evenly up to the last call).
    pub first_question: u32,
    /// The "last call" post; `None` when switched off (`last_call = 0`).
    pub last_call: Option<u32>,
    /// The wrap-up post.
    pub wrap_up: u32,
}

/// The recap thread posted after the chat.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RecapSettings {
    /// Post a recap thread at all.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Minutes after the wrap-up before the recap (late answers still count).
    #[serde(default = "default_recap_delay")]
    pub delay_minutes: u32,
    /// How many answers to link under each question.
    #[serde(default = "default_recap_answers")]
    pub answers_per_question: u32,
}

impl Default for RecapSettings {
    fn default() -> Self {
        RecapSettings {
            enabled: true,
            delay_minutes: default_recap_delay(),
            answers_per_question: default_recap_answers(),
        }
    }
}

fn default_recap_delay() -> u32 {
    15
}
fn default_recap_answers() -> u32 {
    3
}

/// Gathering the answers of each chat date (`[chats.NAME.collect]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectSettings {
    /// Collect at all.
    pub enabled: bool,
    /// Minutes after the wrap-up that late answers still count.
    pub grace_minutes: u32,
    /// Other instances whose public tag timelines are read too, for posts
    /// that never reached the bot's instance (base URLs, no token sent).
    pub extra_sources: Vec<String>,
}

/// The archive folder written after the chat.
#[derive(Debug, Clone)]
pub struct ArchiveSettings {
    /// Write an archive at all.
    pub enabled: bool,
    /// Where (default: `<state dir>/archive`).
    pub dir: PathBuf,
    /// Where the host publishes that folder (a web address), for the
    /// recap's link and the feed; `None` when it is not published.
    pub url: Option<String>,
}

/// The result of loading bot.toml: the settings and what is worth a warning.
#[derive(Debug)]
pub struct Loaded {
    /// The checked settings.
    pub config: Config,
    /// Warnings (the chat still runs).
    pub warnings: Vec<Diagnostic>,
    /// The file as read, for locating later diagnostics.
    pub source: SourceFile,
    /// Environment overrides in force (`a.b` → variable and value).
    overrides: BTreeMap<String, (String, String)>,
}

impl Loaded {
    /// A diagnostic about the value at a key path of bot.toml (e.g.
    /// `["chats", "wenurses", "time"]`), located in the file or naming the
    /// environment variable that set it.
    pub fn diag_at(
        &self,
        severity: Severity,
        path: &[&str],
        message: impl Into<String>,
    ) -> Diagnostic {
        match toml::de::DeTable::parse(&self.source.text) {
            Ok(doc) => Locator {
                source: &self.source,
                doc: doc.get_ref(),
                overrides: &self.overrides,
            }
            .at(severity, path, message),
            Err(_) => Diagnostic {
                severity,
                ..Diagnostic::error(self.source.name(), message)
            },
        }
    }
}

/// Reads bot.toml with the process environment's overrides.
pub fn load(path: &Path) -> Result<Loaded, Vec<Diagnostic>> {
    let env: BTreeMap<String, String> = std::env::vars().collect();
    load_with_env(path, &env)
}

/// Reads bot.toml with the given environment (tests pass their own).
pub fn load_with_env(
    path: &Path,
    env: &BTreeMap<String, String>,
) -> Result<Loaded, Vec<Diagnostic>> {
    let source = SourceFile::read(path).map_err(|d| vec![d])?;
    load_source(source, env)
}

/// Checks bot.toml's text (already read) with the given environment.
pub fn load_source(
    source: SourceFile,
    env: &BTreeMap<String, String>,
) -> Result<Loaded, Vec<Diagnostic>> {
    // 1. Strictly, for located syntax, type and unknown-key errors.
    let doc = toml::de::DeTable::parse(&source.text).map_err(|e| vec![toml_error(&source, &e)])?;
    toml::from_str::<RawSettings>(&source.text).map_err(|e| vec![toml_error(&source, &e)])?;

    // 2. With environment overrides, through the `config` crate.
    let overrides = env_overrides(env);
    let raw = layer_env(&source, &overrides)?;

    // 3. Meaning.
    let base_dir = source
        .path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let ctx = Locator {
        source: &source,
        doc: doc.get_ref(),
        overrides: &overrides,
    };
    let mut diags = Vec::new();
    let config = check_settings(raw, &base_dir, env, &ctx, &mut diags);
    let (errors, warnings): (Vec<_>, Vec<_>) = diags.into_iter().partition(Diagnostic::is_error);
    if !errors.is_empty() {
        let mut all = errors;
        all.extend(warnings);
        return Err(all);
    }
    Ok(Loaded {
        config: config.expect("no errors means a config"),
        warnings,
        source,
        overrides,
    })
}
