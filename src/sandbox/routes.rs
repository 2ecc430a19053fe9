//! The HTTP endpoints: the part of the Mastodon client API chathost uses.
//! Handlers are thin: parse, lock the state, call it, render.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State as AxState};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::ids::Id;
use super::log::Caller;
use super::paging::{self, NextLink, PageParams};
use super::render;
use super::server::Shared;
use super::state::{NewStatus, State, Visibility};

type Shr = AxState<Arc<Shared>>;

/// The caller, who must be signed in (401 otherwise).
pub struct Authed(pub usize);

/// The caller, if any; 401 only for a bad token, or for none where the
/// flavour does not allow anonymous reads.
pub struct Viewer(pub Option<usize>);

impl FromRequestParts<Arc<Shared>> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, shared: &Arc<Shared>) -> Result<Self, ApiError> {
        let caller = parts
            .extensions
            .get::<Caller>()
            .copied()
            .unwrap_or_default();
        match caller.account {
            Some(account) => Ok(Authed(account)),
            None if caller.bad_token => {
                Err(ApiError::new(401, shared.flavour.invalid_token_error()))
            }
            None => Err(ApiError::new(401, shared.flavour.missing_token_error())),
        }
    }
}

impl FromRequestParts<Arc<Shared>> for Viewer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, shared: &Arc<Shared>) -> Result<Self, ApiError> {
        let caller = parts
            .extensions
            .get::<Caller>()
            .copied()
            .unwrap_or_default();
        if caller.account.is_none()
            && (caller.bad_token || !shared.flavour.allows_anonymous_reads())
        {
            return Authed::from_request_parts(parts, shared)
                .await
                .map(|a| Viewer(Some(a.0)));
        }
        Ok(Viewer(caller.account))
    }
}

/// Body parameters from JSON or from a form, looked up leniently (megalodon
/// sends booleans as the strings `"true"`/`"false"`).
#[derive(Debug, Default)]
pub struct Params(HashMap<String, Value>);

impl Params {
    /// Parses a request body by its content type.
    pub fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Self, ApiError> {
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if body.is_empty() {
            return Ok(Params::default());
        }
        if content_type.starts_with("application/json") {
            let value: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::new(400, format!("Bad Request: invalid JSON: {e}")))?;
            let map = value
                .as_object()
                .cloned()
                .ok_or_else(|| ApiError::new(400, "Bad Request: expected a JSON object"))?;
            return Ok(Params(map.into_iter().collect()));
        }
        let text = String::from_utf8_lossy(body);
        Ok(Params(
            parse_form(&text)
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        ))
    }

    /// A string parameter.
    pub fn str(&self, key: &str) -> Option<String> {
        match self.0.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// A boolean parameter (`true`, `"true"`, `"1"`).
    pub fn bool(&self, key: &str) -> Option<bool> {
        match self.0.get(key)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) => Some(matches!(s.as_str(), "true" | "1" | "on")),
            Value::Number(n) => Some(n.as_i64() != Some(0)),
            _ => None,
        }
    }
}

/// Splits `a=1&b=x%20y` into decoded pairs.
pub fn parse_form(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Decodes `%XX` escapes and `+` as space.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn new_status(p: &Params, headers: &HeaderMap) -> Result<NewStatus, ApiError> {
    let visibility = match p.str("visibility").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(Visibility::parse(&v).ok_or_else(|| {
            ApiError::new(
                422,
                format!("Validation failed: Visibility '{v}' is not valid"),
            )
        })?),
    };
    Ok(NewStatus {
        text: p.str("status").unwrap_or_default(),
        spoiler_text: p.str("spoiler_text").unwrap_or_default(),
        sensitive: p.bool("sensitive").unwrap_or(false),
        visibility,
        language: p.str("language"),
        in_reply_to_id: p.str("in_reply_to_id"),
        idempotency_key: headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(String::from),
        content_type: p.str("content_type").filter(|t| !t.is_empty()),
    })
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, State> {
    shared.state.lock().expect("state lock")
}

/// A JSON list with a `Link` header.
fn page(items: Vec<Value>, link: Option<String>) -> Response {
    let mut response = Json(Value::Array(items)).into_response();
    if let Some(link) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert("link", link);
    }
    response
}

/// Query of list endpoints: paging plus the extras Mastodon echoes in links.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// Paging cursors and limit.
    #[serde(flatten)]
    pub page: PageParams,
    /// Account statuses: leave replies out.
    pub exclude_replies: Option<String>,
    /// Tag timeline: local only (everything is local here).
    pub local: Option<String>,
    /// Tag timeline: only with media (nothing has media here).
    pub only_media: Option<String>,
}

impl ListQuery {
    fn kept(&self) -> Vec<(&'static str, String)> {
        let mut kept = Vec::new();
        for (k, v) in [
            ("exclude_replies", &self.exclude_replies),
            ("local", &self.local),
            ("only_media", &self.only_media),
        ] {
            if let Some(v) = v {
                kept.push((k, v.clone()));
            }
        }
        kept
    }
}

fn list_response(
    state: &State,
    uri: &Uri,
    ids: Vec<Id>,
    query: &ListQuery,
    default_limit: usize,
    next: NextLink,
    render_one: impl Fn(&Id) -> Value,
) -> Response {
    let limit = query.page.limit(default_limit, default_limit.max(40));
    let chosen = paging::select(ids, &query.page, limit);
    let url = format!("{}{}", state.base_url, uri.path());
    let link = paging::link_header(
        state.flavour,
        &url,
        &chosen,
        limit,
        query.page.limit.is_some(),
        next,
        &query.kept(),
    );
    page(chosen.iter().map(render_one).collect(), link)
}

pub(crate) async fn instance_v1(AxState(shared): Shr) -> Json<Value> {
    Json(render::instance_v1(&lock(&shared)))
}

pub(crate) async fn instance_v2(AxState(shared): Shr) -> Json<Value> {
    Json(render::instance_v2(&lock(&shared)))
}

pub(crate) async fn nodeinfo_links(AxState(shared): Shr) -> Json<Value> {
    Json(render::nodeinfo_links(&lock(&shared)))
}

pub(crate) async fn nodeinfo(AxState(shared): Shr) -> Json<Value> {
    Json(render::nodeinfo(&lock(&shared)))
}

pub(crate) async fn verify_credentials(AxState(shared): Shr, Authed(me): Authed) -> Json<Value> {
    Json(render::account(&lock(&shared), me, true))
}

pub(crate) async fn update_credentials(
    AxState(shared): Shr,
    Authed(me): Authed,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let p = Params::parse(&headers, &body)?;
    let mut state = lock(&shared);
    let account = &mut state.accounts[me];
    if let Some(bot) = p.bool("bot") {
        account.bot = bot;
    }
    if let Some(discoverable) = p.bool("discoverable") {
        account.discoverable = discoverable;
    }
    if let Some(note) = p.str("note") {
        account.note = note;
    }
    if let Some(name) = p.str("display_name") {
        account.display_name = name;
    }
    Ok(Json(render::account(&state, me, true)))
}

pub(crate) async fn account(
    AxState(shared): Shr,
    Viewer(_): Viewer,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let state = lock(&shared);
    let index = state.account_by_id(&id).ok_or_else(|| state.not_found())?;
    Ok(Json(render::account(&state, index, false)))
}

#[derive(Deserialize)]
pub(crate) struct LookupQuery {
    acct: String,
}

pub(crate) async fn lookup(
    AxState(shared): Shr,
    Viewer(_): Viewer,
    Query(q): Query<LookupQuery>,
) -> Result<Json<Value>, ApiError> {
    let state = lock(&shared);
    let index = state
        .account_by_acct(&q.acct)
        .ok_or_else(|| state.not_found())?;
    Ok(Json(render::account(&state, index, false)))
}

pub(crate) async fn account_statuses(
    AxState(shared): Shr,
    Viewer(viewer): Viewer,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let state = lock(&shared);
    let index = state.account_by_id(&id).ok_or_else(|| state.not_found())?;
    let exclude = q
        .exclude_replies
        .as_deref()
        .is_some_and(|v| v == "true" || v == "1");
    let ids = state.statuses_by(index, viewer, exclude);
    Ok(list_response(
        &state,
        &uri,
        ids,
        &q,
        20,
        NextLink::WhenFull,
        |id| render::status(&state, &state.statuses[id]),
    ))
}

pub(crate) async fn post_status(
    AxState(shared): Shr,
    Authed(me): Authed,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let p = Params::parse(&headers, &body)?;
    let new = new_status(&p, &headers)?;
    let mut state = lock(&shared);
    let id = state.post(me, new)?;
    Ok(Json(render::status(&state, &state.statuses[&id])))
}

pub(crate) async fn get_status(
    AxState(shared): Shr,
    Viewer(viewer): Viewer,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let state = lock(&shared);
    let status = state.visible_status(&id, viewer)?;
    Ok(Json(render::status_for(&state, status, viewer)))
}

pub(crate) async fn edit_status(
    AxState(shared): Shr,
    Authed(me): Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let p = Params::parse(&headers, &body)?;
    let new = new_status(&p, &headers)?;
    let mut state = lock(&shared);
    let id = state.edit(me, &id, new)?;
    Ok(Json(render::status(&state, &state.statuses[&id])))
}

pub(crate) async fn delete_status(
    AxState(shared): Shr,
    Authed(me): Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(lock(&shared).delete(me, &id)?))
}

pub(crate) async fn pin_status(
    AxState(shared): Shr,
    Authed(me): Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(lock(&shared).set_pinned(me, &id, true)?))
}

pub(crate) async fn unpin_status(
    AxState(shared): Shr,
    Authed(me): Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(lock(&shared).set_pinned(me, &id, false)?))
}

pub(crate) async fn history(
    AxState(shared): Shr,
    Viewer(viewer): Viewer,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let state = lock(&shared);
    let status = state.visible_status(&id, viewer)?;
    Ok(Json(render::history(&state, status)))
}

pub(crate) async fn source(
    AxState(shared): Shr,
    Authed(me): Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let state = lock(&shared);
    let status = state.visible_status(&id, Some(me))?;
    let v = status.current();
    Ok(Json(
        json!({ "id": status.id.as_str(), "text": v.text, "spoiler_text": v.spoiler_text }),
    ))
}

pub(crate) async fn context(
    AxState(shared): Shr,
    Viewer(viewer): Viewer,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let state = lock(&shared);
    let (ancestors, descendants) = state.context(&id, viewer)?;
    let render_all = |ids: Vec<Id>| -> Vec<Value> {
        ids.iter()
            .map(|i| render::status_for(&state, &state.statuses[i], viewer))
            .collect()
    };
    Ok(Json(json!({
        "ancestors": render_all(ancestors),
        "descendants": render_all(descendants),
    })))
}

pub(crate) async fn tag_timeline(
    AxState(shared): Shr,
    Viewer(viewer): Viewer,
    Path(tag): Path<String>,
    Query(q): Query<ListQuery>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let state = lock(&shared);
    let ids = state.tagged(&tag)?;
    Ok(list_response(
        &state,
        &uri,
        ids,
        &q,
        20,
        NextLink::Always,
        |id| render::status_for(&state, &state.statuses[id], viewer),
    ))
}

pub(crate) async fn get_tag(
    AxState(shared): Shr,
    Viewer(viewer): Viewer,
    Path(tag): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let state = lock(&shared);
    let following = viewer.is_some_and(|v| state.follows_tag(v, &tag));
    Ok(Json(render::tag(&state, &tag, following)))
}

pub(crate) async fn follow_tag(
    AxState(shared): Shr,
    Authed(me): Authed,
    Path(tag): Path<String>,
) -> Json<Value> {
    let mut state = lock(&shared);
    state.follow_tag(me, &tag);
    Json(render::tag(&state, &tag, true))
}

pub(crate) async fn unfollow_tag(
    AxState(shared): Shr,
    Authed(me): Authed,
    Path(tag): Path<String>,
) -> Json<Value> {
    let mut state = lock(&shared);
    state.unfollow_tag(me, &tag);
    Json(render::tag(&state, &tag, false))
}

pub(crate) async fn followed_tags(
    AxState(shared): Shr,
    Authed(me): Authed,
    Query(q): Query<ListQuery>,
    uri: Uri,
) -> Response {
    let state = lock(&shared);
    let follows: HashMap<Id, String> = state
        .follows
        .iter()
        .filter(|f| f.account == me)
        .map(|f| (f.id.clone(), f.tag.clone()))
        .collect();
    let ids = follows.keys().cloned().collect();
    list_response(&state, &uri, ids, &q, 100, NextLink::WhenFull, |id| {
        render::tag(&state, &follows[id], true)
    })
}

pub(crate) async fn not_found(AxState(shared): Shr) -> ApiError {
    ApiError::new(404, shared.flavour.not_found_error())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_plus_and_percent() {
        assert_eq!(
            parse_form("status=A1%3A+Paris+%23testchat&visibility=public&x"),
            vec![
                ("status".to_string(), "A1: Paris #testchat".to_string()),
                ("visibility".to_string(), "public".to_string()),
                ("x".to_string(), String::new()),
            ]
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%E2%9C%93"), "✓");
    }

    #[test]
    fn params_read_json_strings_as_booleans() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "application/json".parse().unwrap());
        let p = Params::parse(
            &headers,
            br#"{"sensitive":"true","bot":false,"status":"hi"}"#,
        )
        .unwrap();
        assert_eq!(p.bool("sensitive"), Some(true));
        assert_eq!(p.bool("bot"), Some(false));
        assert_eq!(p.str("status").as_deref(), Some("hi"));
    }
}
