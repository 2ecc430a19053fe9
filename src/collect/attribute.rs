//! Which question an answer answers, and how we know: a reply (directly or
//! through a chain) to a question's post; else an `A3` / `A3:` / `a3)` /
//! `A3.` prefix naming a question that was asked; else the time: the last
//! question posted before it. Pure: the collector asks, this answers.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

/// A question as posted.
#[derive(Debug, Clone)]
pub struct AskedQuestion {
    /// Its number (Q3 → 3).
    pub number: u32,
    /// The status id of its post.
    pub status_id: String,
    /// When it went out.
    pub posted_at: DateTime<Utc>,
}

/// How an answer was tied to its question, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// A reply to the question's post, or to a reply of it.
    Reply,
    /// An `A3:` prefix.
    Prefix,
    /// Posted while the question was the latest.
    Time,
}

impl Method {
    /// The word stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Reply => "reply",
            Method::Prefix => "prefix",
            Method::Time => "time",
        }
    }
}

/// What attribution needs of a post.
#[derive(Debug, Clone, Copy)]
pub struct Post<'a> {
    /// Its plain text.
    pub text: &'a str,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// The status it replies to, if any.
    pub in_reply_to_id: Option<&'a str>,
}

/// How far up a reply chain is followed (a thread of replies to replies).
const MAX_CHAIN: usize = 50;

/// The question `post` answers and how we know, or `None` when it came
/// before the first question. `parent_of` gives the status a known status
/// replies to (the collected posts), to follow a chain of replies.
pub fn attribute(
    post: Post<'_>,
    questions: &[AskedQuestion],
    parent_of: &HashMap<String, String>,
) -> Option<(u32, Method)> {
    let by_id: HashMap<&str, u32> = questions
        .iter()
        .map(|q| (q.status_id.as_str(), q.number))
        .collect();
    let mut parent = post.in_reply_to_id;
    for _ in 0..MAX_CHAIN {
        let Some(id) = parent else { break };
        if let Some(&number) = by_id.get(id) {
            return Some((number, Method::Reply));
        }
        parent = parent_of.get(id).map(String::as_str);
    }
    if let Some(number) = answer_prefix(post.text)
        && questions.iter().any(|q| q.number == number)
    {
        return Some((number, Method::Prefix));
    }
    questions
        .iter()
        .filter(|q| q.posted_at <= post.created_at)
        .max_by_key(|q| q.posted_at)
        .map(|q| (q.number, Method::Time))
}

/// The question number of an `A3` / `A3:` / `a3)` / `A3.` / `A3 -` prefix,
/// after any leading mentions (`@host A3: …`). Not `A3paper` or `A35`
/// for a chat of five questions (the caller checks the number exists).
pub fn answer_prefix(text: &str) -> Option<u32> {
    let mut words = text.split_whitespace().peekable();
    while words.peek().is_some_and(|w| w.starts_with('@')) {
        words.next();
    }
    let first = words.next()?;
    let rest = first.strip_prefix(['A', 'a'])?;
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    if digits_end == 0 || digits_end > 3 {
        return None;
    }
    let after = &rest[digits_end..];
    // `A3:`, `A3:rest`, `a3)`, `A3.`, `A3,`, `A3 -`; not `A3paper`.
    if !(after.is_empty() || after.starts_with([':', ')', '.', ',']) || after == "-") {
        return None;
    }
    rest[..digits_end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hm: &str) -> DateTime<Utc> {
        format!("2026-12-02T{hm}:00Z").parse().unwrap()
    }

    fn questions() -> Vec<AskedQuestion> {
        [(1, "q1", "20:05"), (2, "q2", "20:15"), (3, "q3", "20:25")]
            .into_iter()
            .map(|(n, id, t)| AskedQuestion {
                number: n,
                status_id: id.into(),
                posted_at: at(t),
            })
            .collect()
    }

    fn post<'a>(text: &'a str, t: &str, reply: Option<&'a str>) -> Post<'a> {
        Post {
            text,
            created_at: at(t),
            in_reply_to_id: reply,
        }
    }

    #[test]
    fn prefixes_as_people_write_them() {
        for (text, want) in [
            ("A3: rest", Some(3)),
            ("a3) rest", Some(3)),
            ("A3. rest", Some(3)),
            ("A3 rest", Some(3)),
            ("A3:rest", Some(3)),
            ("A3, and", Some(3)),
            ("A12: x", Some(12)),
            ("@chatbot @sam A2: yes", Some(2)),
            ("A3paper is big", None),
            ("Another answer", None),
            ("A: nothing", None),
            ("rest A3: late prefix", None),
            ("", None),
        ] {
            assert_eq!(answer_prefix(text), want, "{text:?}");
        }
    }

    #[test]
    fn a_reply_wins_over_a_prefix_and_the_time() {
        let qs = questions();
        let chain: HashMap<String, String> = [("r1".to_string(), "q1".to_string())].into();
        // "A3:" posted after Q3, but replying to a reply to Q1: it is about Q1.
        let got = attribute(post("A3: hmm", "20:27", Some("r1")), &qs, &chain);
        assert_eq!(got, Some((1, Method::Reply)));
    }

    #[test]
    fn a_prefix_wins_over_the_time_if_the_question_was_asked() {
        let qs = questions();
        let none = HashMap::new();
        assert_eq!(
            attribute(post("A1: late answer", "20:27", None), &qs, &none),
            Some((1, Method::Prefix))
        );
        // A4 was not asked (yet): the time decides.
        assert_eq!(
            attribute(post("A4: early", "20:27", None), &qs, &none),
            Some((3, Method::Time))
        );
    }

    #[test]
    fn the_time_decides_last_and_nothing_before_the_first_question() {
        let qs = questions();
        let none = HashMap::new();
        assert_eq!(
            attribute(post("Yes!", "20:16", None), &qs, &none),
            Some((2, Method::Time))
        );
        assert_eq!(
            attribute(post("Hello all", "20:01", None), &qs, &none),
            None
        );
    }

    #[test]
    fn a_reply_loop_ends() {
        let qs = questions();
        let looped: HashMap<String, String> = [
            ("a".to_string(), "b".to_string()),
            ("b".to_string(), "a".to_string()),
        ]
        .into();
        assert_eq!(
            attribute(post("x", "20:16", Some("a")), &qs, &looped),
            Some((2, Method::Time))
        );
    }
}
