//! `chathost recap` and `chathost archive`: a past chat date's thread,
//! shown or posted on purpose, and its archive folder written again.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};

use super::load::ChatData;
use super::make;
use crate::clock::SharedClock;
use crate::collect::command::{chat_date, find_chat};
use crate::config::{Chat, Config};
use crate::engine::after::recap_due;
use crate::engine::{Shutdown, service};
use crate::length::PostLimit;
use crate::plan::{Occurrence, StepKind};
use crate::secret::Secret;
use crate::store::{ChatRecord, ChatState, RecapState, StepRecord, Store};

/// A chat date named on the command line, with its stored record.
struct Named {
    chat: Chat,
    occ: Occurrence,
    record: ChatRecord,
}

fn named(
    store: &Store,
    config: &Config,
    name: &str,
    date: Option<NaiveDate>,
    now: DateTime<Utc>,
) -> Result<Named, String> {
    let chat = find_chat(config, name)?.clone();
    let occ = chat_date(&chat, date, now)?;
    let record = store
        .chat(&chat.name, occ.date)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            format!(
                "the store has no {} chat of {}: nothing was hosted or collected then (`chathost chats` lists the dates it has)",
                chat.name, occ.date
            )
        })?;
    Ok(Named { chat, occ, record })
}

/// The thread of a chat date as text: the posts stored (with what became
/// of each) once composed, else the thread as it would be composed now.
pub fn show(
    config: &Config,
    name: &str,
    date: Option<NaiveDate>,
    now: DateTime<Utc>,
) -> Result<String, String> {
    // Read only: works beside the running service.
    let store = service::open_store_read_only(&config.state_dir)?;
    let n = named(&store, config, name, date, now)?;
    render(config, &n.chat, &n.occ, &store, &n.record)
}

/// The thread of chat date `record` as text.
fn render(
    config: &Config,
    chat: &Chat,
    occ: &Occurrence,
    store: &Store,
    record: &ChatRecord,
) -> Result<String, String> {
    let thread = stored_thread(store, record)?;
    let mut out = String::new();
    let _ = writeln!(out, "Recap thread of #{} on {}", chat.hashtag, occ.date);
    if !thread.is_empty() {
        let state = record.recap.map_or("composed", RecapState::as_str);
        let _ = writeln!(out, "({state}{})\n", note(record));
        for s in &thread {
            let link = s
                .remote
                .as_ref()
                .and_then(|r| r.url.clone())
                .unwrap_or_default();
            let _ = writeln!(out, "--- {} [{}] {link}\n{}\n", s.key, s.state, s.text);
        }
        return Ok(out);
    }
    let data = ChatData::load(store, chat, record.clone()).map_err(|e| e.to_string())?;
    if !data.has_answers() {
        let _ = writeln!(
            out,
            "No answers are stored for this date: there is nothing to recap."
        );
        return Ok(out);
    }
    let limit = PostLimit {
        max: config.instance.max_characters,
        per_url: config.instance.characters_per_url,
    };
    let (posts, warnings) = make::compose_thread(chat, occ, &data, limit)?;
    for w in warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    let _ = writeln!(
        out,
        "(not posted{}; `chathost recap {} --date {}` shows it, `--post` posts it once)\n",
        note(record),
        chat.name,
        occ.date
    );
    for (i, p) in posts.iter().enumerate() {
        let kind = if p.head { "head, public" } else { "reply" };
        let _ = writeln!(
            out,
            "--- {} ({kind}, {} characters of {})\n{}\n",
            i + 1,
            crate::length::post_length(&p.text, limit.per_url),
            limit.max,
            p.text
        );
    }
    Ok(out)
}

fn note(record: &ChatRecord) -> String {
    record
        .recap_note
        .as_ref()
        .map(|n| format!(": {n}"))
        .unwrap_or_default()
}

/// The recap steps of a chat date, in thread order.
fn stored_thread(store: &Store, record: &ChatRecord) -> Result<Vec<StepRecord>, String> {
    let mut thread: Vec<StepRecord> = store
        .steps(record.id)
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|s| s.kind.is_recap())
        .collect();
    thread.sort_by_key(|s| match s.kind {
        StepKind::Recap { part, .. } => part,
        _ => 0,
    });
    Ok(thread)
}

/// `chathost recap --post`: composes the thread if the date has none yet
/// (also one the service left out), then posts every post not yet posted,
/// exactly once (a second run posts nothing). Returns the thread as text.
pub async fn post(
    config: Config,
    token: Secret,
    clock: SharedClock,
    name: &str,
    date: Option<NaiveDate>,
) -> Result<String, String> {
    let now = clock.now();
    let chat = find_chat(&config, name)?.clone();
    let occ = chat_date(&chat, date, now)?;
    if recap_due(&chat, &occ) > now {
        return Err(format!(
            "the {} chat of {} is recapped from {} (after the wrap-up and the recap delay); the running service posts it",
            chat.name,
            occ.date,
            recap_due(&chat, &occ).format("%Y-%m-%d %H:%MZ")
        ));
    }
    let (trigger, shutdown) = Shutdown::new();
    let started = service::start(service::Parts {
        config: config.clone(),
        token,
        clock: clock.clone(),
        use_scheduler: false,
        events: None,
        shutdown,
    })
    .await?;
    crate::collect::command::stop_on_ctrl_c(trigger);
    let mut engine = started.engine.clone();
    engine.post_recap_now(&chat, &occ).await?;
    // The store is one process's at a time: close it before reading again.
    drop((engine, started));
    let mut text = show(&config, name, Some(occ.date), clock.now())?;
    if let Some(note) = refresh_archive(&config, name, occ.date, clock.now()) {
        text.push_str(&format!("\n{note}\n"));
    }
    Ok(text)
}

/// `chathost archive`: writes the date's archive folder (default: where
/// the service writes it, with the chat's index and feed; else only the
/// date's files, into `out`). Returns the folder and warnings.
pub fn archive(
    config: &Config,
    name: &str,
    date: Option<NaiveDate>,
    out: Option<&Path>,
    now: DateTime<Utc>,
) -> Result<(PathBuf, Vec<String>), String> {
    let store = service::open_store(&config.state_dir)?;
    let n = named(&store, config, name, date, now)?;
    let data = ChatData::load(&store, &n.chat, n.record.clone()).map_err(|e| e.to_string())?;
    // As read: at the final sweep, else now (answers may still change).
    let as_of = n.record.swept_at.unwrap_or(now);
    let input = data.archive_input(&n.chat, &n.occ, &n.record.account, as_of);
    let mut warnings = Vec::new();
    // Final once the answers were read for good: the final sweep ran (by
    // the service, or `chathost collect` for a date it did not host), or
    // a chat over that collects nothing.
    let settled = n.record.swept_at.is_some()
        || (n.record.state == ChatState::Done && !n.chat.collect.enabled);
    if !settled {
        warnings.push(format!(
            "the answers of the {} chat of {} have not been read for good yet, so this archive is a snapshot: {}",
            n.chat.name,
            n.occ.date,
            if matches!(n.record.state, ChatState::Planned | ChatState::Running) {
                "the service writes the final one after the chat".to_string()
            } else {
                format!(
                    "`chathost collect {} --date {}` reads them, then writes it again",
                    n.chat.name, n.occ.date
                )
            }
        ));
    }
    match out {
        Some(dir) => Ok((make::write_folder(dir, &input)?, warnings)),
        None => {
            let written = make::write_archive(&n.chat, &input);
            // Only a final archive counts as written: the service still
            // writes the date's own once it is over.
            if settled {
                let outcome = written.as_ref().map(|_| ()).map_err(String::as_str);
                store
                    .record_archive(n.record.id, outcome, now)
                    .map_err(|e| e.to_string())?;
            }
            let (dir, more) = written?;
            warnings.extend(more);
            Ok((dir, warnings))
        }
    }
}

/// After `chathost collect` or `recap --post` changed what a date's
/// archive shows: writes it again if it was written before. A note for
/// the host, if any.
pub fn refresh_archive(
    config: &Config,
    name: &str,
    date: NaiveDate,
    now: DateTime<Utc>,
) -> Option<String> {
    let chat = find_chat(config, name).ok()?;
    if !chat.archive.enabled {
        return None;
    }
    let record = service::open_store_read_only(&config.state_dir)
        .and_then(|store| store.chat(name, date).map_err(|e| e.to_string()));
    let archived = match record {
        Ok(r) => r.is_some_and(|r| r.archived_at.is_some()),
        Err(e) => {
            return Some(format!(
                "the archive was not written again ({e}); `chathost archive {name} --date {date}` does it"
            ));
        }
    };
    if !archived {
        return None;
    }
    Some(match archive(config, name, Some(date), None, now) {
        Ok((dir, warnings)) => {
            let mut note = format!("archive written again in {}", dir.display());
            for w in warnings {
                note.push_str(&format!("\nwarning: {w}"));
            }
            note
        }
        Err(e) => format!("the archive could not be written again: {e}"),
    })
}

/// For `chathost plan`: the recap thread of each chat's latest date that
/// has answers and no thread posted yet, as it would be composed now. No
/// store yet: nothing. A store that cannot be read: a note saying why.
pub fn preview_for_plan(config: &Config) -> String {
    let path = config.state_dir.join(service::DATABASE);
    if !path.exists() {
        return String::new();
    }
    // Read only: `plan` never takes the store from the service.
    let store = match Store::open_read_only(&path) {
        Ok(s) => s,
        Err(e) => return format!("\n(No recap preview: {e}.)\n"),
    };
    let mut out = String::new();
    for chat in &config.chats {
        let Ok(dates) = store.chats(Some(&chat.name)) else {
            continue;
        };
        // Newest first: the latest date still owing its thread.
        let owed = dates.into_iter().find(|r| {
            r.state == crate::store::ChatState::Done
                && !matches!(r.recap, Some(RecapState::Done | RecapState::Skipped))
        });
        let Some(record) = owed else { continue };
        let has_answers = store
            .answers(record.id)
            .is_ok_and(|a| a.iter().any(|a| a.deleted_at.is_none()));
        if !has_answers {
            continue;
        }
        let occ = crate::plan::resolve_start(chat.zone, record.date, chat.time);
        let text = render(config, chat, &occ, &store, &record).unwrap_or_else(|e| e + "\n");
        let _ = write!(out, "\n{text}");
    }
    out
}
