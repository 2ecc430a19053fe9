//! Reading another server's public hashtag timeline (a chat's
//! `extra_sources`), for posts that never reached the bot's instance.
//!
//! A [`PublicSource`] has no token at all — the bot's token must never go
//! to another server — and otherwise the same client rules: bodies capped,
//! a timeout, redirects followed only on the same origin.

use std::time::Duration;

use super::errors::{self, CallError, Target};
use super::http::{Http, Request};
use super::read::{Reader, TagPage, tag_page, tag_path};

/// An unauthenticated reader of another instance's tag timeline.
pub struct PublicSource {
    http: Http,
}

impl PublicSource {
    /// A reader of the server at `url` (`https://host[:port]`); every call
    /// times out after `timeout`. No request yet.
    pub fn new(url: &str, timeout: Duration) -> Result<PublicSource, CallError> {
        let parsed = reqwest::Url::parse(url.trim()).map_err(|e| bad_url(url, &e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(bad_url(url, "not an http(s) address"));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            // Never repeat it: a password may be in it.
            return Err(errors::permanent(
                None,
                "an extra source's address must not carry a user name or password".into(),
            ));
        }
        let base = format!(
            "{}{}",
            parsed.origin().ascii_serialization(),
            parsed.path().trim_end_matches('/')
        );
        Ok(PublicSource {
            http: Http::public(&base, timeout)?,
        })
    }

    /// The server's base URL, without a trailing `/`.
    pub fn url(&self) -> &str {
        &self.http.url
    }

    /// A page of the server's public timeline of `tag`, as
    /// [`Instance::tag_timeline`](super::Instance::tag_timeline). A server
    /// that requires login for it (401, 403; GoToSocial does) is an `Err`
    /// saying so.
    pub async fn tag_timeline(
        &self,
        tag: &str,
        min_id: Option<&str>,
        max_id: Option<&str>,
    ) -> Result<TagPage, CallError> {
        let path = tag_path(tag, min_id, max_id);
        let mut request = Request::get(&path);
        request.auth = false;
        let answer = self.http.send(request).await?;
        let target = Target {
            url: &self.http.url,
            path: &path,
        };
        tag_page(&answer, target, Reader::Public)
    }

    /// How many requests this reader has sent.
    pub fn requests_sent(&self) -> u64 {
        self.http.requests_sent()
    }
}

fn bad_url(url: &str, why: &str) -> CallError {
    // The address is the host's own setting; control characters escaped.
    errors::permanent(
        None,
        format!(
            "extra source `{}` is not a server address ({why}): write it as https://host",
            crate::diagnostic::escape_controls(url)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_checked_and_normalised() {
        let t = Duration::from_secs(5);
        let s = PublicSource::new("https://Social.Example/", t).unwrap();
        assert_eq!(s.url(), "https://social.example");
        assert_eq!(s.requests_sent(), 0);
        assert!(PublicSource::new("ftp://x.example", t).is_err());
        assert!(PublicSource::new("social.example", t).is_err());
        let e = PublicSource::new("https://me:hunter2@x.example", t)
            .err()
            .unwrap();
        assert!(!e.message.contains("hunter2"), "{}", e.message);
    }
}
