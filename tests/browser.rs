//! The chat archive's page in a real browser (headless Chromium, installed
//! by `scripts/test.sh`): it renders offline with no console error and no
//! request beyond itself, a hostile answer shows as text and never runs,
//! nothing overflows a phone's width, and screenshots of the phone, desktop
//! and print renderings land in `target/test-output/browser/`.
//!
//! The page is a stand-in written here until `src/archive/` renders the
//! real one; a second page proves the harness sees what it must catch.

mod common;

use std::path::{Path, PathBuf};

use common::browser::{Browser, PageReport, Screenshot, live_processes_in_group};
use serde_json::json;

/// The hostile answers, as a participant typed them.
const SCRIPT_ANSWER: &str = "<script>window.__pwned=1</script>";
const IMG_ANSWER: &str = "<img src=x onerror=\"window.__pwned=2\">";

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

/// Escapes text for HTML element content and attribute values.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Writes a self-contained archive page (inline CSS, a CSP forbidding
/// every fetch and script) whose answers include the hostile ones, escaped,
/// and a long unbroken link that must wrap on a phone.
fn archive_page(dir: &Path) -> PathBuf {
    let answers = [
        ("Ada", "A1 Walking meetings, every Tuesday."),
        ("Mallory", SCRIPT_ANSWER),
        ("Mallory", IMG_ANSWER),
        (
            "Grace",
            "A1 https://example.org/a/very/long/path/that/never/breaks/by/itself/on/a/phone/screen",
        ),
    ];
    let items: String = answers
        .iter()
        .map(|(who, text)| {
            format!(
                "<li><span class=\"who\">{}</span> <p>{}</p></li>\n",
                escape(who),
                escape(text)
            )
        })
        .collect();
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>#healthchat, 2027-03-24</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 42rem; padding: 1rem; }}
p {{ overflow-wrap: anywhere; margin: 0; }}
.who {{ font-weight: bold; }}
@media print {{ body {{ max-width: none; }} h1 {{ font-size: 14pt; }} }}
</style>
</head>
<body>
<h1>#healthchat, 24 March 2027</h1>
<h2>Q1 How do you keep moving during a desk day?</h2>
<ol>
{items}</ol>
</body>
</html>
"#
    );
    let path = dir.join("index.html");
    std::fs::write(&path, html).expect("page written");
    path
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

#[test]
fn the_archive_renders_offline_and_shows_hostile_answers_as_text() {
    let dir = scratch("archive");
    let file = archive_page(&dir);
    let mut browser = Browser::launch();
    let group = browser.pid();

    let mut phone = browser.open(&file, PHONE);
    let text = phone.eval("document.body.innerText");
    let text = text.as_str().unwrap_or_default();
    assert!(
        text.contains(SCRIPT_ANSWER),
        "the <script> answer shows as text: {text}"
    );
    assert!(
        text.contains("<img src=x onerror="),
        "the <img> answer shows as text: {text}"
    );
    assert_eq!(phone.eval("typeof window.__pwned"), json!("undefined"));
    assert_eq!(
        phone.eval("document.querySelectorAll('script, img, iframe, object').length"),
        json!(0),
        "no answer became an element"
    );
    assert!(!overflows(&mut phone), "nothing is wider than a phone");
    assert_png(&phone.screenshot("archive-phone"));

    let mut desktop = browser.open(&file, DESKTOP);
    assert_png(&desktop.screenshot("archive-desktop"));
    assert_png(&desktop.print_screenshot("archive-print"));

    for page in [&phone, &desktop] {
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
