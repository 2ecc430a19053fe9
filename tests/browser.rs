//! The chat archive's page in a real browser (headless Chromium, installed
//! by `scripts/test.sh`): it renders offline with no console error and no
//! request beyond itself, a hostile answer shows as text and never runs,
//! nothing overflows a phone's width, and screenshots of the phone, desktop
//! and print renderings land in `target/test-output/browser/`.
//!
//! The page is the real archive (`chathost::archive::write`) of a chat
//! with hostile answers, a hostile display name, topic, question and
//! profile URL; the chat's own index (`write_chat_index`) gets the same
//! checks; a second page proves the harness sees what it must catch.

mod common;

use std::path::{Path, PathBuf};

use chathost::archive::{ArchiveQuestion, ChatArchive};
use chathost::store::{AnswerId, AnswerRecord, ChatId, Engagement};
use chrono::{DateTime, Utc};
use common::browser::{Browser, PageReport, Screenshot, live_processes_in_group};
use serde_json::json;

/// The hostile answers, as a participant typed them.
const SCRIPT_ANSWER: &str = "<script>window.__pwned=1</script>";
const IMG_ANSWER: &str = "<img src=x onerror=\"window.__pwned=2\">";
/// A display name, a topic, a question and a profile URL, as hostile as
/// an account or a host's typo could make them.
const NAME: &str = "<img src=x onerror=\"window.__pwned=6\">";
const TOPIC: &str = "<script>window.__pwned=7</script>";
const QUESTION: &str = "What helps? <svg onload=\"window.__pwned=9\"></svg>";
const PROFILE_URL: &str = "javascript:window.__pwned=8";

/// A phone in portrait, and a laptop.
const PHONE: (u32, u32) = (390, 844);
const DESKTOP: (u32, u32) = (1280, 800);

/// A fresh folder for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("browser-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

/// An answer as the store holds it, by `user` to question `q`.
fn answer(user: &str, n: i64, q: u32, minute: u32, text: &str, html: &str) -> AnswerRecord {
    AnswerRecord {
        id: AnswerId(n),
        chat_id: ChatId(1),
        uri: format!("https://nurses.example/users/{user}/statuses/{n}"),
        acct: format!("{user}@nurses.example"),
        display_name: Some(format!("{user} RN")),
        account_url: Some(format!("https://nurses.example/@{user}")),
        quotable: true,
        first_chat_id: Some(ChatId(1)),
        source: "https://nurses.example".into(),
        remote_id: Some(n.to_string()),
        in_reply_to_id: None,
        question: Some(q),
        method: Some("prefix".into()),
        via_tag: true,
        via_reply: false,
        visibility: "public".into(),
        language: Some("en".into()),
        created_at: format!("2027-03-24T20:{minute:02}:00Z").parse().unwrap(),
        edited_at: None,
        deleted_at: None,
        text: Some(text.into()),
        html: Some(html.into()),
        url: Some(format!("https://nurses.example/@{user}/{n}")),
        engagement: Engagement::default(),
    }
}

/// Writes the real archive of a chat whose answers include the hostile
/// ones (typed as text, and raw markup a hostile server might send) and a
/// long unbroken link that must wrap on a phone; returns its page.
fn archive_page(dir: &Path) -> PathBuf {
    let long = "https://example.org/a/very/long/path/that/never/breaks/by/itself/on/a/phone/screen";
    let mut answers = vec![
        answer(
            "ada",
            1,
            1,
            4,
            "A1 Walking meetings, every Tuesday.",
            "<p>A1 Walking meetings, every Tuesday.</p>",
        ),
        // Typed by a participant: the server escapes it.
        answer(
            "mallory",
            2,
            1,
            5,
            SCRIPT_ANSWER,
            "<p>&lt;script&gt;window.__pwned=1&lt;/script&gt;</p>",
        ),
        answer(
            "mallory",
            3,
            1,
            6,
            IMG_ANSWER,
            "<p>&lt;img src=x onerror=\"window.__pwned=2\"&gt;</p>",
        ),
        // Sent as markup by a hostile server: the sanitiser removes it.
        answer(
            "eve",
            4,
            2,
            9,
            "A2 raw",
            "<p>A2 raw<script>window.__pwned=3</script><img src=x onerror=\"window.__pwned=4\"><a href=\"javascript:window.__pwned=5\">x</a><style>body{display:none}</style></p>",
        ),
        answer(
            "grace",
            5,
            2,
            11,
            &format!("A2 {long}"),
            &format!("<p>A2 <a href=\"{long}\">{long}</a></p>"),
        ),
    ];
    answers[1].display_name = Some(NAME.into());
    answers[2].display_name = Some(NAME.into());
    answers[3].account_url = Some(PROFILE_URL.into());
    let start: DateTime<Utc> = "2027-03-24T20:00:00Z".parse().unwrap();
    let chat = ChatArchive {
        chat_id: ChatId(1),
        chat: "healthchat".into(),
        hashtag: "healthchat".into(),
        topic: TOPIC.into(),
        date: "2027-03-24".parse().unwrap(),
        zone: chrono_tz::Europe::London,
        start,
        end: start + chrono::Duration::minutes(60),
        instance_url: "https://nurses.example".into(),
        bot_acct: "chatbot@nurses.example".into(),
        questions: vec![
            ArchiveQuestion {
                number: 1,
                text: "How do you keep moving during a desk day?".into(),
                posted_at: Some(start + chrono::Duration::minutes(2)),
                url: Some("https://nurses.example/@chatbot/100".into()),
            },
            ArchiveQuestion {
                number: 2,
                text: QUESTION.into(),
                posted_at: Some(start + chrono::Duration::minutes(8)),
                url: Some("https://nurses.example/@chatbot/101".into()),
            },
        ],
        answers,
        recap_url: Some("https://nurses.example/@chatbot/200".into()),
        archive_url: None,
        as_of: start + chrono::Duration::minutes(80),
    };
    let dir = dir.join("healthchat").join("2027-03-24");
    chathost::archive::write(&dir, &chat).expect("archive written");
    dir.join("index.html")
}

/// A page doing everything the archive must not: it logs an error, throws,
/// fetches from the network, sets `window.__pwned` and overflows a phone.
fn misbehaving_page(dir: &Path) -> PathBuf {
    let html = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>misbehaving</title></head>
<body>
<div style="width: 2000px">too wide</div>
<script>console.error("an error the harness must see"); window.__pwned = 1;</script>
<script>throw new Error("an exception the harness must see");</script>
<img src="https://example.invalid/x.png" alt="">
</body></html>
"#;
    let path = dir.join("misbehaving.html");
    std::fs::write(&path, html).expect("page written");
    path
}

/// What the archive page's checks look at, in one place so both tests
/// measure the same way.
fn overflows(page: &mut PageReport) -> bool {
    page.eval("document.documentElement.scrollWidth > window.innerWidth") == json!(true)
}

/// Asserts a screenshot is a non-empty PNG on disk.
fn assert_png(shot: &Screenshot) {
    let on_disk = std::fs::read(&shot.path).expect("screenshot written");
    assert_eq!(
        on_disk,
        shot.png,
        "{} holds the capture",
        shot.path.display()
    );
    assert!(
        on_disk.len() > 100 && on_disk.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is a PNG ({} bytes)",
        shot.path.display(),
        on_disk.len()
    );
}

/// What every archive page must hold to, whatever it shows: `visible`
/// shows as text, no hostile string became an element, a handler or a
/// script link, nothing ran, nothing was logged as an error, and nothing
/// was loaded but the page itself.
fn assert_inert_page(page: &mut PageReport, visible: &[&str]) {
    let text = page.eval("document.body.innerText");
    let text = text.as_str().unwrap_or_default();
    for v in visible {
        assert!(
            text.contains(v),
            "{v:?} shows as text on {}: {text}",
            page.url
        );
    }
    assert_eq!(
        page.eval("typeof window.__pwned"),
        json!("undefined"),
        "no hostile code ran"
    );
    assert_eq!(
        page.eval("document.querySelectorAll('script, img, iframe, object, embed').length"),
        json!(0),
        "no hostile string became an element"
    );
    assert_eq!(
        page.eval(
            "[...document.querySelectorAll('*')].filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length"
        ),
        json!(0),
        "no element has an event handler"
    );
    assert_eq!(
        page.eval(
            "[...document.querySelectorAll('a')].map(a => a.getAttribute('href')).filter(h => /^[a-z][a-z0-9+.-]*:/i.test(h) && !/^https?:/i.test(h)).length"
        ),
        json!(0),
        "every link is a web address or a file beside the page (no javascript:)"
    );
    assert_eq!(page.errors().len(), 0, "console errors: {:?}", page.console);
    assert!(
        page.exceptions.is_empty(),
        "exceptions: {:?}",
        page.exceptions
    );
    assert_eq!(
        page.requests,
        std::slice::from_ref(&page.url),
        "only the page itself is loaded"
    );
}

#[test]
fn the_archive_renders_offline_and_shows_hostile_answers_as_text() {
    let dir = scratch("archive");
    let file = archive_page(&dir);
    let mut browser = Browser::launch();
    let group = browser.pid();

    let shown = [
        SCRIPT_ANSWER,
        "<img src=x onerror=",
        NAME,
        TOPIC,
        QUESTION,
        // The hostile server's answer keeps its words.
        "A2 raw",
        // The javascript: profile's owner is named, not linked.
        "eve RN",
    ];
    let mut phone = browser.open(&file, PHONE);
    assert_inert_page(&mut phone, &shown);
    let title = phone.eval("document.title");
    assert!(
        title.as_str().is_some_and(|t| t.contains(TOPIC)),
        "the topic is the title's text: {title}"
    );
    assert_eq!(
        phone.eval("document.querySelectorAll('svg').length"),
        json!(1),
        "the activity chart is inline, the question's <svg> is text"
    );
    assert_eq!(
        phone.eval("[...document.querySelectorAll('a')].filter(a => a.textContent.includes('eve RN')).length"),
        json!(0),
        "a javascript: profile is no link"
    );
    assert!(!overflows(&mut phone), "nothing is wider than a phone");
    assert_png(&phone.screenshot("archive-phone"));

    let mut desktop = browser.open(&file, DESKTOP);
    assert_png(&desktop.screenshot("archive-desktop"));
    assert_png(&desktop.print_screenshot("archive-print"));
    assert_inert_page(&mut desktop, &shown);

    // The chat's own index, beside the date folders.
    let chat_dir = file
        .parent()
        .and_then(Path::parent)
        .expect("the chat folder");
    let written = chathost::archive::write_chat_index(chat_dir, None).expect("index written");
    assert_eq!(written.skipped, [], "the date is listed");
    let mut index = browser.open(&chat_dir.join("index.html"), PHONE);
    assert_inert_page(&mut index, &[TOPIC, "2027-03-24"]);
    assert_eq!(
        index.eval("[...document.querySelectorAll('a')].some(a => a.getAttribute('href') === '2027-03-24/index.html')"),
        json!(true),
        "the index links the chat date"
    );
    assert!(!overflows(&mut index), "nothing is wider than a phone");
    assert_png(&index.screenshot("archive-index-phone"));

    // Dropping the browser ends every process it started.
    assert!(
        !live_processes_in_group(group).is_empty(),
        "the group is seen"
    );
    drop(browser);
    let left = live_processes_in_group(group);
    assert!(left.is_empty(), "chromium processes left behind: {left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_harness_catches_errors_exceptions_requests_scripts_and_overflow() {
    let dir = scratch("misbehaving");
    let file = misbehaving_page(&dir);
    let mut browser = Browser::launch();
    let mut page = browser.open(&file, PHONE);

    let errors: Vec<&str> = page.errors().iter().map(|m| m.text.as_str()).collect();
    assert!(
        errors
            .iter()
            .any(|t| t.contains("an error the harness must see")),
        "console.error is reported: {:?}",
        page.console
    );
    assert!(
        page.exceptions
            .iter()
            .any(|e| e.contains("an exception the harness must see")),
        "the exception is reported: {:?}",
        page.exceptions
    );
    assert_eq!(
        page.requests,
        [
            page.url.clone(),
            "https://example.invalid/x.png".to_string()
        ],
        "the image fetch is reported after the page itself"
    );
    assert_eq!(page.eval("typeof window.__pwned"), json!("number"));
    assert_eq!(
        page.eval("document.querySelectorAll('script, img').length"),
        json!(3)
    );
    assert!(overflows(&mut page), "a 2000px box overflows a phone");
    assert!(
        page.console
            .iter()
            .any(|m| m.source == "network" && m.level == "error"),
        "the browser's own log of the failed fetch is reported: {:?}",
        page.console
    );
    let _ = std::fs::remove_dir_all(&dir);
}
