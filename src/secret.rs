//! The access token: where it comes from, and a type that cannot leak it.
//!
//! [`Secret`] prints as `********` in `Debug` and `Display`, so a token
//! cannot reach a log line, an error message or an archive by accident; the
//! one way out is [`Secret::expose`], used where the HTTP header is built.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::config::AccountSettings;
use crate::diagnostic::Diagnostic;

/// A value that must never be shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(********)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}

/// Where a token was found, for messages (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// A systemd credential file.
    Credential(PathBuf),
    /// A token file named in bot.toml.
    File(PathBuf),
    /// An environment variable.
    Env(String),
    /// Written in bot.toml.
    Inline,
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::Credential(p) => write!(f, "systemd credential {}", p.display()),
            TokenSource::File(p) => write!(f, "token file {}", p.display()),
            TokenSource::Env(v) => write!(f, "environment variable {v}"),
            TokenSource::Inline => f.write_str("bot.toml ([account] token)"),
        }
    }
}

/// A token and where it came from, plus warnings worth showing.
#[derive(Debug)]
pub struct FoundToken {
    /// The token.
    pub token: Secret,
    /// Where it was found.
    pub source: TokenSource,
    /// E.g. a token file that others can read.
    pub warnings: Vec<Diagnostic>,
}

/// How the "no token anywhere" error begins: `check` offline reports only
/// that case as a warning; a token that exists but is broken is an error.
pub const NOT_FOUND: &str = "no access token found";

/// Why a token cannot be sent in an HTTP header, as the message to show
/// (the token itself is never part of it).
pub fn token_defect(token: &str) -> Option<&'static str> {
    if token.contains(['\n', '\r']) {
        Some("the token contains a line break: paste it on one line")
    } else if token.chars().any(char::is_control) {
        Some("the token contains a control character: paste it again, on one line, without it")
    } else if token.contains(' ') {
        Some("the token contains a space: paste only the token, on one line")
    } else if !token.chars().all(|c| c.is_ascii_graphic()) {
        // A no-break or zero-width space, a byte-order mark, a curly quote:
        // no server sends those in a token, and no HTTP header carries them.
        Some("the token contains an invisible or non-ASCII character: paste it again as plain text")
    } else {
        None
    }
}

/// Whether a value given as a path or a name (token_file, token_env,
/// credential) looks like a token pasted in its place: long, in the
/// base64url alphabet tokens use, no `/` or `.`, and random-looking — mixed
/// case with digits (Mastodon, Pleroma), or 32+ characters with no word
/// separator (GoToSocial). `mastodon_token_2024` and `CHATHOST_TOKEN` pass.
pub fn looks_like_token(value: &str) -> bool {
    let v = value.trim();
    let has = |f: fn(&char) -> bool| v.chars().any(|c| f(&c));
    let alphabet = v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '='));
    let mixed = has(char::is_ascii_uppercase) && has(char::is_ascii_lowercase);
    let unbroken = v.len() >= 32 && !has(|c| matches!(c, '-' | '_'));
    v.len() >= 20 && alphabet && has(char::is_ascii_digit) && (mixed || unbroken)
}

/// A token read from `source` (a file or variable), refused when it could
/// not be sent as it is.
fn checked(token: String, origin: String) -> Result<String, Diagnostic> {
    match token_defect(&token) {
        None => Ok(token),
        Some(why) => Err(Diagnostic::error(origin, why).with_help(
            "a token is one line of letters, digits, `-` and `_`; copy it again from the \
             account's settings (Development)",
        )),
    }
}

/// Looks for the token in the configured places, in order: systemd
/// credential, token file, environment variable, inline. `Err` says where
/// it looked and how to provide one.
pub fn find_token(
    account: &AccountSettings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<FoundToken, Diagnostic> {
    let mut looked = Vec::new();
    if let Some(name) = &account.credential {
        match env("CREDENTIALS_DIRECTORY") {
            Some(dir) => {
                let path = Path::new(&dir).join(name);
                if let Some(t) = read_token_file(&path)? {
                    let t = checked(t, path.display().to_string())?;
                    return Ok(found(t, TokenSource::Credential(path), vec![]));
                }
                looked.push(format!("systemd credential {}", path.display()));
            }
            None => looked.push(format!(
                "systemd credential `{name}` (not running under systemd: $CREDENTIALS_DIRECTORY is unset)"
            )),
        }
    }
    if let Some(path) = &account.token_file {
        if let Some(t) = read_token_file(path)? {
            let t = checked(t, path.display().to_string())?;
            let warnings = readable_by_others(path)
                .then(|| {
                    Diagnostic::warning(
                        path.display().to_string(),
                        "the token file can be read by other users on this machine",
                    )
                    .with_help(format!("run: chmod 600 {}", path.display()))
                })
                .into_iter()
                .collect();
            return Ok(found(t, TokenSource::File(path.clone()), warnings));
        }
        looked.push(format!("token file {}", path.display()));
    }
    match env(&account.token_env) {
        Some(v) if !v.trim().is_empty() => {
            let origin = format!("environment variable {}", account.token_env);
            return Ok(found(
                checked(v.trim().to_string(), origin)?,
                TokenSource::Env(account.token_env.clone()),
                vec![],
            ));
        }
        _ => looked.push(format!("environment variable {}", account.token_env)),
    }
    if let Some(t) = &account.inline_token {
        return Ok(FoundToken {
            token: t.clone(),
            source: TokenSource::Inline,
            warnings: vec![],
        });
    }
    Err(Diagnostic::error(
        "bot.toml",
        format!("{NOT_FOUND} (looked at: {})", looked.join("; ")),
    )
    .with_help(format!(
        "run `chathost auth --instance URL` to authorise the bot account and write a token \
                 file, then set [account] token_file (or export {}=…)",
        account.token_env
    )))
}

fn found(token: String, source: TokenSource, warnings: Vec<Diagnostic>) -> FoundToken {
    FoundToken {
        token: Secret::new(token),
        source,
        warnings,
    }
}

/// `Ok(None)` when the file does not exist; an error when it exists but
/// cannot be read or is empty.
fn read_token_file(path: &Path) -> Result<Option<String>, Diagnostic> {
    match crate::files::read_text(path, crate::files::TOKEN_LIMIT) {
        Ok(s) if s.trim().is_empty() => Err(Diagnostic::error(
            path.display().to_string(),
            "the token file is empty",
        )
        .with_help("paste the access token into it, on one line")),
        // Windows editors start a UTF-8 file with a byte-order mark.
        Ok(s) => Ok(Some(s.trim_start_matches('\u{feff}').trim().to_string())),
        Err(e) if e.io_kind() == Some(std::io::ErrorKind::NotFound) => Ok(None),
        Err(e) => Err(Diagnostic::error(
            path.display().to_string(),
            format!("cannot read the token file: {e}"),
        )
        .with_help(match e.io_kind() {
            Some(std::io::ErrorKind::PermissionDenied) => {
                "make it readable by the user chathost runs as (and by no one else)"
            }
            _ => e.help(),
        })),
    }
}

#[cfg(unix)]
fn readable_by_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o044 != 0)
}

#[cfg(not(unix))]
fn readable_by_others(_: &Path) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> AccountSettings {
        AccountSettings {
            credential: Some("mastodon-token".into()),
            token_file: None,
            token_env: "CHATHOST_TOKEN".into(),
            inline_token: None,
        }
    }

    #[test]
    fn tokens_are_told_from_paths_and_names() {
        for token in [
            "Zq8xW3kLmN0pR7sT2vYb4cD6eF9gH1jK5uA3oI",
            "ZTK1MWMWZDGTMDKYNS0ZNJQXLTLHM2MTOGQ5OGFJYZE3ZJU4",
        ] {
            assert!(looks_like_token(token), "{token}");
        }
        for name in [
            "token",
            "/etc/chathost/token",
            "mastodon_token_2024_backup",
            "CHATHOST_WENURSES_TOKEN2",
            "secrets/Zq8xW3kLmN0pR7sT2vYb4cD6eF9gH1jK5uA3oI",
        ] {
            assert!(!looks_like_token(name), "{name}");
        }
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("abc123");
        assert_eq!(format!("{s} {s:?}"), "******** Secret(********)");
    }

    #[test]
    fn credential_wins_over_environment() {
        let dir = std::env::temp_dir().join(format!("chathost-cred-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("mastodon-token"), "from-credential\n").unwrap();
        let d = dir.display().to_string();
        let env = move |k: &str| match k {
            "CREDENTIALS_DIRECTORY" => Some(d.clone()),
            "CHATHOST_TOKEN" => Some("from-env".into()),
            _ => None,
        };
        let t = find_token(&account(), &env).unwrap();
        assert_eq!(t.token.expose(), "from-credential");
        assert!(matches!(t.source, TokenSource::Credential(_)));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn missing_token_says_where_it_looked() {
        let e = find_token(&account(), &|_| None).unwrap_err();
        assert!(e.message.contains("CHATHOST_TOKEN"), "{e}");
        assert!(e.message.contains("mastodon-token"), "{e}");
        assert!(e.help.unwrap().contains("export CHATHOST_TOKEN"));
    }

    #[test]
    fn a_token_file_saved_with_a_byte_order_mark_reads_as_the_token() {
        let path = std::env::temp_dir().join(format!("chathost-bom-{}", std::process::id()));
        std::fs::write(&path, "\u{feff}Abc123xyz\r\n").unwrap();
        let mut a = account();
        a.credential = None;
        a.token_file = Some(path.clone());
        let t = find_token(&a, &|_| None);
        std::fs::remove_file(path).unwrap();
        assert_eq!(t.unwrap().token.expose(), "Abc123xyz");
    }

    #[cfg(unix)]
    #[test]
    fn world_readable_token_file_is_warned_about() {
        use std::os::unix::fs::PermissionsExt;
        let path = std::env::temp_dir().join(format!("chathost-token-{}", std::process::id()));
        std::fs::write(&path, "tok").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut a = account();
        a.credential = None;
        a.token_file = Some(path.clone());
        let t = find_token(&a, &|_| None).unwrap();
        assert_eq!(t.token.expose(), "tok");
        assert!(t.warnings[0].help.as_ref().unwrap().contains("chmod 600"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(find_token(&a, &|_| None).unwrap().warnings.is_empty());
        std::fs::remove_file(path).unwrap();
    }
}
