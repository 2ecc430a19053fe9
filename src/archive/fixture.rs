//! A realistic chat date for the unit tests: three questions, an answer
//! before the first, an edit, a deletion, a counted-only account, links,
//! mentions and hashtags as servers render them, and a hostile post.

use chrono::{DateTime, NaiveDate, Utc};

use super::model::{ArchiveQuestion, ChatArchive};
use crate::store::{AnswerId, AnswerRecord, ChatId, Engagement};

/// `20:MM` on the chat's date (December: London is UTC).
pub fn at(minute: u32) -> DateTime<Utc> {
    format!("2026-12-02T20:{minute:02}:00Z")
        .parse()
        .unwrap_or_default()
}

/// A visible, quotable answer by `user` to `q` at 20:`minute`.
pub fn answer(user: &str, n: usize, q: Option<u32>, minute: u32, text: &str) -> AnswerRecord {
    AnswerRecord {
        id: AnswerId(n as i64),
        chat_id: ChatId(7),
        uri: format!("https://nurses.example/users/{user}/statuses/{n}"),
        acct: format!("{user}@nurses.example"),
        display_name: Some(format!("{user} RN")),
        account_url: Some(format!("https://nurses.example/@{user}")),
        quotable: true,
        first_chat_id: Some(ChatId(3)),
        source: "tag".into(),
        remote_id: Some(n.to_string()),
        in_reply_to_id: None,
        question: q,
        method: q.map(|_| "prefix".into()),
        via_tag: true,
        via_reply: false,
        visibility: "public".into(),
        language: Some("en".into()),
        created_at: at(minute),
        edited_at: None,
        deleted_at: None,
        text: Some(text.into()),
        html: Some(format!("<p>{}</p>", super::escape::html(text))),
        url: Some(format!("https://nurses.example/@{user}/{n}")),
        engagement: Engagement {
            favourites: 1,
            reblogs: 0,
            replies: 0,
        },
    }
}

/// Mastodon's rendering of a shared link, a mention and the chat's tag.
pub const LINKED_HTML: &str = r#"<p><span class="h-card"><a href="https://nurses.example/@bob" class="u-url mention">@<span>bob</span></a></span> A1: see <a href="https://guidelines.example/handover/2026/long-path" rel="nofollow noopener noreferrer" target="_blank"><span class="invisible">https://</span><span class="ellipsis">guidelines.example/handover/20</span><span class="invisible">26/long-path</span></a> <a href="https://nurses.example/tags/WeNurses" class="mention hashtag" rel="tag">#<span>WeNurses</span></a> <a href="https://gts.example/tags/sleep" class="mention hashtag" rel="tag nofollow noreferrer noopener" target="_blank">#<span>sleep</span></a></p>"#;

/// A hostile server's HTML.
pub const HOSTILE_HTML: &str = r#"<p>Look <script>alert(1)</script><img src=x onerror=alert(1)><a href="javascript:alert(2)">here</a><style>body{display:none}</style> &lt;script&gt;typed&lt;/script&gt;</p>"#;

/// The answers: one of each kind.
fn answers() -> Vec<AnswerRecord> {
    let mut ann = answer(
        "ann",
        1,
        Some(1),
        5,
        "A1: see https://guidelines.example/handover/2026/long-path #WeNurses #sleep",
    );
    ann.html = Some(LINKED_HTML.into());
    ann.first_chat_id = Some(ChatId(7));
    let mut edited = answer("bob", 2, Some(1), 6, "A1: a *kind* word #Sleep #Handover");
    edited.edited_at = Some(at(9));
    let mut gone = answer("cat", 3, Some(2), 14, "A2: DELETED-SECRET text");
    gone.deleted_at = Some(at(20));
    gone.text = None;
    gone.html = None;
    let mut quiet = answer("zelda_private", 4, Some(2), 15, "");
    quiet.quotable = false;
    quiet.display_name = None;
    quiet.account_url = None;
    quiet.text = None;
    quiet.html = None;
    quiet.url = None;
    quiet.acct = "zelda_private@quiet.example".into();
    quiet.uri = "https://quiet.example/users/zelda_private/statuses/4".into();
    let mut hostile = answer("mal", 5, Some(2), 15, "Look here <script>typed</script>");
    hostile.html = Some(HOSTILE_HTML.into());
    hostile.display_name = Some("<b onmouseover=alert(3)>Mal</b>".into());
    hostile.account_url = Some("javascript:alert(4)".into());
    hostile.acct = "mal@evil.example".into();
    let mut plain = answer(
        "dee",
        6,
        Some(3),
        25,
        "A3: [click](javascript:x) <i>hi</i>\nsecond line",
    );
    plain.html = None;
    let early = answer(
        "ann",
        7,
        None,
        1,
        "Hello all, ready! https://guidelines.example/handover/2026/long-path",
    );
    let mut local = answer("eve", 8, Some(3), 26, "A3: rest");
    local.acct = "eve".into();
    vec![plain, hostile, quiet, gone, edited, ann, early, local]
}

/// The chat date.
pub fn chat() -> ChatArchive {
    ChatArchive {
        chat_id: ChatId(7),
        chat: "wenurses".into(),
        hashtag: "WeNurses".into(),
        topic: "Handover & <rest>".into(),
        date: NaiveDate::from_ymd_opt(2026, 12, 2).unwrap_or_default(),
        zone: chrono_tz::Europe::London,
        start: at(0),
        end: at(55),
        instance_url: "https://bot.example".into(),
        bot_acct: "chat@bot.example".into(),
        questions: vec![
            ArchiveQuestion {
                number: 1,
                text: "What makes a good handover?".into(),
                posted_at: Some(at(3)),
                url: Some("https://bot.example/@chat/1".into()),
            },
            ArchiveQuestion {
                number: 2,
                text: "How do you rest?".into(),
                posted_at: Some(at(13)),
                url: None,
            },
            ArchiveQuestion {
                number: 3,
                text: "One <tip>?".into(),
                posted_at: Some(at(23)),
                url: Some("javascript:alert(5)".into()),
            },
        ],
        answers: answers(),
        recap_url: Some("https://bot.example/@chat/99".into()),
        archive_url: None,
        as_of: at(59),
    }
}
