//! OAuth as the real servers do it, for `chathost auth`: registering an app
//! (`POST /api/v1/apps`), the out-of-band authorisation page (`GET
//! /oauth/authorize`, where the sandbox "signs in" as the bot and approves
//! at once), the code-for-token exchange (`POST /oauth/token`) and
//! `GET /api/v1/apps/verify_credentials`.
//!
//! Tokens made this way carry the scopes granted, and [`scope_layer`]
//! enforces them on the routes chathost uses (403 with the flavour's body);
//! the sandbox's pre-made tokens keep every scope. Shares no code with the
//! client (`src/instance/oauth.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{MatchedPath, Query, Request, State as AxState};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Value, json};

use super::Sandbox;
use super::error::ApiError;
use super::flavour::Flavour;
use super::log::token_of;
use super::routes::Params;
use super::server::Shared;
use super::state::Token;

/// The redirect URI that asks for the code on a page instead of a redirect.
pub const OOB: &str = "urn:ietf:wg:oauth:2.0:oob";

/// Every scope Mastodon 4.3 knows (GoToSocial 0.19 took the same list).
const KNOWN_SCOPES: &[&str] = &[
    "read",
    "write",
    "follow",
    "push",
    "profile",
    "read:accounts",
    "read:blocks",
    "read:bookmarks",
    "read:favourites",
    "read:filters",
    "read:follows",
    "read:lists",
    "read:mutes",
    "read:notifications",
    "read:search",
    "read:statuses",
    "write:accounts",
    "write:blocks",
    "write:bookmarks",
    "write:conversations",
    "write:favourites",
    "write:filters",
    "write:follows",
    "write:lists",
    "write:media",
    "write:mutes",
    "write:notifications",
    "write:reports",
    "write:statuses",
];

/// A registered app.
#[derive(Clone, Debug)]
pub struct App {
    /// Public id of the client.
    pub client_id: String,
    /// Its secret (a [`Token`], so `Debug` hides it).
    pub client_secret: Token,
    /// `client_name`.
    pub name: String,
    /// `website`, if given.
    pub website: Option<String>,
    /// Allowed redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Scopes it may ask for.
    pub scopes: Vec<String>,
}

/// An authorisation code, until it is exchanged once.
#[derive(Clone, Debug)]
struct Grant {
    client_id: String,
    redirect_uri: String,
    scopes: Vec<String>,
    account: usize,
}

/// Apps, pending codes and the scopes of tokens made through OAuth.
#[derive(Debug, Default)]
pub struct OAuth {
    /// Every registered app, in order.
    pub apps: Vec<App>,
    codes: HashMap<Token, Grant>,
    /// Scopes of tokens made by OAuth (or [`Sandbox::token_with_scopes`]);
    /// a token not here has every scope.
    scopes: HashMap<Token, Vec<String>>,
}

impl OAuth {
    /// The scopes of `token`; `None` for a full (pre-made) token.
    pub fn scopes_of(&self, token: &str) -> Option<&[String]> {
        self.scopes
            .get(&Token::from_secret(token))
            .map(Vec::as_slice)
    }
}

/// Splits a scope string (`"read write:statuses"`, `+` decoded already).
fn split_scopes(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

/// Whether `granted` allows `needed`: the scope itself, or its parent
/// (`write` covers `write:statuses`); the old `follow` covers follows.
pub fn allows(granted: &[String], needed: &str) -> bool {
    let parent = needed.split(':').next().unwrap_or(needed);
    granted
        .iter()
        .any(|g| g == needed || g == parent || (g == "follow" && needed.ends_with(":follows")))
}

/// The scope the server asks for on a route chathost (or a participant)
/// uses; `None` where any token, or none, will do. GoToSocial files an
/// account's statuses and follows under other scopes than Mastodon.
pub fn required_scope(flavour: Flavour, method: &Method, route: &str) -> Option<&'static str> {
    let write = method != Method::GET;
    let gts = flavour == Flavour::GoToSocial;
    let scope = match route {
        "/api/v1/accounts/{id}/statuses" if gts => "read:accounts",
        "/api/v1/accounts/{id}/follow" | "/api/v1/accounts/{id}/unfollow" => "write:follows",
        "/api/v1/accounts/verify_credentials" | "/api/v1/accounts/lookup" => "read:accounts",
        "/api/v1/accounts/{id}" => "read:accounts",
        "/api/v1/accounts/update_credentials" => "write:accounts",
        "/api/v1/statuses/{id}/pin" | "/api/v1/statuses/{id}/unpin" => "write:accounts",
        "/api/v1/statuses/{id}/favourite" | "/api/v1/statuses/{id}/unfavourite" => {
            "write:favourites"
        }
        "/api/v1/tags/{tag}/follow" | "/api/v1/tags/{tag}/unfollow" => "write:follows",
        "/api/v1/followed_tags" => "read:follows",
        "/api/v1/notifications" | "/api/v1/notifications/{id}" => "read:notifications",
        "/api/v1/streaming" => "read:statuses",
        r if r.starts_with("/api/v1/statuses") || r.starts_with("/api/v1/accounts/") => {
            if write {
                "write:statuses"
            } else {
                "read:statuses"
            }
        }
        "/api/v1/timelines/tag/{tag}" => "read:statuses",
        _ => return None,
    };
    Some(scope)
}

/// Middleware: a token made with scopes may only do what they allow.
pub(crate) async fn scope_layer(
    AxState(shared): AxState<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let needed = request
        .extensions()
        .get::<MatchedPath>()
        .and_then(|p| required_scope(shared.flavour, request.method(), p.as_str()));
    if let (Some(needed), Some(token)) =
        (needed, token_of(request.headers(), request.uri().query()))
    {
        let state = shared.state.lock().expect("state lock");
        if let Some(granted) = state.oauth.scopes_of(&token)
            && !allows(granted, needed)
        {
            return ApiError::new(403, shared.flavour.scope_error()).into_response();
        }
    }
    next.run(request).await
}

/// `POST /api/v1/apps`, form or JSON.
pub(crate) async fn create_app(
    AxState(shared): AxState<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let p = Params::parse(&headers, &body)?;
    let flavour = shared.flavour;
    let name = p.str("client_name").filter(|n| !n.trim().is_empty());
    let redirect = p.str("redirect_uris").filter(|r| !r.trim().is_empty());
    let (Some(name), Some(redirect)) = (name, redirect) else {
        return Err(invalid(
            flavour,
            "client_name and redirect_uris are required",
        ));
    };
    let scopes = split_scopes(&p.str("scopes").unwrap_or_else(|| "read".into()));
    if scopes.iter().any(|s| !KNOWN_SCOPES.contains(&s.as_str())) {
        return Err(invalid(flavour, "Scopes are invalid"));
    }
    let app = App {
        client_id: Token::random().expose().to_string(),
        client_secret: Token::random(),
        name,
        website: p.str("website").filter(|w| !w.is_empty()),
        redirect_uris: redirect.split_whitespace().map(str::to_string).collect(),
        scopes,
    };
    let mut state = shared.state.lock().expect("state lock");
    let now = state.now();
    let id = state.ids.next(now);
    let body = render_app(flavour, id.as_str(), &app);
    state.oauth.apps.push(app);
    Ok(Json(body))
}

fn invalid(flavour: Flavour, what: &str) -> ApiError {
    match flavour {
        Flavour::Mastodon => ApiError::new(422, format!("Validation failed: {what}")),
        Flavour::GoToSocial => ApiError::new(400, format!("Bad Request: {what}")),
    }
}

/// The app as each server answers its creation.
fn render_app(flavour: Flavour, id: &str, app: &App) -> Value {
    let first = app.redirect_uris.first().cloned().unwrap_or_default();
    match flavour {
        // Mastodon 4.3: both redirect forms, scopes as a list.
        Flavour::Mastodon => json!({
            "id": id,
            "name": app.name,
            "website": app.website,
            "scopes": app.scopes,
            "redirect_uri": app.redirect_uris.join("\n"),
            "redirect_uris": app.redirect_uris,
            "client_id": app.client_id,
            "client_secret": app.client_secret.expose(),
            "client_secret_expires_at": 0,
            "vapid_key": "BCk-QqERU0q-CfYZjcuB6lnyyOYfJ2AifKqfeGIm7Z-HiTU5T9eTG5GxVA0_OH5mMlI4UkkDTpaZwozy0TzdZ2M="
        }),
        // GoToSocial 0.19: one redirect URI, no scopes echoed.
        Flavour::GoToSocial => json!({
            "id": id,
            "name": app.name,
            "website": app.website.clone().unwrap_or_default(),
            "redirect_uri": first,
            "client_id": app.client_id,
            "client_secret": app.client_secret.expose(),
            "vapid_key": ""
        }),
    }
}

/// `GET /oauth/authorize`: signs in as the bot and approves at once.
pub(crate) async fn authorize(
    AxState(shared): AxState<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut state = shared.state.lock().expect("state lock");
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    let Some(app) = state
        .oauth
        .apps
        .iter()
        .find(|a| a.client_id == get("client_id"))
        .cloned()
    else {
        return error_page("Client authentication failed due to unknown client.");
    };
    if get("response_type") != "code" {
        return error_page("The authorization server does not support this response type.");
    }
    let redirect_uri = match get("redirect_uri") {
        "" => app.redirect_uris.first().cloned().unwrap_or_default(),
        r => r.to_string(),
    };
    if !app.redirect_uris.contains(&redirect_uri) {
        return error_page("The redirect uri included is not valid.");
    }
    let scopes = match q.get("scope") {
        Some(s) if !s.trim().is_empty() => split_scopes(s),
        _ => app.scopes.clone(),
    };
    if scopes.iter().any(|s| !app.scopes.contains(s)) {
        return error_page("The requested scope is invalid, unknown, or malformed.");
    }
    let code = Token::random();
    let page = code_page(shared.flavour, code.expose(), &scopes);
    let redirect = (redirect_uri != OOB).then(|| redirect_to(&redirect_uri, code.expose()));
    state.oauth.codes.insert(
        code,
        Grant {
            client_id: app.client_id,
            redirect_uri,
            scopes,
            // The bot: index 0.
            account: 0,
        },
    );
    match redirect {
        Some(to) => (StatusCode::FOUND, [("location", to)]).into_response(),
        None => Html(page).into_response(),
    }
}

fn redirect_to(uri: &str, code: &str) -> String {
    let join = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{join}code={code}")
}

fn error_page(text: &str) -> Response {
    let page = format!(
        "<!DOCTYPE html><html><head><title>An error has occurred</title></head>\
         <body><h1>An error has occurred</h1><p>{text}</p></body></html>"
    );
    (StatusCode::BAD_REQUEST, Html(page)).into_response()
}

/// The out-of-band page as each server shows it.
fn code_page(flavour: Flavour, code: &str, scopes: &[String]) -> String {
    match flavour {
        Flavour::Mastodon => format!(
            "<!DOCTYPE html><html><head><title>Authorization code</title></head><body>\
             <div class=\"form-container\"><p class=\"hint\">Copy this authorization code \
             and paste it to the application.</p>\
             <input class=\"oauth-code\" readonly type=\"text\" value=\"{code}\">\
             </div></body></html>"
        ),
        Flavour::GoToSocial => format!(
            "<!DOCTYPE html><html><head><title>GoToSocial - Out-of-band token</title></head>\
             <body><main><h2>Hi chatbot!</h2><p>Here's your out-of-band token with scope \
             \"{}\", use it wisely:</p><code>{code}</code></main></body></html>",
            scopes.join(" ")
        ),
    }
}

/// `POST /oauth/token` with `grant_type=authorization_code`, form or JSON.
pub(crate) async fn token(
    AxState(shared): AxState<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = match Params::parse(&headers, &body) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let field = |k: &str| p.str(k).unwrap_or_default();
    if field("grant_type") != "authorization_code" {
        return oauth_error(400, "unsupported_grant_type");
    }
    let mut state = shared.state.lock().expect("state lock");
    let client_ok = state.oauth.apps.iter().any(|a| {
        a.client_id == field("client_id") && a.client_secret.expose() == field("client_secret")
    });
    if !client_ok {
        return oauth_error(401, "invalid_client");
    }
    // A code works once, whether or not the rest matches.
    let grant = state
        .oauth
        .codes
        .remove(&Token::from_secret(&field("code")));
    let Some(grant) = grant
        .filter(|g| g.client_id == field("client_id") && g.redirect_uri == field("redirect_uri"))
    else {
        return oauth_error(400, "invalid_grant");
    };
    let access = Token::random();
    state.tokens.insert(access.clone(), grant.account);
    state
        .oauth
        .scopes
        .insert(access.clone(), grant.scopes.clone());
    Json(json!({
        "access_token": access.expose(),
        "token_type": "Bearer",
        "scope": grant.scopes.join(" "),
        "created_at": state.now().timestamp(),
    }))
    .into_response()
}

/// An RFC 6749 error answer, as Doorkeeper (Mastodon) and GoToSocial send.
fn oauth_error(status: u16, error: &str) -> Response {
    let description = match error {
        "invalid_client" => {
            "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method."
        }
        "invalid_grant" => {
            "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."
        }
        _ => "The authorization grant type is not supported by the authorization server.",
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

/// `GET /api/v1/apps/verify_credentials`: the token's app and scopes.
pub(crate) async fn app_credentials(
    AxState(shared): AxState<Arc<Shared>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let token = token_of(&headers, None)
        .ok_or_else(|| ApiError::new(401, shared.flavour.missing_token_error()))?;
    let state = shared.state.lock().expect("state lock");
    if state.account_by_token(&token).is_none() {
        return Err(ApiError::new(401, shared.flavour.invalid_token_error()));
    }
    let scopes: Vec<String> = match state.oauth.scopes_of(&token) {
        Some(s) => s.to_vec(),
        None => split_scopes("read write follow push"),
    };
    Ok(Json(
        json!({ "name": "sandbox", "website": null, "scopes": scopes }),
    ))
}

impl Sandbox {
    /// A new token for the bot with exactly `scopes`, as if made through
    /// OAuth: to test what a token with too few scopes is refused.
    pub fn token_with_scopes(&self, scopes: &[&str]) -> Token {
        let mut state = self.shared.state.lock().expect("state lock");
        let token = Token::random();
        state.tokens.insert(token.clone(), 0);
        state.oauth.scopes.insert(
            token.clone(),
            scopes.iter().map(|s| s.to_string()).collect(),
        );
        token
    }

    /// The apps registered so far, in order.
    pub fn apps(&self) -> Vec<App> {
        let state = self.shared.state.lock().expect("state lock");
        state.oauth.apps.clone()
    }

    /// The scopes the sandbox grants `token`; `None` for a full token.
    pub fn scopes_of(&self, token: &str) -> Option<Vec<String>> {
        let state = self.shared.state.lock().expect("state lock");
        state.oauth.scopes_of(token).map(<[String]>::to_vec)
    }
}

#[cfg(test)]
#[path = "oauth_tests.rs"]
mod tests;
