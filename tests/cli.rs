//! The `chathost` binary as a host runs it: on the shipped files, and on a
//! broken copy of them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn chathost(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chathost"))
        .args(args)
        .current_dir(dir)
        .env_remove("CHATHOST_TOKEN")
        .env_remove("CREDENTIALS_DIRECTORY")
        .env_remove("STATE_DIRECTORY")
        .env("NO_COLOR", "1")
        .output()
        .expect("run chathost")
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A copy of the shipped bot.toml and prompts/ to break.
fn copy_of_shipped(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("chathost-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("prompts")).unwrap();
    std::fs::copy(repo().join("bot.toml"), dir.join("bot.toml")).unwrap();
    for e in std::fs::read_dir(repo().join("prompts")).unwrap().flatten() {
        if e.path().is_file() {
            std::fs::copy(e.path(), dir.join("prompts").join(e.file_name())).unwrap();
        }
    }
    dir
}

#[test]
fn check_passes_on_the_shipped_files() {
    let out = chathost(&["check"], &repo());
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("all is well"), "{}", text(&out));
    // Without a token that is a warning, not an error.
    assert!(
        text(&out).contains("warning: no access token found"),
        "{}",
        text(&out)
    );
}

#[test]
fn check_fails_with_a_located_error_on_a_broken_question_file() {
    let dir = copy_of_shipped("broken");
    let file = dir.join("prompts/2026-12-09.toml");
    let broken = std::fs::read_to_string(&file)
        .unwrap()
        .replace("at = 15", "at = 75");
    std::fs::write(&file, broken).unwrap();
    let out = chathost(&["check", "--config", "bot.toml"], &dir);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("prompts/2026-12-09.toml:10:6: error: question 2 at minute 75 is outside"),
        "{err}"
    );
    assert!(err.contains("help: "), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn plan_crosses_the_march_clock_change_at_eight_pm_local() {
    let out = chathost(
        &[
            "plan",
            "--count",
            "3",
            "--from",
            "2027-03-22",
            "--format",
            "json",
        ],
        &repo(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let chats = json["chats"].as_array().unwrap();
    let summary: Vec<(String, String, String)> = chats
        .iter()
        .map(|c| {
            let welcome = c["posts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["key"] == "welcome")
                .expect("a welcome post");
            (
                c["date"].as_str().unwrap().to_string(),
                welcome["utc"].as_str().unwrap().to_string(),
                welcome["local"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "2027-03-24".into(),
                "2027-03-24T20:00:00Z".into(),
                "2027-03-24T20:00:00+00:00".into()
            ),
            (
                "2027-03-31".into(),
                "2027-03-31T19:00:00Z".into(),
                "2027-03-31T20:00:00+01:00".into()
            ),
            (
                "2027-04-07".into(),
                "2027-04-07T19:00:00Z".into(),
                "2027-04-07T20:00:00+01:00".into()
            ),
        ]
    );
    // The chat after the change is marked; the others are not.
    let marked: Vec<bool> = chats.iter().map(|c| !c["clock_change"].is_null()).collect();
    assert_eq!(marked, vec![false, true, false]);
}

#[test]
fn plan_marks_a_week_without_questions_as_skipped() {
    let dir = copy_of_shipped("skip");
    let toml = std::fs::read_to_string(dir.join("bot.toml")).unwrap();
    std::fs::write(
        dir.join("bot.toml"),
        toml.replace("fallback = \"evergreen.toml\"\n", ""),
    )
    .unwrap();
    let out = chathost(&["plan", "--count", "3", "--from", "2026-12-01"], &dir);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // 2 and 9 December have files; 16 December has none.
    assert!(
        stdout.contains("questions: prompts/2026-12-02.toml"),
        "{stdout}"
    );
    assert!(
        stdout.contains("questions: prompts/2026-12-09.toml"),
        "{stdout}"
    );
    assert!(
        stdout.contains("! no question file prompts/2026-12-16.toml: this week is skipped"),
        "{stdout}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn plan_lists_every_post_of_the_shipped_chat_at_its_minute() {
    let out = chathost(&["plan", "--count", "1", "--from", "2026-12-01"], &repo());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let times: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("  ") && l.contains('Z'))
        .map(|l| l.split_whitespace().nth(5).unwrap_or(""))
        .collect();
    assert_eq!(
        times,
        [
            "20:00Z", "19:00Z", "20:00Z", "20:05Z", "20:15Z", "20:25Z", "20:35Z", "20:45Z",
            "20:55Z", "21:00Z"
        ],
        "{stdout}"
    );
    assert!(
        stdout.contains("Q1: What is the first sign that winter pressures"),
        "{stdout}"
    );
}

#[test]
fn rehearse_runs_the_shipped_chat_against_the_sandbox() {
    // 3000x: the hour takes about a second and a half.
    let keep = std::env::temp_dir().join(format!("chathost-kept-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&keep);
    let out = chathost(
        &[
            "rehearse",
            "--speed",
            "3000",
            "--participants",
            "5",
            "--keep",
            keep.to_str().unwrap(),
        ],
        &repo(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let order: Vec<usize> = [
        "Welcome to the #WeNurses chat",
        "Q1: ",
        "Q2: ",
        "Q3: ",
        "Q4: ",
        "Q5: ",
        "Last call:",
        "That's a wrap!",
    ]
    .iter()
    .map(|needle| {
        stdout
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} missing:\n{stdout}"))
    })
    .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "posts out of order:\n{stdout}"
    );
    // After the wrap-up, the recap thread: a head, a post per question,
    // a last post; then the archive.
    let recap: Vec<usize> = [
        "That's a wrap!",
        "Thank you for the #WeNurses chat",
        "Q1: What is the first sign",
        "Q5: What one tip",
        "Next #WeNurses chat:",
        "Archive written to ",
    ]
    .iter()
    .map(|needle| {
        stdout
            .rfind(needle)
            .unwrap_or_else(|| panic!("{needle:?} missing:\n{stdout}"))
    })
    .collect();
    assert!(
        recap.windows(2).all(|w| w[0] < w[1]),
        "the recap thread and archive do not follow the chat:\n{stdout}"
    );
    let posts: usize = stdout
        .split("\nDone: ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of posts:\n{stdout}"));
    assert!(
        posts >= 8 + 7,
        "the chat's 8 posts and a thread of at least 7:\n{stdout}"
    );
    assert!(!stdout.contains("FAILED"), "{stdout}");
    // Every answer the participants posted was collected under its
    // question (one of them edits, with and without the hashtag).
    for q in 1..=5 {
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("Q{q}: posted")))
            .unwrap_or_else(|| panic!("no collection line for Q{q}:\n{stdout}"));
        let numbers: Vec<u32> = line
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse().ok())
            .collect();
        assert!(
            numbers.len() == 3 && numbers[1] == numbers[2] && numbers[1] >= 4,
            "{line}"
        );
    }
    // Participants' commands, and the bot's replies (none to `dance`).
    for asked in ["@bob@", "@carol@", "@dave@"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.contains(asked) && l.contains("the bot replied")),
            "{asked} got no reply:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("optin") && stdout.contains("participation record"),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("@erin@") && l.contains("no reply (not a command")),
        "{stdout}"
    );
    assert!(!stdout.contains("differs"), "{stdout}");

    // --keep: the rehearsal's store and archive stay, and it says where.
    assert!(
        stdout.contains(&format!(
            "Kept the rehearsal's state and archive in {}",
            keep.display()
        )),
        "{stdout}"
    );
    let store = chathost::store::Store::open(keep.join("chathost.sqlite3")).unwrap();
    let chat = store.chats(None).unwrap().remove(0);
    assert_eq!(
        chat.recap,
        Some(chathost::store::RecapState::Done),
        "{stdout}"
    );
    let thread: Vec<_> = store
        .steps(chat.id)
        .unwrap()
        .into_iter()
        .filter(|s| s.kind.is_recap())
        .collect();
    assert!(thread.len() >= 7, "{thread:#?}");
    assert!(
        thread
            .iter()
            .all(|s| s.state == chathost::store::StepState::Posted)
    );
    let dir = keep.join("archive").join(&chat.name);
    let page = dir.join(chat.date.to_string()).join("index.html");
    assert!(
        stdout.contains(&format!(": open {}", page.display())),
        "the page to open is named:\n{stdout}"
    );
    for f in ["index.html", "transcript.md", "chat.json", "activity.svg"] {
        assert!(dir.join(chat.date.to_string()).join(f).is_file(), "{f}");
    }
    assert!(dir.join("index.html").is_file() && dir.join("feed.xml").is_file());
    // A second rehearsal never reuses a kept folder.
    let again = chathost(&["rehearse", "--keep", keep.to_str().unwrap()], &repo());
    assert!(!again.status.success());
    assert!(text(&again).contains("is not empty"), "{}", text(&again));
    let _ = std::fs::remove_dir_all(&keep);
}
