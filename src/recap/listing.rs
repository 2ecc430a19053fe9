//! `chathost chats`: every chat date the store knows, newest first, with
//! its outcome: the state, the steps posted, failed and left out, the
//! answers collected (deleted ones apart), whether the final sweep ran,
//! the recap thread and the archive.

use serde::Serialize;

use crate::store::{StepState, Store};

/// One chat date as listed.
#[derive(Debug, Serialize)]
pub struct Listed {
    /// The chat's name in bot.toml.
    pub chat: String,
    /// Its local date.
    pub date: chrono::NaiveDate,
    /// Its start.
    pub start_utc: chrono::DateTime<chrono::Utc>,
    /// planned | running | done | skipped.
    pub state: String,
    /// Steps posted.
    pub posted: usize,
    /// Steps given up on.
    pub failed: usize,
    /// Steps left out (too late).
    pub skipped: usize,
    /// Steps planned in all (cancelled ones not counted).
    pub steps: usize,
    /// Visible answers collected.
    pub answers: usize,
    /// Answers deleted by their authors.
    pub deleted: usize,
    /// Whether the final sweep ran.
    pub swept: bool,
    /// The recap thread: none yet | composed | done | skipped.
    pub recap: String,
    /// Recap posts posted, of all of the thread.
    pub recap_posted: usize,
    /// Posts in the thread.
    pub recap_posts: usize,
    /// Why the thread was skipped, or what came of it.
    pub recap_note: Option<String>,
    /// Whether the archive folder was written.
    pub archived: bool,
    /// Why it could not be.
    pub archive_error: Option<String>,
}

/// The chat dates of the store, of one chat when `name` is given.
pub fn list(store: &Store, name: Option<&str>) -> Result<Vec<Listed>, String> {
    let chats = store.chats(name).map_err(|e| e.to_string())?;
    chats
        .into_iter()
        .map(|c| {
            let (thread, steps): (Vec<_>, Vec<_>) = store
                .steps(c.id)
                .map_err(|e| e.to_string())?
                .into_iter()
                .partition(|s| s.kind.is_recap());
            let answers = store.answers(c.id).map_err(|e| e.to_string())?;
            let count = |state| steps.iter().filter(|s| s.state == state).count();
            let deleted = answers.iter().filter(|a| a.deleted_at.is_some()).count();
            Ok(Listed {
                chat: c.name,
                date: c.date,
                start_utc: c.start_utc,
                state: c.state.to_string(),
                posted: count(StepState::Posted),
                failed: count(StepState::Failed),
                skipped: count(StepState::Skipped),
                steps: steps.len() - count(StepState::Cancelled),
                answers: answers.len() - deleted,
                deleted,
                swept: c.swept_at.is_some(),
                recap: c.recap.map_or("none yet", |r| r.as_str()).to_string(),
                recap_posted: thread
                    .iter()
                    .filter(|s| s.state == StepState::Posted)
                    .count(),
                recap_posts: thread.len(),
                recap_note: c.recap_note,
                archived: c.archived_at.is_some(),
                archive_error: c.archive_error,
            })
        })
        .collect()
}

/// The list as a table for a terminal.
pub fn render_text(list: &[Listed]) -> String {
    use std::fmt::Write;
    if list.is_empty() {
        return "no chats stored yet\n".to_string();
    }
    let mut out = String::from(
        "date        chat                 state    posts          answers            recap      archive\n",
    );
    for l in list {
        let mut posts = format!("{}/{} posted", l.posted, l.steps);
        if l.failed > 0 {
            let _ = write!(posts, ", {} failed", l.failed);
        }
        if l.skipped > 0 {
            let _ = write!(posts, ", {} left out", l.skipped);
        }
        let mut answers = l.answers.to_string();
        if l.deleted > 0 {
            let _ = write!(answers, " (+{} deleted)", l.deleted);
        }
        if !l.swept && l.answers + l.deleted > 0 {
            answers.push_str(", sweep pending");
        }
        let recap = match l.recap.as_str() {
            "done" | "composed" => format!("{}/{} posted", l.recap_posted, l.recap_posts),
            other => other.to_string(),
        };
        let archive = match (&l.archive_error, l.archived) {
            (_, true) => "written",
            (Some(_), false) => "FAILED",
            (None, false) => "not yet",
        };
        let _ = writeln!(
            out,
            "{}  {:<20} {:<8} {:<14} {answers:<18} {recap:<10} {archive}",
            l.date, l.chat, l.state, posts
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewChat;

    #[test]
    fn lists_newest_first_with_outcomes() {
        let store = Store::open_in_memory().unwrap();
        let now = chrono::Utc::now();
        for (name, date) in [
            ("wenurses", "2026-12-02"),
            ("wenurses", "2026-12-09"),
            ("other", "2026-12-03"),
        ] {
            let date: chrono::NaiveDate = date.parse().unwrap();
            store
                .upsert_chat(
                    &NewChat {
                        name: name.into(),
                        date,
                        start_utc: date.and_hms_opt(20, 0, 0).unwrap().and_utc(),
                        instance_url: "https://x.example".into(),
                        account: "bot".into(),
                        questions_file: None,
                    },
                    now,
                )
                .unwrap();
        }
        let all = list(&store, None).unwrap();
        let order: Vec<String> = all
            .iter()
            .map(|l| format!("{} {}", l.chat, l.date))
            .collect();
        assert_eq!(
            order,
            [
                "wenurses 2026-12-09",
                "other 2026-12-03",
                "wenurses 2026-12-02"
            ]
        );
        assert_eq!(list(&store, Some("other")).unwrap().len(), 1);
        let text = render_text(&all);
        assert!(text.contains("2026-12-09  wenurses"), "{text}");
        assert!(text.contains("0/0 posted"), "{text}");
        assert_eq!(render_text(&[]), "no chats stored yet\n");
    }
}
