//! `chathost status`, `chathost backup` and the read-only commands beside a
//! running `chathost run` (issue 11, item 5): real processes against the
//! sandbox on a shared fast clock, the real SQLite file between them.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use chathost::sandbox::{Flavour, Sandbox, SandboxConfig};
use common::process::EngineCmd;
use serde_json::Value;

/// 300 virtual seconds per real second: the 20-minute chat takes 4 s.
const SPEED: f64 = 300.0;
/// The chat of 2 December starts a minute after the clock's origin.
const ORIGIN: &str = "2026-12-02T19:59:00Z";
const DATE: &str = "2026-12-02";

/// Two chats: `wenurses` at 20:00 is the one hosted to the end before the
/// checks; `evening` at 21:30 gives the service posts to make afterwards.
fn bot_toml(url: &str) -> String {
    format!(
        r#"[instance]
url = "{url}"
software = "gotosocial"
timeout_seconds = 2

[account]
token_env = "CHATHOST_TOKEN"

[state]
dir = "state"

[chats.wenurses]
hashtag = "WeNurses"
weekday = "Wednesday"
time = "20:00"
zone = "Europe/London"
duration_minutes = 20
reminders = []

[chats.wenurses.pacing]
first_question = 3
last_call = 17

[chats.wenurses.collect]
grace_minutes = 1

[chats.wenurses.recap]
delay_minutes = 1

[chats.evening]
hashtag = "WeNursesLate"
weekday = "Wednesday"
time = "21:30"
zone = "Europe/London"
duration_minutes = 20
reminders = []

[chats.evening.pacing]
first_question = 3
last_call = 17

[chats.evening.recap]
enabled = false
"#
    )
}

const QUESTIONS: &str = r#"topic = "Quick test"

[[question]]
text = "First question?"

[[question]]
text = "Second question?"

[[question]]
text = "Third question?"
"#;

/// A chathost command in `dir` on the shared clock; its output.
fn chathost(dir: &Path, token: &str, clock: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chathost"))
        .args(args)
        .current_dir(dir)
        .env("CHATHOST_TOKEN", token)
        .env("CHATHOST_FAKE_CLOCK", clock)
        .env("NO_COLOR", "1")
        .env_remove("STATE_DIRECTORY")
        .env_remove("JOURNAL_STREAM")
        .env_remove("NOTIFY_SOCKET")
        .output()
        .expect("run chathost")
}

fn said(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn status_json(dir: &Path, token: &str, clock: &str) -> (Output, Value) {
    let out = chathost(
        dir,
        token,
        clock,
        &["status", "--config", "bot.toml", "--format", "json"],
    );
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("status JSON does not parse ({e}):\n{}", said(&out)));
    (out, json)
}

fn chat<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["chats"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no chat {name} in {status:#}"))
}

/// Waits (real time, bounded) until `status` reports the wenurses chat of
/// 2 December recapped and archived: a last chat, hosted to the end.
async fn wait_until_hosted(
    dir: &Path,
    token: &str,
    clock: &str,
    engine: &mut common::process::Engine,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        engine.assert_running(1);
        let (out, json) = status_json(dir, token, clock);
        let last = &chat(&json, "wenurses")["last"];
        if last["date"] == DATE
            && last["recap"]["state"] == "done"
            && last["archive"]["written_at"].is_string()
        {
            assert!(out.status.success(), "{}", said(&out));
            return json;
        }
        assert!(
            Instant::now() < deadline,
            "never hosted to the end:\n{json:#}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_backup_and_readers_work_while_the_service_runs_and_writers_are_refused() {
    let dir = common::fresh_dir("chathost-status-live");
    let (clock, anchor_ms) = common::anchored_clock(ORIGIN, SPEED);
    let sandbox = Sandbox::start(SandboxConfig {
        flavour: Flavour::GoToSocial,
        participants: 3,
        clock,
        hashtag: "WeNurses".into(),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    std::fs::write(dir.join("bot.toml"), bot_toml(sandbox.base_url())).unwrap();
    std::fs::write(dir.join(format!("prompts/{DATE}.toml")), QUESTIONS).unwrap();
    // The week after has its questions too: status has nothing to flag.
    std::fs::write(dir.join("prompts/2026-12-09.toml"), QUESTIONS).unwrap();
    let token = sandbox.bot().token.expose().to_string();
    let clock_spec = format!("{ORIGIN},{anchor_ms},{SPEED}");
    let cmd = EngineCmd {
        dir: dir.clone(),
        token: token.clone(),
        clock_spec: clock_spec.clone(),
    };
    let mut engine = cmd.spawn(1);
    let run = |args: &[&str]| chathost(&dir, &token, &clock_spec, args);

    // The 20:00 chat, hosted to the end (recap and archive) by the service,
    // which goes on running towards the 21:30 chat.
    let status = wait_until_hosted(&dir, &token, &clock_spec, &mut engine).await;
    let bot_posts = sandbox.statuses_of("chatbot").len();
    let made: Vec<_> = sandbox
        .answers_made()
        .into_iter()
        .filter(|a| a.deleted_at.is_none() && !a.bot)
        .collect();
    let authors: std::collections::BTreeSet<&str> = made.iter().map(|a| a.acct.as_str()).collect();
    assert!(!made.is_empty(), "the participants answered nothing");

    // status --format json, while the service holds the store.
    assert_eq!(status["ok"], true, "{status:#}");
    let last = &chat(&status, "wenurses")["last"];
    assert_eq!(last["state"], "done", "{status:#}");
    assert_eq!(last["steps"]["planned"], 6, "{status:#}");
    assert_eq!(last["steps"]["posted"], 6, "{status:#}");
    assert_eq!(last["steps"]["failed"], 0, "{status:#}");
    assert_eq!(last["answers"], made.len(), "{status:#}");
    assert_eq!(last["participants"], authors.len(), "{status:#}");
    assert!(last["recap"]["posts"].as_u64().unwrap() >= 1, "{status:#}");
    assert_eq!(
        last["recap"]["posted"], last["recap"]["posts"],
        "{status:#}"
    );
    let store = &status["store"];
    assert_eq!(store["service_running"], true, "{status:#}");
    assert_eq!(store["exists"], true, "{status:#}");
    assert_eq!(store["quick_check"], "ok", "{status:#}");
    assert_eq!(store["problem"], Value::Null, "{status:#}");
    assert_eq!(store["schema_version"], store["known_schema_version"]);
    let next = &chat(&status, "evening")["next"];
    assert_eq!(next["start_utc"], "2026-12-02T21:30:00Z", "{status:#}");
    assert_eq!(next["questions"]["passes_check"], true, "{status:#}");

    // The read-only commands work beside it.
    let answers = run(&["answers", "wenurses", "--date", DATE, "--format", "json"]);
    assert!(answers.status.success(), "{}", said(&answers));
    let chats = run(&["chats", "--format", "json"]);
    assert!(chats.status.success(), "{}", said(&chats));
    let listed: Value = serde_json::from_slice(&chats.stdout).unwrap();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["chat"] == "wenurses" && c["answers"] == made.len())
    );
    let recap = run(&["recap", "wenurses", "--date", DATE]);
    assert!(recap.status.success(), "{}", said(&recap));
    assert!(
        String::from_utf8_lossy(&recap.stdout).contains("[posted]"),
        "{}",
        said(&recap)
    );

    // A consistent copy, while it runs; never over an existing file.
    let copy = dir.join("backup.sqlite3");
    let backup = run(&["backup", "--out", copy.to_str().unwrap()]);
    assert!(backup.status.success(), "{}", said(&backup));
    assert!(
        String::from_utf8_lossy(&backup.stdout).contains("backup written to"),
        "{}",
        said(&backup)
    );
    let copied = chathost::store::Store::open_read_only(&copy).unwrap();
    let record = copied
        .chat("wenurses", DATE.parse().unwrap())
        .unwrap()
        .unwrap();
    let visible = copied
        .answers(record.id)
        .unwrap()
        .into_iter()
        .filter(|a| a.deleted_at.is_none())
        .count();
    assert_eq!(visible, made.len());
    drop(copied);
    let size = std::fs::metadata(&copy).unwrap().len();
    // It holds people's answers: its owner's alone.
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&copy).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let again = run(&["backup", "--out", copy.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1), "{}", said(&again));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already exists"),
        "{}",
        said(&again)
    );
    assert_eq!(std::fs::metadata(&copy).unwrap().len(), size);

    // Writers are refused, with what to do, and change nothing.
    let second = run(&["run", "--config", "bot.toml"]);
    assert!(!second.status.success(), "{}", said(&second));
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("another chathost"),
        "{}",
        said(&second)
    );
    let collect = run(&["collect", "wenurses", "--date", DATE]);
    assert_eq!(collect.status.code(), Some(1), "{}", said(&collect));
    let err = String::from_utf8_lossy(&collect.stderr);
    assert!(
        err.contains("another chathost") && err.contains("stop the service"),
        "{}",
        said(&collect)
    );
    assert_eq!(
        sandbox.statuses_of("chatbot").len(),
        bot_posts,
        "a refused command posted"
    );

    // The service is unharmed: it hosts the 21:30 chat, then stops cleanly.
    engine.assert_running(1);
    let deadline = Instant::now() + Duration::from_secs(60);
    while sandbox.statuses_of("chatbot").len() < bot_posts + 2 {
        engine.assert_running(1);
        assert!(Instant::now() < deadline, "no later posts:\n{}", cmd.log(1));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let exit = engine.terminate();
    let log = cmd.log(1);
    assert!(exit.success(), "exit {exit}:\n{log}");
    assert!(!log.contains("ERROR"), "{log}");
    assert!(!log.contains(&token));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A folder with bot.toml (its server never asked) and the 2 December
/// question file; the clock stands a day before that chat.
fn offline_dir(name: &str) -> (PathBuf, String) {
    let dir = common::fresh_dir(name);
    std::fs::write(dir.join("bot.toml"), bot_toml("https://chat.invalid")).unwrap();
    std::fs::write(dir.join(format!("prompts/{DATE}.toml")), QUESTIONS).unwrap();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    (dir, format!("2026-12-01T12:00:00Z,{now_ms},1"))
}

#[test]
fn status_without_a_database_prints_the_chats_and_creates_nothing() {
    let (dir, clock) = offline_dir("chathost-status-empty");
    let (out, json) = status_json(&dir, "t0ken-unused", &clock);
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    assert_eq!(json["ok"], true);
    assert_eq!(json["store"]["exists"], false);
    assert_eq!(json["store"]["service_running"], false);
    assert_eq!(json["store"]["problem"], Value::Null);
    let wenurses = chat(&json, "wenurses");
    assert_eq!(wenurses["last"], Value::Null);
    assert_eq!(wenurses["next"]["date"], DATE);
    assert_eq!(wenurses["next"]["start_local"], "2026-12-02T20:00:00+00:00");
    assert_eq!(wenurses["next"]["questions"]["source"], "own");
    let text = chathost(&dir, "t0ken-unused", &clock, &["status"]);
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.contains("no database in ")
            && stdout.contains(
                "the systemd service keeps it in /var/lib/chathost: run `sudo env STATE_DIRECTORY=/var/lib/chathost chathost status --config /etc/chathost/bot.toml`"
            ),
        "{}",
        said(&text)
    );
    assert!(
        stdout.contains("wenurses (#WeNurses)") && stdout.contains("evening (#WeNursesLate)"),
        "{}",
        said(&text)
    );
    // Looking creates nothing: the service makes the store.
    assert!(!dir.join("state/chathost.sqlite3").exists());
    let answers = chathost(&dir, "t0ken-unused", &clock, &["chats"]);
    assert_eq!(answers.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&answers.stderr).contains("no database in this folder"),
        "{}",
        said(&answers)
    );
    let backup = chathost(
        &dir,
        "t0ken-unused",
        &clock,
        &["backup", "--out", "copy.sqlite3"],
    );
    assert_eq!(backup.status.code(), Some(1));
    assert!(
        !dir.join("copy.sqlite3").exists(),
        "a failed backup left a file"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn status_exits_1_naming_the_line_of_a_broken_question_file_and_a_week_without_one() {
    let (dir, clock) = offline_dir("chathost-status-broken");
    let file = dir.join(format!("prompts/{DATE}.toml"));
    // Minute 30 is after the last call (minute 17): line 5, column 6.
    std::fs::write(
        &file,
        "topic = \"Quick test\"\n\n[[question]]\ntext = \"First question?\"\nat = 30\n",
    )
    .unwrap();
    let (out, json) = status_json(&dir, "t0ken-unused", &clock);
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert_eq!(json["ok"], false);
    let q = &chat(&json, "wenurses")["next"]["questions"];
    assert_eq!(q["passes_check"], false, "{json:#}");
    assert!(q["errors"].as_u64().unwrap() >= 1, "{json:#}");
    let position = q["first_error"]["position"].as_str().unwrap();
    assert!(
        position.ends_with(&format!("prompts/{DATE}.toml:5:6")),
        "{json:#}"
    );
    let text = chathost(&dir, "t0ken-unused", &clock, &["status"]);
    assert_eq!(text.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.contains("needs attention") && stdout.contains(":5:6"),
        "{}",
        said(&text)
    );
    assert!(!stdout.contains("all is well"), "{}", said(&text));

    // No file at all (and no fallback): the week would be skipped.
    std::fs::remove_file(&file).unwrap();
    let (out, json) = status_json(&dir, "t0ken-unused", &clock);
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert_eq!(
        chat(&json, "wenurses")["next"]["questions"]["source"],
        "none"
    );
    assert!(
        json["attention"][0]
            .as_str()
            .unwrap()
            .contains("no questions"),
        "{json:#}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
