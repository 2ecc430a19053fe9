//! Beyond one chat: `<archive root>/<chat>/index.html`, every archived
//! chat date of the hashtag, newest first, and `feed.xml`, an Atom 1.0
//! feed (RFC 4287) with an entry per chat date, so a community site or a
//! feed reader can follow the chat without any platform. Both are built
//! from the `YYYY-MM-DD/chat.json` files alone; one unreadable file is
//! skipped and reported, never the whole index. The feed's and entries'
//! ids never change as dates are archived or removed (a changed id makes
//! feed readers show every entry again).

use std::fmt::Write;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use super::escape::{self, html, xml};
use super::page::{head, plural};
use super::stats::host_of;

/// The most a `chat.json` may hold to be listed (a chat of thousands of
/// answers is a few MiB).
const CHAT_JSON_LIMIT: u64 = 64 * 1024 * 1024;

/// What the index wrote and what it left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexWritten {
    /// `index.html` and `feed.xml`.
    pub files: Vec<PathBuf>,
    /// The chat dates listed, newest first.
    pub chats: Vec<NaiveDate>,
    /// Date folders left out, with why.
    pub skipped: Vec<Skipped>,
}

/// A date folder the index could not list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Its `chat.json`.
    pub path: PathBuf,
    /// Why it was left out.
    pub reason: String,
}

/// What the index reads of a `chat.json` (schema version 1); the rest is
/// ignored.
#[derive(Debug, Deserialize)]
struct Entry {
    schema_version: u32,
    chat: String,
    hashtag: String,
    topic: String,
    date: NaiveDate,
    instance: String,
    #[serde(default)]
    bot: String,
    questions: Vec<serde::de::IgnoredAny>,
    stats: EntryStats,
    as_of: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
struct EntryStats {
    answers: usize,
    participants: usize,
}

/// Writes `chat_dir/index.html` and `chat_dir/feed.xml` from the chat
/// dates archived under `chat_dir` (`<archive root>/<chat>/`).
/// `archive_url` is the public URL of `chat_dir`, when published: feed
/// links are then absolute, else relative.
pub fn write_chat_index(chat_dir: &Path, archive_url: Option<&str>) -> io::Result<IndexWritten> {
    let (entries, skipped) = read_entries(chat_dir)?;
    let base =
        escape::web_url(archive_url).map(|u| if u.ends_with('/') { u } else { format!("{u}/") });
    super::remove_stale_temps(chat_dir, &["index.html", "feed.xml"]);
    let files = vec![
        super::write_atomic(chat_dir, "index.html", render_html(&entries).as_bytes())?,
        super::write_atomic(
            chat_dir,
            "feed.xml",
            render_feed(&entries, base.as_deref()).as_bytes(),
        )?,
    ];
    super::sync_dir(chat_dir);
    Ok(IndexWritten {
        files,
        chats: entries.iter().map(|e| e.date).collect(),
        skipped,
    })
}

/// The readable chat dates, newest first, and the unreadable ones.
fn read_entries(chat_dir: &Path) -> io::Result<(Vec<Entry>, Vec<Skipped>)> {
    let mut entries = Vec::new();
    let mut skipped = Vec::new();
    for item in std::fs::read_dir(chat_dir)? {
        let item = item?;
        let name = item.file_name();
        let Some(name) = name.to_str() else { continue };
        let Ok(date) = NaiveDate::parse_from_str(name, "%Y-%m-%d") else {
            continue;
        };
        if name.len() != 10 || !item.path().is_dir() {
            continue;
        }
        let path = item.path().join("chat.json");
        match read_entry(&path, date) {
            Ok(e) => entries.push(e),
            Err(reason) => skipped.push(Skipped { path, reason }),
        }
    }
    entries.sort_by_key(|e| std::cmp::Reverse(e.date));
    skipped.sort_by(|x, y| x.path.cmp(&y.path));
    Ok((entries, skipped))
}

fn read_entry(path: &Path, date: NaiveDate) -> Result<Entry, String> {
    let text = crate::files::read_text(path, CHAT_JSON_LIMIT).map_err(|e| e.to_string())?;
    let e: Entry = serde_json::from_str(&text).map_err(|e| format!("not a chat.json: {e}"))?;
    if e.schema_version != super::SCHEMA_VERSION {
        return Err(format!(
            "schema version {} (this chathost reads {})",
            e.schema_version,
            super::SCHEMA_VERSION
        ));
    }
    if e.date != date {
        return Err(format!("it says {} but its folder is {date}", e.date));
    }
    Ok(e)
}

fn entry_title(e: &Entry) -> String {
    let date = e.date.format("%Y-%m-%d");
    if e.topic.trim().is_empty() {
        format!("#{} ({date})", e.hashtag)
    } else {
        format!("#{}: {} ({date})", e.hashtag, e.topic.trim())
    }
}

/// The plain-text recap line of an entry.
fn summary(e: &Entry) -> String {
    let q = e.questions.len();
    format!(
        "{} {} from {} {} to {} {}.",
        e.stats.answers,
        plural(e.stats.answers, "answer", "answers"),
        e.stats.participants,
        plural(e.stats.participants, "participant", "participants"),
        q,
        plural(q, "question", "questions")
    )
}

fn render_html(entries: &[Entry]) -> String {
    let title = match entries.first() {
        Some(e) => format!("#{}: the chat archive", e.hashtag),
        None => "The chat archive".to_string(),
    };
    let mut s = head(&title);
    let _ = writeln!(
        s,
        "<header>\n<h1>{}</h1>\n<nav><p><a href=\"feed.xml\">Atom feed</a></p></nav>\n</header>\n<main>",
        html(&title)
    );
    if entries.is_empty() {
        s.push_str("<p class=\"muted\">No chats archived yet.</p>\n");
    } else {
        s.push_str("<table>\n<thead><tr><th>Date</th><th>Topic</th><th class=\"n\">Answers</th><th class=\"n\">Participants</th></tr></thead>\n<tbody>\n");
        for e in entries {
            let date = e.date.format("%Y-%m-%d");
            let _ = writeln!(
                s,
                "<tr><td><a href=\"{date}/index.html\">{date}</a></td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                html(e.topic.trim()),
                e.stats.answers,
                e.stats.participants
            );
        }
        s.push_str("</tbody>\n</table>\n");
    }
    s.push_str("</main>\n</body>\n</html>\n");
    s
}

/// The year every `tag:` URI of the archive names: fixed, so no id
/// depends on which dates happen to be archived.
const TAG_YEAR: &str = "2000";

/// The host of an instance base URL as a `tag:` URI authority: a name
/// without port or userinfo, `localhost` when there is none.
fn tag_host(instance: &str) -> String {
    let host: String = host_of(instance)
        .split(':')
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        .collect();
    if host.is_empty() {
        "localhost".to_string()
    } else {
        host
    }
}

/// A `tag:` URI (RFC 4151) naming `chathost/{specific}` under `host` at
/// the fixed [`TAG_YEAR`].
fn tag_uri(host: &str, specific: &str) -> String {
    let specific: String = specific
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("tag:{host},{TAG_YEAR}:chathost/{specific}")
}

/// The most common of `values`, ties to the alphabetically first.
fn most_common<'a>(values: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for v in values {
        *counts.entry(v).or_insert(0) += 1;
    }
    // Walking backwards, max_by_key's last maximum is the first name.
    counts
        .into_iter()
        .rev()
        .max_by_key(|(_, n)| *n)
        .map(|(v, _)| v)
}

/// The feed's id, stable as dates are archived or removed: its own
/// address when published, else a `tag:` URI of the chat under its
/// entries' most common instance host.
fn feed_id(entries: &[Entry], base: Option<&str>) -> String {
    if let Some(b) = base {
        return format!("{b}feed.xml");
    }
    let hosts: Vec<String> = entries.iter().map(|e| tag_host(&e.instance)).collect();
    let host = most_common(hosts.iter().map(String::as_str)).unwrap_or("localhost");
    match most_common(entries.iter().map(|e| e.chat.as_str())) {
        Some(chat) => tag_uri(host, chat),
        None => format!("tag:{host},{TAG_YEAR}:chathost"),
    }
}

/// An entry's id: its chat date under its own instance host, so it never
/// depends on the other entries.
fn entry_id(e: &Entry) -> String {
    let date = e.date.format("%Y-%m-%d");
    tag_uri(&tag_host(&e.instance), &format!("{}/{date}", e.chat))
}

/// The Atom feed. Its id is [`feed_id`]; with no chat at all, `updated`
/// is the epoch (the output depends on the files alone, never on the
/// clock).
fn render_feed(entries: &[Entry], base: Option<&str>) -> String {
    let updated = entries.iter().map(|e| e.as_of).max().unwrap_or_default();
    let id = feed_id(entries, base);
    let (title, author) = match entries.first() {
        Some(newest) => (
            format!("#{}: the chat archive", newest.hashtag),
            if newest.bot.is_empty() {
                newest.chat.clone()
            } else {
                newest.bot.clone()
            },
        ),
        None => ("The chat archive".to_string(), "chathost".to_string()),
    };
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n",
    );
    let _ = writeln!(
        s,
        "<id>{}</id>\n<title>{}</title>\n<updated>{}</updated>",
        xml(&id),
        xml(&title),
        atom_time(updated)
    );
    let _ = writeln!(
        s,
        "<author><name>{}</name></author>\n<generator>chathost</generator>",
        xml(&author)
    );
    if let Some(b) = base {
        let _ = writeln!(
            s,
            "<link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>",
            xml(b)
        );
        let _ = writeln!(
            s,
            "<link rel=\"self\" type=\"application/atom+xml\" href=\"{}feed.xml\"/>",
            xml(b)
        );
    }
    for e in entries {
        let date = e.date.format("%Y-%m-%d");
        let href = match base {
            Some(b) => format!("{b}{date}/"),
            None => format!("{date}/index.html"),
        };
        let _ = writeln!(
            s,
            "<entry>\n<id>{}</id>\n<title>{}</title>\n<updated>{}</updated>\n<link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n<summary type=\"text\">{}</summary>\n</entry>",
            xml(&entry_id(e)),
            xml(&entry_title(e)),
            atom_time(e.as_of),
            xml(&href),
            xml(&summary(e))
        );
    }
    s.push_str("</feed>\n");
    s
}

/// An RFC 3339 instant as Atom wants it.
fn atom_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
