//! `index.html` of one chat date: one self-contained page (inline CSS and
//! chart, no fonts, images or scripts, a CSP that forbids any request),
//! readable on a phone and in print. Every interpolated string is escaped;
//! post content goes through the sanitiser; counted-only answers are only
//! counted and deleted ones are absent.

use std::fmt::Write;

use chrono::{DateTime, Timelike, Utc};

use super::escape::{self, html};
use super::json::in_order;
use super::model::{ArchiveQuestion, ChatArchive};
use super::stats::Stats;
use crate::store::AnswerRecord;

/// The page's policy: nothing may be fetched; only inline styles, and
/// images only as data (the chart is inline SVG, not an image).
pub(crate) const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/// The shared head of every archive page, up to and including `<body>`.
pub(crate) fn head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"referrer\" content=\"no-referrer\">\n<meta name=\"generator\" content=\"chathost\">\n<title>{}</title>\n<style>\n{}</style>\n</head>\n<body>\n",
        html(title),
        include_str!("style.css")
    )
}

/// `HH:MM` of `t` in the chat's zone.
pub(crate) fn hm(a: &ChatArchive, t: DateTime<Utc>) -> String {
    let t = t.with_timezone(&a.zone);
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// The page's title: `#tag: topic (date)`.
pub(crate) fn title(a: &ChatArchive) -> String {
    let date = a.date.format("%Y-%m-%d");
    if a.topic.trim().is_empty() {
        format!("#{} ({date})", a.hashtag)
    } else {
        format!("#{}: {} ({date})", a.hashtag, a.topic.trim())
    }
}

/// A link when `url` is a web URL, else the label alone; both escaped.
fn link(url: Option<&str>, label_html: &str, class: &str) -> String {
    match escape::web_url(url) {
        Some(u) => format!(
            "<a class=\"{class}\" href=\"{}\" rel=\"nofollow noopener noreferrer ugc\">{label_html}</a>",
            html(&u)
        ),
        None => format!("<span class=\"{class}\">{label_html}</span>"),
    }
}

/// One visible, quotable answer.
fn answer(a: &ChatArchive, x: &AnswerRecord) -> String {
    let name = x
        .display_name
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or(&x.acct);
    let time = format!(
        "<time datetime=\"{}\">{}</time>",
        x.created_at.format("%Y-%m-%dT%H:%M:%SZ"),
        hm(a, x.created_at)
    );
    let mut meta = format!(
        "{} <span class=\"acct\">@{}</span> · {}",
        link(x.account_url.as_deref(), &html(name), "who"),
        html(&x.acct),
        link(x.url.as_deref(), &time, "post")
    );
    if let Some(e) = x.edited_at {
        let _ = write!(
            meta,
            " · <span class=\"edited\" title=\"edited at {}\">edited</span>",
            hm(a, e)
        );
    }
    let content = escape::post_html(x.html.as_deref(), x.text.as_deref()).unwrap_or_default();
    format!(
        "<li class=\"answer\"><p class=\"meta\">{meta}</p><div class=\"content\">{content}</div></li>\n"
    )
}

/// A section of answers: those shown, and a count of the counted-only.
fn answers(a: &ChatArchive, list: &[&AnswerRecord]) -> String {
    let shown: Vec<&&AnswerRecord> = list.iter().filter(|x| x.quotable).collect();
    let hidden = list.len() - shown.len();
    let mut s = String::new();
    if !shown.is_empty() {
        s.push_str("<ol class=\"answers\">\n");
        for x in shown {
            s.push_str(&answer(a, x));
        }
        s.push_str("</ol>\n");
    }
    if hidden > 0 {
        let _ = writeln!(
            s,
            "<p class=\"muted\">{} {hidden} {} from people who asked not to be quoted.</p>",
            if list.len() > hidden {
                "And"
            } else {
                "There were"
            },
            plural(hidden, "answer", "answers")
        );
    } else if list.is_empty() {
        s.push_str("<p class=\"muted\">No answers.</p>\n");
    }
    s
}

/// `one` or `many` by `n`.
pub(crate) fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

fn question(a: &ChatArchive, q: &ArchiveQuestion, list: &[&AnswerRecord]) -> String {
    let mut meta = format!("{} {}", list.len(), plural(list.len(), "answer", "answers"));
    if let Some(at) = q.posted_at {
        let time = format!("asked at {}", hm(a, at));
        let _ = write!(meta, " · {}", link(q.url.as_deref(), &time, "question"));
    }
    format!(
        "<section id=\"q{n}\">\n<h2>Q{n}: {}</h2>\n<p class=\"meta\">{meta}</p>\n{}</section>\n",
        html(&q.text),
        answers(a, list),
        n = q.number
    )
}

fn header(a: &ChatArchive, stats: &Stats) -> String {
    let mut s = format!("<header>\n<h1>{}</h1>\n", html(&title(a)));
    let _ = writeln!(
        s,
        "<p class=\"muted\">{}, {}–{} ({}) · hosted by @{} · {} {} from {} {}</p>",
        a.date.format("%A %-d %B %Y"),
        hm(a, a.start),
        hm(a, a.end),
        html(a.zone.name()),
        html(&a.bot_acct),
        stats.answers,
        plural(stats.answers, "answer", "answers"),
        stats.participants,
        plural(stats.participants, "participant", "participants"),
    );
    s.push_str("<nav><p>");
    if let Some(u) = escape::web_url(a.recap_url.as_deref()) {
        let _ = write!(
            s,
            "<a href=\"{}\" rel=\"nofollow noopener noreferrer\">The recap thread</a> · ",
            html(&u)
        );
    }
    s.push_str("<a href=\"#activity\">Activity</a> · <a href=\"#stats\">Stats</a> · <a href=\"transcript.md\">Transcript</a> · <a href=\"chat.json\">Data</a></p></nav>\n</header>\n");
    s
}

/// The whole page.
pub fn render(a: &ChatArchive, stats: &Stats, svg: &str) -> String {
    let visible = in_order(a);
    let mut s = head(&title(a));
    s.push_str(&header(a, stats));
    s.push_str("<main>\n");
    let before: Vec<&AnswerRecord> = visible
        .iter()
        .copied()
        .filter(|x| x.question.is_none())
        .collect();
    if !before.is_empty() {
        s.push_str("<section id=\"before\">\n<h2>Before the first question</h2>\n");
        s.push_str(&answers(a, &before));
        s.push_str("</section>\n");
    }
    for q in sorted_questions(a) {
        let list: Vec<&AnswerRecord> = visible
            .iter()
            .copied()
            .filter(|x| x.question == Some(q.number))
            .collect();
        s.push_str(&question(a, &q, &list));
    }
    let _ = write!(
        s,
        "<section id=\"activity\">\n<h2>Activity</h2>\n{svg}</section>\n"
    );
    s.push_str(&super::page_stats::render(a, stats));
    s.push_str("</main>\n<footer>\n");
    let _ = writeln!(
        s,
        "<p class=\"muted\">Answers as read at {} UTC. Deleted posts are not archived; people who asked not to be quoted are only counted.</p>",
        a.as_of.format("%Y-%m-%d %H:%M")
    );
    s.push_str("</footer>\n</body>\n</html>\n");
    s
}

/// The questions in number order, with a bare entry for any number an
/// answer names that the list lacks, so no answer goes missing.
pub(crate) fn sorted_questions(a: &ChatArchive) -> Vec<ArchiveQuestion> {
    let mut list = a.questions.clone();
    for x in a.answers.iter().filter(|x| x.deleted_at.is_none()) {
        if let Some(n) = x.question
            && !list.iter().any(|q| q.number == n)
        {
            list.push(ArchiveQuestion {
                number: n,
                text: String::new(),
                posted_at: None,
                url: None,
            });
        }
    }
    list.sort_by_key(|q| q.number);
    list
}
