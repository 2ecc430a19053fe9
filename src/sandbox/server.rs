//! Wiring: the state shared by handlers, the router with its middleware
//! (log → faults → rate limit → handler, outermost first), and serving it on
//! our own listener with graceful shutdown.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use tokio::sync::{broadcast, watch};

use super::engage;
use super::faults::{self, Faults};
use super::flavour::Flavour;
use super::log::{self, RequestLog};
use super::net::{ConnInfo, KillableListener};
use super::notify;
use super::oauth;
use super::ratelimit::{self, RateLimiter};
use super::routes;
use super::state::{Event, State};
use super::stream;
use crate::clock::SharedClock;

/// Everything handlers, streams and participants share.
pub(crate) struct Shared {
    /// Which server we imitate.
    pub flavour: Flavour,
    /// The chat hashtag, without `#`.
    pub hashtag: String,
    /// Seed of the participants' randomness.
    pub seed: u64,
    /// Whether participants send the bot commands after answering Q1.
    pub commands: bool,
    /// Window in which participants answer a question (virtual time).
    pub answer_window: Duration,
    /// The injected clock.
    pub clock: SharedClock,
    /// The data.
    pub state: Mutex<State>,
    /// Where changes are announced (the same channel as `State::events`).
    pub events: broadcast::Sender<Event>,
    /// Armed faults.
    pub faults: Faults,
    /// Request log.
    pub log: RequestLog,
    /// Rate limiter, if switched on.
    pub limiter: Option<RateLimiter>,
    /// Turns `true` when the sandbox shuts down.
    pub shutdown: watch::Receiver<bool>,
}

/// The router with every endpoint and middleware.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    use routes::*;
    Router::new()
        .route("/api/v1/instance", get(instance_v1))
        .route("/api/v2/instance", get(instance_v2))
        .route("/.well-known/nodeinfo", get(nodeinfo_links))
        .route("/nodeinfo/2.0", get(nodeinfo))
        .route(
            "/api/v1/accounts/verify_credentials",
            get(verify_credentials),
        )
        .route(
            "/api/v1/accounts/update_credentials",
            axum::routing::patch(update_credentials),
        )
        .route("/api/v1/accounts/lookup", get(lookup))
        .route("/api/v1/accounts/{id}", get(account))
        .route("/api/v1/accounts/{id}/statuses", get(account_statuses))
        .route("/api/v1/statuses", post(post_status))
        .route(
            "/api/v1/statuses/{id}",
            get(get_status).put(edit_status).delete(delete_status),
        )
        .route("/api/v1/statuses/{id}/history", get(history))
        .route("/api/v1/statuses/{id}/pin", post(pin_status))
        .route("/api/v1/statuses/{id}/unpin", post(unpin_status))
        .route("/api/v1/statuses/{id}/source", get(source))
        .route("/api/v1/statuses/{id}/context", get(context))
        .route("/api/v1/statuses/{id}/favourite", post(engage::favourite))
        .route(
            "/api/v1/statuses/{id}/unfavourite",
            post(engage::unfavourite),
        )
        .route("/api/v1/statuses/{id}/reblog", post(engage::reblog))
        .route("/api/v1/statuses/{id}/unreblog", post(engage::unreblog))
        .route("/api/v1/timelines/tag/{tag}", get(tag_timeline))
        .route("/api/v1/tags/{tag}", get(get_tag))
        .route("/api/v1/tags/{tag}/follow", post(follow_tag))
        .route("/api/v1/tags/{tag}/unfollow", post(unfollow_tag))
        .route("/api/v1/followed_tags", get(followed_tags))
        .route("/api/v1/notifications", get(notify::notifications))
        .route("/api/v1/notifications/{id}", get(notify::notification))
        .route("/api/v1/streaming", get(stream::handler))
        .route("/api/v1/apps", post(oauth::create_app))
        .route(
            "/api/v1/apps/verify_credentials",
            get(oauth::app_credentials),
        )
        .route("/oauth/authorize", get(oauth::authorize))
        .route("/oauth/token", post(oauth::token))
        .fallback(not_found)
        .layer(from_fn_with_state(shared.clone(), oauth::scope_layer))
        .layer(from_fn_with_state(shared.clone(), ratelimit::layer))
        .layer(from_fn_with_state(shared.clone(), faults::layer))
        .layer(from_fn_with_state(shared.clone(), log::layer))
        .layer(from_fn_with_state(shared.clone(), server_header))
        .with_state(shared)
}

/// Adds the flavour's `Server` header, as the real servers send.
async fn server_header(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut response = next.run(request).await;
    response.headers_mut().insert(
        "server",
        axum::http::HeaderValue::from_static(shared.flavour.server_header()),
    );
    response
}

/// Serves `router` on `listener` until `shutdown` turns `true`.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    let service = router.into_make_service_with_connect_info::<ConnInfo>();
    let result = axum::serve(KillableListener::new(listener), service)
        .with_graceful_shutdown(async move { stopped(&mut shutdown).await })
        .await;
    if let Err(e) = result {
        tracing::warn!("sandbox server stopped: {e}");
    }
}

/// Completes once the sandbox is shutting down (or its handle is gone).
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // Map the guard away at once: it must not be held across an await.
    let _ = shutdown.wait_for(|stop| *stop).await.map(|_| ());
}
