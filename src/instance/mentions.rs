//! Participants talking to the bot: reading its mention notifications, and
//! finding the replies it already made to one (to settle a reply whose
//! outcome is unknown after a crash or a timeout).

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::errors::{self, CallError, parse_instant};
use super::http::Request;
use super::read::{Reader, gone, json_of};
use super::status::{SeenStatus, id_of, parse_status};
use super::{Instance, RemoteStatus, segment, status_from};

/// A `type: mention` notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenMention {
    /// The notification's id (opaque): the newest-first paging key.
    pub notification_id: String,
    /// The notification's `created_at`.
    pub created_at: DateTime<Utc>,
    /// The mentioning status; its `account` is the sender.
    pub status: SeenStatus,
}

/// Notifications per page: the most servers give.
const PAGE: usize = 40;

/// A page of notifications: its mentions, and the newest notification of
/// any kind on it (where the next page starts).
#[derive(Debug, Clone, Default)]
pub struct MentionPage {
    /// The mentions, newest first.
    pub mentions: Vec<SeenMention>,
    /// The newest notification's id, mention or not.
    pub newest: Option<String>,
}

impl Instance {
    /// One page (newest first, up to 40) of mention notifications newer
    /// than `min_id` (when given) and older than `max_id` (when given),
    /// from `GET /api/v1/notifications?types[]=mention&limit=40`. Other
    /// types are dropped here too (a server may ignore `types[]`), as are
    /// notifications whose status cannot be read (deleted since).
    pub async fn mentions(
        &self,
        min_id: Option<&str>,
        max_id: Option<&str>,
    ) -> Result<MentionPage, CallError> {
        let path = notifications_path(min_id, max_id);
        let answer = self.send(Request::get(&path)).await?;
        let list = json_of(&answer, self.target(&path), Reader::Bot)?;
        match list.as_array() {
            // The page's newest notification of any type moves the cursor:
            // a server that ignores `types[]` may send a page of favourites.
            Some(list) => Ok(MentionPage {
                mentions: mentions_in(list),
                newest: list
                    .first()
                    .and_then(|n| n.get("id"))
                    .and_then(Value::as_str)
                    .map(str::to_string),
            }),
            None => Err(errors::permanent(
                Some(answer.status),
                format!(
                    "{} answered {} with something other than a list of notifications: is this a Mastodon-compatible server?",
                    self.http.url, path
                ),
            )),
        }
    }

    /// The replies the bot already made to status `id`: the descendants in
    /// `GET /api/v1/statuses/:id/context` posted by `bot_account_id`
    /// directly under it. `None` when the status is gone (404, 410).
    pub async fn own_replies_to(
        &self,
        id: &str,
        bot_account_id: &str,
    ) -> Result<Option<Vec<RemoteStatus>>, CallError> {
        let path = format!("/api/v1/statuses/{}/context", segment(id));
        let answer = self.send(Request::get(&path)).await?;
        if gone(&answer) {
            return Ok(None);
        }
        let context = json_of(&answer, self.target(&path), Reader::Bot)?;
        match context.get("descendants").and_then(Value::as_array) {
            Some(list) => Ok(Some(own_replies_in(list, id, bot_account_id))),
            None => Err(errors::missing(
                answer.status,
                "descendants",
                self.target(&path),
            )),
        }
    }
}

/// The path of a page of mention notifications.
fn notifications_path(min_id: Option<&str>, max_id: Option<&str>) -> String {
    let mut path = format!("/api/v1/notifications?types[]=mention&limit={PAGE}");
    if let Some(min_id) = min_id {
        path.push_str(&format!("&min_id={}", segment(min_id)));
    }
    if let Some(max_id) = max_id {
        path.push_str(&format!("&max_id={}", segment(max_id)));
    }
    path
}

/// The mentions in a list of notifications, in the server's order. One
/// that cannot be read is skipped (and logged), not the whole page.
pub(super) fn mentions_in(list: &[Value]) -> Vec<SeenMention> {
    list.iter()
        .filter(|n| n.get("type").and_then(Value::as_str) == Some("mention"))
        .filter_map(|n| {
            let parsed = mention_of(n);
            if parsed.is_none() {
                let id = n.get("id").and_then(Value::as_str).unwrap_or("?");
                tracing::debug!(id, "skipped a mention that could not be read");
            }
            parsed
        })
        .collect()
}

fn mention_of(n: &Value) -> Option<SeenMention> {
    Some(SeenMention {
        notification_id: id_of(n.get("id")?)?,
        created_at: parse_instant(n.get("created_at")?.as_str()?)?,
        status: parse_status(n.get("status")?)?,
    })
}

/// The descendants that are the bot's own replies directly under `parent`.
fn own_replies_in(list: &[Value], parent: &str, bot_account_id: &str) -> Vec<RemoteStatus> {
    list.iter()
        .filter(|s| {
            let by_bot =
                s.pointer("/account/id").and_then(id_of).as_deref() == Some(bot_account_id);
            let under = s.get("in_reply_to_id").and_then(id_of).as_deref() == Some(parent);
            by_bot && under
        })
        .filter_map(status_from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A recorded GoToSocial answer (tests/fixtures, from the team's samples).
    fn sample(name: &str) -> Value {
        let path = format!(
            "{}/tests/fixtures/gotosocial_{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let v: Value = serde_json::from_str(&text).unwrap();
        v["response"]["json"].clone()
    }

    #[test]
    fn reads_gotosocials_mention_notifications() {
        let list = sample("60_s_chatbot_notifications.json");
        let found = mentions_in(list.as_array().unwrap());
        let ids: Vec<(&str, &str, &str)> = found
            .iter()
            .map(|m| {
                (
                    m.notification_id.as_str(),
                    m.status.id.as_str(),
                    m.status.account.acct.as_str(),
                )
            })
            .collect();
        assert_eq!(
            ids,
            [
                (
                    "01M8B04M46BTJR1AKTMQAX499A",
                    "01M8B04M41YWEC0NS1YHG9X1RT",
                    "carol"
                ),
                (
                    "01M8B047810V9DD6XHPKK3N80F",
                    "01M8B0477TTFZPR7TNXJSJX5QG",
                    "carol"
                )
            ]
        );
        assert_eq!(
            found[0].created_at,
            "2026-11-26T03:59:40Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert!(found[0].status.content.contains("@chatbot"));
    }

    #[test]
    fn only_readable_mentions_are_kept() {
        let list = sample("60_s_chatbot_notifications.json");
        let mention = list[0].clone();
        let mut favourite = mention.clone();
        favourite["type"] = "favourite".into();
        let mut no_status = mention.clone();
        no_status["status"] = Value::Null;
        let mut bad_time = mention.clone();
        bad_time["created_at"] = "soon".into();
        let mut no_type = mention.clone();
        no_type.as_object_mut().unwrap().remove("type");
        let found = mentions_in(&[favourite, no_status, bad_time, no_type, mention]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].notification_id, "01M8B04M46BTJR1AKTMQAX499A");
    }

    #[test]
    fn only_the_bots_direct_replies_count_as_its_own() {
        let list = sample("60_s_chatbot_notifications.json");
        let status = |id: &str, account: &str, parent: &str| {
            let mut s = list[0]["status"].clone();
            s["id"] = id.into();
            s["uri"] = format!("https://gts.example/s/{id}").into();
            s["account"]["id"] = account.into();
            s["in_reply_to_id"] = parent.into();
            s
        };
        let descendants = [
            status("r1", "BOT", "M"),
            status("r2", "ANN", "M"),
            status("r3", "BOT", "r2"),
            status("r4", "BOT", "M"),
        ];
        let own: Vec<String> = own_replies_in(&descendants, "M", "BOT")
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(own, ["r1", "r4"]);
    }

    #[test]
    fn the_cursors_stay_in_their_place() {
        assert_eq!(
            notifications_path(Some("01A"), Some("9&x")),
            "/api/v1/notifications?types[]=mention&limit=40&min_id=01A&max_id=9%26x"
        );
        assert_eq!(
            notifications_path(None, None),
            "/api/v1/notifications?types[]=mention&limit=40"
        );
    }
}
