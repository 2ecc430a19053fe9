//! `transcript.md`: the chat as Markdown for blogs and wikis. Every name
//! and text is escaped so a post cannot add links, HTML or headings; only
//! our own `[link](url)` to each original post is a link.

use std::fmt::Write;

use super::escape::{self, markdown};
use super::json::in_order;
use super::model::ChatArchive;
use super::page::{hm, plural, sorted_questions, title};
use super::stats::Stats;
use crate::store::AnswerRecord;

/// `- **Name** (20:14): text [link](url)`.
fn answer(a: &ChatArchive, x: &AnswerRecord) -> String {
    let name = x
        .display_name
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or(&x.acct);
    let mut when = hm(a, x.created_at);
    if x.edited_at.is_some() {
        when.push_str(", edited");
    }
    let text = x
        .text
        .as_deref()
        .map(markdown)
        .or_else(|| {
            x.html
                .as_deref()
                .map(|h| markdown(&crate::html::to_text(h)))
        })
        .unwrap_or_default();
    let mut line = format!("- **{}** ({when}): {text}", markdown(name));
    if let Some(u) = escape::web_url(x.url.as_deref()) {
        let _ = write!(line, " [link]({})", escape::markdown_url(&u));
    }
    line.push('\n');
    line
}

fn answers(a: &ChatArchive, list: &[&AnswerRecord]) -> String {
    let mut s = String::new();
    for x in list.iter().filter(|x| x.quotable) {
        s.push_str(&answer(a, x));
    }
    let hidden = list.iter().filter(|x| !x.quotable).count();
    if hidden > 0 {
        let _ = writeln!(
            s,
            "\n_{hidden} {} from people who asked not to be quoted._",
            plural(hidden, "answer", "answers")
        );
    }
    if list.is_empty() {
        s.push_str("_No answers._\n");
    }
    s
}

fn stats_md(st: &Stats) -> String {
    let mut s = String::from("## Stats\n\n");
    let _ = writeln!(s, "- Participants: {}", st.participants);
    let _ = writeln!(s, "- Answers: {}", st.answers);
    let _ = writeln!(s, "- First-timers: {}", st.first_timers);
    for (q, n) in &st.per_question {
        let _ = writeln!(s, "- Q{q}: {n} {}", plural(*n, "answer", "answers"));
    }
    if st.before_first_question > 0 {
        let _ = writeln!(
            s,
            "- Before the first question: {}",
            st.before_first_question
        );
    }
    if let Some(b) = &st.busiest_minute {
        let _ = writeln!(s, "- Busiest minute: {} ({} answers)", b.local, b.answers);
    }
    if st.not_quoted.participants > 0 {
        let _ = writeln!(
            s,
            "- Answers from people who asked not to be quoted: {} (from {})",
            st.not_quoted.answers, st.not_quoted.participants
        );
    }
    let list = |s: &mut String, head: &str, rows: &[(String, usize)]| {
        if !rows.is_empty() {
            let _ = writeln!(s, "\n### {head}\n");
            for (label, n) in rows {
                let _ = writeln!(s, "- {label}: {n}");
            }
        }
    };
    let top: Vec<(String, usize)> = st
        .top_contributors
        .iter()
        .map(|c| {
            (
                format!("{} (@{})", markdown(&c.name), markdown(&c.acct)),
                c.answers,
            )
        })
        .collect();
    list(&mut s, "Top contributors", &top);
    let links: Vec<(String, usize)> = st
        .links
        .iter()
        .map(|(u, n)| (format!("<{}>", escape::markdown_url(u)), *n))
        .collect();
    list(&mut s, "Links shared", &links);
    let tags: Vec<(String, usize)> = st
        .hashtags
        .iter()
        .map(|(t, n)| (markdown(&format!("#{t}")), *n))
        .collect();
    list(&mut s, "Other hashtags", &tags);
    let servers: Vec<(String, usize)> = st.servers.iter().map(|(d, n)| (markdown(d), *n)).collect();
    list(&mut s, "Reach by server (named participants)", &servers);
    s
}

/// The transcript of `a`.
pub fn render(a: &ChatArchive, st: &Stats) -> String {
    let visible = in_order(a);
    let mut s = format!("# {}\n\n", markdown(&title(a)));
    let _ = writeln!(
        s,
        "{}, {}–{} ({}), hosted by @{}.",
        a.date.format("%A %-d %B %Y"),
        hm(a, a.start),
        hm(a, a.end),
        markdown(a.zone.name()),
        markdown(&a.bot_acct)
    );
    if let Some(u) = escape::web_url(a.recap_url.as_deref()) {
        let _ = writeln!(s, "\n[The recap thread]({})", escape::markdown_url(&u));
    }
    let before: Vec<&AnswerRecord> = visible
        .iter()
        .copied()
        .filter(|x| x.question.is_none())
        .collect();
    if !before.is_empty() {
        s.push_str("\n## Before the first question\n\n");
        s.push_str(&answers(a, &before));
    }
    for q in sorted_questions(a) {
        let list: Vec<&AnswerRecord> = visible
            .iter()
            .copied()
            .filter(|x| x.question == Some(q.number))
            .collect();
        let _ = writeln!(s, "\n## Q{}: {}\n", q.number, markdown(&q.text));
        s.push_str(&answers(a, &list));
    }
    s.push('\n');
    s.push_str(&stats_md(st));
    let _ = writeln!(
        s,
        "\n_Answers as read at {} UTC._",
        a.as_of.format("%Y-%m-%d %H:%M")
    );
    s
}
