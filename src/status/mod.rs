//! `chathost status`: is all well, at a glance, also while the service
//! runs? Per configured chat: the next chat and its question file (does it
//! pass `check`?), the last chat's outcome; then the store's health. It
//! opens the store read only (no fight with the running service over its
//! writer lock), takes no network and prints nothing secret.
//!
//! [`gather`] builds a [`Status`]; [`render::text`] prints it for people;
//! its JSON (`--format json`) is stable. `chathost backup` ([`backup`])
//! lives here too: it is the other command a host runs beside the service.
//!
//! # The JSON
//!
//! Keys are snake_case; instants are RFC 3339 in UTC (`…Z`), each with a
//! `…_local` twin in the chat's zone (with its offset).
//!
//! ```text
//! { "generated_at", "ok": bool, "attention": [string],
//!   "chats": [ { "name", "hashtag", "zone",
//!     "next": null | { "date", "start_utc", "start_local",
//!       "questions": { "source": "own"|"fallback"|"none"|"unusable",
//!         "file": string|null, "passes_check": bool, "errors": n,
//!         "first_error": null | { "position": "file:line:col", "message" } } },
//!     "last": null | { "date", "state", "start_utc", "start_local",
//!       "steps": { "planned", "posted", "failed", "skipped", "pending",
//!                  "posting", "cancelled" },
//!       "answers", "deleted_answers", "participants", "swept": bool,
//!       "recap": { "state": "none yet"|"composed"|"done"|"skipped",
//!                  "posted", "posts", "failed", "note" },
//!       "archive": { "written_at", "written_at_local", "error" } } } ],
//!   "store": { "path", "exists": bool, "size_bytes": n|null, "wal_bytes": n|null,
//!     "schema_version": n|null, "known_schema_version": n,
//!     "service_running": bool|null, "quick_check": string|null,
//!     "problem": string|null } }
//! ```
//!
//! `ok` is false (and `chathost status` exits 1) exactly when `attention`
//! lists something: a question file that fails `check`, a next chat with
//! no questions, a failed step or recap post on the last chat, posts of
//! the last chat still waiting an hour after its end, a database no
//! service holds, or a store problem. A missing database is no problem
//! of itself (the service has not run), but the text says where the
//! service keeps it, in case status looked in the wrong folder.

pub mod backup;
mod questions;
pub mod render;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::config::{Chat, Config};
use crate::engine::service::DATABASE;
use crate::store::{ChatRecord, MIGRATIONS, Problem, StepState, Store};

pub use questions::{FirstError, Questions};

/// What `chathost status` reports.
#[derive(Debug, Serialize)]
pub struct Status {
    /// When it was gathered (UTC).
    pub generated_at: String,
    /// True when nothing needs the host's attention (exit 0).
    pub ok: bool,
    /// What needs the host's attention, one line each.
    pub attention: Vec<String>,
    /// Each configured chat, in name order.
    pub chats: Vec<ChatStatus>,
    /// The state database.
    pub store: StoreHealth,
}

/// One configured chat.
#[derive(Debug, Serialize)]
pub struct ChatStatus {
    /// Its name in bot.toml.
    pub name: String,
    /// Its hashtag, without `#`.
    pub hashtag: String,
    /// Its IANA zone.
    pub zone: String,
    /// The next chat (the one under way, during a chat); `None` past the calendar.
    pub next: Option<NextChat>,
    /// The latest chat date of this chat the store has that has begun;
    /// `None` before any. (A `chat --now` one-off is stored under a name of
    /// its own, `NAME_now_…`: `chathost chats` lists it.)
    pub last: Option<LastChat>,
}

/// The next chat date of a chat.
#[derive(Debug, Serialize)]
pub struct NextChat {
    /// Its local date.
    pub date: String,
    /// Its start in UTC.
    pub start_utc: String,
    /// Its start in the chat's zone.
    pub start_local: String,
    /// Its question file.
    pub questions: Questions,
}

/// The outcome of the last chat date.
#[derive(Debug, Serialize)]
pub struct LastChat {
    /// Its local date.
    pub date: String,
    /// planned | running | done | skipped.
    pub state: String,
    /// Its start in UTC.
    pub start_utc: String,
    /// Its start in the chat's zone.
    pub start_local: String,
    /// Its steps (the recap thread apart) by state.
    pub steps: StepCounts,
    /// Answers collected, deleted ones apart.
    pub answers: usize,
    /// Answers their authors deleted.
    pub deleted_answers: usize,
    /// Accounts with at least one visible answer.
    pub participants: usize,
    /// Whether the final sweep of its answers ran.
    pub swept: bool,
    /// The recap thread.
    pub recap: RecapStatus,
    /// The archive folder.
    pub archive: ArchiveStatus,
}

/// Steps by state.
#[derive(Debug, Default, Serialize)]
pub struct StepCounts {
    /// Planned in all (cancelled ones apart).
    pub planned: usize,
    /// On the server.
    pub posted: usize,
    /// Given up on.
    pub failed: usize,
    /// Left out (too late).
    pub skipped: usize,
    /// Not tried yet.
    pub pending: usize,
    /// Being posted (or its outcome unknown until a reconcile).
    pub posting: usize,
    /// Removed from the plan before they were posted.
    pub cancelled: usize,
}

/// The recap thread of a chat date.
#[derive(Debug, Serialize)]
pub struct RecapStatus {
    /// none yet | composed | done | skipped.
    pub state: String,
    /// Its posts posted.
    pub posted: usize,
    /// Its posts in all.
    pub posts: usize,
    /// Its posts given up on.
    pub failed: usize,
    /// Why it was skipped, or what came of it.
    pub note: Option<String>,
}

/// The archive folder of a chat date.
#[derive(Debug, Serialize)]
pub struct ArchiveStatus {
    /// When it was last written (UTC).
    pub written_at: Option<String>,
    /// The same in the chat's zone.
    pub written_at_local: Option<String>,
    /// Why it could not be written.
    pub error: Option<String>,
}

/// The state database's health.
#[derive(Debug, Serialize)]
pub struct StoreHealth {
    /// The database file.
    pub path: String,
    /// Whether it exists (not before the service's first start).
    pub exists: bool,
    /// Its size (the main file; the `-wal` beside it apart).
    pub size_bytes: Option<u64>,
    /// The size of its `-wal` (changes not yet copied into the main file;
    /// the service does that now and then), when there is one.
    pub wal_bytes: Option<u64>,
    /// Its schema version, when it could be read.
    pub schema_version: Option<i64>,
    /// The schema version this chathost reads and writes.
    pub known_schema_version: i64,
    /// Whether a chathost (the service) holds its writer lock; `None` when
    /// that could not be found out.
    pub service_running: Option<bool>,
    /// `PRAGMA quick_check`'s verdict: `ok`, or SQLite's short report.
    pub quick_check: Option<String>,
    /// Why the store cannot be used, if it cannot.
    pub problem: Option<String>,
}

/// Everything `chathost status` shows, as of `now`. Reads the host's files
/// and the store (read only); never the network.
pub fn gather(config: &Config, now: DateTime<Utc>) -> Status {
    let (store, health) = open(&config.state_dir.join(DATABASE));
    let mut attention = Vec::new();
    if let Some(problem) = &health.problem {
        attention.push(format!("the state database: {problem}"));
    }
    // Without the service no chat is hosted: "all is well" would be a lie.
    if health.exists && health.service_running == Some(false) {
        attention.push("the service is not running: systemctl status chathost".to_string());
    }
    let chats = config
        .chats
        .iter()
        .map(|chat| chat_status(config, chat, store.as_ref(), now, &mut attention))
        .collect();
    Status {
        generated_at: utc(now),
        ok: attention.is_empty(),
        attention,
        chats,
        store: health,
    }
}

fn chat_status(
    config: &Config,
    chat: &Chat,
    store: Option<&Store>,
    now: DateTime<Utc>,
    attention: &mut Vec<String>,
) -> ChatStatus {
    let next = crate::plan::occurrences(chat, now).next().map(|occ| {
        let questions = questions::check_next(config, chat, &occ);
        if let Some(why) = questions.attention() {
            attention.push(format!("{} on {}: {why}", chat.name, occ.date));
        }
        NextChat {
            date: occ.date.to_string(),
            start_utc: utc(occ.start_utc()),
            start_local: occ.start.to_rfc3339(),
            questions,
        }
    });
    let last = store.and_then(|s| match last_chat(s, chat, now) {
        Ok(last) => last,
        Err(e) => {
            attention.push(format!("{}: cannot read its last chat: {e}", chat.name));
            None
        }
    });
    if let Some(l) = &last {
        missed(chat, l, now, attention);
        if l.steps.failed > 0 {
            attention.push(format!(
                "{} on {}: {} post(s) failed (`chathost chats` and the log say why)",
                chat.name, l.date, l.steps.failed
            ));
        }
        if l.recap.failed > 0 {
            attention.push(format!(
                "{} on {}: {} recap post(s) failed, and a failed post is final (the log, and `chathost recap {} --date {}`, give each part's reason)",
                chat.name, l.date, l.recap.failed, chat.name, l.date
            ));
        }
    }
    ChatStatus {
        name: chat.name.clone(),
        hashtag: chat.hashtag.clone(),
        zone: chat.zone.name().to_string(),
        next,
        last,
    }
}

/// How long after a chat's end its posts may still be going out (a
/// retry, a reconcile) before status calls them missed.
const MISSED_AFTER: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// Attention for the last chat's posts still waiting an hour after its
/// end: the service was down (or stuck) when they were due.
fn missed(chat: &Chat, last: &LastChat, now: DateTime<Utc>, attention: &mut Vec<String>) {
    let waiting = last.steps.pending + last.steps.posting;
    let Ok(start) = DateTime::parse_from_rfc3339(&last.start_utc) else {
        return;
    };
    let end =
        start.with_timezone(&Utc) + chrono::TimeDelta::minutes(i64::from(chat.duration_minutes));
    if waiting > 0 && now > end + MISSED_AFTER {
        attention.push(format!(
            "{}: {waiting} posts of {} never went out: was the service down? (`chathost chats` lists them)",
            chat.name, last.date
        ));
    }
}

/// The newest chat date of `chat` that has begun by `now`, with its
/// outcome. Only its start counts: a chat whose reminder went out is
/// already "running", yet it is still the next one.
fn last_chat(store: &Store, chat: &Chat, now: DateTime<Utc>) -> Result<Option<LastChat>, String> {
    let records = store.chats(Some(&chat.name)).map_err(|e| e.to_string())?;
    let Some(record) = records
        .into_iter()
        .filter(|r| r.start_utc <= now)
        .max_by_key(|r| r.start_utc)
    else {
        return Ok(None);
    };
    outcome(store, chat.zone, record).map(Some)
}

fn outcome(store: &Store, zone: Tz, record: ChatRecord) -> Result<LastChat, String> {
    let (thread, steps): (Vec<_>, Vec<_>) = store
        .steps(record.id)
        .map_err(|e| e.to_string())?
        .into_iter()
        .partition(|s| s.kind.is_recap());
    let answers = store.answers(record.id).map_err(|e| e.to_string())?;
    let count =
        |of: &[crate::store::StepRecord], state| of.iter().filter(|s| s.state == state).count();
    let visible: Vec<_> = answers.iter().filter(|a| a.deleted_at.is_none()).collect();
    let participants: BTreeSet<&str> = visible.iter().map(|a| a.acct.as_str()).collect();
    let cancelled = count(&steps, StepState::Cancelled);
    let local = |t: DateTime<Utc>| {
        t.with_timezone(&zone)
            .to_rfc3339_opts(SecondsFormat::Secs, false)
    };
    Ok(LastChat {
        date: record.date.to_string(),
        state: record.state.to_string(),
        start_utc: utc(record.start_utc),
        start_local: local(record.start_utc),
        steps: StepCounts {
            planned: steps.len() - cancelled,
            posted: count(&steps, StepState::Posted),
            failed: count(&steps, StepState::Failed),
            skipped: count(&steps, StepState::Skipped),
            pending: count(&steps, StepState::Pending),
            posting: count(&steps, StepState::Posting),
            cancelled,
        },
        answers: visible.len(),
        deleted_answers: answers.len() - visible.len(),
        participants: participants.len(),
        swept: record.swept_at.is_some(),
        recap: RecapStatus {
            state: record.recap.map_or("none yet", |r| r.as_str()).to_string(),
            posted: count(&thread, StepState::Posted),
            posts: thread.len() - count(&thread, StepState::Cancelled),
            failed: count(&thread, StepState::Failed),
            note: record.recap_note,
        },
        archive: ArchiveStatus {
            written_at: record.archived_at.map(utc),
            written_at_local: record.archived_at.map(local),
            error: record.archive_error,
        },
    })
}

/// Opens the store read only and looks at its health.
fn open(path: &Path) -> (Option<Store>, StoreHealth) {
    let mut health = StoreHealth {
        path: path.display().to_string(),
        exists: false,
        size_bytes: None,
        wal_bytes: None,
        schema_version: None,
        known_schema_version: MIGRATIONS.len() as i64,
        service_running: crate::store::writer_active(path).ok(),
        quick_check: None,
        problem: None,
    };
    let store = match Store::open_read_only(path) {
        Ok(s) => s,
        Err(e) => {
            match e.problem {
                // Before the first start: no problem, only nothing to show.
                Problem::NoDatabase => return (None, health),
                Problem::TooNew { found, .. } | Problem::Outdated { found, .. } => {
                    health.schema_version = Some(found);
                }
                _ => {}
            }
            health.exists = path.exists();
            health.size_bytes = std::fs::metadata(path).ok().map(|m| m.len());
            health.problem = Some(e.to_string());
            return (None, health);
        }
    };
    health.exists = true;
    health.size_bytes = std::fs::metadata(path).ok().map(|m| m.len());
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    health.wal_bytes = std::fs::metadata(wal).ok().map(|m| m.len());
    health.schema_version = store.schema_version().ok();
    match store.quick_check() {
        Ok(None) => health.quick_check = Some("ok".into()),
        Ok(Some(report)) => {
            health.problem = Some(format!(
                "the file is damaged ({report}); restore the latest backup (see `chathost backup --help`)"
            ));
            health.quick_check = Some(report);
        }
        Err(e) => health.problem = Some(e.to_string()),
    }
    (Some(store), health)
}

/// An instant as RFC 3339 UTC, to the second.
fn utc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `chathost status` as printed (`json`: the JSON document) and whether
/// all is well (the exit code: 0 when it is, 1 when not).
pub fn report(config: &Config, now: DateTime<Utc>, json: bool) -> Result<(String, bool), String> {
    let status = gather(config, now);
    let text = if json {
        serde_json::to_string_pretty(&status)
            .map_err(|e| format!("cannot write the status as JSON: {e}"))?
            + "\n"
    } else {
        render::text(&status)
    };
    Ok((text, status.ok))
}
