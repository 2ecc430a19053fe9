//! `chat.json`: the chat date as data, version 1 of the schema in
//! `chat.schema.json` (which describes every field). Deleted answers are
//! left out; counted-only answers stay, so totals add up, with every field
//! that could identify their author (`uri`, `url`, `account`, `text`,
//! `html`, `edited_at`) null and `created_at` cut to the minute, so the
//! answer cannot be matched to its post by the exact second.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::escape;
use super::model::ChatArchive;
use super::stats::Stats;
use crate::store::AnswerRecord;

/// The schema version `chat.json` follows.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole document. Field order is the output's key order.
#[derive(Debug, Serialize)]
struct ChatJson<'a> {
    schema_version: u32,
    chat: &'a str,
    hashtag: &'a str,
    topic: &'a str,
    date: String,
    zone: &'a str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    instance: &'a str,
    bot: &'a str,
    questions: Vec<QuestionJson<'a>>,
    answers: Vec<AnswerJson>,
    stats: StatsJson,
    recap_url: Option<String>,
    archive_url: Option<String>,
    as_of: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
struct QuestionJson<'a> {
    number: u32,
    text: &'a str,
    posted_at: Option<DateTime<Utc>>,
    url: Option<String>,
}

#[derive(Debug, Serialize)]
struct AnswerJson {
    uri: Option<String>,
    url: Option<String>,
    question: Option<u32>,
    account: Option<AccountJson>,
    created_at: DateTime<Utc>,
    edited_at: Option<DateTime<Utc>>,
    text: Option<String>,
    html: Option<String>,
    method: Option<String>,
    via_tag: bool,
    via_reply: bool,
    visibility: String,
    language: Option<String>,
    engagement: EngagementJson,
}

#[derive(Debug, Serialize)]
struct AccountJson {
    acct: String,
    display_name: Option<String>,
    url: Option<String>,
}

#[derive(Debug, Serialize)]
struct EngagementJson {
    favourites: u64,
    reblogs: u64,
    replies: u64,
}

/// The stats as objects (the pairs of [`Stats`] become named fields).
#[derive(Debug, Serialize)]
struct StatsJson {
    participants: usize,
    answers: usize,
    per_question: Vec<PerQuestion>,
    before_first_question: usize,
    first_timers: usize,
    top_contributors: Vec<ContributorJson>,
    not_quoted: NotQuotedJson,
    links: Vec<Counted>,
    hashtags: Vec<Counted>,
    busiest_minute: Option<BusiestJson>,
    servers: Vec<Counted>,
}

#[derive(Debug, Serialize)]
struct PerQuestion {
    question: u32,
    answers: usize,
}

#[derive(Debug, Serialize)]
struct ContributorJson {
    acct: String,
    name: String,
    url: Option<String>,
    answers: usize,
}

#[derive(Debug, Serialize)]
struct NotQuotedJson {
    participants: usize,
    answers: usize,
}

#[derive(Debug, Serialize)]
struct Counted {
    value: String,
    count: usize,
}

#[derive(Debug, Serialize)]
struct BusiestJson {
    start: DateTime<Utc>,
    local: String,
    answers: usize,
}

fn counted(list: &[(String, usize)]) -> Vec<Counted> {
    list.iter()
        .map(|(value, count)| Counted {
            value: value.clone(),
            count: *count,
        })
        .collect()
}

fn stats_json(s: &Stats) -> StatsJson {
    StatsJson {
        participants: s.participants,
        answers: s.answers,
        per_question: s
            .per_question
            .iter()
            .map(|(q, n)| PerQuestion {
                question: *q,
                answers: *n,
            })
            .collect(),
        before_first_question: s.before_first_question,
        first_timers: s.first_timers,
        top_contributors: s
            .top_contributors
            .iter()
            .map(|c| ContributorJson {
                acct: c.acct.clone(),
                name: c.name.clone(),
                url: c.url.clone(),
                answers: c.answers,
            })
            .collect(),
        not_quoted: NotQuotedJson {
            participants: s.not_quoted.participants,
            answers: s.not_quoted.answers,
        },
        links: counted(&s.links),
        hashtags: counted(&s.hashtags),
        busiest_minute: s.busiest_minute.as_ref().map(|b| BusiestJson {
            start: b.start,
            local: b.local.clone(),
            answers: b.answers,
        }),
        servers: counted(&s.servers),
    }
}

fn answer_json(x: &AnswerRecord) -> AnswerJson {
    let quoted = x.quotable;
    AnswerJson {
        uri: quoted.then(|| x.uri.clone()),
        url: if quoted {
            escape::web_url(x.url.as_deref())
        } else {
            None
        },
        question: x.question,
        account: quoted.then(|| AccountJson {
            acct: x.acct.clone(),
            display_name: x.display_name.clone(),
            url: escape::web_url(x.account_url.as_deref()),
        }),
        created_at: if quoted {
            x.created_at
        } else {
            to_the_minute(x.created_at)
        },
        edited_at: if quoted { x.edited_at } else { None },
        text: if quoted { x.text.clone() } else { None },
        html: if quoted {
            x.html.as_deref().map(escape::sanitise)
        } else {
            None
        },
        method: x.method.clone(),
        via_tag: x.via_tag,
        via_reply: x.via_reply,
        visibility: x.visibility.clone(),
        language: x.language.clone(),
        engagement: EngagementJson {
            favourites: x.engagement.favourites,
            reblogs: x.engagement.reblogs,
            replies: x.engagement.replies,
        },
    }
}

/// `t` with its seconds dropped.
fn to_the_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    // Always representable: it is earlier than `t` by under a minute.
    DateTime::from_timestamp(t.timestamp().div_euclid(60) * 60, 0).unwrap_or_default()
}

/// The visible answers in time order (ties by URI), as every output
/// lists them.
pub(crate) fn in_order(a: &ChatArchive) -> Vec<&AnswerRecord> {
    let mut list: Vec<&AnswerRecord> = a
        .answers
        .iter()
        .filter(|x| x.deleted_at.is_none())
        .collect();
    list.sort_by(|x, y| {
        x.created_at
            .cmp(&y.created_at)
            .then_with(|| x.uri.cmp(&y.uri))
    });
    list
}

/// `chat.json` for `a`, pretty-printed, with a final newline.
pub fn render(a: &ChatArchive, stats: &Stats) -> String {
    let doc = ChatJson {
        schema_version: SCHEMA_VERSION,
        chat: &a.chat,
        hashtag: &a.hashtag,
        topic: &a.topic,
        date: a.date.format("%Y-%m-%d").to_string(),
        zone: a.zone.name(),
        start: a.start,
        end: a.end,
        instance: &a.instance_url,
        bot: &a.bot_acct,
        questions: a
            .questions
            .iter()
            .map(|q| QuestionJson {
                number: q.number,
                text: &q.text,
                posted_at: q.posted_at,
                url: escape::web_url(q.url.as_deref()),
            })
            .collect(),
        answers: in_order(a).into_iter().map(answer_json).collect(),
        stats: stats_json(stats),
        recap_url: escape::web_url(a.recap_url.as_deref()),
        archive_url: escape::web_url(a.archive_url.as_deref()),
        as_of: a.as_of,
    };
    // Serialising plain structs of strings and numbers cannot fail.
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_default();
    out.push('\n');
    out
}
