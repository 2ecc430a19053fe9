//! The stats section of `index.html`.

use std::fmt::Write;

use super::escape::{self, html};
use super::model::ChatArchive;
use super::page::plural;
use super::stats::Stats;

/// A two-column table of `(label, count)` rows; `None` when empty.
fn table(caption: &str, head: (&str, &str), rows: &[(String, usize)]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let mut s = format!(
        "<h3>{caption}</h3>\n<table>\n<thead><tr><th>{}</th><th class=\"n\">{}</th></tr></thead>\n<tbody>\n",
        head.0, head.1
    );
    for (label_html, n) in rows {
        let _ = writeln!(s, "<tr><td>{label_html}</td><td class=\"n\">{n}</td></tr>");
    }
    s.push_str("</tbody>\n</table>\n");
    s
}

/// The stats section.
pub fn render(a: &ChatArchive, st: &Stats) -> String {
    let mut s = String::from("<section id=\"stats\">\n<h2>Stats</h2>\n<table>\n<tbody>\n");
    let mut row = |label: &str, value: String| {
        let _ = writeln!(s, "<tr><th>{label}</th><td class=\"n\">{value}</td></tr>");
    };
    row("Participants", st.participants.to_string());
    row("Answers", st.answers.to_string());
    row("First-timers", st.first_timers.to_string());
    if st.before_first_question > 0 {
        row(
            "Answers before the first question",
            st.before_first_question.to_string(),
        );
    }
    if let Some(b) = &st.busiest_minute {
        row(
            "Busiest minute",
            format!(
                "{} ({} {})",
                html(&b.local),
                b.answers,
                plural(b.answers, "answer", "answers")
            ),
        );
    }
    if st.not_quoted.participants > 0 {
        row(
            "Answers from people who asked not to be quoted",
            format!(
                "{} (from {})",
                st.not_quoted.answers, st.not_quoted.participants
            ),
        );
    }
    s.push_str("</tbody>\n</table>\n");
    let per_q: Vec<(String, usize)> = st
        .per_question
        .iter()
        .map(|(q, n)| {
            let text = a
                .questions
                .iter()
                .find(|x| x.number == *q)
                .map_or("", |x| x.text.as_str());
            (format!("<a href=\"#q{q}\">Q{q}</a> {}", html(text)), *n)
        })
        .collect();
    s.push_str(&table(
        "Answers per question",
        ("Question", "Answers"),
        &per_q,
    ));
    let top: Vec<(String, usize)> = st
        .top_contributors
        .iter()
        .map(|c| {
            let name = match escape::web_url(c.url.as_deref()) {
                Some(u) => format!(
                    "<a href=\"{}\" rel=\"nofollow noopener noreferrer ugc\">{}</a>",
                    html(&u),
                    html(&c.name)
                ),
                None => html(&c.name),
            };
            (
                format!("{name} <span class=\"acct\">@{}</span>", html(&c.acct)),
                c.answers,
            )
        })
        .collect();
    s.push_str(&table("Top contributors", ("Who", "Answers"), &top));
    let links: Vec<(String, usize)> = st
        .links
        .iter()
        .map(|(u, n)| {
            (
                format!(
                    "<a href=\"{0}\" rel=\"nofollow noopener noreferrer ugc\">{0}</a>",
                    html(u)
                ),
                *n,
            )
        })
        .collect();
    s.push_str(&table("Links shared", ("Link", "Answers"), &links));
    let tags: Vec<(String, usize)> = st
        .hashtags
        .iter()
        .map(|(t, n)| (format!("#{}", html(t)), *n))
        .collect();
    s.push_str(&table("Other hashtags", ("Hashtag", "Answers"), &tags));
    let servers: Vec<(String, usize)> = st.servers.iter().map(|(d, n)| (html(d), *n)).collect();
    s.push_str(&table(
        "Reach by server",
        ("Server", "Named participants"),
        &servers,
    ));
    s.push_str("</section>\n");
    s
}
