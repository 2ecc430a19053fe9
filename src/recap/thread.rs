//! The recap thread of a chat date, composed (pure): a head post (the
//! numbers, thanks, the archive's link), one post per question with the
//! answers that drew most engagement quoted briefly and linked, and a
//! closing post (the links shared most, the next chat). Each post fits the
//! instance's limit as it counts it: a question post first shortens its
//! quotes, then any post still too long is split into numbered parts.
//! Nothing here mentions anyone or files the thread under another hashtag.

use std::collections::HashSet;

use crate::diagnostic::Diagnostic;
use crate::length::post_length;
use crate::prompts::{Pick, PostContext, SharedLink, TemplateKind, Templates};
use crate::store::{AnswerRecord, ChatId};

use super::summary::{Summary, summary};
use super::{quote, rank, split};

/// Most links the closing post lists.
pub const MAX_LINKS: usize = 5;

/// A quote's length when the post has room: brief, the link has the rest.
const QUOTE_MAX: usize = 200;

/// The shortest a quote gets before the post is split instead: shorter
/// says too little to be worth reading.
const QUOTE_MIN: usize = 60;

/// Longest display name shown (Mastodon allows 30; other servers more).
const NAME_MAX: usize = 60;

/// The next chat, as the closing post names it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NextChat {
    /// Its day, "Wednesday 9 December".
    pub day: String,
    /// Its local start with the zone, "20:00 GMT".
    pub time: String,
    /// Its topic, or empty when not known yet.
    pub topic: String,
}

/// What a recap thread is composed from.
#[derive(Debug, Clone)]
pub struct ThreadInput<'a> {
    /// The chat date (tells first-timers apart).
    pub chat_id: ChatId,
    /// The hashtag, without `#`.
    pub hashtag: &'a str,
    /// The chat's topic.
    pub topic: &'a str,
    /// The chat's day, "Wednesday 2 December".
    pub day: String,
    /// Number and text of each question posted (or planned).
    pub questions: &'a [(u32, String)],
    /// The chat date's answers as stored (tombstones and counted-only
    /// answers included: they are counted, never quoted).
    pub answers: &'a [AnswerRecord],
    /// Most answers quoted under a question.
    pub answers_per_question: usize,
    /// The links shared most, most first, with how often.
    pub links: &'a [(String, usize)],
    /// The archive's address, when published.
    pub archive_url: Option<&'a str>,
    /// The next chat, when its question file exists.
    pub next: Option<NextChat>,
}

/// One post of the thread, in posting order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadPost {
    /// Its text, within the limit.
    pub text: String,
    /// Part of the head post (posted public; the rest follow the chat's
    /// visibility).
    pub head: bool,
}

/// The recap thread: the head, one post per question in number order,
/// the closing post; a post too long is split into parts numbered
/// " (1/2)". Each fits `max_characters` with every link counted as
/// `url_length`. An error is a template's, located in it.
pub fn compose(
    input: &ThreadInput,
    templates: &Templates,
    max_characters: usize,
    url_length: usize,
) -> Result<Vec<ThreadPost>, Diagnostic> {
    let numbers = summary(input.chat_id, input.answers);
    let next = input.next.clone().unwrap_or_default();
    let base = PostContext {
        hashtag: input.hashtag.to_string(),
        topic: input.topic.to_string(),
        day: input.day.clone(),
        questions: input.questions.len(),
        participants: numbers.participants,
        answers: numbers.answers,
        first_timers: numbers.first_timers,
        archive_url: input.archive_url.unwrap_or_default().to_string(),
        next_day: next.day,
        next_time: next.time,
        next_topic: next.topic,
        ..PostContext::default()
    };
    let fit = Fit {
        max: max_characters,
        url_length,
    };
    let mut posts = Vec::new();
    let head = templates.render(TemplateKind::Recap, &base)?;
    fit.push(&mut posts, &head, true);

    let mut questions: Vec<&(u32, String)> = input.questions.iter().collect();
    questions.sort_by_key(|q| q.0);
    for (number, text) in questions {
        let post = question_post(input, &base, &numbers, (*number, text), templates, fit)?;
        fit.push(&mut posts, &post, false);
    }

    let end = PostContext {
        links: shared_links(input.links),
        ..base
    };
    let end = templates.render(TemplateKind::RecapEnd, &end)?;
    fit.push(&mut posts, &end, false);
    distinct(&posts, templates)?;
    Ok(posts)
}

/// The instance's limit.
#[derive(Debug, Clone, Copy)]
struct Fit {
    max: usize,
    url_length: usize,
}

impl Fit {
    fn fits(self, text: &str) -> bool {
        post_length(text, self.url_length) <= self.max
    }

    /// Appends `text` as one post, or as numbered parts when too long.
    fn push(self, posts: &mut Vec<ThreadPost>, text: &str, head: bool) {
        for text in self.parts(text) {
            posts.push(ThreadPost { text, head });
        }
    }

    /// `text` split to fit, each part of several ending " (i/n)", so that
    /// no two parts read the same and a reader sees there is more.
    fn parts(self, text: &str) -> Vec<String> {
        let whole = split::split(text, self.max, self.url_length);
        if whole.len() <= 1 {
            return whole;
        }
        let mut n = whole.len();
        loop {
            // Room for the widest suffix; more parts may need more digits.
            let reserve = format!(" ({n}/{n})").chars().count();
            let max = self.max.saturating_sub(reserve).max(1);
            let parts = split::split(text, max, self.url_length);
            if parts.len().to_string().len() <= n.to_string().len() {
                let total = parts.len();
                return parts
                    .into_iter()
                    .enumerate()
                    .map(|(i, p)| format!("{p} ({}/{total})", i + 1))
                    .collect();
            }
            n = parts.len();
        }
    }
}

/// A question's post: its text, its count, its picks quoted as long as the
/// post fits in one (down to [`QUOTE_MIN`]; beyond that it is split).
fn question_post(
    input: &ThreadInput,
    base: &PostContext,
    numbers: &Summary,
    (number, text): (u32, &String),
    templates: &Templates,
    fit: Fit,
) -> Result<String, Diagnostic> {
    let chosen: Vec<&AnswerRecord> = rank::top_answers(input.answers, number, usize::MAX)
        .into_iter()
        .filter(|a| a.url.as_deref().is_some_and(is_link))
        .filter(|a| !quote_of(a, QUOTE_MAX).is_empty())
        .take(input.answers_per_question)
        .collect();
    let render = |budget: usize| {
        let ctx = PostContext {
            number: number as usize,
            text: text.clone(),
            answers: numbers.per_question.get(&number).copied().unwrap_or(0),
            picks: chosen.iter().map(|a| pick(a, budget)).collect(),
            ..base.clone()
        };
        templates.render(TemplateKind::RecapQuestion, &ctx)
    };
    let full = render(QUOTE_MAX)?;
    if chosen.is_empty() || fit.fits(&full) {
        return Ok(full);
    }
    let mut best = render(QUOTE_MIN)?;
    if !fit.fits(&best) {
        return Ok(best);
    }
    // The longest quotes that still fit: QUOTE_MIN fits, QUOTE_MAX does not.
    let (mut fits, mut too_long) = (QUOTE_MIN, QUOTE_MAX);
    while too_long - fits > 1 {
        let mid = fits + (too_long - fits) / 2;
        let text = render(mid)?;
        if fit.fits(&text) {
            (fits, best) = (mid, text);
        } else {
            too_long = mid;
        }
    }
    Ok(best)
}

/// An answer as a post quotes it.
fn pick(a: &AnswerRecord, budget: usize) -> Pick {
    Pick {
        quote: quote_of(a, budget),
        url: a.url.clone().unwrap_or_default(),
        name: name_of(a),
    }
}

/// The answer's text quoted in at most `budget` characters.
fn quote_of(a: &AnswerRecord, budget: usize) -> String {
    a.text
        .as_deref()
        .map(|t| quote::brief(&plain(t), budget))
        .unwrap_or_default()
}

/// The author as a post names them: the display name, unable to mention
/// anyone or carry a hashtag; else the account's user name (no `@`).
fn name_of(a: &AnswerRecord) -> String {
    let defused = |s: &str| {
        quote::defuse(&plain(s))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut name = a.display_name.as_deref().map(defused).unwrap_or_default();
    if name.is_empty() {
        name = defused(a.acct.split('@').find(|p| !p.is_empty()).unwrap_or(""));
    }
    if name.is_empty() {
        return "someone".into();
    }
    if name.chars().count() > NAME_MAX {
        name = name.chars().take(NAME_MAX - 1).collect::<String>() + "…";
    }
    name
}

/// `s` without control characters (a server's text may carry any), its
/// line breaks and tabs as spaces.
fn plain(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .filter(|c| !c.is_control())
        .collect()
}

/// A web address the thread may show: http(s), one word, no control
/// character (a hostile server decides what it sends as a post's URL).
fn is_link(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 2048
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The closing post's links: valid ones, at most [`MAX_LINKS`].
fn shared_links(links: &[(String, usize)]) -> Vec<SharedLink> {
    links
        .iter()
        .filter(|(url, _)| is_link(url))
        .take(MAX_LINKS)
        .map(|(url, count)| SharedLink {
            url: url.clone(),
            count: *count,
        })
        .collect()
}

/// The engine recognises its posts by their text: two equal ones would be
/// taken for one. Only a host's template without `{{ number }}` does that.
fn distinct(posts: &[ThreadPost], templates: &Templates) -> Result<(), Diagnostic> {
    let mut seen = HashSet::new();
    match posts.iter().find(|p| !seen.insert(p.text.as_str())) {
        None => Ok(()),
        Some(p) => Err(Diagnostic::error(
            templates.origin(TemplateKind::RecapQuestion),
            format!(
                "two posts of the recap thread would read the same: \"{}\"",
                p.text.lines().next().unwrap_or_default()
            ),
        )
        .with_help(
            "the bot tells its posts apart by their text: keep {{ number }} and {{ text }} in recap_question.j2",
        )),
    }
}

#[cfg(test)]
#[path = "thread_tests.rs"]
mod tests;
