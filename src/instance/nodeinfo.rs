//! Which server software runs at the URL (`[instance] software = "auto"`),
//! from its nodeinfo: megalodon's own detector reads whole bodies without
//! a cap or a timeout and loses the HTTP status, so it is not used.

use megalodon::SNS;
use serde_json::Value;

use super::errors::{self, CallError, Target};
use super::http::{Answer, Http, Request};

const WELL_KNOWN: &str = "/.well-known/nodeinfo";
const SCHEMAS: [&str; 3] = [
    "http://nodeinfo.diaspora.software/ns/schema/2.1",
    "http://nodeinfo.diaspora.software/ns/schema/2.0",
    "http://nodeinfo.diaspora.software/ns/schema/1.0",
];
const SET_IT: &str =
    "set [instance] software = \"mastodon\", \"gotosocial\" or \"pleroma\" in bot.toml";

/// Detects the software; every failure names its cause (a 429, a web page,
/// silence…) rather than "could not tell".
pub(super) async fn detect(http: &Http) -> Result<SNS, CallError> {
    let mut request = Request::get(WELL_KNOWN);
    request.auth = false;
    let links = json(http, http.send(request).await?, WELL_KNOWN)?;
    let href = links
        .get("links")
        .and_then(Value::as_array)
        .and_then(|links| {
            SCHEMAS.iter().find_map(|schema| {
                links
                    .iter()
                    .find(|l| l.get("rel").and_then(Value::as_str) == Some(schema))
                    .and_then(|l| l.get("href")?.as_str())
            })
        })
        .ok_or_else(|| {
            errors::permanent(
                None,
                format!(
                    "{}{WELL_KNOWN} lists no nodeinfo, so chathost cannot tell which server software runs there: {SET_IT}",
                    http.url
                ),
            )
        })?
        .to_string();
    let mut request = Request::get("the nodeinfo document");
    request.auth = false;
    let info = json(
        http,
        http.send_to(&href, request).await?,
        "the nodeinfo document",
    )?;
    let name = info
        .pointer("/software/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_lowercase();
    // Shown in a message: only a name's characters, never a terminal escape.
    let name: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .take(40)
        .collect();
    let upstream = info
        .pointer("/metadata/upstream/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_lowercase();
    match (name.as_str(), upstream.as_str()) {
        ("mastodon" | "hometown", _) | (_, "mastodon") => Ok(SNS::Mastodon),
        ("gotosocial", _) => Ok(SNS::Gotosocial),
        ("pleroma" | "akkoma", _) => Ok(SNS::Pleroma),
        _ => Err(errors::permanent(
            None,
            format!(
                "{} runs `{name}`, which chathost does not know: {SET_IT} if it speaks the Mastodon API",
                http.url
            ),
        )),
    }
}

fn json(http: &Http, answer: Answer, path: &str) -> Result<Value, CallError> {
    answer.json(Target {
        url: &http.url,
        path,
    })
}
