//! The archive on disk: the four files of a chat date written atomically
//! and idempotently, and the chat's index and Atom feed built back from
//! them, surviving a corrupt `chat.json`.

use std::fs;
use std::path::{Path, PathBuf};

use chathost::archive::{self, ArchiveQuestion, ChatArchive};
use chathost::store::{AnswerId, AnswerRecord, ChatId, Engagement};
use chrono::{DateTime, NaiveDate, Utc};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("chathost-archive-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn at(date: NaiveDate, minute: u32) -> DateTime<Utc> {
    date.and_hms_opt(20, minute, 0)
        .map(|t| t.and_utc())
        .unwrap_or_default()
}

fn answer(
    date: NaiveDate,
    n: i64,
    user: &str,
    q: Option<u32>,
    minute: u32,
    html: &str,
) -> AnswerRecord {
    AnswerRecord {
        id: AnswerId(n),
        chat_id: ChatId(1),
        uri: format!("https://n.example/users/{user}/statuses/{n}"),
        acct: format!("{user}@n.example"),
        display_name: Some(format!("{user} Nurse")),
        account_url: Some(format!("https://n.example/@{user}")),
        quotable: true,
        first_chat_id: Some(ChatId(1)),
        source: "tag".into(),
        remote_id: Some(n.to_string()),
        in_reply_to_id: None,
        question: q,
        method: q.map(|_| "reply".into()),
        via_tag: true,
        via_reply: q.is_some(),
        visibility: "public".into(),
        language: None,
        created_at: at(date, minute),
        edited_at: None,
        deleted_at: None,
        text: Some(chathost::html::to_text(html)),
        html: Some(html.into()),
        url: Some(format!("https://n.example/@{user}/{n}")),
        engagement: Engagement {
            favourites: 0,
            reblogs: 0,
            replies: 0,
        },
    }
}

/// A chat date with a hostile post, a deletion and a counted-only account.
fn chat(date: &str, topic: &str) -> ChatArchive {
    let date: NaiveDate = date.parse().unwrap_or_default();
    let mut gone = answer(date, 3, "gone", Some(1), 8, "<p>A1: VANISHED words</p>");
    gone.deleted_at = Some(at(date, 30));
    let mut quiet = answer(
        date,
        4,
        "hush_quietly",
        Some(2),
        16,
        "<p>A2: HUSHED words</p>",
    );
    quiet.quotable = false;
    // Alone on its server: the domain alone would name the person.
    quiet.acct = "hush_quietly@hush.example".into();
    quiet.uri = "https://hush.example/users/hush_quietly/statuses/4".into();
    quiet.account_url = Some("https://hush.example/@hush_quietly".into());
    quiet.url = Some("https://hush.example/@hush_quietly/4".into());
    let mut edited = answer(date, 5, "bo", Some(2), 17, "<p>A2: fixed typo</p>");
    edited.edited_at = Some(at(date, 19));
    ChatArchive {
        chat_id: ChatId(1),
        chat: "wenurses".into(),
        hashtag: "WeNurses".into(),
        topic: topic.into(),
        date,
        zone: chrono_tz::Europe::London,
        start: at(date, 0),
        end: at(date, 55),
        instance_url: "https://bot.example".into(),
        bot_acct: "chat@bot.example".into(),
        questions: vec![
            ArchiveQuestion {
                number: 1,
                text: "Q one".into(),
                posted_at: Some(at(date, 5)),
                url: None,
            },
            ArchiveQuestion {
                number: 2,
                text: "Q two".into(),
                posted_at: Some(at(date, 15)),
                url: None,
            },
        ],
        answers: vec![
            answer(
                date,
                1,
                "al",
                Some(1),
                6,
                r#"<p>A1: hi<script>alert(1)</script><img src="https://track.example/p.gif" onerror="alert(2)"><link rel="stylesheet" href="https://evil.example/x.css"></p>"#,
            ),
            answer(date, 2, "al", Some(1), 7, "<p>A1: again</p>"),
            gone,
            quiet,
            edited,
        ],
        recap_url: None,
        archive_url: None,
        as_of: at(date, 59),
    }
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn writes_four_files_atomically_and_rewrites_them_byte_identical() {
    let root = scratch("write");
    let dir = root.join("wenurses").join("2026-12-02");
    let a = chat("2026-12-02", "Rest");
    let written = archive::write(&dir, &a).expect("written");
    let names = ["activity.svg", "chat.json", "index.html", "transcript.md"];
    assert_eq!(listing(&dir), names, "the four files and nothing else");
    assert_eq!(written.files.len(), 4);
    let before: Vec<Vec<u8>> = names
        .iter()
        .map(|n| fs::read(dir.join(n)).unwrap_or_default())
        .collect();
    let r = archive::render(&a);
    assert_eq!(
        before[2],
        r.index_html.as_bytes(),
        "the file is what render gives"
    );
    // A crash between writing a temporary file and renaming it leaves
    // one; the next write clears it.
    fs::write(dir.join(".chat.json.4242.tmp"), "{").expect("stale temp");
    let again = archive::write(&dir, &a).expect("rewritten");
    assert_eq!(again, written);
    let after: Vec<Vec<u8>> = names
        .iter()
        .map(|n| fs::read(dir.join(n)).unwrap_or_default())
        .collect();
    assert_eq!(before, after, "byte-identical");
    assert_eq!(listing(&dir), names, "no temporary file left behind");
    let _ = fs::remove_dir_all(&root);
}

#[test]
fn files_on_disk_hold_no_deleted_or_counted_only_post_and_fetch_nothing() {
    let root = scratch("consent");
    let dir = root.join("2026-12-02");
    archive::write(&dir, &chat("2026-12-02", "Rest")).expect("written");
    for name in ["index.html", "transcript.md", "chat.json", "activity.svg"] {
        let text = read(&dir.join(name));
        for absent in [
            "VANISHED",
            "gone Nurse",
            "hush_quietly",
            "hush.example",
            "HUSHED",
            "track.example",
            "evil.example",
            "<script",
            "onerror",
        ] {
            assert!(!text.contains(absent), "{absent} in {name}");
        }
    }
    let page = read(&dir.join("index.html"));
    assert!(page.contains("A1: hi"), "the hostile post's text stays");
    assert!(page.contains("class=\"edited\""), "the edit is marked");
    for tag in ["<link", "<script", "<img", "<iframe"] {
        assert!(!page.contains(tag), "{tag}: an external request");
    }
    let _ = fs::remove_dir_all(&root);
}

/// A tiny well-formedness check: balanced tags, one root, quoted
/// attributes, only XML's own entities; `Err` says what is wrong.
fn well_formed(doc: &str) -> Result<(), String> {
    let doc = match doc.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").ok_or("open prolog")?.1,
        None => doc,
    };
    let entity_ok = |s: &str| -> Result<(), String> {
        for (i, _) in s.match_indices('&') {
            let e = s[i + 1..].split(';').next().unwrap_or("");
            let ok = matches!(e, "amp" | "lt" | "gt" | "quot" | "apos")
                || e.strip_prefix('#')
                    .is_some_and(|n| n.parse::<u32>().is_ok());
            if !ok || !s[i..].contains(';') {
                return Err(format!("bad entity at {}", &s[i..s.len().min(i + 12)]));
            }
        }
        Ok(())
    };
    let mut stack: Vec<String> = Vec::new();
    let mut roots = 0;
    let mut rest = doc;
    while let Some(lt) = rest.find('<') {
        let text = &rest[..lt];
        entity_ok(text)?;
        if stack.is_empty() && !text.trim().is_empty() {
            return Err("text outside the root".into());
        }
        let gt = rest[lt..].find('>').ok_or("unclosed tag")? + lt;
        let tag = &rest[lt + 1..gt];
        rest = &rest[gt + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            if stack.pop().as_deref() != Some(name.trim()) {
                return Err(format!("</{name}> closes nothing open"));
            }
            continue;
        }
        let self_closing = tag.ends_with('/');
        let body = tag.trim_end_matches('/');
        let name = body.split_whitespace().next().ok_or("empty tag")?;
        let attrs = &body[name.len()..];
        // Every attribute is name="value" with no '<' inside.
        let mut a = attrs.trim();
        while !a.is_empty() {
            let (_, after) = a
                .split_once("=\"")
                .ok_or(format!("unquoted attribute in <{tag}>"))?;
            let (value, next) = after.split_once('"').ok_or("unclosed attribute")?;
            if value.contains('<') {
                return Err("< in an attribute".into());
            }
            entity_ok(value)?;
            a = next.trim();
        }
        if stack.is_empty() {
            roots += 1;
        }
        if !self_closing {
            stack.push(name.to_string());
        }
    }
    entity_ok(rest)?;
    match (roots, stack.is_empty(), rest.trim().is_empty()) {
        (1, true, true) => Ok(()),
        _ => Err(format!("{roots} roots, open: {stack:?}")),
    }
}

#[test]
fn the_well_formedness_check_can_fail() {
    assert!(well_formed("<?xml version=\"1.0\"?>\n<a x=\"1\"><b/>t &amp; u</a>\n").is_ok());
    for bad in [
        "<a><b></a></b>",
        "<a>&nbsp;</a>",
        "<a x=1></a>",
        "<a></a><b></b>",
        "<a>R&D</a>",
        "<a>",
    ] {
        assert!(well_formed(bad).is_err(), "{bad} accepted");
    }
}

#[test]
fn the_chat_index_lists_dates_newest_first_and_survives_a_corrupt_file() {
    let root = scratch("index");
    let chat_dir = root.join("wenurses");
    for (date, topic) in [
        ("2026-11-25", "Sleep"),
        ("2026-12-09", "Tea & <b>cake</b>"),
        ("2026-12-02", ""),
    ] {
        archive::write(&chat_dir.join(date), &chat(date, topic)).expect("written");
    }
    fs::create_dir_all(chat_dir.join("2026-12-16")).expect("dir");
    fs::write(chat_dir.join("2026-12-16").join("chat.json"), "{ not json").expect("corrupt");
    fs::create_dir_all(chat_dir.join("drafts")).expect("not a date");
    let out = archive::write_chat_index(&chat_dir, None).expect("index written");
    let dates: Vec<String> = out.chats.iter().map(|d| d.to_string()).collect();
    assert_eq!(dates, ["2026-12-09", "2026-12-02", "2026-11-25"]);
    assert_eq!(
        out.skipped.len(),
        1,
        "the corrupt one, reported: {:?}",
        out.skipped
    );
    assert!(out.skipped[0].path.ends_with("2026-12-16/chat.json"));
    let page = read(&chat_dir.join("index.html"));
    let pos = |s: &str| page.find(s).unwrap_or_else(|| panic!("{s} missing"));
    assert!(pos("href=\"2026-12-09/index.html\"") < pos("href=\"2026-12-02/index.html\""));
    assert!(pos("href=\"2026-12-02/index.html\"") < pos("href=\"2026-11-25/index.html\""));
    assert!(
        !page.contains("2026-12-16"),
        "the corrupt date is not listed"
    );
    assert!(page.contains("Tea &amp; &lt;b&gt;cake&lt;/b&gt;") && !page.contains("<b>cake"));
    assert!(page.contains("default-src 'none'"));
    for tag in ["<link", "<script", "<img"] {
        assert!(!page.contains(tag));
    }
    let feed = read(&chat_dir.join("feed.xml"));
    if let Err(e) = well_formed(&feed) {
        panic!("feed.xml is not well-formed: {e}\n{feed}");
    }
    assert!(feed.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\">"));
    assert_eq!(feed.matches("<entry>").count(), 3, "one entry per chat");
    assert!(
        feed.contains("<id>tag:bot.example,2000:chathost/wenurses</id>"),
        "the feed's id"
    );
    assert!(feed.contains("<id>tag:bot.example,2000:chathost/wenurses/2026-12-09</id>"));
    assert!(
        feed.contains("<updated>2026-12-09T20:59:00Z</updated>\n<author>"),
        "newest as_of"
    );
    assert!(
        feed.contains("href=\"2026-12-09/index.html\""),
        "relative without a URL"
    );
    assert!(feed.contains(
        "<summary type=\"text\">4 answers from 3 participants to 2 questions.</summary>"
    ));
    assert!(feed.contains("Tea &amp; &lt;b&gt;cake&lt;/b&gt;"));
    assert!(!feed.contains("hush_quietly") && !feed.contains("VANISHED"));
    let _ = fs::remove_dir_all(&root);
}

#[test]
fn the_feed_links_absolute_when_published_and_rewrites_identically() {
    let root = scratch("feed");
    let chat_dir = root.join("wenurses");
    archive::write(&chat_dir.join("2026-12-02"), &chat("2026-12-02", "Rest")).expect("written");
    let url = Some("https://nurses.example/archive/wenurses");
    archive::write_chat_index(&chat_dir, url).expect("index");
    let first = read(&chat_dir.join("feed.xml"));
    assert!(first.contains("href=\"https://nurses.example/archive/wenurses/2026-12-02/\""));
    assert!(first.contains("rel=\"self\" type=\"application/atom+xml\" href=\"https://nurses.example/archive/wenurses/feed.xml\""));
    assert!(
        first.contains("<id>https://nurses.example/archive/wenurses/feed.xml</id>"),
        "a published feed is named by its own address"
    );
    assert!(well_formed(&first).is_ok());
    let again = archive::write_chat_index(&chat_dir, url).expect("index again");
    assert_eq!(read(&chat_dir.join("feed.xml")), first);
    assert_eq!(again.skipped, []);
    assert_eq!(
        listing(&chat_dir),
        ["2026-12-02", "feed.xml", "index.html"],
        "nothing else left"
    );
    // A script URL is never a link base.
    archive::write_chat_index(&chat_dir, Some("javascript:alert(1)")).expect("index");
    assert!(!read(&chat_dir.join("feed.xml")).contains("javascript"));
    let _ = fs::remove_dir_all(&root);
}

/// The feed's `<id>` and its entries' ids, in order.
fn feed_ids(chat_dir: &Path) -> (String, Vec<String>) {
    let feed = read(&chat_dir.join("feed.xml"));
    let mut ids = feed
        .split("<id>")
        .skip(1)
        .map(|x| x.split("</id>").next().unwrap_or("").to_string());
    let own = ids.next().unwrap_or_default();
    (own, ids.collect())
}

#[test]
fn feed_and_entry_ids_stay_as_dates_come_and_go() {
    let root = scratch("ids");
    let chat_dir = root.join("wenurses");
    let write = |date: &str, instance: &str| {
        let mut a = chat(date, "Rest");
        a.instance_url = instance.into();
        archive::write(&chat_dir.join(date), &a).expect("written");
    };
    write("2026-12-02", "https://bot.example");
    write("2026-12-09", "https://bot.example:8443");
    // A date the bot hosted from another instance, once.
    write("2026-12-16", "https://moved.example");
    archive::write_chat_index(&chat_dir, None).expect("index");
    let (feed_id, entries) = feed_ids(&chat_dir);
    assert_eq!(
        feed_id, "tag:bot.example,2000:chathost/wenurses",
        "the most common host, a fixed date"
    );
    let own = "tag:moved.example,2000:chathost/wenurses/2026-12-16";
    assert_eq!(entries[0], own, "an entry is named under its own host");

    // An older date archived later: no id changes, one is added.
    write("2026-11-25", "https://bot.example");
    archive::write_chat_index(&chat_dir, None).expect("index");
    let (after_older, with_older) = feed_ids(&chat_dir);
    assert_eq!(after_older, feed_id, "the feed id after an older date");
    assert_eq!(with_older[..3], entries[..], "the entries keep their ids");
    assert_eq!(
        with_older[3],
        "tag:bot.example,2000:chathost/wenurses/2026-11-25"
    );

    // The oldest folders removed: still the same ids.
    for date in ["2026-11-25", "2026-12-02"] {
        fs::remove_dir_all(chat_dir.join(date)).expect("removed");
    }
    archive::write_chat_index(&chat_dir, None).expect("index");
    let (after_removal, left) = feed_ids(&chat_dir);
    assert_eq!(after_removal, feed_id, "the feed id after the oldest went");
    assert_eq!(left[..], entries[..2], "the entries left keep their ids");
    let _ = fs::remove_dir_all(&root);
}
