//! The numbers of a chat date a healthcare-chat analyst expects:
//! participants, answers per question, top contributors (consent
//! respected), first-timers, links and hashtags shared, the busiest minute,
//! and reach by server. Deleted answers count nowhere; counted-only
//! accounts count in the totals but are never named, and are left out of
//! every list that could single them out (contributors, links, hashtags,
//! servers: a one-person server's domain names its person).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Timelike, Utc};

use super::escape;
use super::model::ChatArchive;
use crate::store::AnswerRecord;

/// How many contributors are named at most.
pub const TOP_CONTRIBUTORS: usize = 10;

/// The numbers of one chat date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Accounts with a visible answer.
    pub participants: usize,
    /// Visible (not deleted) answers.
    pub answers: usize,
    /// Visible answers per question number.
    pub per_question: BTreeMap<u32, usize>,
    /// Visible answers posted before the first question.
    pub before_first_question: usize,
    /// Participants whose first chat this is.
    pub first_timers: usize,
    /// The quotable accounts with most answers, up to [`TOP_CONTRIBUTORS`].
    pub top_contributors: Vec<Contributor>,
    /// Accounts that asked not to be quoted, as one aggregate.
    pub not_quoted: NotQuoted,
    /// Links shared in visible quotable answers, most shared first.
    pub links: Vec<(String, usize)>,
    /// Hashtags used in visible quotable answers other than the chat's
    /// own (lower case), most first.
    pub hashtags: Vec<(String, usize)>,
    /// The minute with most answers, if there were any.
    pub busiest_minute: Option<BusiestMinute>,
    /// Named (quotable) participants per server (instance domain), most
    /// first; counted-only accounts are only in [`Stats::not_quoted`].
    pub servers: Vec<(String, usize)>,
}

/// A named contributor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contributor {
    /// `user@host`.
    pub acct: String,
    /// The display name, or the acct when it has none.
    pub name: String,
    /// Their profile page, when it is a web URL.
    pub url: Option<String>,
    /// Their visible answers.
    pub answers: usize,
}

/// Counted-only accounts, never named.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NotQuoted {
    /// How many.
    pub participants: usize,
    /// Their visible answers.
    pub answers: usize,
}

/// The busiest minute of the chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusiestMinute {
    /// Its start.
    pub start: DateTime<Utc>,
    /// Its start in the chat's local time, `HH:MM`.
    pub local: String,
    /// Answers posted in it.
    pub answers: usize,
}

/// The stats of `a`.
pub fn stats(a: &ChatArchive) -> Stats {
    let visible: Vec<&AnswerRecord> = a
        .answers
        .iter()
        .filter(|x| x.deleted_at.is_none())
        .collect();
    let summary = crate::recap::summary::summary(a.chat_id, &a.answers);
    let (top_contributors, not_quoted) = contributors(&visible);
    Stats {
        participants: summary.participants,
        answers: summary.answers,
        per_question: summary.per_question,
        before_first_question: visible.iter().filter(|x| x.question.is_none()).count(),
        first_timers: summary.first_timers,
        top_contributors,
        not_quoted,
        links: shared_links(&a.answers),
        hashtags: hashtags(&visible, &a.hashtag),
        busiest_minute: busiest_minute(&visible, a.zone),
        servers: servers(&visible, &a.instance_url),
    }
}

/// Pairs sorted by count (most first), then by key.
fn most_first(counts: BTreeMap<String, usize>) -> Vec<(String, usize)> {
    let mut list: Vec<(String, usize)> = counts.into_iter().collect();
    list.sort_by(|x, y| y.1.cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
    list
}

fn contributors(visible: &[&AnswerRecord]) -> (Vec<Contributor>, NotQuoted) {
    let mut named: BTreeMap<&str, Contributor> = BTreeMap::new();
    let mut hidden = BTreeSet::new();
    let mut not_quoted = NotQuoted::default();
    for x in visible {
        if !x.quotable {
            hidden.insert(x.acct.as_str());
            not_quoted.answers += 1;
            continue;
        }
        named
            .entry(x.acct.as_str())
            .or_insert_with(|| Contributor {
                acct: x.acct.clone(),
                name: x
                    .display_name
                    .clone()
                    .filter(|n| !n.trim().is_empty())
                    .unwrap_or_else(|| x.acct.clone()),
                url: escape::web_url(x.account_url.as_deref()),
                answers: 0,
            })
            .answers += 1;
    }
    not_quoted.participants = hidden.len();
    let mut top: Vec<Contributor> = named.into_values().collect();
    top.sort_by(|x, y| y.answers.cmp(&x.answers).then_with(|| x.acct.cmp(&y.acct)));
    top.truncate(TOP_CONTRIBUTORS);
    (top, not_quoted)
}

/// The links shared in visible answers of quotable accounts, counted per
/// URL, most shared first (ties by URL). Read from each answer's stored
/// HTML: mentions and hashtags (class `mention` or `hashtag`, rel `tag`)
/// are not shared links, and only web URLs count.
pub fn shared_links(answers: &[AnswerRecord]) -> Vec<(String, usize)> {
    let mut counts = BTreeMap::new();
    for x in answers
        .iter()
        .filter(|x| x.deleted_at.is_none() && x.quotable)
    {
        let mut seen = BTreeSet::new();
        for href in x.html.as_deref().map(links_in).unwrap_or_default() {
            // A post that repeats a link shares it once.
            if seen.insert(href.clone()) {
                *counts.entry(href).or_insert(0) += 1;
            }
        }
    }
    most_first(counts)
}

/// The `href`s of the `<a>` tags in `html` that are not mentions or
/// hashtags.
fn links_in(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let Some(end) = tag_end(rest) else { break };
        let tag = &rest[..end];
        rest = &rest[end..];
        let mut chars = tag.chars();
        let is_a = matches!(chars.next(), Some('a' | 'A'))
            && chars.next().is_some_and(char::is_whitespace);
        if !is_a {
            continue;
        }
        let attrs = attributes(&tag[1..]);
        let get = |name: &str| {
            attrs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        let words = |name: &str| {
            get(name)
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_ascii_lowercase)
                .collect::<Vec<_>>()
        };
        let class = words("class");
        let tag_link = class.iter().any(|c| c == "mention" || c == "hashtag")
            || words("rel").iter().any(|r| r == "tag");
        if tag_link {
            continue;
        }
        if let Some(href) = escape::web_url(get("href")) {
            out.push(href);
        }
    }
    out
}

/// Where the tag starting at `s` (after `<`) ends: the `>` outside quotes.
fn tag_end(s: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

/// A tag's attributes, names lower-cased, values with entities decoded.
fn attributes(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        let name_end = rest
            .find(|c: char| c.is_whitespace() || c == '=' || c == '/')
            .unwrap_or(rest.len());
        let name = rest[..name_end].to_ascii_lowercase();
        rest = rest[name_end..].trim_start();
        let mut value = String::new();
        if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let (v, next) = match after.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let body = &after[1..];
                    let close = body.find(q).unwrap_or(body.len());
                    (&body[..close], body.get(close + 1..).unwrap_or(""))
                }
                _ => {
                    let close = after.find(char::is_whitespace).unwrap_or(after.len());
                    (&after[..close], &after[close..])
                }
            };
            value = decode(v);
            rest = next;
        } else if name.is_empty() {
            rest = rest.get(1..).unwrap_or("");
        }
        if !name.is_empty() {
            out.push((name, value));
        }
        rest = rest.trim_start();
    }
    out
}

/// The entities a server writes in an attribute.
fn decode(v: &str) -> String {
    v.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Hashtags in the visible quotable answers' text, other than `own`.
fn hashtags(visible: &[&AnswerRecord], own: &str) -> Vec<(String, usize)> {
    let own = own.trim_start_matches('#').to_lowercase();
    let mut counts = BTreeMap::new();
    for x in visible.iter().filter(|x| x.quotable) {
        let Some(text) = x.text.as_deref() else {
            continue;
        };
        let mut seen = BTreeSet::new();
        for word in text.split_whitespace() {
            let Some(tag) = word.strip_prefix('#') else {
                continue;
            };
            let tag: String = tag
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let tag = tag.to_lowercase();
            if !tag.is_empty() && tag != own && seen.insert(tag.clone()) {
                *counts.entry(tag).or_insert(0) += 1;
            }
        }
    }
    most_first(counts)
}

/// The local minute with most answers; ties to the earlier.
fn busiest_minute(visible: &[&AnswerRecord], zone: chrono_tz::Tz) -> Option<BusiestMinute> {
    let mut per_minute: BTreeMap<i64, usize> = BTreeMap::new();
    for x in visible {
        *per_minute
            .entry(x.created_at.timestamp().div_euclid(60))
            .or_insert(0) += 1;
    }
    // max_by_key keeps the last maximum: walk backwards for the earliest.
    let (minute, count) = per_minute.iter().rev().max_by_key(|(_, n)| **n)?;
    let start = DateTime::from_timestamp(minute * 60, 0)?;
    let local = start.with_timezone(&zone);
    Some(BusiestMinute {
        start,
        local: format!("{:02}:{:02}", local.hour(), local.minute()),
        answers: *count,
    })
}

/// The domain of `acct`, or of the bot's instance for a local account.
pub(crate) fn domain(acct: &str, instance_url: &str) -> String {
    match acct.rsplit_once('@') {
        Some((_, host)) if !host.is_empty() => host.to_lowercase(),
        _ => host_of(instance_url),
    }
}

/// The host of a base URL (`https://host:port/…` → `host:port`).
pub(crate) fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    host.to_lowercase()
}

/// Named participants per domain: a counted-only account is left out, as
/// `quiet.example: 1` would name the only person on that server.
fn servers(visible: &[&AnswerRecord], instance_url: &str) -> Vec<(String, usize)> {
    let people: BTreeSet<&str> = visible
        .iter()
        .filter(|x| x.quotable)
        .map(|x| x.acct.as_str())
        .collect();
    let mut counts = BTreeMap::new();
    for acct in people {
        *counts.entry(domain(acct, instance_url)).or_insert(0) += 1;
    }
    most_first(counts)
}
