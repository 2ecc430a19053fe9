//! Which posts are answers, and what of them may be stored. Pure: the
//! collector hands over a status as read and what it knows; this says
//! whether the status counts, why (the hashtag, a question's replies, or
//! both), and builds the row with consent applied.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::attribute::answer_prefix;
use super::consent::{Consent, Profile, consent};
use super::text;
use crate::instance::SeenStatus;

/// The chat's time window: answers made within it count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// A few minutes before the welcome.
    pub from: DateTime<Utc>,
    /// A grace after the wrap-up.
    pub until: DateTime<Utc>,
}

impl Window {
    /// Whether `t` is within.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.from <= t && t <= self.until
    }
}

/// What judging needs to know.
#[derive(Debug)]
pub struct Known<'a> {
    /// The hashtag, lower-case (`to_lowercase`), without `#`.
    pub hashtag: &'a str,
    /// The bot's `user@host`, lower-case.
    pub bot_acct: &'a str,
    /// The window.
    pub window: Window,
    /// Ids (on the bot's instance) of the question posts.
    pub questions: &'a HashSet<String>,
    /// Ids (on the bot's instance) of answers collected, with their parent.
    pub answers: &'a HashMap<String, Option<String>>,
}

/// Why a post counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Why {
    /// It carries the hashtag.
    pub tag: bool,
    /// It is in a question's replies (directly or through a chain).
    pub reply: bool,
}

/// A post's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// An answer, and why.
    Answer(Why),
    /// Not an answer; the reason, for counts and debug logs.
    Ignored(&'static str),
}

/// Whether `s` is an answer. `in_replies`: it was read from a question's
/// context. `local`: it was read from the bot's own instance (only there
/// do `in_reply_to_id` and the question ids share a namespace).
pub fn judge(
    s: &SeenStatus,
    source_host: &str,
    in_replies: bool,
    local: bool,
    k: &Known<'_>,
) -> Verdict {
    if s.reblog {
        return Verdict::Ignored("a boost");
    }
    if full_acct(&s.account.acct, source_host) == k.bot_acct {
        return Verdict::Ignored("the bot's own post");
    }
    if s.account.bot {
        return Verdict::Ignored("an automated account");
    }
    if !matches!(s.visibility.as_str(), "public" | "unlisted") {
        // Followers-only and direct posts were not said in public: never
        // archived.
        return Verdict::Ignored("not public");
    }
    if !k.window.contains(s.created_at) {
        return Verdict::Ignored("outside the chat's window");
    }
    // Any case, in any script (#Pflegekräfte, #PFLEGEKRÄFTE).
    let tag = s.tags.iter().any(|t| t.to_lowercase() == k.hashtag);
    let reply = in_replies
        || (local
            && s.in_reply_to_id
                .as_ref()
                .is_some_and(|p| k.questions.contains(p) || k.answers.contains_key(p)));
    if tag || reply {
        Verdict::Answer(Why { tag, reply })
    } else {
        Verdict::Ignored("neither tagged nor a reply in a question's thread")
    }
}

/// `user@host` in lower case: local accounts come without the host.
pub fn full_acct(acct: &str, source_host: &str) -> String {
    let acct = acct.trim_start_matches('@');
    match acct.split_once('@') {
        Some((user, host)) => format!("{user}@{}", host.to_ascii_lowercase()),
        None => format!("{acct}@{}", source_host.to_ascii_lowercase()),
    }
    .to_lowercase()
}

/// An answer ready for the store, owned; consent already applied to what
/// the collector will show in logs (the store applies it again).
#[derive(Debug, Clone)]
pub struct Row {
    /// Global id.
    pub uri: String,
    /// `user@host`.
    pub acct: String,
    /// Display name.
    pub display_name: String,
    /// Profile page.
    pub account_url: Option<String>,
    /// Whether the account may be quoted.
    pub quotable: bool,
    /// Why not.
    pub why_not: Option<&'static str>,
    /// Base URL of the instance it was read from.
    pub source: String,
    /// Id on the bot's instance.
    pub remote_id: Option<String>,
    /// Parent on the bot's instance.
    pub in_reply_to_id: Option<String>,
    /// Why it counted.
    pub why: Why,
    /// Visibility.
    pub visibility: String,
    /// Language.
    pub language: Option<String>,
    /// Made at.
    pub created_at: DateTime<Utc>,
    /// Last edit.
    pub edited_at: Option<DateTime<Utc>>,
    /// Plain text (a content warning first, marked).
    pub text: String,
    /// The server's HTML.
    pub html: String,
    /// Web page.
    pub url: Option<String>,
    /// Favourites, boosts, replies.
    pub engagement: (u64, u64, u64),
    /// The `A3:` prefix of the body, read before consent drops the text,
    /// so that a participant who may not be quoted is still counted under
    /// the right question.
    pub prefix: Option<u32>,
}

/// How a stored text marks a content warning: `CW: …`, a blank line, then
/// the post's body.
const CW: &str = "CW: ";

/// The body of a stored text, after any content warning.
pub fn body(stored: &str) -> &str {
    match stored.strip_prefix(CW) {
        Some(rest) => rest.split_once("\n\n").map_or(stored, |(_, body)| body),
        None => stored,
    }
}

/// The row for an answer, or `None` for an automated account.
pub fn row(s: &SeenStatus, why: Why, source: &str, source_host: &str, local: bool) -> Option<Row> {
    let a = &s.account;
    let consent = consent(Profile {
        note: &a.note,
        fields: &a.fields,
        bot: a.bot,
        noindex: a.noindex,
    });
    let (quotable, why_not) = match consent {
        Consent::NotParticipant => return None,
        Consent::Quote => (true, None),
        Consent::CountOnly(reason) => (false, Some(reason)),
    };
    let body = text::clean(&s.content);
    let prefix = answer_prefix(&body);
    let text = if s.spoiler_text.trim().is_empty() {
        body
    } else {
        format!("{CW}{}\n\n{body}", text::clean(&s.spoiler_text))
    };
    Some(Row {
        uri: s.uri.clone(),
        acct: full_acct(&a.acct, source_host),
        display_name: text::clean(&a.display_name),
        account_url: a.url.clone(),
        quotable,
        why_not,
        source: source.to_string(),
        remote_id: local.then(|| s.id.clone()),
        in_reply_to_id: if local {
            s.in_reply_to_id.clone()
        } else {
            None
        },
        why,
        visibility: s.visibility.clone(),
        language: s.language.clone(),
        created_at: s.created_at,
        edited_at: s.edited_at,
        text,
        html: s.content.clone(),
        url: s.url.clone(),
        engagement: (s.favourites, s.reblogs, s.replies),
        prefix,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instance::SeenAccount;

    fn at(hm: &str) -> DateTime<Utc> {
        format!("2026-12-02T{hm}:00Z").parse().unwrap()
    }

    fn status(acct: &str, tags: &[&str], reply: Option<&str>, t: &str) -> SeenStatus {
        SeenStatus {
            id: format!("id-{acct}-{t}"),
            uri: format!("https://x.example/{acct}/{t}"),
            url: None,
            created_at: at(t),
            edited_at: None,
            content: "<p>A1: yes</p>".into(),
            spoiler_text: String::new(),
            visibility: "public".into(),
            language: None,
            in_reply_to_id: reply.map(str::to_string),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            account: SeenAccount {
                id: "1".into(),
                username: acct.split('@').next().unwrap().into(),
                acct: acct.into(),
                display_name: "Someone".into(),
                url: None,
                note: String::new(),
                fields: Vec::new(),
                bot: false,
                noindex: false,
                discoverable: None,
            },
            reblog: false,
            favourites: 0,
            reblogs: 0,
            replies: 0,
        }
    }

    fn verdict(s: &SeenStatus, in_replies: bool, local: bool) -> Verdict {
        verdict_on(s, "wenurses", in_replies, local)
    }

    fn verdict_on(s: &SeenStatus, hashtag: &str, in_replies: bool, local: bool) -> Verdict {
        let questions = HashSet::from(["q1".to_string()]);
        let answers = HashMap::from([("a1".to_string(), Some("q1".to_string()))]);
        let k = Known {
            hashtag,
            bot_acct: "chatbot@bot.example",
            window: Window {
                from: at("19:50"),
                until: at("21:15"),
            },
            questions: &questions,
            answers: &answers,
        };
        judge(s, "bot.example", in_replies, local, &k)
    }

    fn answer(tag: bool, reply: bool) -> Verdict {
        Verdict::Answer(Why { tag, reply })
    }

    #[test]
    fn why_a_post_counts() {
        let tagged = status("ann", &["WeNurses"], None, "20:05");
        assert_eq!(verdict(&tagged, false, true), answer(true, false));
        let reply = status("ann", &[], Some("q1"), "20:05");
        assert_eq!(verdict(&reply, false, true), answer(false, true));
        // Through a chain: a reply to a collected answer.
        let chained = status("bea", &[], Some("a1"), "20:06");
        assert_eq!(verdict(&chained, false, true), answer(false, true));
        // Ids of another instance mean nothing here.
        assert!(matches!(
            verdict(&chained, false, false),
            Verdict::Ignored(_)
        ));
        let both = status("ann", &["wenurses"], Some("q1"), "20:05");
        assert_eq!(verdict(&both, false, true), answer(true, true));
        let unicode = status("ann", &["PFLEGEKRÄFTE"], None, "20:05");
        assert_eq!(
            verdict_on(&unicode, "pflegekräfte", false, true),
            answer(true, false)
        );
        let neither = status("ann", &["other"], None, "20:05");
        assert!(matches!(
            verdict(&neither, false, true),
            Verdict::Ignored(_)
        ));
    }

    #[test]
    fn what_never_counts() {
        let mut s = status("ann", &["wenurses"], None, "20:05");
        s.reblog = true;
        assert_eq!(verdict(&s, false, true), Verdict::Ignored("a boost"));
        let own = status("chatbot", &["wenurses"], None, "20:05");
        assert_eq!(
            verdict(&own, false, true),
            Verdict::Ignored("the bot's own post")
        );
        // The bot's post read on another instance carries its host.
        let own_elsewhere = status("ChatBot@Bot.Example", &["wenurses"], None, "20:05");
        assert_eq!(
            verdict(&own_elsewhere, false, false),
            Verdict::Ignored("the bot's own post")
        );
        let mut private = status("ann", &["wenurses"], Some("q1"), "20:05");
        private.visibility = "private".into();
        assert_eq!(
            verdict(&private, true, true),
            Verdict::Ignored("not public")
        );
        let early = status("ann", &["wenurses"], None, "19:49");
        assert!(matches!(verdict(&early, false, true), Verdict::Ignored(_)));
        let late = status("ann", &["wenurses"], None, "21:16");
        assert!(matches!(verdict(&late, true, true), Verdict::Ignored(_)));
        let mut bot = status("ann", &["wenurses"], None, "20:05");
        bot.account.bot = true;
        assert_eq!(
            verdict(&bot, false, true),
            Verdict::Ignored("an automated account")
        );
    }

    #[test]
    fn rows_keep_the_prefix_and_mark_content_warnings() {
        let mut s = status("ann", &["wenurses"], None, "20:05");
        s.spoiler_text = "work stress".into();
        s.content = "<p>A2: <b>rest</b> &amp; sleep</p>".into();
        let r = row(
            &s,
            Why {
                tag: true,
                reply: false,
            },
            "https://bot.example",
            "bot.example",
            true,
        )
        .unwrap();
        assert_eq!(r.text, "CW: work stress\n\nA2: rest & sleep");
        assert_eq!(body(&r.text), "A2: rest & sleep");
        assert_eq!(body("CW: no body"), "CW: no body");
        assert_eq!(body("A1: plain\n\nmore"), "A1: plain\n\nmore");
        assert_eq!(r.prefix, Some(2));
        assert_eq!(r.acct, "ann@bot.example");
        assert_eq!(r.remote_id.as_deref(), Some(s.id.as_str()));
        s.account.note = "<p>#nobot</p>".into();
        let r = row(
            &s,
            Why {
                tag: true,
                reply: false,
            },
            "https://bot.example",
            "bot.example",
            false,
        )
        .unwrap();
        assert!(!r.quotable);
        assert_eq!(r.remote_id, None, "not an id of the bot's instance");
        s.account.bot = true;
        assert!(
            row(
                &s,
                Why {
                    tag: true,
                    reply: false
                },
                "u",
                "h",
                true
            )
            .is_none()
        );
    }

    #[test]
    fn accounts_are_named_in_full() {
        assert_eq!(full_acct("Ann", "Bot.Example"), "ann@bot.example");
        assert_eq!(
            full_acct("@ann@Nurses.Social", "bot.example"),
            "ann@nurses.social"
        );
    }
}
