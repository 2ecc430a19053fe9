//! The sandbox's OAuth routes over real HTTP, both flavours.

use super::*;
use crate::sandbox::SandboxConfig;

async fn sandbox(flavour: Flavour) -> Sandbox {
    Sandbox::start(SandboxConfig {
        flavour,
        participants: 0,
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox starts")
}

/// Registers an app with `scopes` (form body) and returns its id and secret.
async fn register(base: &str, scopes: &str) -> (String, String) {
    let app: Value = reqwest::Client::new()
        .post(format!("{base}/api/v1/apps"))
        .form(&[
            ("client_name", "t"),
            ("redirect_uris", OOB),
            ("scopes", scopes),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        app["client_id"].as_str().unwrap().to_string(),
        app["client_secret"].as_str().unwrap().to_string(),
    )
}

async fn authorize(base: &str, client_id: &str, scope: &str) -> (u16, String) {
    let answer = reqwest::get(format!(
        "{base}/oauth/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope={}",
        OOB.replace(':', "%3A"),
        scope.replace(' ', "+")
    ))
    .await
    .unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

/// The code from either server's out-of-band page.
fn code_in(page: &str) -> String {
    let after = page
        .split_once("value=\"")
        .or_else(|| page.split_once("<code>"))
        .unwrap()
        .1;
    after.split(['"', '<']).next().unwrap().to_string()
}

async fn exchange(base: &str, id: &str, secret: &str, code: &str) -> (u16, Value) {
    let answer = reqwest::Client::new()
        .post(format!("{base}/oauth/token"))
        .json(&json!({
            "grant_type": "authorization_code", "code": code, "client_id": id,
            "client_secret": secret, "redirect_uri": OOB
        }))
        .send()
        .await
        .unwrap();
    (answer.status().as_u16(), answer.json().await.unwrap())
}

#[tokio::test]
async fn a_code_works_once_and_its_token_carries_the_scopes() {
    for flavour in [Flavour::Mastodon, Flavour::GoToSocial] {
        let sb = sandbox(flavour).await;
        let base = sb.base_url().to_string();
        let (id, secret) = register(&base, "read:accounts write:statuses").await;
        let (status, page) = authorize(&base, &id, "read:accounts").await;
        assert_eq!(status, 200, "{flavour}");
        let code = code_in(&page);
        let (status, token) = exchange(&base, &id, &secret, &code).await;
        assert_eq!(status, 200, "{flavour}: {token}");
        assert_eq!(token["token_type"], "Bearer");
        assert_eq!(token["scope"], "read:accounts");
        let access = token["access_token"].as_str().unwrap();
        assert_eq!(
            sb.scopes_of(access),
            Some(vec!["read:accounts".to_string()])
        );
        // Once only.
        let (status, again) = exchange(&base, &id, &secret, &code).await;
        assert_eq!(
            (status, again["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        // The token is the bot's and may read its account, not post.
        let client = reqwest::Client::new();
        let me: Value = client
            .get(format!("{base}/api/v1/accounts/verify_credentials"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me["acct"], "chatbot");
        let post = client
            .post(format!("{base}/api/v1/statuses"))
            .bearer_auth(access)
            .json(&json!({ "status": "hello" }))
            .send()
            .await
            .unwrap();
        assert_eq!(post.status().as_u16(), 403);
        let body: Value = post.json().await.unwrap();
        assert_eq!(body["error"], flavour.scope_error());
        assert!(sb.statuses_of("chatbot").is_empty());
        // The pre-made token keeps every scope.
        let full = client
            .post(format!("{base}/api/v1/statuses"))
            .bearer_auth(sb.bot().token.expose())
            .json(&json!({ "status": "hello" }))
            .send()
            .await
            .unwrap();
        assert_eq!(full.status().as_u16(), 200);
        sb.shutdown().await;
    }
}

#[tokio::test]
async fn a_wider_scope_an_unknown_client_or_a_wrong_secret_is_refused() {
    let sb = sandbox(Flavour::Mastodon).await;
    let base = sb.base_url().to_string();
    let (id, _) = register(&base, "read:statuses").await;
    let (status, page) = authorize(&base, &id, "read:statuses write:statuses").await;
    assert_eq!(status, 400);
    assert!(page.contains("scope is invalid"));
    assert!(!page.contains("oauth-code"));
    let (status, page) = authorize(&base, "nobody", "read").await;
    assert_eq!(status, 400);
    assert!(page.contains("unknown client"));
    let (_, page) = authorize(&base, &id, "").await;
    let code = code_in(&page);
    let (status, body) = exchange(&base, &id, "not-the-secret", &code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert_eq!(sb.apps()[0].scopes, vec!["read:statuses".to_string()]);
    sb.shutdown().await;
}

#[test]
fn scopes_cover_their_children_only() {
    let granted = vec!["write:statuses".to_string(), "read".to_string()];
    assert!(allows(&granted, "write:statuses"));
    assert!(allows(&granted, "read:notifications"));
    assert!(!allows(&granted, "write:accounts"));
    assert!(allows(&["follow".to_string()], "write:follows"));
    assert_eq!(
        required_scope(Flavour::Mastodon, &Method::POST, "/api/v1/statuses"),
        Some("write:statuses")
    );
    assert_eq!(
        required_scope(
            Flavour::Mastodon,
            &Method::POST,
            "/api/v1/statuses/{id}/pin"
        ),
        Some("write:accounts")
    );
    assert_eq!(
        required_scope(
            Flavour::Mastodon,
            &Method::GET,
            "/api/v1/accounts/{id}/statuses"
        ),
        Some("read:statuses")
    );
    assert_eq!(
        required_scope(Flavour::Mastodon, &Method::GET, "/api/v1/instance"),
        None
    );
    assert_eq!(
        required_scope(
            Flavour::GoToSocial,
            &Method::GET,
            "/api/v1/accounts/{id}/statuses"
        ),
        Some("read:accounts")
    );
}
