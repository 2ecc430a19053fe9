//! The hour itself: a stream for speed, the tag timeline as the record,
//! the latest questions' replies for answers without the hashtag, other
//! instances now and then. After any gap in the stream, a catch-up from the
//! timeline closes the hole.

use chrono::{DateTime, Duration, Utc};
use megalodon::SNS;
use tokio::sync::mpsc;

use super::collector::{Collector, From, Intake};
use super::timeline::CaughtUp;
use crate::instance::{StreamEvent, StreamKind};

/// Tag timeline reads while the stream is up (a safety net) and while it
/// is not.
const TAG_POLL_STREAMING: i64 = 60;
const TAG_POLL_ALONE: i64 = 15;
/// Replies of the latest questions, and other instances.
const REPLIES_POLL: i64 = 45;
const EXTRA_POLL: i64 = 60;
/// How many of the latest questions have their replies read live (older
/// ones are read at the sweep).
const LIVE_QUESTIONS: usize = 2;
/// Stream events stored in one transaction at most.
const STREAM_BATCH: usize = 200;
/// Longest pause after failed reads.
const MAX_BACKOFF: i64 = 120;

/// When each kind of read is next due, and failures in a row.
struct Due {
    tag: DateTime<Utc>,
    replies: DateTime<Utc>,
    extra: DateTime<Utc>,
    tag_failures: u32,
    reply_failures: u32,
    extra_failures: Vec<u32>,
    /// Extra sources that refused us for good (need a login…).
    extra_off: Vec<bool>,
}

fn backoff(base: i64, failures: u32) -> Duration {
    Duration::seconds((base << failures.min(4)).min(MAX_BACKOFF))
}

impl Collector {
    /// Collects until the window ends. False on stop.
    pub(super) async fn live(&mut self) -> bool {
        let (tx, rx) = mpsc::channel(1024);
        let _stream = self.open_stream(tx).await;
        self.intake = Some(Intake {
            rx,
            streaming: false,
            connected: false,
            lost: None,
        });
        let going = self.live_reads().await;
        self.intake = None;
        going
    }

    async fn live_reads(&mut self) -> bool {
        let now = self.now();
        let n = self.extra.len();
        let mut due = Due {
            tag: now,
            replies: now,
            extra: now,
            tag_failures: 0,
            reply_failures: 0,
            extra_failures: vec![0; n],
            extra_off: vec![false; n],
        };
        while self.now() < self.window.until {
            let next = due
                .tag
                .min(due.replies)
                .min(due.extra)
                .min(self.window.until);
            // Stream events are stored as they come, here and in every
            // wait of the reads below.
            if !self.wait_or_news(next).await {
                return false;
            }
            self.stream_news(&mut due);
            if !self.polls(&mut due).await {
                return false;
            }
            self.stream_news(&mut due);
        }
        true
    }

    /// Waits until `next`, storing what the stream delivers; ends early
    /// when the stream (re)connects or drops, so that is acted on at once.
    /// False on stop.
    async fn wait_or_news(&mut self, next: DateTime<Utc>) -> bool {
        let clock = self.waiter.clock().clone();
        loop {
            let mut shutdown = self.shutdown.clone();
            let events = tokio::select! {
                _ = clock.sleep_until(next) => return true,
                _ = shutdown.wait() => return false,
                events = next_events(&mut self.intake) => events,
            };
            self.on_events(events);
            if self
                .intake
                .as_ref()
                .is_some_and(|i| i.connected || i.lost.is_some())
            {
                return true;
            }
        }
    }

    /// Acts on what the stream said about itself: a (re)connection makes
    /// the timeline read at once, closing any gap; a drop, soon.
    fn stream_news(&mut self, due: &mut Due) {
        let now = self.now();
        let Some(intake) = self.intake.as_mut() else {
            return;
        };
        if std::mem::take(&mut intake.connected) {
            due.tag = now;
        }
        if let Some(reason) = intake.lost.take() {
            tracing::info!("stream lost ({reason}); reading the timeline until it is back");
            due.tag = due.tag.min(now + Duration::seconds(TAG_POLL_ALONE));
        }
    }

    /// Does the reads that are due. False on stop.
    async fn polls(&mut self, due: &mut Due) -> bool {
        let streaming = self.intake.as_ref().is_some_and(|i| i.streaming);
        if let Err(e) = self.load_questions() {
            tracing::warn!("cannot read the chat's questions: {e}");
        }
        let now = self.now();
        let going = (now < due.tag || self.poll_tag(due, streaming).await)
            && (now < due.replies || self.poll_replies(due).await)
            && (now < due.extra || self.poll_extra(due).await);
        if !going {
            return false;
        }
        if let Err(e) = self.attribute_all() {
            tracing::warn!("cannot attribute answers to questions: {e}");
        }
        let streamed = std::mem::take(&mut self.stream_posts);
        if streamed > 0 {
            self.note_counts("stream", None, 0, streamed as usize);
        }
        true
    }

    /// The tag timeline from the cursor. False on stop.
    async fn poll_tag(&mut self, due: &mut Due, streaming: bool) -> bool {
        let every = if streaming {
            TAG_POLL_STREAMING
        } else {
            TAG_POLL_ALONE
        };
        match self.catch_up(From::Tag).await {
            Ok(CaughtUp::Stopped) => return false,
            Ok(caught) => {
                due.tag_failures = 0;
                due.tag = match caught {
                    // Once the other reads that are due are done.
                    CaughtUp::More => self.now(),
                    _ => self.now() + Duration::seconds(every),
                };
            }
            Err(e) => {
                due.tag_failures += 1;
                self.read_failed("the hashtag timeline", &e, due.tag_failures);
                due.tag = self.now() + backoff(every, due.tag_failures);
            }
        }
        true
    }

    /// The replies of the latest questions. False on stop.
    async fn poll_replies(&mut self, due: &mut Due) -> bool {
        let latest: Vec<String> = self
            .questions
            .iter()
            .rev()
            .take(LIVE_QUESTIONS)
            .map(|q| q.status_id.clone())
            .collect();
        match self.read_replies(&latest, None).await {
            None => return false,
            Some(Ok(())) => {
                due.reply_failures = 0;
                due.replies = self.now() + Duration::seconds(REPLIES_POLL);
            }
            Some(Err(e)) => {
                due.reply_failures += 1;
                self.read_failed("a question's replies", &e, due.reply_failures);
                due.replies = self.now() + backoff(REPLIES_POLL, due.reply_failures);
            }
        }
        true
    }

    /// Other instances' tag timelines; one that refuses us for good is
    /// left alone for the rest of the chat. False on stop.
    async fn poll_extra(&mut self, due: &mut Due) -> bool {
        for i in 0..self.extra.len() {
            if due.extra_off[i] {
                continue;
            }
            // Another instance's long gap closes over several polls, at
            // their pace: its reads share the bot's budget.
            match self.catch_up(From::Extra(i)).await {
                Ok(CaughtUp::Stopped) => return false,
                Ok(_) => due.extra_failures[i] = 0,
                Err(e) if e.class == crate::instance::FailureClass::Permanent => {
                    let url = self.extra[i].url();
                    tracing::warn!("not reading {url} any more during this chat: {e}");
                    due.extra_off[i] = true;
                }
                Err(e) => {
                    due.extra_failures[i] += 1;
                    let what = format!("{}'s hashtag timeline", self.extra[i].url());
                    self.read_failed(&what, &e, due.extra_failures[i]);
                }
            }
        }
        let worst = due.extra_failures.iter().copied().max().unwrap_or(0);
        due.extra = self.now() + backoff(EXTRA_POLL, worst);
        true
    }

    /// Reads the replies of each question in `ids`. `None` on stop.
    pub(super) async fn read_replies(
        &mut self,
        ids: &[String],
        mut seen: Option<&mut std::collections::HashSet<String>>,
    ) -> Option<Result<(), crate::instance::CallError>> {
        for id in ids {
            if !self.request_slot().await {
                return None;
            }
            let instance = self.instance.clone();
            let read = self.or_stop(instance.replies(id)).await?;
            match read {
                Ok(Some(list)) => {
                    self.note("replies", None, list.len());
                    if let Some(seen) = seen.as_deref_mut() {
                        seen.extend(list.iter().map(|s| s.id.clone()));
                    }
                    self.store_page(&list, From::Replies);
                }
                // The question was deleted: nothing to read under it.
                Ok(None) => self.note("replies", None, 0),
                Err(e) => return Some(Err(e)),
            }
        }
        Some(Ok(()))
    }

    /// Opens the stream: the hashtag stream where it delivers; on
    /// GoToSocial (whose hashtag stream is silent) follows the tag and
    /// reads the user stream. `None` when it cannot be opened; the
    /// timeline alone then does the work.
    async fn open_stream(
        &mut self,
        tx: mpsc::Sender<StreamEvent>,
    ) -> Option<crate::instance::StreamHandle> {
        let kinds = if self.instance.software == SNS::Gotosocial {
            if !self.request_slot().await {
                return None;
            }
            if let Err(e) = self.instance.follow_tag(&self.hashtag).await {
                tracing::warn!(
                    "cannot follow #{} for the stream: {e}; reading the timeline only",
                    self.hashtag
                );
                return None;
            }
            vec![StreamKind::User]
        } else {
            vec![StreamKind::Hashtag(self.hashtag.clone())]
        };
        Some(self.instance.open_stream(kinds, tx))
    }

    /// Stream events: posts go the one path into the store, in one batch;
    /// news of the stream itself is kept for the live loop.
    pub(super) fn on_events(&mut self, events: Vec<StreamEvent>) {
        let mut posts = Vec::new();
        let mut outcome = Ok(());
        for event in events {
            match event {
                StreamEvent::Connected => {
                    if let Some(intake) = self.intake.as_mut() {
                        intake.streaming = true;
                        intake.connected = true;
                    }
                }
                StreamEvent::Lost(reason) => {
                    if let Some(intake) = self.intake.as_mut() {
                        if intake.streaming {
                            intake.lost = Some(reason);
                        }
                        intake.streaming = false;
                    }
                }
                StreamEvent::Update(s) | StreamEvent::Edit(s) => posts.push(s),
                // In order: a post and its deletion in one batch end deleted.
                StreamEvent::Delete(id) => {
                    outcome = outcome
                        .and(self.ingest_stream(&mut posts))
                        .and(self.deleted(&id));
                }
            }
        }
        // Attribution waits for the next poll: once per poll, not per post.
        if let Err(e) = outcome.and(self.ingest_stream(&mut posts)) {
            self.store_failed("cannot store what the stream said", &e);
        }
    }

    fn ingest_stream(
        &mut self,
        posts: &mut Vec<crate::instance::SeenStatus>,
    ) -> Result<(), crate::store::StoreError> {
        if posts.is_empty() {
            return Ok(());
        }
        self.stream_posts += posts.len() as u64;
        let batch = std::mem::take(posts);
        self.ingest(&batch, From::Tag).map(|_| ())
    }
}

/// The next events of the stream, as many as have arrived (one transaction
/// for a burst, not one per post); never, without a stream.
pub(super) async fn next_events(intake: &mut Option<Intake>) -> Vec<StreamEvent> {
    let Some(intake) = intake.as_mut() else {
        return std::future::pending().await;
    };
    let Some(first) = intake.rx.recv().await else {
        // The stream's task ended (it sends `Lost` first): nothing more.
        return std::future::pending().await;
    };
    let mut events = vec![first];
    while events.len() < STREAM_BATCH {
        match intake.rx.try_recv() {
            Ok(e) => events.push(e),
            Err(_) => break,
        }
    }
    events
}
