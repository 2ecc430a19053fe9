//! Everything that talks to the server. REST calls go through megalodon,
//! each wrapped in a timeout (megalodon sets none); errors are turned into
//! sentences a host understands, without the token.

use std::time::Duration;

use megalodon::{Megalodon, SNS};

use crate::config::{InstanceSettings, Software};
use crate::secret::Secret;

/// How long any one API call may take before we give up on it.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// A connection to the bot's instance.
pub struct Instance {
    client: Box<dyn Megalodon + Send + Sync>,
    /// The server software spoken to.
    pub software: SNS,
    /// The base URL.
    pub url: String,
}

/// What the instance says about itself and the bot account.
#[derive(Debug, Clone)]
pub struct InstanceFacts {
    /// Post length limit.
    pub max_characters: usize,
    /// Characters a link counts for, if the server says.
    pub characters_per_url: Option<usize>,
    /// Server version string.
    pub version: String,
    /// The bot account's handle.
    pub acct: String,
    /// Whether the account is marked as a bot.
    pub bot: bool,
}

/// A failed call, described for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    /// HTTP status, when the server answered.
    pub status: Option<u16>,
    /// What went wrong, in words.
    pub message: String,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl Instance {
    /// Connects (no request yet, except to detect the software when the
    /// settings say `auto`).
    pub async fn connect(
        settings: &InstanceSettings,
        token: &Secret,
    ) -> Result<Instance, CallError> {
        let software = match settings.software {
            Software::Mastodon => SNS::Mastodon,
            Software::Gotosocial => SNS::Gotosocial,
            Software::Pleroma => SNS::Pleroma,
            Software::Auto => {
                match tokio::time::timeout(CALL_TIMEOUT, megalodon::detector(&settings.url)).await {
                    Ok(Ok(sns)) => sns,
                    Ok(Err(e)) => {
                        return Err(CallError {
                            status: None,
                            message: format!(
                                "could not tell which server software runs at {} ({}); set [instance] software = \"mastodon\" or \"gotosocial\"",
                                settings.url,
                                describe(&e).message
                            ),
                        });
                    }
                    Err(_) => return Err(timeout_error(&settings.url)),
                }
            }
        };
        let client = megalodon::generator(
            software.clone(),
            settings.url.clone(),
            Some(token.expose().to_string()),
            Some(format!("chathost/{}", env!("CARGO_PKG_VERSION"))),
        )
        .map_err(|e| describe(&e))?;
        Ok(Instance {
            client,
            software,
            url: settings.url.clone(),
        })
    }

    /// Reads the instance's limits and verifies the token.
    pub async fn facts(&self) -> Result<InstanceFacts, CallError> {
        let instance = timed(&self.url, self.client.get_instance()).await?.json;
        let account = timed(&self.url, self.client.verify_account_credentials())
            .await?
            .json;
        Ok(InstanceFacts {
            max_characters: instance.configuration.statuses.max_characters as usize,
            characters_per_url: instance
                .configuration
                .statuses
                .characters_reserved_per_url
                .map(|c| c as usize),
            version: instance.version,
            acct: account.acct,
            bot: account.bot,
        })
    }
}

async fn timed<T>(
    url: &str,
    call: impl Future<Output = Result<T, megalodon::error::Error>>,
) -> Result<T, CallError> {
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(r) => r.map_err(|e| describe(&e)),
        Err(_) => Err(timeout_error(url)),
    }
}

fn timeout_error(url: &str) -> CallError {
    CallError {
        status: None,
        message: format!(
            "{url} did not answer within {} seconds",
            CALL_TIMEOUT.as_secs()
        ),
    }
}

/// Turns a megalodon error into words, keeping the HTTP status.
pub fn describe(e: &megalodon::error::Error) -> CallError {
    use megalodon::error::Error;
    match e {
        Error::OwnError(own) => {
            let status = own.status;
            let message = match status {
                Some(401) => "the server rejected the access token (401): it is wrong, expired or revoked".to_string(),
                Some(403) => "the account may not do this (403): check the token's scopes (read, write) and that the account is not suspended".to_string(),
                Some(404) => "not found (404): check the instance URL".to_string(),
                Some(422) => "the server refused the post (422)".to_string(),
                Some(429) => "rate limited by the server (429)".to_string(),
                Some(s) => format!("the server answered {s}: {}", own.message),
                None => own.message.clone(),
            };
            CallError { status, message }
        }
        Error::RequestError(r) => CallError {
            status: r.status().map(|s| s.as_u16()),
            // reqwest's text names the URL (never the token, which is a header).
            message: format!("request failed: {r}"),
        },
        other => CallError {
            status: None,
            message: other.to_string(),
        },
    }
}
