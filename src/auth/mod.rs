//! `chathost auth`: makes the bot's access token with the least scopes
//! that work, out of band (the host approves in a browser and pastes the
//! code), writes it to a 0600 file, verifies it, says how to point
//! bot.toml (or a systemd credential) at it, and offers to mark the
//! account as a bot with a note that explains `#nobot`.
//!
//! The token and the client secret go to the token file and nowhere else:
//! not to stdout, stderr, a log or an error message.

mod profile;
mod token_file;

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use megalodon::SNS;

use crate::config::{InstanceSettings, Software};
use crate::instance::Instance;
use crate::instance::oauth::{OAuthClient, scopes_for};
use crate::secret::Secret;

pub use profile::DEFAULT_NOTE;

/// Where the token goes without `--token-file`: beside bot.toml in the
/// folder `auth` runs in, where `token_file = "token"` finds it.
pub const DEFAULT_TOKEN_FILE: &str = "token";

/// The app's name on the server's "Authorised apps" page.
pub const CLIENT_NAME: &str = "chathost";

/// The name `systemd-creds` encrypts the token under (the unit's
/// `LoadCredentialEncrypted=` and bot.toml's `credential` use it).
pub const CREDENTIAL_NAME: &str = "mastodon-token";

/// An answer to an offer: yes, no, or ask on a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Do it.
    Yes,
    /// Leave it.
    No,
    /// Ask when stdin is a terminal; otherwise no.
    Ask,
}

impl FromStr for Choice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "yes" | "y" => Ok(Choice::Yes),
            "no" | "n" => Ok(Choice::No),
            "ask" => Ok(Choice::Ask),
            other => Err(format!("`{other}`: expected yes, no or ask")),
        }
    }
}

/// What `chathost auth` was asked to do.
#[derive(Debug, Clone)]
pub struct AuthOptions {
    /// The server's base URL.
    pub instance: String,
    /// Where the token goes.
    pub token_file: PathBuf,
    /// Replace an existing token file.
    pub force: bool,
    /// Mark the account as a bot?
    pub bot: Choice,
    /// Set the profile note?
    pub note: Choice,
    /// How long one call may take.
    pub timeout: Duration,
}

/// Where `auth` talks: stdout for results, stderr for questions, stdin
/// for answers; `interactive` when stdin is a terminal.
pub struct Console<R, W, E> {
    /// Answers (the code, yes/no).
    pub input: R,
    /// Results: the URL, the account, what to put in bot.toml.
    pub out: W,
    /// Questions and hints.
    pub err: E,
    /// Whether stdin is a terminal (questions are asked only then).
    pub interactive: bool,
}

impl<R: BufRead, W: Write, E: Write> Console<R, W, E> {
    fn out_line(&mut self, line: &str) -> Result<(), String> {
        writeln!(self.out, "{line}")
            .and_then(|()| self.out.flush())
            .map_err(|e| format!("cannot write to standard output: {e}"))
    }

    fn say(&mut self, line: &str) -> Result<(), String> {
        writeln!(self.err, "{line}")
            .and_then(|()| self.err.flush())
            .map_err(|e| format!("cannot write to standard error: {e}"))
    }

    /// One line from stdin, trimmed; `None` at its end.
    fn read_line(&mut self, prompt: &str) -> Result<Option<String>, String> {
        write!(self.err, "{prompt}")
            .and_then(|()| self.err.flush())
            .map_err(|e| format!("cannot write to standard error: {e}"))?;
        let mut line = String::new();
        let read = self
            .input
            .read_line(&mut line)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        Ok((read > 0).then(|| line.trim().to_string()))
    }

    /// `choice`, asking on a terminal for `Ask` (default no).
    fn decide(&mut self, choice: Choice, question: &str) -> Result<bool, String> {
        match choice {
            Choice::Yes => Ok(true),
            Choice::No => Ok(false),
            Choice::Ask if !self.interactive => Ok(false),
            Choice::Ask => {
                let answer = self.read_line(&format!("{question} [y/N] "))?;
                Ok(answer.is_some_and(|a| matches!(a.to_ascii_lowercase().as_str(), "y" | "yes")))
            }
        }
    }
}

/// Runs `chathost auth`. The token file is written only once the token
/// has worked; the profile offers after it only warn when they fail, so a
/// working token is never reported as a failure.
pub async fn run<R: BufRead, W: Write, E: Write>(
    opts: &AuthOptions,
    console: &mut Console<R, W, E>,
) -> Result<(), String> {
    token_file::check_free(&opts.token_file, opts.force)?;
    check_instance(&opts.instance)?;
    let client = OAuthClient::new(&opts.instance, opts.timeout).map_err(|e| e.message)?;
    let software = client
        .software()
        .await
        .map_err(|e| format!("cannot tell which server runs at {}: {e}", opts.instance))?;
    let scopes = scopes_for(software_word(&software));
    let app = client
        .register_app(CLIENT_NAME, website(), &scopes)
        .await
        .map_err(|e| format!("cannot register chathost as an app: {e}"))?;
    console.out_line(
        "Open this page in a browser, signed in as the bot account, and approve chathost:",
    )?;
    console.out_line(&format!("  {}", client.authorize_url(&app)))?;
    // The code belongs to the app registered just now: it is read here,
    // not taken from an earlier run.
    let code = console
        .read_line("Paste the code the page shows: ")?
        .filter(|c| !c.is_empty())
        .ok_or("no code given: run `chathost auth` again and paste the code the page shows")?;
    let granted = client
        .exchange_code(&app, &code)
        .await
        .map_err(|e| e.message)?;
    let instance = connect(&client, software, &granted.token, opts.timeout).await?;
    // Verified before anything is written: a token that does not work
    // never reaches the file.
    let facts = instance
        .profile()
        .await
        .map_err(|e| format!("the new token does not work: {e}"))?;
    let granted_scopes = match instance.token_scopes().await {
        Some(list) => list.join(" "),
        None => granted.scope.clone().unwrap_or(scopes),
    };
    token_file::write(&opts.token_file, &granted.token, opts.force)?;
    let host = crate::instance::oauth::host_of(client.url());
    console.out_line(&format!(
        "@{}@{host} authorised (scopes {granted_scopes})",
        facts.acct
    ))?;
    console.out_line(&format!(
        "The token is in {} (mode 0600).",
        opts.token_file.display()
    ))?;
    explain(&opts.token_file, console)?;
    if let Err(e) = profile::offer(&instance, opts.bot, opts.note, console).await {
        console.say(&format!(
            "warning: {e} (the token works; set the bot flag and note in the account's profile settings)"
        ))?;
    }
    Ok(())
}

/// The server's address must be a plain web address: a user name or
/// password in it would be printed in the authorisation URL. Never echoes
/// an address that carries one.
fn check_instance(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| {
        format!("--instance is not a valid URL ({e}): give the server's address, e.g. https://mastodon.example")
    })?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("--instance carries a user name or password: give only the server's address, e.g. https://mastodon.example".into());
    }
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(format!(
            "--instance: `{}` is not a web address",
            parsed.scheme()
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!(
            "--instance {url}: give the server's address without `?…` or `#…`"
        ));
    }
    Ok(())
}

fn software_word(sns: &SNS) -> &'static str {
    match sns {
        SNS::Gotosocial => "gotosocial",
        SNS::Pleroma => "pleroma",
        _ => "mastodon",
    }
}

/// The project's web page, from Cargo.toml's `repository`, if it has one.
fn website() -> Option<&'static str> {
    Some(env!("CARGO_PKG_REPOSITORY")).filter(|w| !w.is_empty())
}

async fn connect(
    client: &OAuthClient,
    software: SNS,
    token: &Secret,
    timeout: Duration,
) -> Result<Instance, String> {
    let settings = InstanceSettings {
        url: client.url().to_string(),
        max_characters: 500,
        characters_per_url: 23,
        software: match software {
            SNS::Gotosocial => Software::Gotosocial,
            SNS::Pleroma => Software::Pleroma,
            _ => Software::Mastodon,
        },
        timeout,
    };
    Instance::connect(&settings, token)
        .await
        .map_err(|e| format!("the new token does not work: {e}"))
}

/// What to put in bot.toml, or how to make it a systemd credential.
fn explain<R: BufRead, W: Write, E: Write>(
    path: &Path,
    console: &mut Console<R, W, E>,
) -> Result<(), String> {
    // Absolute: bot.toml reads a relative token_file from its own folder,
    // which need not be where `auth` ran.
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let text = format!(
        "\nIn bot.toml:\n\n  [account]\n  token_file = \"{abs}\"\n\n\
         Or, for the systemd service, keep it as an encrypted credential \
         (then remove the file):\n\n  \
         sudo install -d -m 700 /etc/credstore.encrypted\n  \
         sudo systemd-creds encrypt --name={CREDENTIAL_NAME} {abs} /etc/credstore.encrypted/{CREDENTIAL_NAME}\n\n\
         with, in the unit (`systemctl edit chathost`; the empty line drops the \
         shipped LoadCredential= of the plain file):\n\n  \
         [Service]\n  LoadCredential=\n  \
         LoadCredentialEncrypted={CREDENTIAL_NAME}:/etc/credstore.encrypted/{CREDENTIAL_NAME}\n\n\
         and in bot.toml:\n\n  [account]\n  credential = \"{CREDENTIAL_NAME}\"\n",
        abs = absolute.display()
    );
    console.out_line(&text)
}

#[cfg(test)]
mod tests {
    use super::check_instance;

    #[test]
    fn an_instance_address_with_a_password_is_refused_without_echoing_it() {
        let e = check_instance("https://bot:s3cret@mastodon.example").unwrap_err();
        assert!(e.contains("user name or password"), "{e}");
        assert!(!e.contains("s3cret"), "{e}");
        assert!(check_instance("https://mastodon.example?x=1").is_err());
        assert!(check_instance("ftp://mastodon.example").is_err());
        assert!(check_instance("https://mastodon.example").is_ok());
        assert!(check_instance("http://127.0.0.1:3000").is_ok());
    }
}
