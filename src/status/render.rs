//! `chathost status` as text for a terminal. What comes from the host's
//! files or the store is printed with control characters escaped.

use std::fmt::Write as _;

use super::{ChatStatus, LastChat, NextChat, Status, StoreHealth};
use crate::diagnostic::escape_controls;

/// The status as text, ending with the verdict.
pub fn text(status: &Status) -> String {
    let mut out = String::new();
    for chat in &status.chats {
        chat_text(&mut out, chat);
    }
    store_text(&mut out, &status.store);
    if status.ok {
        out.push_str("\nall is well\n");
    } else {
        out.push_str("\nneeds attention:\n");
        for line in &status.attention {
            let _ = writeln!(out, "  - {}", escape_controls(line));
        }
    }
    out
}

fn chat_text(out: &mut String, chat: &ChatStatus) {
    let _ = writeln!(out, "{} (#{})", chat.name, chat.hashtag);
    match &chat.next {
        Some(next) => next_text(out, next, &chat.zone),
        None => out.push_str("  next chat: none before the end of the calendar\n"),
    }
    match &chat.last {
        Some(last) => last_text(out, last, &chat.zone),
        None => out.push_str("  last chat: none in the store yet\n"),
    }
}

fn next_text(out: &mut String, next: &NextChat, zone: &str) {
    let _ = writeln!(
        out,
        "  next chat: {} {} {zone} (UTC {})",
        next.date,
        time_of(&next.start_local),
        time_of(&next.start_utc)
    );
    let q = &next.questions;
    let file = escape_controls(q.file.as_deref().unwrap_or("?"));
    let verdict = match (q.source, &q.first_error) {
        ("none", _) => format!("none ({file} is missing, no fallback): the week will be skipped"),
        (source, None) => format!("{file} ({source} file), passes check"),
        (source, Some(first)) => format!(
            "{file} ({source} file), FAILS check: {} error{}, first {}: {}",
            q.errors,
            if q.errors == 1 { "" } else { "s" },
            escape_controls(&first.position),
            escape_controls(&first.message)
        ),
    };
    let _ = writeln!(out, "  questions: {verdict}");
}

fn last_text(out: &mut String, last: &LastChat, zone: &str) {
    let s = &last.steps;
    let _ = writeln!(
        out,
        "  last chat: {} {} {zone} ({}): {} of {} posts posted, {} failed, {} skipped, {} pending, {} cancelled{}",
        last.date,
        time_of(&last.start_local),
        last.state,
        s.posted,
        s.planned,
        s.failed,
        s.skipped,
        s.pending,
        s.cancelled,
        if s.posting > 0 {
            format!(", {} being posted", s.posting)
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        out,
        "    answers: {} from {} participant{}{}{}",
        last.answers,
        last.participants,
        if last.participants == 1 { "" } else { "s" },
        if last.deleted_answers > 0 {
            format!(" (+{} deleted)", last.deleted_answers)
        } else {
            String::new()
        },
        if last.swept {
            ""
        } else {
            "; final sweep not yet run"
        }
    );
    let r = &last.recap;
    let mut recap = match r.state.as_str() {
        "composed" | "done" => format!("{}, {} of {} posted", r.state, r.posted, r.posts),
        other => other.to_string(),
    };
    if r.failed > 0 {
        let _ = write!(recap, ", {} FAILED", r.failed);
    }
    // Once done, the note only repeats the counts.
    if let Some(note) = r
        .note
        .as_ref()
        .filter(|_| r.state != "done" || r.failed > 0)
    {
        let _ = write!(recap, " ({})", escape_controls(note));
    }
    let archive = match (&last.archive.written_at, &last.archive.error) {
        (Some(at), _) => format!("written {at}"),
        (None, Some(e)) => format!("FAILED: {}", escape_controls(e)),
        (None, None) => "not yet".to_string(),
    };
    let _ = writeln!(out, "    recap: {recap}\n    archive: {archive}");
}

fn store_text(out: &mut String, store: &StoreHealth) {
    let path = escape_controls(&store.path);
    let running = match store.service_running {
        Some(true) => "held by a running chathost (the service)",
        Some(false) => "no chathost is writing it (the service is not running)",
        None => "could not tell whether the service holds it",
    };
    if !store.exists {
        let _ = writeln!(
            out,
            "store: no database in {path}; the systemd service keeps it in /var/lib/chathost: run `sudo env STATE_DIRECTORY=/var/lib/chathost chathost status --config /etc/chathost/bot.toml`; {running}"
        );
        return;
    }
    let mut size = store
        .size_bytes
        .map_or_else(|| "size unknown".to_string(), |b| format!("{b} bytes"));
    if let Some(wal) = store.wal_bytes {
        let _ = write!(size, " (+{wal} in its -wal)");
    }
    let schema = store
        .schema_version
        .map_or_else(|| "?".to_string(), |v| v.to_string());
    let _ = writeln!(
        out,
        "store: {path}, {size}, schema {schema} (this chathost: {}), quick_check {}; {running}",
        store.known_schema_version,
        store.quick_check.as_deref().map_or("not run", |q| q)
    );
    if let Some(problem) = &store.problem {
        let _ = writeln!(out, "  problem: {}", escape_controls(problem));
    }
}

/// `2026-12-02T20:00:00+00:00` → `20:00:00+00:00`: the time part.
fn time_of(rfc3339: &str) -> &str {
    rfc3339.split_once('T').map_or(rfc3339, |(_, t)| t)
}
