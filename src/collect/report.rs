//! `chathost answers`: what was collected for a chat date, by question,
//! for a host to read or a script to take. Consent is respected here as
//! everywhere: an account that may not be quoted is counted, and its
//! words, name and link never shown (the store does not hold them). Deleted
//! posts are counted apart and never shown.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::plan::StepKind;
use crate::store::{AnswerRecord, ChatRecord, SourceRecord, StepRecord};

/// One chat date's answers, as shown.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Chat name.
    pub chat: String,
    /// Local date.
    pub date: chrono::NaiveDate,
    /// Visible answers.
    pub answers: usize,
    /// Accounts that answered.
    pub participants: usize,
    /// Answers from accounts that may not be quoted (counted only).
    pub counted_only: usize,
    /// Answers deleted by their authors.
    pub deleted: usize,
    /// Whether the final sweep has run (edits, deletions and engagement
    /// are final).
    pub swept: bool,
    /// Requests sent to read the chat, in all.
    pub requests: u64,
    /// Per source: name, requests, posts delivered.
    pub sources: Vec<SourceUse>,
    /// By question; `None` holds posts before the first question.
    pub questions: Vec<QuestionAnswers>,
}

/// What reading one source cost and gave.
#[derive(Debug, Serialize)]
pub struct SourceUse {
    /// `tag`, `replies`, `status`, `stream`, `extra:<url>`.
    pub source: String,
    /// Requests sent.
    pub requests: u64,
    /// Posts it delivered (answers or not, duplicates included).
    pub posts: u64,
}

/// A question and its answers.
#[derive(Debug, Serialize)]
pub struct QuestionAnswers {
    /// Its number; `None`: before the first question.
    pub number: Option<u32>,
    /// The question as posted, when it was.
    pub text: Option<String>,
    /// Its visible answers, in time order.
    pub answers: Vec<Shown>,
}

/// An answer as shown.
#[derive(Debug, Serialize)]
pub struct Shown {
    /// When it was made.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Last edit.
    pub edited_at: Option<chrono::DateTime<chrono::Utc>>,
    /// `user@host`; absent for an account that may not be quoted.
    pub acct: Option<String>,
    /// Display name; likewise.
    pub display_name: Option<String>,
    /// Plain text; likewise.
    pub text: Option<String>,
    /// Link to the post; likewise.
    pub url: Option<String>,
    /// False: counted only.
    pub quotable: bool,
    /// How it was tied to its question: reply, prefix or time.
    pub method: Option<String>,
    /// Why it counted: `tag`, `reply`, or both.
    pub via: Vec<&'static str>,
    /// Favourites, boosts, replies.
    pub favourites: u64,
    /// Boosts.
    pub reblogs: u64,
    /// Replies.
    pub replies: u64,
}

/// Builds the report of one chat date.
pub fn build(
    chat: &ChatRecord,
    steps: &[StepRecord],
    answers: &[AnswerRecord],
    sources: &[SourceRecord],
) -> Report {
    let mut by_question: BTreeMap<Option<u32>, Vec<Shown>> = BTreeMap::new();
    for s in steps {
        if let StepKind::Question { number } = s.kind {
            by_question.entry(u32::try_from(number).ok()).or_default();
        }
    }
    let mut people = std::collections::HashSet::new();
    let (mut visible, mut counted_only, mut deleted) = (0, 0, 0);
    for a in answers {
        if a.deleted_at.is_some() {
            deleted += 1;
            continue;
        }
        visible += 1;
        people.insert(a.acct.as_str());
        if !a.quotable {
            counted_only += 1;
        }
        by_question.entry(a.question).or_default().push(shown(a));
    }
    let text_of = |n: Option<u32>| {
        steps.iter().find_map(|s| match (s.kind, n) {
            (StepKind::Question { number }, Some(n)) if u32::try_from(number).ok() == Some(n) => {
                Some(s.text.clone())
            }
            _ => None,
        })
    };
    Report {
        chat: chat.name.clone(),
        date: chat.date,
        answers: visible,
        participants: people.len(),
        counted_only,
        deleted,
        swept: chat.swept_at.is_some(),
        requests: sources.iter().map(|s| s.requests).sum(),
        sources: sources
            .iter()
            .map(|s| SourceUse {
                source: s.source.clone(),
                requests: s.requests,
                posts: s.posts,
            })
            .collect(),
        questions: by_question
            .into_iter()
            .map(|(number, answers)| QuestionAnswers {
                number,
                text: text_of(number),
                answers,
            })
            .collect(),
    }
}

fn shown(a: &AnswerRecord) -> Shown {
    let q = a.quotable;
    let mut via = Vec::new();
    if a.via_tag {
        via.push("tag");
    }
    if a.via_reply {
        via.push("reply");
    }
    Shown {
        created_at: a.created_at,
        edited_at: a.edited_at,
        acct: q.then(|| a.acct.clone()),
        display_name: if q { a.display_name.clone() } else { None },
        text: if q { a.text.clone() } else { None },
        url: if q { a.url.clone() } else { None },
        quotable: q,
        method: a.method.clone(),
        via,
        favourites: a.engagement.favourites,
        reblogs: a.engagement.reblogs,
        replies: a.engagement.replies,
    }
}

/// The report as text for a terminal.
pub fn render_text(r: &Report) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {}: {} answer{} from {} participant{}{}{}{}",
        r.chat,
        r.date,
        r.answers,
        if r.answers == 1 { "" } else { "s" },
        r.participants,
        if r.participants == 1 { "" } else { "s" },
        if r.counted_only > 0 {
            format!(", {} counted only (asked not to be quoted)", r.counted_only)
        } else {
            String::new()
        },
        if r.deleted > 0 {
            format!(", {} deleted", r.deleted)
        } else {
            String::new()
        },
        if r.swept {
            ""
        } else {
            " (final sweep not yet done)"
        },
    );
    if r.requests > 0 {
        let parts: Vec<String> = r
            .sources
            .iter()
            .filter(|s| s.requests > 0)
            .map(|s| format!("{} {}", s.source, s.requests))
            .collect();
        let _ = writeln!(
            out,
            "read with {} requests ({})",
            r.requests,
            parts.join(", ")
        );
    }
    for q in &r.questions {
        let head = match (q.number, &q.text) {
            (Some(_), Some(t)) => first_line(t),
            (Some(n), None) => format!("Q{n}"),
            (None, _) => "Before the first question".to_string(),
        };
        let _ = writeln!(out, "\n{head}  [{}]", q.answers.len());
        for a in &q.answers {
            let when = a.created_at.format("%H:%M");
            match (&a.acct, &a.text) {
                (Some(acct), Some(text)) => {
                    let _ = writeln!(out, "  {when} @{acct}: {}", one_line(text));
                    if let Some(url) = &a.url {
                        let _ = writeln!(out, "        {url}");
                    }
                }
                _ => {
                    let _ = writeln!(out, "  {when} (a participant who asked not to be quoted)");
                }
            }
        }
    }
    out
}

fn first_line(s: &str) -> String {
    s.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string()
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
