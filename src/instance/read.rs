//! Reading calls on the bot's own instance, for collecting answers: the
//! hashtag timeline, a status's replies, one status, following a tag, and
//! the request count and rate-limit state the collector paces itself by.
//! The answer-shaping helpers are shared with [`super::public`].

use reqwest::header::HeaderMap;
use serde_json::Value;

use super::errors::{self, CallError, FailureClass, Target};
use super::http::{Answer, Request};
use super::status::{SeenStatus, parse_status};
use super::{Instance, segment};

/// A page of a hashtag timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagPage {
    /// The statuses, newest first as the server sent them.
    Page(Vec<SeenStatus>),
    /// The tag was never used on that server (GoToSocial's 404): nothing
    /// to read yet, not an error.
    NeverUsed,
}

/// Page size of every timeline read: the most servers give.
const PAGE: usize = 40;

impl Instance {
    /// `GET /api/v1/timelines/tag/:tag?limit=40`, with `min_id` (the posts
    /// right after it, "newer than") and/or `max_id` (older than). Newest
    /// first, as the server sends.
    pub async fn tag_timeline(
        &self,
        tag: &str,
        min_id: Option<&str>,
        max_id: Option<&str>,
    ) -> Result<TagPage, CallError> {
        let path = tag_path(tag, min_id, max_id);
        let answer = self.send(Request::get(&path)).await?;
        tag_page(&answer, self.target(&path), Reader::Bot)
    }

    /// `GET /api/v1/statuses/:id/context`: the replies under a status, at
    /// any depth, hashtag or not, unlisted ones included. `Ok(None)` when
    /// the status is gone.
    pub async fn replies(&self, id: &str) -> Result<Option<Vec<SeenStatus>>, CallError> {
        let path = format!("/api/v1/statuses/{}/context", segment(id));
        let answer = self.send(Request::get(&path)).await?;
        if gone(&answer) {
            return Ok(None);
        }
        let context = json_of(&answer, self.target(&path), Reader::Bot)?;
        match context.get("descendants").and_then(Value::as_array) {
            Some(list) => Ok(Some(statuses_in(list))),
            None => Err(errors::missing(
                answer.status,
                "descendants",
                self.target(&path),
            )),
        }
    }

    /// `GET /api/v1/statuses/:id`. `Ok(None)` when deleted or no longer
    /// visible (404, 410).
    pub async fn status(&self, id: &str) -> Result<Option<SeenStatus>, CallError> {
        let path = format!("/api/v1/statuses/{}", segment(id));
        let answer = self.send(Request::get(&path)).await?;
        if gone(&answer) {
            return Ok(None);
        }
        let v = json_of(&answer, self.target(&path), Reader::Bot)?;
        parse_status(&v)
            .map(Some)
            .ok_or_else(|| errors::missing(answer.status, "uri", self.target(&path)))
    }

    /// `POST /api/v1/tags/:tag/follow`, so the `user` stream carries the
    /// tag's public posts (GoToSocial's hashtag stream is silent). Our own
    /// call: megalodon's GoToSocial backend refuses it. Already followed
    /// is `Ok`.
    pub async fn follow_tag(&self, tag: &str) -> Result<(), CallError> {
        let path = format!(
            "/api/v1/tags/{}/follow",
            segment(tag.trim_start_matches('#'))
        );
        let answer = self.send(Request::post(&path)).await?;
        json_of(&answer, self.target(&path), Reader::Bot).map(|_| ())
    }

    /// How many requests this `Instance` has sent (every call, posting and
    /// stream handshakes included), for "requests per chat".
    pub fn requests_sent(&self) -> u64 {
        self.http.requests_sent()
    }

    /// From the last answer's headers: (remaining, limit) when the server
    /// sends them.
    pub fn rate_left(&self) -> Option<(u64, Option<u64>)> {
        let rate = *self.rate.lock().unwrap_or_else(|p| p.into_inner());
        rate.remaining.map(|left| (left, rate.limit))
    }

    /// When the server's rate-limit window resets, from the last answer's
    /// `X-RateLimit-Reset`.
    pub fn rate_reset(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.rate.lock().unwrap_or_else(|p| p.into_inner()).reset
    }
}

/// Who reads: the bot with its token, or anyone (another server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reader {
    /// The bot's instance, with its token.
    Bot,
    /// Another server, no token.
    Public,
}

/// The path of a tag timeline page; the tag is one percent-encoded segment.
pub(super) fn tag_path(tag: &str, min_id: Option<&str>, max_id: Option<&str>) -> String {
    let mut path = format!(
        "/api/v1/timelines/tag/{}?limit={PAGE}",
        segment(tag.trim_start_matches('#'))
    );
    if let Some(min_id) = min_id {
        path.push_str(&format!("&min_id={}", segment(min_id)));
    }
    if let Some(max_id) = max_id {
        path.push_str(&format!("&max_id={}", segment(max_id)));
    }
    path
}

/// A tag timeline answer as a page. A 404 in the API's JSON is the tag
/// never used there; a 404 web page is no API at all (an error).
pub(super) fn tag_page(
    answer: &Answer,
    target: Target<'_>,
    reader: Reader,
) -> Result<TagPage, CallError> {
    if answer.status == 404 && api_error(&answer.body, &answer.headers) {
        return Ok(TagPage::NeverUsed);
    }
    let list = json_of(answer, target, reader)?;
    match list.as_array() {
        Some(list) => Ok(TagPage::Page(statuses_in(list))),
        None => Err(errors::permanent(
            Some(answer.status),
            format!(
                "{} answered {} with something other than a list of statuses: is this a Mastodon-compatible server?",
                target.url, target.path
            ),
        )),
    }
}

/// The statuses of a list; one that cannot be read is skipped (and logged),
/// not the whole page.
pub(super) fn statuses_in(list: &[Value]) -> Vec<SeenStatus> {
    list.iter()
        .filter_map(|v| {
            let parsed = parse_status(v);
            if parsed.is_none() {
                let id = v.get("id").and_then(Value::as_str).unwrap_or("?");
                tracing::debug!(id, "skipped a status that could not be read");
            }
            parsed
        })
        .collect()
}

/// Whether the answer says the status is gone: 404 or 410 from the API
/// (a web page's 404 is a wrong address, not a deleted post).
pub(super) fn gone(answer: &Answer) -> bool {
    matches!(answer.status, 404 | 410) && !errors::looks_like_a_page(&answer.body, &answer.headers)
}

/// A JSON error answer from the API (`{"error": …}`).
fn api_error(body: &[u8], headers: &HeaderMap) -> bool {
    !errors::looks_like_a_page(body, headers)
        && serde_json::from_slice::<Value>(body).is_ok_and(|v| v.get("error").is_some())
}

/// The answer's JSON, with read-specific words for refusals (the shared
/// messages speak of posting).
pub(super) fn json_of(
    answer: &Answer,
    target: Target<'_>,
    reader: Reader,
) -> Result<Value, CallError> {
    answer.json(target).map_err(|mut e| {
        match (e.status, reader) {
            (Some(401 | 403), Reader::Public) => {
                e.message = format!(
                    "{} requires login to read its public timelines ({}): it cannot be read without an account there — remove it from `extra_sources`",
                    target.url,
                    e.status.unwrap_or_default()
                );
                e.class = FailureClass::Permanent;
            }
            (Some(403), Reader::Bot) => {
                let scope = super::oauth::scope_for_path(target.path).unwrap_or("read");
                e.message = format!(
                    "the account may not read {} (403): the token needs the `{scope}` (or `read`) permission — `chathost auth` makes one that has it — and the account must not be suspended",
                    target.path
                );
            }
            (Some(s @ (400 | 422)), _) => {
                e.message = format!("{} refused {} ({s})", target.url, target.path);
            }
            _ => {}
        }
        e
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_and_cursors_stay_in_their_place() {
        assert_eq!(
            tag_path("#Café/x", Some("01A"), Some("9?")),
            "/api/v1/timelines/tag/Caf%C3%A9%2Fx?limit=40&min_id=01A&max_id=9%3F"
        );
    }

    #[test]
    fn a_json_404_is_an_unused_tag_but_a_web_page_404_is_an_error() {
        let target = Target {
            url: "https://gts.example",
            path: "/api/v1/timelines/tag/x",
        };
        let answer = |body: &str| Answer {
            status: 404,
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        };
        assert_eq!(
            tag_page(&answer(r#"{"error":"Not Found"}"#), target, Reader::Bot),
            Ok(TagPage::NeverUsed)
        );
        let page = tag_page(&answer("<html>nope</html>"), target, Reader::Bot);
        assert!(page.is_err(), "{page:?}");
        assert!(!gone(&answer("<html>nope</html>")));
        assert!(gone(&answer(r#"{"error":"Record not found"}"#)));
    }

    #[test]
    fn a_public_timeline_behind_login_says_so() {
        let target = Target {
            url: "https://gts.example",
            path: "/api/v1/timelines/tag/x",
        };
        let answer = Answer {
            status: 401,
            headers: HeaderMap::new(),
            body: br#"{"error":"Unauthorized: token not supplied"}"#.to_vec(),
        };
        let e = tag_page(&answer, target, Reader::Public).unwrap_err();
        assert!(e.message.contains("requires login"), "{}", e.message);
        assert!(!e.message.contains("token"), "{}", e.message);
    }
}
