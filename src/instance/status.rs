//! Statuses as the collector reads them: from timelines, contexts and
//! streams, of any author. Parsing is tolerant — servers differ in which
//! fields they send and whether they send `null` — but a status without the
//! fields that identify it (id, uri, created_at, account) is not one.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::errors::parse_instant;

/// A status someone posted, as seen on the instance it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenStatus {
    /// Id on the instance it was read from (opaque).
    pub id: String,
    /// Global id, the same on every instance: the key to dedupe on.
    pub uri: String,
    /// Web page of the status.
    pub url: Option<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was last edited.
    pub edited_at: Option<DateTime<Utc>>,
    /// HTML as the server sent it.
    pub content: String,
    /// Content warning (empty when none).
    pub spoiler_text: String,
    /// Lower-case as sent: `public`, `unlisted`, `private` or `direct`.
    pub visibility: String,
    /// ISO 639 language, when the server says.
    pub language: Option<String>,
    /// The status it answers.
    pub in_reply_to_id: Option<String>,
    /// Its hashtags (`tags[].name`), lower-cased.
    pub tags: Vec<String>,
    /// Who posted it (for a boost: who boosted).
    pub account: SeenAccount,
    /// A boost: `reblog` is not null. Its own fields describe the boost.
    pub reblog: bool,
    /// `favourites_count`, 0 when absent.
    pub favourites: u64,
    /// `reblogs_count`, 0 when absent.
    pub reblogs: u64,
    /// `replies_count`, 0 when absent.
    pub replies: u64,
}

/// The author of a [`SeenStatus`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenAccount {
    /// Id on the instance it was read from (opaque).
    pub id: String,
    /// User name, without the host.
    pub username: String,
    /// `user` for local accounts, `user@host` for remote ones (as sent).
    pub acct: String,
    /// Display name (may be empty).
    pub display_name: String,
    /// Profile page.
    pub url: Option<String>,
    /// Profile note, HTML.
    pub note: String,
    /// Profile metadata, name and value (HTML).
    pub fields: Vec<(String, String)>,
    /// Marked as a bot.
    pub bot: bool,
    /// Asked not to be indexed (Mastodon's "exclude from search engines").
    pub noindex: bool,
    /// Whether the account lets itself be featured; `None` when unsaid.
    pub discoverable: Option<bool>,
}

/// Reads a status from the API's JSON. Tolerant: missing optional fields
/// default; a status without id, uri, created_at or account is `None`.
pub fn parse_status(v: &Value) -> Option<SeenStatus> {
    let text = |field: &str| v.get(field).and_then(Value::as_str);
    let owned = |field: &str| text(field).map(str::to_string);
    let count = |field: &str| v.get(field).and_then(Value::as_u64).unwrap_or(0);
    Some(SeenStatus {
        id: id_of(v.get("id")?)?,
        uri: owned("uri")?,
        url: owned("url"),
        created_at: parse_instant(text("created_at")?)?,
        edited_at: text("edited_at").and_then(parse_instant),
        content: owned("content").unwrap_or_default(),
        spoiler_text: owned("spoiler_text").unwrap_or_default(),
        visibility: owned("visibility").unwrap_or_default().to_lowercase(),
        language: owned("language"),
        in_reply_to_id: v.get("in_reply_to_id").and_then(id_of),
        tags: v
            .get("tags")
            .and_then(Value::as_array)
            .map(|tags| {
                tags.iter()
                    .filter_map(|t| t.get("name")?.as_str())
                    .map(str::to_lowercase)
                    .collect()
            })
            .unwrap_or_default(),
        account: parse_account(v.get("account")?)?,
        reblog: v.get("reblog").is_some_and(|r| !r.is_null()),
        favourites: count("favourites_count"),
        reblogs: count("reblogs_count"),
        replies: count("replies_count"),
    })
}

/// Reads an account; `None` without an id or a user name.
fn parse_account(v: &Value) -> Option<SeenAccount> {
    let text = |field: &str| v.get(field).and_then(Value::as_str).map(str::to_string);
    let username = text("username")?;
    Some(SeenAccount {
        id: id_of(v.get("id")?)?,
        acct: text("acct").unwrap_or_else(|| username.clone()),
        username,
        display_name: text("display_name").unwrap_or_default(),
        url: text("url"),
        note: text("note").unwrap_or_default(),
        fields: v
            .get("fields")
            .and_then(Value::as_array)
            .map(|fields| {
                fields
                    .iter()
                    .filter_map(|f| {
                        let name = f.get("name")?.as_str()?;
                        let value = f.get("value").and_then(Value::as_str).unwrap_or("");
                        Some((name.to_string(), value.to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default(),
        bot: v.get("bot").and_then(Value::as_bool).unwrap_or(false),
        // Mastodon sends `noindex` (null on mastodon-mock); GoToSocial not.
        noindex: v.get("noindex").and_then(Value::as_bool).unwrap_or(false),
        discoverable: v.get("discoverable").and_then(Value::as_bool),
    })
}

/// An id: a string (every server); a number is taken as its digits, in case
/// a server or proxy sends one, never compared as a number.
pub(super) fn id_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let v: Value = serde_json::from_str(&text).unwrap();
        v["response"]["json"].clone()
    }

    #[test]
    fn reads_a_gotosocial_tag_timeline() {
        let page = fixture("gotosocial_11_tag_timeline.json");
        let list: Vec<SeenStatus> = page
            .as_array()
            .unwrap()
            .iter()
            .filter_map(parse_status)
            .collect();
        let ids: Vec<&str> = list.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "01M8B0477NEPJ4H60VXG80FWQT",
                "01M8B0477HATRC1HCX27N0EPAN",
                "01M8B046QKBBJZ44242GKF0MSY"
            ]
        );
        let bob = &list[0];
        assert_eq!(
            bob.uri,
            "http://127.0.0.1:8089/users/bob/statuses/01M8B0477NEPJ4H60VXG80FWQT"
        );
        assert_eq!(bob.tags, ["testchat"]);
        assert_eq!(bob.account.acct, "bob");
        assert!(!bob.account.bot);
        assert_eq!(bob.account.discoverable, Some(false));
        assert_eq!(bob.visibility, "public");
        assert_eq!(bob.language.as_deref(), Some("en"));
        assert_eq!(bob.edited_at, None);
        assert!(!bob.reblog);
        let alice = &list[1];
        assert_eq!(
            alice.in_reply_to_id.as_deref(),
            Some("01M8B046QKBBJZ44242GKF0MSY")
        );
        assert!(list[2].account.bot, "the question is the bot's");
    }

    #[test]
    fn reads_mastodon_mock_statuses_with_nulls() {
        let page = fixture("mastodon_11_tag_timeline.json");
        let list: Vec<SeenStatus> = page
            .as_array()
            .unwrap()
            .iter()
            .filter_map(parse_status)
            .collect();
        assert_eq!(list.len(), 3);
        let alan = &list[0];
        assert_eq!(alan.id, "1795664934142");
        assert_eq!(alan.uri, "http://localhost:3011/@alan/1795664934142");
        assert_eq!(alan.account.acct, "alan");
        assert_eq!(
            alan.account.note,
            "Thinking about whether machines can think."
        );
        // `noindex: null`, `discoverable: null`, `language: null`.
        assert!(!alan.account.noindex);
        assert_eq!(alan.account.discoverable, None);
        assert_eq!(alan.language, None);
        assert_eq!(alan.tags, ["testchat"]);
    }

    #[test]
    fn reads_an_edit_and_context_descendants() {
        let edited = fixture("gotosocial_58_s_alice_edit.json");
        let s = parse_status(&edited).unwrap();
        assert!(s.edited_at.is_some_and(|e| e >= s.created_at));
        let context = fixture("gotosocial_18_context_of_question.json");
        let found: Vec<(String, String)> = context["descendants"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(parse_status)
            .map(|s| (s.account.acct, s.visibility))
            .collect();
        assert_eq!(
            found,
            [
                ("alice".to_string(), "public".to_string()),
                ("carol".to_string(), "unlisted".to_string())
            ]
        );
    }

    #[test]
    fn counts_boosts_profile_fields_and_required_fields() {
        let mut v = fixture("gotosocial_11_tag_timeline.json")[0].clone();
        v["favourites_count"] = 3.into();
        v["reblogs_count"] = 2.into();
        v["replies_count"] = Value::Null;
        v["reblog"] = serde_json::json!({"id": "x"});
        v["tags"] = serde_json::json!([{"name": "TestChat"}, {"nope": 1}]);
        v["account"]["noindex"] = true.into();
        v["account"]["fields"] =
            serde_json::json!([{"name": "Pronouns", "value": "she/her"}, {"value": "x"}]);
        let s = parse_status(&v).unwrap();
        assert_eq!((s.favourites, s.reblogs, s.replies), (3, 2, 0));
        assert!(s.reblog);
        assert_eq!(s.tags, ["testchat"]);
        assert!(s.account.noindex);
        assert_eq!(
            s.account.fields,
            [("Pronouns".to_string(), "she/her".to_string())]
        );
        for field in ["id", "uri", "created_at", "account"] {
            let mut broken = v.clone();
            broken[field] = Value::Null;
            assert_eq!(parse_status(&broken), None, "without {field}");
        }
        let mut bad_time = v.clone();
        bad_time["created_at"] = "yesterday".into();
        assert_eq!(parse_status(&bad_time), None);
    }
}
