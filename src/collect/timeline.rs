//! Reading tag timelines, the record of a chat: forward from the last post
//! seen (`min_id`, a page at a time, so a gap of any size closes), and
//! backward over the whole window (the first read, and the final sweep:
//! posts that federated late get ids older than the cursor).

use std::collections::HashSet;

use super::collector::{Collector, From};
use crate::instance::{CallError, SeenStatus, TagPage};

/// Pages per forward catch-up at most (400 posts): a long gap is closed
/// over several rounds, with the questions' replies and other instances
/// read between them, never starved by one busy timeline.
const MAX_PAGES: usize = 10;

/// How far a forward catch-up came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CaughtUp {
    /// To the newest post.
    Newest,
    /// To the page bound: more to read at once.
    More,
    /// A stop came first.
    Stopped,
}

/// Pages of a backward scan at most: 40,000 posts, a busy tag's weeks.
const MAX_SCAN_PAGES: usize = 1000;

/// What a backward scan saw.
#[derive(Debug, Default)]
pub struct Scan {
    /// Ids of every status read (answers or not).
    pub seen: HashSet<String>,
    /// Their uris.
    pub uris: HashSet<String>,
    /// The newest id read, for the forward cursor.
    pub newest: Option<String>,
    /// Whether the scan reached the window's start (or the timeline's end).
    pub complete: bool,
}

impl Collector {
    /// The source's name in the sources table.
    pub(super) fn source_name(&self, from: From) -> String {
        match from {
            From::Tag | From::Replies => "tag".to_string(),
            From::Extra(i) => format!("extra:{}", self.extra[i].url()),
        }
    }

    async fn tag_page(
        &mut self,
        from: From,
        min_id: Option<&str>,
        max_id: Option<&str>,
    ) -> Result<Option<TagPage>, CallError> {
        if !self.request_slot().await {
            return Ok(None);
        }
        // The read holds its own handles: the stream is stored meanwhile.
        let tag = self.hashtag.clone();
        let instance = self.instance.clone();
        let extra = match from {
            From::Extra(i) => Some(self.extra[i].clone()),
            _ => None,
        };
        let read = async {
            match &extra {
                Some(source) => source.tag_timeline(&tag, min_id, max_id).await,
                None => instance.tag_timeline(&tag, min_id, max_id).await,
            }
        };
        self.or_stop(read).await.transpose()
    }

    /// Reads forward from the stored cursor towards the newest post, at
    /// most [`MAX_PAGES`]; with no cursor yet, scans the window backward
    /// first.
    pub(super) async fn catch_up(&mut self, from: From) -> Result<CaughtUp, CallError> {
        let name = self.source_name(from);
        let cursor = match self.store.source(self.chat_id, &name) {
            Ok(s) => s.and_then(|s| s.cursor),
            Err(e) => {
                tracing::warn!("cannot read the collection's cursor: {e}");
                None
            }
        };
        let Some(mut cursor) = cursor else {
            let scan = self.scan_back(from).await?;
            return Ok(match scan {
                Some(_) => CaughtUp::Newest,
                None => CaughtUp::Stopped,
            });
        };
        for _ in 0..MAX_PAGES {
            let Some(page) = self.tag_page(from, Some(&cursor), None).await? else {
                return Ok(CaughtUp::Stopped);
            };
            let list = match page {
                TagPage::NeverUsed => Vec::new(),
                TagPage::Page(list) => list,
            };
            let Some(newest) = newest(&list) else {
                self.note(&name, None, 0);
                return Ok(CaughtUp::Newest);
            };
            // The cursor moves only past answers that are stored; a store
            // that refused is tried again at the next poll.
            if !self.store_page(&list, from) {
                return Ok(CaughtUp::Newest);
            }
            self.note(&name, Some(&newest), list.len());
            // A server that ignores `min_id` sends the same page again:
            // no progress is no reason to read on.
            if list.len() < 20 || newest == cursor {
                return Ok(CaughtUp::Newest);
            }
            cursor = newest;
        }
        Ok(CaughtUp::More)
    }

    /// Reads the timeline backward from its newest post to the window's
    /// start, storing answers on the way and the newest id as the cursor.
    /// `Ok(None)` on stop.
    pub(super) async fn scan_back(&mut self, from: From) -> Result<Option<Scan>, CallError> {
        let name = self.source_name(from);
        let mut scan = Scan::default();
        let mut max_id: Option<String> = None;
        let mut all_stored = true;
        for _ in 0..MAX_SCAN_PAGES {
            let Some(page) = self.tag_page(from, None, max_id.as_deref()).await? else {
                return Ok(None);
            };
            let list = match page {
                TagPage::NeverUsed => Vec::new(),
                TagPage::Page(list) => list,
            };
            if scan.newest.is_none() {
                scan.newest = newest(&list);
            }
            self.note(&name, None, list.len());
            if !self.store_page(&list, from) {
                // The store refuses (a full disk): stop here, incomplete;
                // the scan is done again from the top.
                all_stored = false;
                break;
            }
            scan.uris.extend(list.iter().map(|s| s.uri.clone()));
            scan.seen.extend(list.iter().map(|s| s.id.clone()));
            let reached_start = list.iter().any(|s| s.created_at < self.window.from);
            match oldest(&list) {
                Some(id) if !reached_start && max_id.as_deref() != Some(id.as_str()) => {
                    max_id = Some(id);
                }
                _ => {
                    scan.complete = true;
                    break;
                }
            }
        }
        // The forward cursor starts at the newest post only once the whole
        // window behind it is stored: a scan cut short (a crash, a full
        // disk) is done again, never left with a hole behind the cursor.
        if scan.complete
            && all_stored
            && let Some(newest) = &scan.newest
        {
            self.note_counts(&name, Some(newest), 0, 0);
        }
        Ok(Some(scan))
    }

    /// Stores a page's answers. False (after saying why) when the store
    /// failed: the page is read again from the unmoved cursor.
    pub(super) fn store_page(&mut self, list: &[SeenStatus], from: From) -> bool {
        match self.ingest(list, from) {
            Ok(_) => true,
            Err(e) => {
                self.store_failures += 1;
                self.store_failed("cannot store collected answers", &e);
                false
            }
        }
    }
}

/// The newest status of a page (servers send newest first; the latest
/// `created_at` decides, so an order we did not expect cannot loop).
fn newest(list: &[SeenStatus]) -> Option<String> {
    list.iter()
        .enumerate()
        .max_by(|(i, a), (j, b)| a.created_at.cmp(&b.created_at).then(j.cmp(i)))
        .map(|(_, s)| s.id.clone())
}

/// The oldest status of a page.
fn oldest(list: &[SeenStatus]) -> Option<String> {
    list.iter()
        .enumerate()
        .min_by(|(i, a), (j, b)| a.created_at.cmp(&b.created_at).then(j.cmp(i)))
        .map(|(_, s)| s.id.clone())
}
