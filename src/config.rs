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

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{NaiveTime, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;

use crate::diagnostic::{Diagnostic, Severity, SourceFile, did_you_mean};

/// The prefix of environment overrides: `CHATHOST__INSTANCE__URL=…`.
pub const ENV_PREFIX: &str = "CHATHOST";
/// The default environment variable holding the access token.
pub const DEFAULT_TOKEN_ENV: &str = "CHATHOST_TOKEN";

// ---------------------------------------------------------------------------
// The file as written (serde shapes). Unknown keys are errors everywhere.
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    instance: RawInstance,
    #[serde(default)]
    account: RawAccount,
    #[serde(default)]
    state: RawState,
    #[serde(default)]
    chats: BTreeMap<String, RawChat>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInstance {
    url: String,
    #[serde(default = "default_max_characters")]
    max_characters: usize,
    #[serde(default = "default_url_length")]
    characters_per_url: usize,
    #[serde(default)]
    software: Software,
    #[serde(default = "default_timeout")]
    timeout_seconds: u64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    credential: Option<String>,
    token_file: Option<PathBuf>,
    token_env: Option<String>,
    token: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawState {
    dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChat {
    hashtag: String,
    weekday: String,
    time: String,
    zone: String,
    #[serde(default = "default_duration")]
    duration_minutes: u32,
    #[serde(default = "default_prompts")]
    prompts: PathBuf,
    fallback: Option<String>,
    #[serde(default)]
    visibility: Visibility,
    #[serde(default = "default_language")]
    language: String,
    #[serde(default = "default_true")]
    pin_welcome: bool,
    #[serde(default = "default_reminders")]
    reminders: Vec<String>,
    #[serde(default)]
    pacing: RawPacing,
    #[serde(default)]
    catch_up: CatchUp,
    #[serde(default)]
    recap: RecapSettings,
    #[serde(default)]
    archive: RawArchive,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPacing {
    welcome: Option<u32>,
    first_question: Option<u32>,
    last_call: Option<u32>,
    wrap_up: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArchive {
    #[serde(default = "default_true")]
    enabled: bool,
    dir: Option<PathBuf>,
}

impl Default for RawArchive {
    fn default() -> Self {
        RawArchive {
            enabled: true,
            dir: None,
        }
    }
}

fn default_max_characters() -> usize {
    500
}
fn default_url_length() -> usize {
    23
}
fn default_timeout() -> u64 {
    15
}
fn default_duration() -> u32 {
    60
}
fn default_prompts() -> PathBuf {
    PathBuf::from("prompts")
}
fn default_language() -> String {
    "en".into()
}
fn default_true() -> bool {
    true
}
fn default_reminders() -> Vec<String> {
    vec!["24h".into(), "1h".into()]
}

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
}

impl Visibility {
    /// The API's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Unlisted => "unlisted",
            Visibility::Private => "private",
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

/// The archive folder written after the chat.
#[derive(Debug, Clone)]
pub struct ArchiveSettings {
    /// Write an archive at all.
    pub enabled: bool,
    /// Where (default: `<state dir>/archive`).
    pub dir: PathBuf,
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

/// `CHATHOST__A__B=v` variables, as `a.b` → (variable name, value).
fn env_overrides(env: &BTreeMap<String, String>) -> BTreeMap<String, (String, String)> {
    let prefix = format!("{ENV_PREFIX}__");
    env.iter()
        .filter(|(k, _)| k.starts_with(&prefix) && k.len() > prefix.len())
        .map(|(k, v)| {
            let path = k[prefix.len()..].to_lowercase().replace("__", ".");
            (path, (k.clone(), v.clone()))
        })
        .collect()
}

fn layer_env(
    source: &SourceFile,
    overrides: &BTreeMap<String, (String, String)>,
) -> Result<RawSettings, Vec<Diagnostic>> {
    if overrides.is_empty() {
        // Nothing to layer: the strict parse is the answer.
        return toml::from_str(&source.text).map_err(|e| vec![toml_error(source, &e)]);
    }
    let env_map: config::Map<String, String> = overrides
        .values()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let built = config::Config::builder()
        .add_source(config::File::from_str(
            &source.text,
            config::FileFormat::Toml,
        ))
        .add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(Some(env_map)),
        )
        .build()
        .and_then(|c| c.try_deserialize::<RawSettings>());
    built.map_err(|e| {
        let names: Vec<&str> = overrides.values().map(|(k, _)| k.as_str()).collect();
        vec![
            Diagnostic::error(
                format!("environment ({})", names.join(", ")),
                format!("an override does not fit bot.toml: {e}"),
            )
            .with_help(
                "overrides are CHATHOST__SECTION__KEY=value, e.g. CHATHOST__INSTANCE__URL or \
                 CHATHOST__CHATS__<chat>__HASHTAG; fix or unset the variable",
            ),
        ]
    })
}

/// Turns a `toml` parse or deserialize error into a located diagnostic with
/// a suggestion for the common cases.
fn toml_error(source: &SourceFile, e: &toml::de::Error) -> Diagnostic {
    let message = e.message().trim().to_string();
    let span = e.span().unwrap_or(0..0);
    let mut d = source.diag(Severity::Error, span.clone(), first_line(&message));
    if let Some((unknown, expected)) = unknown_name(&message) {
        let what = if message.starts_with("unknown variant") {
            "value"
        } else {
            "key"
        };
        d = d.with_help(
            match did_you_mean(&unknown, expected.iter().map(String::as_str)) {
                Some(s) => format!("did you mean `{s}`? Allowed: {}", expected.join(", ")),
                None if expected.is_empty() => format!("remove this {what}"),
                None => format!("allowed here: {}", expected.join(", ")),
            },
        );
    } else if message.contains("missing field") {
        d = d.with_help(
            "add the missing key (see the commented example bot.toml in the repository)",
        );
    } else if message.contains("invalid type") && message.contains("expected a string") {
        d = d.with_help("put the value in double quotes, e.g. time = \"20:00\"");
    } else if message.contains("invalid type") {
        d = d.with_help("change the value to the type named above");
    } else {
        d = d.with_help("this is not valid TOML; check quotes, brackets and `=` on this line");
    }
    // The line shown is masked when it holds a secret; the parser's message
    // may quote the value, so it is replaced too.
    if message.contains("invalid type") && d.location.as_ref().is_some_and(|l| !l.hidden.is_empty())
    {
        d.message =
            "the secret on this line is not a quoted string (its value is not shown)".into();
        d.help = Some(
            "write it in double quotes, token = \"…\" — or better, use token_file or the CHATHOST_TOKEN variable"
                .into(),
        );
    }
    d
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).to_string()
}

/// From serde's "unknown field `x`, expected one of `a`, `b`" (or "unknown
/// variant …"), the unknown name and the allowed ones.
fn unknown_name(message: &str) -> Option<(String, Vec<String>)> {
    if !(message.starts_with("unknown field") || message.starts_with("unknown variant")) {
        return None;
    }
    let mut names = message.split('`').skip(1).step_by(2).map(str::to_string);
    let unknown = names.next()?;
    Some((unknown, names.collect()))
}

/// Finds where a key path's value was written: in the file, or in an
/// environment variable that overrode it.
struct Locator<'a> {
    source: &'a SourceFile,
    doc: &'a toml::de::DeTable<'a>,
    overrides: &'a BTreeMap<String, (String, String)>,
}

impl Locator<'_> {
    /// A diagnostic about the value at `path` (e.g. `["chats", "x", "zone"]`).
    fn at(&self, severity: Severity, path: &[&str], message: impl Into<String>) -> Diagnostic {
        if let Some((var, _)) = self.overrides.get(&path.join(".")) {
            let d = Diagnostic::error(format!("environment variable {var}"), message);
            return Diagnostic { severity, ..d };
        }
        let span = self.span(path).unwrap_or(0..0);
        self.source.diag(severity, span, message)
    }

    fn span(&self, path: &[&str]) -> Option<Range<usize>> {
        let mut table = self.doc;
        let mut best = None;
        for (i, part) in path.iter().enumerate() {
            let (key, value) = table.iter().find(|(k, _)| k.get_ref() == part)?;
            best = Some(key.span());
            if i + 1 == path.len() {
                return Some(value.span());
            }
            match value.get_ref() {
                toml::de::DeValue::Table(t) => table = t,
                _ => return best,
            }
        }
        best
    }
}

fn check_settings(
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
    AccountSettings {
        credential: raw.credential,
        token_file: raw.token_file.map(|p| resolve(base_dir, &p)),
        token_env: raw.token_env.unwrap_or_else(|| DEFAULT_TOKEN_ENV.into()),
        inline_token: raw.token.map(crate::secret::Secret::new),
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

/// Mastodon's rule for a hashtag: letters, digits, `_` (and `·`, ZWNJ),
/// at least one of them not a digit. Returns (message, help) when broken.
pub fn check_hashtag(tag: &str) -> Result<(), (String, String)> {
    let help_example = "write the tag without `#`, e.g. hashtag = \"WeNurses\"";
    if let Some(rest) = tag.strip_prefix('#') {
        return Err((
            format!("the hashtag `{tag}` starts with `#`"),
            format!("write it without `#`: hashtag = \"{rest}\""),
        ));
    }
    if tag.is_empty() {
        return Err(("the hashtag is empty".into(), help_example.into()));
    }
    if let Some(bad) = tag
        .chars()
        .find(|c| !(c.is_alphanumeric() || *c == '_' || *c == '·' || *c == '\u{200c}'))
    {
        let what = if bad.is_whitespace() {
            "a space".to_string()
        } else {
            format!("`{bad}`")
        };
        return Err((
            format!("the hashtag `{tag}` contains {what}, which Mastodon does not allow in a tag"),
            "use only letters, digits and `_`; CamelCase keeps long tags readable (e.g. \"NHSDigitalChat\")".into(),
        ));
    }
    if tag.chars().all(|c| c.is_ascii_digit()) {
        return Err((
            format!("the hashtag `{tag}` is only digits, which Mastodon does not link as a tag"),
            "add at least one letter".into(),
        ));
    }
    Ok(())
}

/// "Wednesday", "wed", "WED" → Wednesday.
pub fn parse_weekday(s: &str) -> Option<Weekday> {
    Weekday::from_str(s.trim()).ok()
}

/// "20:00" or "8:30" (24-hour) → a time.
pub fn parse_time(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()
}

/// "24h", "90m", "2d", "1h30m" → a duration.
pub fn parse_lead(s: &str) -> Option<std::time::Duration> {
    let mut total = 0u64;
    let mut digits = String::new();
    let mut any = false;
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: u64 = digits.parse().ok()?;
        digits.clear();
        total += n * match c {
            'd' => 86400,
            'h' => 3600,
            'm' => 60,
            _ => return None,
        };
        any = true;
    }
    (any && digits.is_empty()).then(|| std::time::Duration::from_secs(total))
}

/// A short human form of a lead time: "24 hours", "1 hour", "30 minutes".
pub fn describe_lead(d: std::time::Duration) -> String {
    let m = d.as_secs() / 60;
    let plural = |n: u64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if m.is_multiple_of(60 * 24) && m >= 60 * 48 {
        plural(m / (60 * 24), "day")
    } else if m.is_multiple_of(60) {
        plural(m / 60, "hour")
    } else {
        plural(m, "minute")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lead_times() {
        assert_eq!(parse_lead("24h").unwrap().as_secs(), 86400);
        assert_eq!(parse_lead("1h30m").unwrap().as_secs(), 5400);
        assert_eq!(parse_lead("2d").unwrap().as_secs(), 172800);
        assert!(parse_lead("24").is_none());
        assert!(parse_lead("h").is_none());
        assert!(parse_lead("3w").is_none());
        assert_eq!(describe_lead(parse_lead("24h").unwrap()), "24 hours");
        assert_eq!(describe_lead(parse_lead("1h").unwrap()), "1 hour");
        assert_eq!(describe_lead(parse_lead("2d").unwrap()), "2 days");
        assert_eq!(describe_lead(parse_lead("30m").unwrap()), "30 minutes");
    }

    #[test]
    fn hashtags_follow_mastodon_rules() {
        assert!(check_hashtag("WeNurses").is_ok());
        assert!(check_hashtag("nhs_chat2027").is_ok());
        assert!(check_hashtag("café").is_ok());
        assert!(
            check_hashtag("#WeNurses")
                .unwrap_err()
                .1
                .contains("\"WeNurses\"")
        );
        assert!(
            check_hashtag("We Nurses")
                .unwrap_err()
                .0
                .contains("a space")
        );
        assert!(check_hashtag("we-nurses").unwrap_err().0.contains("`-`"));
        assert!(check_hashtag("2027").is_err());
        assert!(check_hashtag("").is_err());
    }

    #[test]
    fn weekdays_and_times() {
        assert_eq!(parse_weekday("Wednesday"), Some(Weekday::Wed));
        assert_eq!(parse_weekday("wed"), Some(Weekday::Wed));
        assert_eq!(parse_weekday("Wednsday"), None);
        assert_eq!(parse_time("20:00"), NaiveTime::from_hms_opt(20, 0, 0));
        assert_eq!(parse_time("8pm"), None);
        assert_eq!(parse_time("25:00"), None);
    }
}
