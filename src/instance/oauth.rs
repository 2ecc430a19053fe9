//! The wire side of `chathost auth`: registering an app, the authorisation
//! URL, exchanging the code for a token, and the profile calls (read the
//! note, set `bot` and `note`). The client secret and the token are held
//! as [`Secret`]s and never appear in a message.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::Instance;
use super::errors::{self, CallError, Target};
use super::http::{Http, Request};
use crate::secret::Secret;

/// Out-of-band: the server shows the code on a page for the host to copy.
pub const OOB_REDIRECT: &str = "urn:ietf:wg:oauth:2.0:oob";

/// The least scopes chathost works with, granular (Mastodon 2.4.3+;
/// GoToSocial checks the same granular scopes since 0.19), and why each:
///
/// - `read:accounts` — `GET /api/v1/accounts/verify_credentials` (start-up,
///   `check --online`, `auth`);
/// - `read:statuses` — the tag timeline, `GET /api/v1/statuses/:id` and its
///   `context`, the bot's own `GET /api/v1/accounts/:id/statuses`
///   (exactly-once reconciliation) and the streams;
/// - `read:notifications` — `GET /api/v1/notifications` (participants'
///   commands);
/// - `write:statuses` — `POST /api/v1/statuses` (every post and reply);
/// - `write:accounts` — `POST /api/v1/statuses/:id/pin` and `/unpin`
///   (`pin_welcome`) and `PATCH /api/v1/accounts/update_credentials`
///   (`auth` marking the bot and its note).
///
/// `GET /api/v1/instance` and `/api/v1/apps/verify_credentials` need none.
pub const LEAST_SCOPES: &[&str] = &[
    "read:accounts",
    "read:statuses",
    "read:notifications",
    "write:statuses",
    "write:accounts",
];

/// Added for GoToSocial only: its hashtag stream is silent, so chathost
/// follows the tag (`POST /api/v1/tags/:tag/follow`) and reads the user
/// stream; on Mastodon it never follows anything.
pub const GOTOSOCIAL_EXTRA_SCOPES: &[&str] = &["write:follows"];

/// The scopes to ask for on `software` (`"gotosocial"`, `"mastodon"`…),
/// space-separated as the API wants them.
pub fn scopes_for(software: &str) -> String {
    let mut scopes = LEAST_SCOPES.to_vec();
    if software.eq_ignore_ascii_case("gotosocial") {
        scopes.extend_from_slice(GOTOSOCIAL_EXTRA_SCOPES);
    }
    scopes.join(" ")
}

/// The Mastodon scope a failed call on `path` needed, to name it when a
/// server answers 403: only the calls chathost makes.
pub fn scope_for_path(path: &str) -> Option<&'static str> {
    let path = path.split('?').next().unwrap_or(path);
    let scope = if path == "/api/v1/statuses" {
        "write:statuses"
    } else if path.ends_with("/pin")
        || path.ends_with("/unpin")
        || path.ends_with("/update_credentials")
    {
        "write:accounts"
    } else if path.ends_with("/follow") {
        "write:follows"
    } else if path.starts_with("/api/v1/notifications") {
        "read:notifications"
    } else if path == "/api/v1/accounts/verify_credentials" {
        "read:accounts"
    } else if path.starts_with("/api/v1/statuses/")
        || path.starts_with("/api/v1/timelines/")
        || path.starts_with("/api/v1/accounts/")
        || path.starts_with("/api/v1/streaming")
    {
        "read:statuses"
    } else {
        return None;
    };
    Some(scope)
}

/// The host (and port) of a base URL, for `@user@host`.
pub fn host_of(url: &str) -> String {
    errors::host(url)
}

/// A registered app: its public id and its secret.
#[derive(Debug, Clone)]
pub struct RegisteredApp {
    /// `client_id` (public; it goes in the authorisation URL).
    pub client_id: String,
    /// `client_secret` (never shown).
    pub client_secret: Secret,
    /// The scopes asked for, space-separated.
    pub scopes: String,
}

/// A token fresh from `POST /oauth/token`.
#[derive(Debug, Clone)]
pub struct GrantedToken {
    /// The access token (never shown).
    pub token: Secret,
    /// The scopes the server says it granted (space-separated), if it says.
    pub scope: Option<String>,
}

/// Talks OAuth to one server, without any token.
pub struct OAuthClient {
    http: Http,
}

impl OAuthClient {
    /// A client for the server at `url` (no request yet).
    pub fn new(url: &str, timeout: Duration) -> Result<OAuthClient, CallError> {
        Ok(OAuthClient {
            http: Http::public(url, timeout)?,
        })
    }

    /// The server's base URL, without a trailing `/`.
    pub fn url(&self) -> &str {
        &self.http.url
    }

    /// The server software, from its nodeinfo (read without a token).
    pub async fn software(&self) -> Result<megalodon::SNS, CallError> {
        super::nodeinfo::detect(&self.http).await
    }

    /// `POST /api/v1/apps` with the out-of-band redirect.
    pub async fn register_app(
        &self,
        name: &str,
        website: Option<&str>,
        scopes: &str,
    ) -> Result<RegisteredApp, CallError> {
        const PATH: &str = "/api/v1/apps";
        let mut body = json!({
            "client_name": name,
            "redirect_uris": OOB_REDIRECT,
            "scopes": scopes,
        });
        if let Some(website) = website {
            body["website"] = website.into();
        }
        let answer = self.post_json(PATH, &body).await?;
        let field = |f: &str| {
            answer
                .get(f)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| errors::missing(200, f, self.target(PATH)))
        };
        Ok(RegisteredApp {
            client_id: field("client_id")?.to_string(),
            client_secret: Secret::new(field("client_secret")?),
            scopes: scopes.to_string(),
        })
    }

    /// The page where the account's owner approves the app and is shown
    /// the code. Holds nothing secret (the client id is public).
    pub fn authorize_url(&self, app: &RegisteredApp) -> String {
        let mut url = match reqwest::Url::parse(&format!("{}/oauth/authorize", self.http.url)) {
            Ok(url) => url,
            // The base URL was parsed when the client was made.
            Err(_) => return format!("{}/oauth/authorize", self.http.url),
        };
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &app.client_id)
            .append_pair("redirect_uri", OOB_REDIRECT)
            .append_pair("scope", &app.scopes);
        url.to_string()
    }

    /// `POST /oauth/token`: the code for a token. A wrong or used code is
    /// a [`CallError`] that says so (never showing the code or secret).
    pub async fn exchange_code(
        &self,
        app: &RegisteredApp,
        code: &str,
    ) -> Result<GrantedToken, CallError> {
        const PATH: &str = "/oauth/token";
        let body = json!({
            "grant_type": "authorization_code",
            "code": code,
            "client_id": app.client_id,
            "client_secret": app.client_secret.expose(),
            "redirect_uri": OOB_REDIRECT,
            "scope": app.scopes,
        });
        let answer = self.post_json(PATH, &body).await.map_err(refused_code)?;
        let token = answer
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| errors::missing(200, "access_token", self.target(PATH)))?;
        Ok(GrantedToken {
            token: Secret::new(token),
            scope: answer
                .get("scope")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }

    async fn post_json(&self, path: &str, body: &Value) -> Result<Value, CallError> {
        let mut request = Request::post(path);
        request.auth = false;
        request.json = Some(body);
        let answer = self.http.send(request).await?;
        if (400..500).contains(&answer.status)
            && let Some(e) = oauth_error(&answer.body)
        {
            return Err(errors::permanent(
                Some(answer.status),
                format!("{} refused {path}: {e}", self.http.url),
            ));
        }
        answer.json(self.target(path))
    }

    fn target<'a>(&'a self, path: &'a str) -> Target<'a> {
        Target {
            url: &self.http.url,
            path,
        }
    }
}

/// An OAuth error answer (`error`, `error_description`) in words, with
/// control characters escaped (a server's words reach the terminal).
fn oauth_error(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let error = v.get("error")?.as_str()?;
    let text = match v.get("error_description").and_then(Value::as_str) {
        Some(d) => format!("{error} ({d})"),
        None => error.to_string(),
    };
    Some(crate::diagnostic::escape_controls(
        &text.chars().take(300).collect::<String>(),
    ))
}

/// A refused exchange, in a host's words.
fn refused_code(e: CallError) -> CallError {
    if e.message.contains("invalid_grant") {
        CallError {
            message: format!(
                "the server did not accept the code: it is wrong, already used or expired — run `chathost auth` again and paste the new code ({})",
                e.message
            ),
            ..e
        }
    } else if e.message.contains("invalid_client") {
        CallError {
            message: format!(
                "the server no longer knows the app just registered — run `chathost auth` again ({})",
                e.message
            ),
            ..e
        }
    } else {
        e
    }
}

/// The bot account's profile, as `auth` needs it.
#[derive(Debug, Clone)]
pub struct Profile {
    /// `acct` (local: no `@host`).
    pub acct: String,
    /// Marked as a bot.
    pub bot: bool,
    /// The profile note as the owner wrote it (`source.note`), or the
    /// rendered note turned back into text.
    pub note: String,
}

impl Instance {
    /// The account of the token, with its note as plain text.
    pub async fn profile(&self) -> Result<Profile, CallError> {
        const PATH: &str = "/api/v1/accounts/verify_credentials";
        let (status, v) = self.json(Request::get(PATH)).await?;
        let acct = v
            .get("acct")
            .and_then(Value::as_str)
            .ok_or_else(|| errors::missing(status, "acct", self.target(PATH)))?;
        let note = match v.pointer("/source/note").and_then(Value::as_str) {
            Some(source) => source.to_string(),
            None => crate::html::to_text(v.get("note").and_then(Value::as_str).unwrap_or("")),
        };
        Ok(Profile {
            acct: acct.to_string(),
            bot: v.get("bot").and_then(Value::as_bool).unwrap_or(false),
            note,
        })
    }

    /// `PATCH /api/v1/accounts/update_credentials` with `bot` and/or
    /// `note`; nothing is sent when both are `None`.
    pub async fn update_profile(
        &self,
        bot: Option<bool>,
        note: Option<&str>,
    ) -> Result<(), CallError> {
        const PATH: &str = "/api/v1/accounts/update_credentials";
        let mut body = json!({});
        if let Some(bot) = bot {
            body["bot"] = bot.into();
        }
        if let Some(note) = note {
            body["note"] = note.into();
        }
        if body.as_object().is_some_and(serde_json::Map::is_empty) {
            return Ok(());
        }
        let mut request = Request::get(PATH);
        request.method = Method::PATCH;
        request.json = Some(&body);
        self.json(request).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gotosocial_adds_the_tag_follow_only() {
        assert_eq!(
            scopes_for("mastodon"),
            "read:accounts read:statuses read:notifications write:statuses write:accounts"
        );
        assert!(scopes_for("gotosocial").ends_with(" write:follows"));
        assert!(!scopes_for("mastodon").contains("follows"));
    }

    #[test]
    fn a_403_names_the_scope_of_the_call() {
        assert_eq!(scope_for_path("/api/v1/statuses"), Some("write:statuses"));
        assert_eq!(
            scope_for_path("/api/v1/statuses/1/pin"),
            Some("write:accounts")
        );
        assert_eq!(
            scope_for_path("/api/v1/notifications?types[]=mention"),
            Some("read:notifications")
        );
        assert_eq!(
            scope_for_path("/api/v1/timelines/tag/x"),
            Some("read:statuses")
        );
        assert_eq!(scope_for_path("/api/v1/instance"), None);
    }

    #[test]
    fn the_authorisation_url_holds_no_secret() {
        let client = OAuthClient::new("https://social.example/", Duration::from_secs(5)).unwrap();
        let app = RegisteredApp {
            client_id: "abc".into(),
            client_secret: Secret::new("SECRET"),
            scopes: scopes_for("mastodon"),
        };
        let url = client.authorize_url(&app);
        assert!(url.starts_with("https://social.example/oauth/authorize?response_type=code&client_id=abc&redirect_uri=urn%3Aietf%3Awg%3Aoauth%3A2.0%3Aoob&scope=read%3Aaccounts+"));
        assert!(!url.contains("SECRET"));
    }
}
