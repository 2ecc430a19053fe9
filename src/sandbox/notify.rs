//! Notifications: made when a status mentions a local account (`mention`)
//! or someone favourites one's status (`favourite`, so a client that asks
//! for mentions has something to filter out), and
//! `GET /api/v1/notifications[/:id]` to read them.
//!
//! The list pages like the other lists (`max_id`, `since_id`, `min_id`,
//! `limit` up to the flavour's maximum, newest first, `Link` header) and
//! filters by `types[]` / `exclude_types[]`, which both servers accept. A
//! notification whose status was deleted is gone, as on the real servers.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State as AxState};
use axum::http::{HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::error::ApiError;
use super::ids::Id;
use super::paging::{self, NextLink, PageParams};
use super::render;
use super::routes::{Authed, parse_form};
use super::server::Shared;
use super::state::{Event, State};

/// What a notification is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotificationKind {
    /// A status mentions the account.
    Mention,
    /// Someone favourited the account's status.
    Favourite,
}

impl NotificationKind {
    /// The API's `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::Mention => "mention",
            NotificationKind::Favourite => "favourite",
        }
    }
}

/// A notification.
#[derive(Clone, Debug)]
pub struct Notification {
    /// Opaque id.
    pub id: Id,
    /// What it is about.
    pub kind: NotificationKind,
    /// Account notified.
    pub to: usize,
    /// Account that caused it.
    pub from: usize,
    /// The status that mentions `to`, or `to`'s favourited status.
    pub status: Id,
    /// When it was made.
    pub at: DateTime<Utc>,
}

impl State {
    /// Notifies `to` of `kind` caused by `from` about `status`, and tells
    /// `to`'s user streams. Nobody is notified of their own doing.
    pub(crate) fn notify(&mut self, kind: NotificationKind, to: usize, from: usize, status: &Id) {
        if to == from {
            return;
        }
        let at = self.now();
        let notification = Notification {
            id: self.ids.next(at),
            kind,
            to,
            from,
            status: status.clone(),
            at,
        };
        let payload = render::notification(self, &notification).to_string();
        self.notifications
            .insert(notification.id.clone(), notification);
        let _ = self.events.send(Event::Notified {
            to,
            payload: payload.into(),
        });
    }

    /// Ids of `account`'s live notifications (their status not deleted) that
    /// `filter` keeps, in any order.
    pub fn notifications_of(&self, account: usize, filter: &TypeFilter) -> Vec<Id> {
        self.notifications
            .values()
            .filter(|n| n.to == account && filter.keeps(n.kind))
            .filter(|n| {
                self.statuses
                    .get(&n.status)
                    .is_some_and(|s| s.deleted_at.is_none())
            })
            .map(|n| n.id.clone())
            .collect()
    }
}

/// `types[]` and `exclude_types[]` of a notifications request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TypeFilter {
    /// Only these types, when not empty.
    pub types: Vec<String>,
    /// Never these types.
    pub exclude: Vec<String>,
}

impl TypeFilter {
    /// Reads the repeated `types[]=…` (or `types=…`) and `exclude_types[]=…`
    /// parameters of a raw query string; serde's `Query` cannot.
    pub fn from_query(query: &str) -> Self {
        let mut filter = TypeFilter::default();
        for (key, value) in parse_form(query) {
            match key.as_str() {
                "types[]" | "types" => filter.types.push(value),
                "exclude_types[]" | "exclude_types" => filter.exclude.push(value),
                _ => {}
            }
        }
        filter
    }

    /// Whether a notification of `kind` is kept.
    pub fn keeps(&self, kind: NotificationKind) -> bool {
        let name = kind.as_str();
        (self.types.is_empty() || self.types.iter().any(|t| t == name))
            && !self.exclude.iter().any(|t| t == name)
    }

    /// The parameters Mastodon echoes in its `Link` header (encoded).
    fn kept(&self) -> Vec<(&'static str, String)> {
        let types = self.types.iter().map(|t| ("types%5B%5D", t.clone()));
        let exclude = self
            .exclude
            .iter()
            .map(|t| ("exclude_types%5B%5D", t.clone()));
        types.chain(exclude).collect()
    }
}

/// `GET /api/v1/notifications`: the caller's notifications, newest first.
pub(crate) async fn notifications(
    AxState(shared): AxState<Arc<Shared>>,
    Authed(me): Authed,
    axum::extract::Query(page): axum::extract::Query<PageParams>,
    uri: Uri,
) -> Response {
    let filter = TypeFilter::from_query(uri.query().unwrap_or(""));
    let state = shared.state.lock().expect("state lock");
    let (default, max) = state.flavour.notification_limits();
    let limit = page.limit(default, max);
    let chosen = paging::select(state.notifications_of(me, &filter), &page, limit);
    let url = format!("{}{}", state.base_url, uri.path());
    // GoToSocial echoes nothing but the limit; Mastodon echoes the filters.
    let kept = match state.flavour {
        super::Flavour::Mastodon => filter.kept(),
        super::Flavour::GoToSocial => Vec::new(),
    };
    let link = paging::link_header(
        state.flavour,
        &url,
        &chosen,
        limit,
        page.limit.is_some(),
        NextLink::WhenFull,
        &kept,
    );
    let items: Vec<Value> = chosen
        .iter()
        .map(|id| render::notification(&state, &state.notifications[id]))
        .collect();
    let mut response = Json(Value::Array(items)).into_response();
    if let Some(link) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert("link", link);
    }
    response
}

/// `GET /api/v1/notifications/:id`: one of the caller's live notifications.
pub(crate) async fn notification(
    AxState(shared): AxState<Arc<Shared>>,
    Authed(me): Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let state = shared.state.lock().expect("state lock");
    let id = Id(id);
    if !state
        .notifications_of(me, &TypeFilter::default())
        .contains(&id)
    {
        return Err(state.not_found());
    }
    Ok(Json(render::notification(
        &state,
        &state.notifications[&id],
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_filters_read_repeated_bracketed_keys() {
        let f = TypeFilter::from_query("limit=40&types%5B%5D=mention&types[]=favourite");
        assert_eq!(f.types, vec!["mention", "favourite"]);
        assert!(f.keeps(NotificationKind::Mention));
        let f = TypeFilter::from_query("exclude_types[]=favourite");
        assert!(f.keeps(NotificationKind::Mention));
        assert!(!f.keeps(NotificationKind::Favourite));
        let f = TypeFilter::from_query("types[]=follow");
        assert!(!f.keeps(NotificationKind::Mention));
        assert!(TypeFilter::from_query("").keeps(NotificationKind::Favourite));
    }
}
