//! Id-cursor paging as Mastodon defines it, and the `Link` header each
//! flavour sends.
//!
//! - `max_id`: only items older than it (the next, older page);
//! - `since_id`: only items newer than it, newest first (so a gap may remain);
//! - `min_id`: the page just above it: the oldest `limit` items newer than it,
//!   returned newest first (the previous, newer page, without a gap).

use serde::Deserialize;

use super::flavour::Flavour;
use super::ids::Id;

/// The paging parameters of a list request.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct PageParams {
    /// Only items older than this id.
    pub max_id: Option<String>,
    /// Only items newer than this id, newest first.
    pub since_id: Option<String>,
    /// The page of items just newer than this id.
    pub min_id: Option<String>,
    /// Page size as sent (clamped by [`PageParams::limit`]).
    pub limit: Option<String>,
}

impl PageParams {
    /// The page size: `default` when absent or unparsable, at most `max`.
    pub fn limit(&self, default: usize, max: usize) -> usize {
        self.limit
            .as_deref()
            .and_then(|l| l.parse::<usize>().ok())
            .map_or(default, |l| l.clamp(1, max))
    }
}

/// Picks one page out of `ids` (in any order), newest first.
pub fn select(ids: impl IntoIterator<Item = Id>, params: &PageParams, limit: usize) -> Vec<Id> {
    let max_id = params.max_id.clone().map(Id);
    let since_id = params.since_id.clone().map(Id);
    let min_id = params.min_id.clone().map(Id);
    let mut ids: Vec<Id> = ids
        .into_iter()
        .filter(|id| max_id.as_ref().is_none_or(|m| id < m))
        .filter(|id| since_id.as_ref().is_none_or(|s| id > s))
        .filter(|id| min_id.as_ref().is_none_or(|m| id > m))
        .collect();
    ids.sort();
    if min_id.is_some() {
        ids.truncate(limit);
        ids.reverse();
    } else {
        ids.reverse();
        ids.truncate(limit);
    }
    ids
}

/// When a `Link` header carries `rel="next"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextLink {
    /// Whenever the page is not empty (timelines; every GoToSocial list).
    Always,
    /// Only when the page is full (Mastodon's account statuses, notifications).
    WhenFull,
}

/// Builds the `Link` header for a page (newest first), or `None` for an
/// empty page, as both servers do. `url` is the absolute URL without query;
/// `kept` are query parameters the client sent that Mastodon echoes.
pub fn link_header(
    flavour: Flavour,
    url: &str,
    page: &[Id],
    limit: usize,
    sent_limit: bool,
    next: NextLink,
    kept: &[(&str, String)],
) -> Option<String> {
    let (first, last) = (page.first()?, page.last()?);
    let next = match flavour {
        Flavour::GoToSocial => true,
        Flavour::Mastodon => next == NextLink::Always || page.len() >= limit,
    };
    let query = |cursor: &str, id: &Id| {
        let mut parts: Vec<String> = kept.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if sent_limit || flavour.link_always_has_limit() {
            parts.insert(0, format!("limit={limit}"));
        }
        parts.push(format!("{cursor}={id}"));
        parts.join("&")
    };
    let mut links = Vec::new();
    if next {
        links.push(format!("<{url}?{}>; rel=\"next\"", query("max_id", last)));
    }
    links.push(format!("<{url}?{}>; rel=\"prev\"", query("min_id", first)));
    Some(links.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<Id> {
        v.iter().map(|s| Id(s.to_string())).collect()
    }

    fn params(max: Option<&str>, since: Option<&str>, min: Option<&str>) -> PageParams {
        PageParams {
            max_id: max.map(String::from),
            since_id: since.map(String::from),
            min_id: min.map(String::from),
            limit: None,
        }
    }

    #[test]
    fn min_id_returns_the_page_just_above_and_since_id_the_newest() {
        let all = ids(&["10", "11", "12", "13", "14"]);
        let p = params(None, None, Some("10"));
        assert_eq!(select(all.clone(), &p, 2), ids(&["12", "11"]));
        let p = params(None, Some("10"), None);
        assert_eq!(select(all.clone(), &p, 2), ids(&["14", "13"]));
        let p = params(Some("13"), None, None);
        assert_eq!(select(all.clone(), &p, 40), ids(&["12", "11", "10"]));
        let p = params(Some("14"), Some("11"), None);
        assert_eq!(select(all, &p, 40), ids(&["13", "12"]));
    }

    #[test]
    fn gotosocial_links_always_both_with_limit_as_recorded() {
        // gotosocial/13_tag_timeline_next.json: the last page still has next.
        let url = "http://127.0.0.1:8089/api/v1/timelines/tag/testchat";
        let page = ids(&["01M8B046QKBBJZ44242GKF0MSY"]);
        let link = link_header(
            Flavour::GoToSocial,
            url,
            &page,
            2,
            true,
            NextLink::Always,
            &[],
        );
        assert_eq!(
            link.unwrap(),
            "<http://127.0.0.1:8089/api/v1/timelines/tag/testchat?limit=2&max_id=01M8B046QKBBJZ44242GKF0MSY>; rel=\"next\", \
             <http://127.0.0.1:8089/api/v1/timelines/tag/testchat?limit=2&min_id=01M8B046QKBBJZ44242GKF0MSY>; rel=\"prev\""
        );
        // No limit sent: GoToSocial still writes limit=20.
        let link = link_header(
            Flavour::GoToSocial,
            url,
            &page,
            20,
            false,
            NextLink::Always,
            &[],
        );
        assert!(link.unwrap().contains("?limit=20&max_id="));
        assert_eq!(
            link_header(
                Flavour::GoToSocial,
                url,
                &[],
                20,
                false,
                NextLink::Always,
                &[]
            ),
            None
        );
    }

    #[test]
    fn mastodon_links_echo_only_sent_params_and_may_omit_next() {
        let url = "https://m.example/api/v1/accounts/1/statuses";
        let page = ids(&["5", "4"]);
        let kept = [("exclude_replies", "true".to_string())];
        let link = link_header(
            Flavour::Mastodon,
            url,
            &page,
            20,
            false,
            NextLink::WhenFull,
            &kept,
        );
        assert_eq!(
            link.unwrap(),
            "<https://m.example/api/v1/accounts/1/statuses?exclude_replies=true&min_id=5>; rel=\"prev\""
        );
        let link = link_header(
            Flavour::Mastodon,
            url,
            &page,
            2,
            true,
            NextLink::Always,
            &[],
        );
        assert_eq!(
            link.unwrap(),
            "<https://m.example/api/v1/accounts/1/statuses?limit=2&max_id=4>; rel=\"next\", \
             <https://m.example/api/v1/accounts/1/statuses?limit=2&min_id=5>; rel=\"prev\""
        );
    }
}
