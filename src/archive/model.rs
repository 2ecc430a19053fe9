//! What the archive of one chat date is made from: plain data the caller
//! (the lead's loader) fills from the store and the plan.

use chrono::{DateTime, NaiveDate, Utc};

use crate::store::{AnswerRecord, ChatId};

/// Everything an archive folder says about one chat date. Rendering reads
/// nothing else (no clock, no network), so the same input always gives the
/// same bytes.
#[derive(Debug, Clone)]
pub struct ChatArchive {
    /// The chat date in the store: first-timers are the answers whose
    /// `first_chat_id` is this.
    pub chat_id: ChatId,
    /// The chat's name in `bot.toml`, e.g. `wenurses`.
    pub chat: String,
    /// The hashtag, without `#`.
    pub hashtag: String,
    /// The topic; may be empty.
    pub topic: String,
    /// The local date of the chat.
    pub date: NaiveDate,
    /// The chat's time zone: every time shown is local to it.
    pub zone: chrono_tz::Tz,
    /// The chat's start.
    pub start: DateTime<Utc>,
    /// The wrap-up instant.
    pub end: DateTime<Utc>,
    /// The bot's instance base URL.
    pub instance_url: String,
    /// The bot's account, `user@host`.
    pub bot_acct: String,
    /// The questions, in order.
    pub questions: Vec<ArchiveQuestion>,
    /// The answers as stored: tombstones (`deleted_at`) and counted-only
    /// accounts (`quotable == false`, no text, HTML, URL or name) included.
    pub answers: Vec<AnswerRecord>,
    /// The recap thread's head post, when posted.
    pub recap_url: Option<String>,
    /// The public URL of this chat's archive folder (`…/<chat>/<date>/`),
    /// when the host publishes it.
    pub archive_url: Option<String>,
    /// When the answers were last read (the sweep, or now): the only time
    /// in the output.
    pub as_of: DateTime<Utc>,
}

/// A question of the chat as posted (or planned).
#[derive(Debug, Clone)]
pub struct ArchiveQuestion {
    /// Its number (Q3 → 3).
    pub number: u32,
    /// Its text.
    pub text: String,
    /// When it was posted, if it was.
    pub posted_at: Option<DateTime<Utc>>,
    /// Its post's web page, if known.
    pub url: Option<String>,
}
