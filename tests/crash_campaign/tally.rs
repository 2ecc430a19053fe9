//! The campaign's tally: what participants would have seen go wrong,
//! counted from the sandbox's record (its truth) and the engine's store.

use std::path::Path;

use chathost::plan::{Step, StepKind};
use chathost::sandbox::Sandbox;
use chathost::store::{ChatRecord, StepRecord, Store};

use super::{CHAT, DATE};

/// What the participants saw go wrong, by kind; each must be zero.
pub struct Tally {
    /// What, and how many times.
    pub rows: Vec<(&'static str, usize)>,
}

impl Tally {
    /// The rows as a Markdown table.
    pub fn table(&self) -> String {
        let mut out = String::from("  | what went wrong                           | count |\n");
        out.push_str("  | ----------------------------------------- | ----- |\n");
        for (what, n) in &self.rows {
            out.push_str(&format!("  | {what:<41} | {n:>5} |\n"));
        }
        out
    }

    /// Whether nothing went wrong.
    pub fn all_zero(&self) -> bool {
        self.rows.iter().all(|(_, n)| *n == 0)
    }
}

/// The ids of the commands that need a reply (all but `dance`).
pub fn known_commands(sandbox: &Sandbox) -> Vec<String> {
    sandbox
        .mentions_made()
        .into_iter()
        .filter(|m| m.command && !m.text.ends_with("dance"))
        .map(|m| m.status_id)
        .collect()
}

/// The bot's live replies to status `id`.
pub fn replies_to(sandbox: &Sandbox, id: &str) -> usize {
    sandbox
        .replies_by_bot()
        .iter()
        .filter(|r| r.deleted_at.is_none() && r.in_reply_to_id.as_deref() == Some(id))
        .count()
}

/// Counts what went wrong in the chat of `dir` (its state folder and its
/// planned `steps`), from the sandbox's record and the store.
pub fn tally(sandbox: &Sandbox, dir: &Path, steps: &[Step]) -> Tally {
    let store = Store::open(dir.join("state/chathost.sqlite3")).expect("open the store");
    let record = store
        .chat(CHAT, DATE.parse().unwrap())
        .unwrap()
        .expect("the chat date is stored");
    let thread = recap_thread(&store, &record);
    let bot: Vec<_> = sandbox
        .statuses_of("chatbot")
        .into_iter()
        .filter(|s| s.deleted_at.is_none())
        .collect();
    let copies = |text: &str| bot.iter().filter(|s| s.text == text).count();
    let planned: Vec<&str> = steps.iter().map(|s| s.text.as_str()).collect();
    let recap: Vec<&str> = thread.iter().map(|s| s.text.as_str()).collect();
    let extra =
        |texts: &[&str]| -> usize { texts.iter().map(|t| copies(t).saturating_sub(1)).sum() };

    let (doubled, unanswered, uncalled) = mention_replies(sandbox);
    let replies: Vec<String> = sandbox.replies_by_bot().into_iter().map(|r| r.id).collect();
    let unplanned = bot
        .iter()
        .filter(|s| {
            !planned.contains(&s.text.as_str())
                && !recap.contains(&s.text.as_str())
                && !replies.contains(&s.id)
        })
        .count();
    let (lost, misfiled) = answers_lost(sandbox, &store, &record);
    Tally {
        rows: vec![
            ("steps posted twice", extra(&planned)),
            (
                "steps missed",
                planned.iter().filter(|t| copies(t) == 0).count(),
            ),
            ("answers lost", lost),
            ("answers filed under another question", misfiled),
            (
                "final sweep not done",
                usize::from(record.swept_at.is_none()),
            ),
            ("recap posts doubled", extra(&recap)),
            ("recap posts missing", recap_missing(&thread, &copies)),
            (
                "recap posts out of the thread",
                chain_breaks(sandbox, &thread),
            ),
            (
                "archive not written",
                usize::from(record.archived_at.is_none()),
            ),
            ("mention replies doubled", doubled),
            ("mentions unanswered", unanswered),
            ("mentions answered that should not be", uncalled),
            ("bot posts nobody planned", unplanned),
        ],
    }
}

/// The recap thread's steps as stored, in thread order.
fn recap_thread(store: &Store, record: &ChatRecord) -> Vec<StepRecord> {
    let mut thread: Vec<StepRecord> = store
        .steps(record.id)
        .unwrap()
        .into_iter()
        .filter(|s| s.kind.is_recap())
        .collect();
    thread.sort_by_key(|s| match s.kind {
        StepKind::Recap { part, .. } => part,
        _ => 0,
    });
    thread
}

/// Over the participants' commands: replies beyond one to a command that
/// needs one, such commands with no reply, and replies to `dance`.
fn mention_replies(sandbox: &Sandbox) -> (usize, usize, usize) {
    let commands: Vec<_> = sandbox
        .mentions_made()
        .into_iter()
        .filter(|m| m.command)
        .collect();
    assert!(commands.len() >= 3, "commands sent: {commands:#?}");
    let (mut doubled, mut unanswered, mut uncalled) = (0, 0, 0);
    for m in &commands {
        let n = replies_to(sandbox, &m.status_id);
        if m.text.ends_with("dance") {
            uncalled += n;
        } else {
            doubled += n.saturating_sub(1);
            unanswered += usize::from(n == 0);
        }
    }
    (doubled, unanswered, uncalled)
}

/// Recap posts not on the server (a thread never composed counts one).
fn recap_missing(thread: &[StepRecord], copies: &dyn Fn(&str) -> usize) -> usize {
    if thread.is_empty() {
        return 1;
    }
    thread.iter().filter(|s| copies(&s.text) == 0).count()
}

/// Thread posts that do not answer the one before (or a head that
/// answers something).
fn chain_breaks(sandbox: &Sandbox, thread: &[StepRecord]) -> usize {
    let bot = sandbox.statuses_of("chatbot");
    let on_server: Vec<_> = thread
        .iter()
        .map(|s| {
            let id = s.remote.as_ref().map(|r| r.id.clone());
            bot.iter().find(|b| Some(&b.id) == id.as_ref())
        })
        .collect();
    let mut breaks = 0;
    if let Some(Some(head)) = on_server.first() {
        breaks += usize::from(head.in_reply_to_id.is_some());
    }
    for pair in on_server.windows(2) {
        if let [Some(a), Some(b)] = pair {
            breaks += usize::from(b.in_reply_to_id.as_deref() != Some(a.id.as_str()));
        }
    }
    breaks
}

/// Answers the participants made and kept (an automated account's apart)
/// that the store lacks or shows deleted; and those filed under another
/// question than the one they answered.
fn answers_lost(sandbox: &Sandbox, store: &Store, record: &ChatRecord) -> (usize, usize) {
    let stored = store.answers(record.id).unwrap();
    let made: Vec<_> = sandbox
        .answers_made()
        .into_iter()
        .filter(|a| !a.bot && a.deleted_at.is_none())
        .collect();
    assert!(!made.is_empty(), "the participants answered");
    let (mut lost, mut misfiled) = (0, 0);
    for a in &made {
        match stored
            .iter()
            .find(|s| s.uri == a.uri && s.deleted_at.is_none())
        {
            None => lost += 1,
            Some(s) => misfiled += usize::from(s.question != Some(a.question)),
        }
    }
    (lost, misfiled)
}
