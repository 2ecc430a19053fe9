//! Issue 13, items 4, 7, 8, 9 and 11: what a host (or a hostile file) can
//! throw at `plan`, `check`, `rehearse` and `sandbox` ends promptly with a
//! clear, located error — never a panic, a hang or gigabytes of memory.
//!
//! Every run of the binary has a deadline: a hang fails the test instead
//! of hanging CI.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chathost::clock::{JumpClock, SharedClock};
use chathost::engine::service;
use chathost::engine::{Event, Shutdown};
use chathost::sandbox::{Sandbox, SandboxConfig};
use chathost::secret::Secret;
use tokio::sync::mpsc;

/// What a run printed, and how it ended.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs the binary in `dir`; kills it and fails the test after `limit`.
fn chathost(args: &[&str], dir: &Path, limit: Duration) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chathost"))
        .args(args)
        .current_dir(dir)
        .env_remove("CHATHOST_TOKEN")
        .env_remove("CREDENTIALS_DIRECTORY")
        .env_remove("STATE_DIRECTORY")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run chathost");
    // Drain the pipes on threads so a chatty child never blocks on them.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let (o, e) = (out.join().unwrap(), err.join().unwrap());
            panic!(
                "chathost {args:?} did not finish within {limit:?}:\n{}{}",
                String::from_utf8_lossy(&o),
                String::from_utf8_lossy(&e)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code(),
        stdout: String::from_utf8_lossy(&out.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&err.join().unwrap()).into_owned(),
    }
}

const QUICK: Duration = Duration::from_secs(60);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A copy of the shipped bot.toml and prompts/ to break; removed on drop.
struct Copy(PathBuf);

impl Copy {
    /// The shipped files with every dated question file removed, so any
    /// chat date (whatever today is) uses the fallback `evergreen.toml`.
    fn of_shipped(name: &str) -> Copy {
        let dir =
            std::env::temp_dir().join(format!("chathost-bounds-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("prompts/templates")).unwrap();
        std::fs::copy(repo().join("bot.toml"), dir.join("bot.toml")).unwrap();
        std::fs::copy(
            repo().join("prompts/evergreen.toml"),
            dir.join("prompts/evergreen.toml"),
        )
        .unwrap();
        Copy(dir)
    }

    fn write(&self, path: &str, text: &str) {
        std::fs::write(self.0.join(path), text).unwrap();
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn no_panic(run: &Run) {
    assert_ne!(run.code, Some(101), "panicked:\n{}", run.all());
    assert!(!run.all().contains("panicked"), "{}", run.all());
}

// ---------------------------------------------------------------------------
// Item 4: panics in plan
// ---------------------------------------------------------------------------

#[test]
fn plan_at_the_end_of_the_calendar_shows_the_chats_that_fit() {
    let run = chathost(
        &["plan", "--count", "10", "--from", "9999-12-01"],
        &repo(),
        QUICK,
    );
    no_panic(&run);
    assert_eq!(run.code, Some(0), "{}", run.all());
    // The five Wednesdays of December 9999, then the end.
    assert_eq!(
        run.stdout.matches("wenurses #WeNurses").count(),
        5,
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Wed 29 Dec 9999, 20:00 GMT"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("no more chats fit before the end of the calendar (9999-12-31)"),
        "{}",
        run.stdout
    );

    let run = chathost(&["plan", "--from", "9999-12-31"], &repo(), QUICK);
    no_panic(&run);
    assert_eq!(run.code, Some(0), "{}", run.all());
    assert!(
        run.stdout
            .contains("no more chats fit before the end of the calendar (9999-12-31)"),
        "{}",
        run.stdout
    );
    let json = chathost(
        &["plan", "--from", "9999-12-31", "--format", "json"],
        &repo(),
        QUICK,
    );
    no_panic(&json);
    assert_eq!(json.code, Some(0), "{}", json.all());
    let value: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(value["chats"].as_array().map(Vec::len), Some(0));
}

#[test]
fn plan_count_is_bounded_with_a_message_naming_the_range() {
    for count in ["100000000", "0", "521"] {
        let run = chathost(&["plan", "--count", count], &repo(), QUICK);
        no_panic(&run);
        assert_eq!(run.code, Some(2), "--count {count}: {}", run.all());
        assert!(
            run.stderr.contains("1..=520"),
            "--count {count}: {}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "--count {count}: {}", run.stdout);
    }
    let run = chathost(
        &["plan", "--count", "520", "--format", "json"],
        &repo(),
        QUICK,
    );
    assert_eq!(run.code, Some(0), "{}", run.all());
}

// ---------------------------------------------------------------------------
// Item 7: hangs
// ---------------------------------------------------------------------------

#[test]
fn rehearse_ends_with_a_located_error_when_the_questions_are_broken_or_empty() {
    let files = [
        (
            "topic = \"Open\"\n[[question]\ntext = \"oops\"\n",
            "prompts/evergreen.toml:2:",
        ),
        ("topic = \"Open\"\n", "this question file has no questions"),
        ("", "prompts/evergreen.toml:1:1"),
    ];
    for (text, expected) in files {
        let dir = Copy::of_shipped("rehearse-broken");
        dir.write("prompts/evergreen.toml", text);
        let run = chathost(&["rehearse", "--speed", "3600"], dir.path(), QUICK);
        no_panic(&run);
        assert_eq!(run.code, Some(1), "{text:?}: {}", run.all());
        assert!(run.stderr.contains(expected), "{text:?}: {}", run.stderr);
        assert!(run.stderr.contains("evergreen.toml"), "{}", run.stderr);
        assert!(!run.stdout.contains("Done:"), "{}", run.stdout);
    }
}

/// `rehearse` (like `chat --now`) announces and checks the next chat's
/// questions; it posted today's file instead when one existed (last chat's
/// questions, already used).
#[test]
fn rehearse_posts_the_next_chats_questions_not_todays() {
    let dir = Copy::of_shipped("rehearse-next");
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Europe::London);
    let tomorrow = today + chrono::Duration::days(1);
    let toml = std::fs::read_to_string(dir.path().join("bot.toml")).unwrap();
    let toml = toml.replace(
        "weekday = \"Wednesday\"",
        &format!("weekday = \"{}\"", tomorrow.format("%A")),
    );
    dir.write("bot.toml", &toml);
    let questions = |q: &str| format!("topic = \"T\"\n[[question]]\ntext = \"{q}\"\n");
    dir.write(
        &format!("prompts/{}.toml", today.format("%Y-%m-%d")),
        &questions("Today's question, already posted?"),
    );
    dir.write(
        &format!("prompts/{}.toml", tomorrow.format("%Y-%m-%d")),
        &questions("The next chat's question?"),
    );
    let run = chathost(&["rehearse", "--speed", "3600"], dir.path(), QUICK);
    no_panic(&run);
    assert_eq!(run.code, Some(0), "{}", run.all());
    assert!(
        run.stdout.contains("The next chat's question?"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("already posted"), "{}", run.stdout);
}

/// `{% set s = "x" * 100000000 %}` and a few joins took `check` to 1.5 GB
/// in under two seconds, then "all is well": string repetition is refused
/// where it is written.
#[test]
fn a_template_that_repeats_a_string_is_refused_at_its_line() {
    let dir = Copy::of_shipped("repeat");
    dir.write(
        "prompts/templates/question.j2",
        "{{ text }}\n{% set s = \"x\" * 100000000 %}{{ s|length }} #{{ hashtag }}\n",
    );
    let run = chathost(&["check"], dir.path(), QUICK);
    no_panic(&run);
    assert_eq!(run.code, Some(1), "{}", run.all());
    assert!(run.all().contains("question.j2:2:"), "{}", run.all());
    assert!(
        run.all().contains("templates may not multiply"),
        "{}",
        run.all()
    );
    assert!(!run.all().contains("all is well"), "{}", run.all());
}

const RUNAWAY: &str =
    "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}";

#[test]
fn a_runaway_template_loop_is_a_located_error_in_check_plan_and_rehearse() {
    let dir = Copy::of_shipped("runaway");
    dir.write(
        "prompts/templates/welcome.j2",
        &format!("Hello\n{RUNAWAY}\n"),
    );
    for args in [
        &["check"][..],
        &["plan", "--count", "1"][..],
        &["rehearse", "--speed", "3600"][..],
    ] {
        let run = chathost(args, dir.path(), QUICK);
        no_panic(&run);
        assert_eq!(run.code, Some(1), "{args:?}: {}", run.all());
        let all = run.all();
        assert!(
            all.contains("the template welcome.j2 is too complex to render (a loop runs too long)"),
            "{args:?}: {all}"
        );
        assert!(all.contains("templates/welcome.j2:2:"), "{args:?}: {all}");
    }
}

#[test]
fn a_template_rendering_past_64_kib_is_an_error() {
    let dir = Copy::of_shipped("huge");
    let body = format!(
        "{{% for i in range(70) %}}{}{{% endfor %}} #{{{{ hashtag }}}}",
        "y".repeat(1000)
    );
    dir.write("prompts/templates/welcome.j2", &body);
    let run = chathost(&["check"], dir.path(), QUICK);
    no_panic(&run);
    assert_eq!(run.code, Some(1), "{}", run.all());
    assert!(
        run.stderr
            .contains("the template welcome.j2 renders more than 64 KiB"),
        "{}",
        run.stderr
    );
}

// ---------------------------------------------------------------------------
// Item 8: accepted but wrong
// ---------------------------------------------------------------------------

#[test]
fn a_template_rendering_blank_text_is_an_error_in_check_and_plan() {
    for blank in ["", "  \n\n{% if false %}x{% endif %}\n"] {
        let dir = Copy::of_shipped("blank");
        dir.write("prompts/templates/question.j2", blank);
        let check = chathost(&["check"], dir.path(), QUICK);
        assert_eq!(check.code, Some(1), "{blank:?}: {}", check.all());
        let expected = "the template question.j2 renders blank text for the Q1 post";
        assert!(
            check.stderr.contains(expected),
            "{blank:?}: {}",
            check.stderr
        );
        let plan = chathost(&["plan", "--count", "1"], dir.path(), QUICK);
        assert_eq!(plan.code, Some(1), "{blank:?}: {}", plan.all());
        assert!(plan.stdout.contains(expected), "{blank:?}: {}", plan.stdout);
    }
}

#[test]
fn control_characters_are_located_errors_and_plan_never_prints_them_raw() {
    let cases = [
        (
            "prompts/evergreen.toml",
            "topic = \"Open\"\n\n[[question]]\ntext = \"Red \\u001b[31m alert\"\n",
            "prompts/evergreen.toml:4:",
            "U+001B",
        ),
        (
            "prompts/evergreen.toml",
            "topic = \"Nul\\u0000here\"\n\n[[question]]\ntext = \"Fine?\"\n",
            "prompts/evergreen.toml:1:",
            "U+0000",
        ),
        (
            "prompts/templates/welcome.j2",
            "Welcome \u{1b}[2J to #{{ hashtag }}\n",
            "prompts/templates/welcome.j2:1:9",
            "U+001B",
        ),
    ];
    for (file, text, location, code) in cases {
        let dir = Copy::of_shipped("control");
        dir.write(file, text);
        let check = chathost(&["check"], dir.path(), QUICK);
        assert_eq!(check.code, Some(1), "{file}: {}", check.all());
        assert!(check.stderr.contains(location), "{file}: {}", check.stderr);
        assert!(
            check
                .stderr
                .contains(&format!("remove the control character {code}")),
            "{file}: {}",
            check.stderr
        );
        let plan = chathost(&["plan", "--count", "2"], dir.path(), QUICK);
        assert_eq!(plan.code, Some(1), "{file}: {}", plan.all());
        for c in ['\u{1b}', '\0'] {
            assert!(
                !plan.stdout.contains(c),
                "{file}: raw {c:?} in {:?}",
                plan.stdout
            );
        }
        assert!(plan.stdout.contains(location), "{file}: {}", plan.stdout);
    }
}

#[test]
fn counts_of_one_are_singular_in_the_shipped_templates() {
    let dir = Copy::of_shipped("singular");
    dir.write(
        "prompts/evergreen.toml",
        "topic = \"Open\"\n\n[[question]]\ntext = \"Just one?\"\n",
    );
    let toml = std::fs::read_to_string(dir.path().join("bot.toml")).unwrap();
    dir.write(
        "bot.toml",
        &toml.replace("last_call = 55", "last_call = 59"),
    );
    let run = chathost(
        &["plan", "--count", "1", "--format", "json"],
        dir.path(),
        QUICK,
    );
    assert_eq!(run.code, Some(0), "{}", run.all());
    let value: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    let texts: Vec<&str> = value["chats"][0]["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["text"].as_str().unwrap())
        .collect();
    let all = texts.join("\n---\n");
    assert!(all.contains("1 question "), "{all}");
    assert!(all.contains("1 minute left"), "{all}");
    assert!(!all.contains("1 questions"), "{all}");
    assert!(!all.contains("1 minutes"), "{all}");
    assert!(!all.contains("1 question are"), "{all}");
}

// ---------------------------------------------------------------------------
// Item 9: one verdict for an unusable question file
// ---------------------------------------------------------------------------

/// A Wednesday far enough ahead to be upcoming whenever the tests run.
const FUTURE: &str = "2099-12-02";

fn make_unusable(dir: &Copy, how: &str) -> String {
    let name = format!("prompts/{FUTURE}.toml");
    let path = dir.path().join(&name);
    match how {
        "directory" => std::fs::create_dir(&path).unwrap(),
        _ => {
            let other = dir.path().join("prompts/other.toml");
            std::os::unix::fs::symlink(&other, &path).unwrap();
            std::os::unix::fs::symlink(&path, &other).unwrap();
        }
    }
    name
}

#[test]
fn check_and_plan_fail_alike_on_a_directory_or_a_symlink_loop() {
    for (how, what) in [
        ("directory", "this is a directory, not a file"),
        ("loop", "a symbolic link loop"),
    ] {
        let dir = Copy::of_shipped(how);
        let name = make_unusable(&dir, how);
        let expected = format!("{name}: error: cannot read this file: {what}");
        let check = chathost(&["check"], dir.path(), QUICK);
        assert_eq!(check.code, Some(1), "{how}: {}", check.all());
        assert!(check.stderr.contains(&expected), "{how}: {}", check.stderr);
        let plan = chathost(
            &["plan", "--count", "1", "--from", FUTURE],
            dir.path(),
            QUICK,
        );
        assert_eq!(plan.code, Some(1), "{how}: {}", plan.all());
        assert!(plan.stdout.contains(&expected), "{how}: {}", plan.stdout);
        // Never the fallback instead.
        assert!(
            !plan.stdout.contains("evergreen.toml"),
            "{how}: {}",
            plan.stdout
        );
        assert!(!plan.stdout.contains("Q1:"), "{how}: {}", plan.stdout);
    }
}

#[tokio::test]
async fn the_engine_reports_an_unusable_file_and_never_falls_back() {
    let dir = Copy::of_shipped("engine-unusable");
    make_unusable(&dir, "directory");
    let start = format!("{FUTURE}T12:00:00Z").parse().unwrap();
    let clock: SharedClock = Arc::new(JumpClock::new(start));
    let sandbox = Sandbox::start(SandboxConfig {
        participants: 0,
        clock: clock.clone(),
        hashtag: "WeNurses".into(),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let toml = std::fs::read_to_string(dir.path().join("bot.toml")).unwrap();
    let toml = toml
        .replace("https://mastodon.example", sandbox.base_url())
        .replace("software = \"auto\"", "software = \"mastodon\"")
        .replace("[state]", "[state]\ndir = \"state\"")
        // A JumpClock serves one waiter: no collection beside posting.
        .replace(
            "[chats.wenurses.collect]\nenabled = true",
            "[chats.wenurses.collect]\nenabled = false",
        );
    dir.write("bot.toml", &toml);
    let config = chathost::config::load_with_env(&dir.path().join("bot.toml"), &BTreeMap::new())
        .unwrap_or_else(|d| panic!("{}", d.iter().map(ToString::to_string).collect::<String>()))
        .config;
    let chat = config.chats[0].clone();
    let (tx, mut events) = mpsc::unbounded_channel();
    let (_trigger, shutdown) = Shutdown::new();
    let started = service::start(service::Parts {
        config,
        token: Secret::new(sandbox.bot().token.expose()),
        clock,
        use_scheduler: false,
        events: Some(tx),
        shutdown,
    })
    .await
    .unwrap();
    let date = FUTURE.parse().unwrap();
    let occ = chathost::plan::resolve_start(chat.zone, date, chat.time);
    let mut engine = started.engine.clone();
    tokio::time::timeout(
        Duration::from_secs(60),
        engine.run_occurrence("wenurses", &occ),
    )
    .await
    .expect("the engine hung on an unusable question file");
    let mut reported = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let Event::BrokenQuestions { file, problem, .. } = e {
            reported.push((file, problem));
        }
    }
    assert!(
        reported
            .iter()
            .any(|(f, p)| f.ends_with(&format!("{FUTURE}.toml"))
                && p.contains("this is a directory, not a file")),
        "{reported:?}"
    );
    // Nothing posted: not from the fallback, not at all.
    assert!(sandbox.statuses_of("chatbot").is_empty());
    sandbox.shutdown().await;
}

// ---------------------------------------------------------------------------
// Item 11: resource bounds
// ---------------------------------------------------------------------------

#[test]
fn rehearse_and_sandbox_refuse_out_of_range_speeds_and_participants() {
    let cases: [(&[&str], &str); 9] = [
        (&["sandbox", "--participants", "501"], "0..=500"),
        (&["sandbox", "--participants", "10000000"], "0..=500"),
        (&["rehearse", "--participants", "501"], "0..=500"),
        (&["rehearse", "--speed", "0"], "from 1 to 3600"),
        (&["rehearse", "--speed", "1e-9"], "from 1 to 3600"),
        (&["rehearse", "--speed", "NaN"], "from 1 to 3600"),
        (&["rehearse", "--speed", "inf"], "from 1 to 3600"),
        (&["rehearse", "--speed", "3601"], "from 1 to 3600"),
        (&["rehearse", "--speed", "fast"], "from 1 to 3600"),
    ];
    for (args, expected) in cases {
        let run = chathost(args, &repo(), Duration::from_secs(20));
        no_panic(&run);
        assert_eq!(run.code, Some(2), "{args:?}: {}", run.all());
        assert!(run.stderr.contains(expected), "{args:?}: {}", run.stderr);
        assert!(
            !run.stderr.contains("between 0 and 100000"),
            "{args:?}: {}",
            run.stderr
        );
    }
}
