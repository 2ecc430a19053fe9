//! The store on a real SQLite file: a chat's steps go from planned to
//! posted exactly once, through retries, restarts, a host's edits and a
//! process killed with SIGKILL in the middle of posting.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use chathost::plan::{Step, StepKind};
use chathost::store::{
    AttemptOutcome, ChatId, ChatRecord, ChatState, MIGRATIONS, NewChat, Problem, RemotePost,
    StepId, StepRecord, StepState, Store,
};
use chrono::{DateTime, Duration, NaiveDate, Utc};

/// A fresh folder under the system's temporary folder, removed afterwards.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("chathost-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn db(&self) -> PathBuf {
        self.0.join("chathost.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The chat start: Wednesday 2 December 2026, 20:00 in London (UTC).
fn start() -> DateTime<Utc> {
    at("2026-12-02T20:00:00Z")
}

fn wenurses() -> NewChat {
    NewChat {
        name: "wenurses".into(),
        date: NaiveDate::from_ymd_opt(2026, 12, 2).unwrap(),
        start_utc: start(),
        instance_url: "https://mastodon.example".into(),
        account: "chatbot@mastodon.example".into(),
        questions_file: Some("prompts/2026-12-02.toml".into()),
    }
}

/// A plan: the welcome, one question every ten minutes, the wrap-up.
fn plan(questions: &[&str]) -> Vec<Step> {
    let mut steps = vec![Step {
        kind: StepKind::Welcome,
        at: start(),
        text: "Welcome to #WeNurses!".into(),
    }];
    for (i, q) in questions.iter().enumerate() {
        steps.push(Step {
            kind: StepKind::Question { number: i + 1 },
            at: start() + Duration::minutes(5 + 10 * i as i64),
            text: format!("Q{}: {q} #WeNurses", i + 1),
        });
    }
    steps.push(Step {
        kind: StepKind::WrapUp,
        at: start() + Duration::minutes(60),
        text: "Thank you all! #WeNurses".into(),
    });
    steps
}

/// A store with the chat planned from `questions`.
fn planned(path: &Path, questions: &[&str]) -> (Store, ChatRecord) {
    let store = Store::open(path).unwrap();
    let chat = store.upsert_chat(&wenurses(), start()).unwrap();
    store
        .sync_steps(chat.id, &plan(questions), start())
        .unwrap();
    (store, chat)
}

fn step_by_key(store: &Store, chat: ChatId, key: &str) -> StepRecord {
    store
        .steps(chat)
        .unwrap()
        .into_iter()
        .find(|s| s.key == key)
        .unwrap_or_else(|| panic!("no step {key}"))
}

fn status(id: &str) -> RemotePost {
    RemotePost {
        id: id.into(),
        uri: format!("https://mastodon.example/users/chatbot/statuses/{id}"),
        url: Some(format!("https://mastodon.example/@chatbot/{id}")),
        created_at: at("2026-12-02T20:00:01.250Z"),
    }
}

/// Reads one setting of the file with a connection of its own.
fn pragma(path: &Path, name: &str) -> String {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row(&format!("PRAGMA {name}"), [], |r| {
        r.get::<_, rusqlite::types::Value>(0)
    })
    .map(|v| match v {
        rusqlite::types::Value::Integer(i) => i.to_string(),
        rusqlite::types::Value::Text(s) => s,
        other => format!("{other:?}"),
    })
    .unwrap()
}

#[test]
fn a_new_file_gets_the_whole_schema_and_reopening_changes_nothing() {
    let dir = TempDir::new("migrate");
    let (store, chat) = planned(&dir.db(), &["What helps?"]);
    assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
    drop(store);
    assert_eq!(pragma(&dir.db(), "journal_mode"), "wal");
    assert_eq!(
        pragma(&dir.db(), "user_version"),
        MIGRATIONS.len().to_string()
    );
    let schema = || {
        let conn = rusqlite::Connection::open(dir.db()).unwrap();
        let mut stmt = conn
            .prepare("SELECT name, sql FROM sqlite_schema ORDER BY name")
            .unwrap();
        stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
        })
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
    };
    let before = schema();
    assert!(before.iter().any(|(name, _)| name == "attempts"));

    let store = Store::open(dir.db()).unwrap();
    assert_eq!(
        store.chat("wenurses", chat.date).unwrap(),
        Some(chat.clone())
    );
    assert_eq!(store.steps(chat.id).unwrap().len(), 3);
    // The open store holds the file: look at it once it is closed.
    drop(store);
    assert_eq!(schema(), before);
}

#[test]
fn a_second_chathost_on_the_same_state_folder_is_refused() {
    let dir = TempDir::new("second");
    let first = Store::open(dir.db()).unwrap();
    // What a second `chathost run` with the same state folder would do.
    let second = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "opener_child_process", "--nocapture"])
        .env("CHATHOST_STORE_OPENER", dir.db())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&second.stdout).to_string()
        + &String::from_utf8_lossy(&second.stderr);
    assert!(said.contains("OPEN FAILED"), "{said}");
    assert!(
        said.contains("is a second chathost running with the same state folder?"),
        "{said}"
    );
    drop(first);
    // Once the first is gone, it opens.
    drop(Store::open(dir.db()).unwrap());

    // A writer killed with SIGKILL never lets go itself: the OS does.
    let mut holder = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "opener_child_process", "--nocapture"])
        .env("CHATHOST_STORE_OPENER", dir.db())
        .env("CHATHOST_STORE_HOLD", "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(holder.stdout.take().unwrap()).lines();
    let opened = lines.find_map(|l| l.ok().filter(|l| l.starts_with("OPEN")));
    assert_eq!(opened.as_deref(), Some("OPENED"));
    let held = Store::open(dir.db()).expect_err("opened beside a live writer");
    assert!(matches!(held.problem, Problem::InUse), "{held}");
    holder.kill().unwrap(); // SIGKILL
    holder.wait().unwrap();
    Store::open(dir.db()).unwrap();
}

/// Run by the test above as a separate process: tries to open the store
/// (with `CHATHOST_STORE_HOLD`, holds it until killed).
#[test]
fn opener_child_process() {
    let Ok(path) = std::env::var("CHATHOST_STORE_OPENER") else {
        return;
    };
    match Store::open(&path) {
        Ok(store) => {
            println!("OPENED");
            if std::env::var_os("CHATHOST_STORE_HOLD").is_some() {
                // Never outlive a test run that went wrong.
                std::thread::sleep(std::time::Duration::from_secs(60));
                drop(store);
            }
        }
        Err(e) => println!("OPEN FAILED: {e}"),
    }
}

#[test]
fn a_database_from_a_newer_chathost_is_refused() {
    let dir = TempDir::new("newer");
    drop(Store::open(dir.db()).unwrap());
    let newer = MIGRATIONS.len() as i64 + 1;
    rusqlite::Connection::open(dir.db())
        .unwrap()
        .pragma_update(None, "user_version", newer)
        .unwrap();

    let err = Store::open(dir.db()).unwrap_err();
    assert!(
        matches!(err.problem, Problem::TooNew { found, .. } if found == newer),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains(&dir.db().display().to_string()),
        "{message}"
    );
    assert!(message.contains("newer chathost"), "{message}");
    // Refusing writes nothing.
    assert_eq!(pragma(&dir.db(), "user_version"), newer.to_string());
}

#[test]
fn a_missing_folder_is_named_and_not_created() {
    let dir = TempDir::new("missing");
    let folder = dir.0.join("state");
    let err = Store::open(folder.join("chathost.db")).unwrap_err();
    assert!(
        matches!(err.problem, Problem::FolderMissing { .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("state/chathost.db"), "{message}");
    assert!(message.contains("does not exist"), "{message}");
    assert!(!folder.exists());
}

#[test]
fn a_file_that_is_not_a_chathost_database_is_left_alone() {
    let dir = TempDir::new("foreign");
    std::fs::write(dir.db(), "these are my notes, not a database\n".repeat(100)).unwrap();
    let err = Store::open(dir.db()).unwrap_err();
    assert!(matches!(err.problem, Problem::NotChathost), "{err:?}");
    assert!(err.to_string().contains("not a chathost database"), "{err}");

    let other = dir.0.join("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE photos (id INTEGER PRIMARY KEY)")
        .unwrap();
    let err = Store::open(&other).unwrap_err();
    assert!(matches!(err.problem, Problem::NotChathost), "{err:?}");
    assert_eq!(pragma(&other, "user_version"), "0");
}

#[test]
fn upsert_chat_returns_the_chat_already_recorded() {
    let dir = TempDir::new("upsert");
    let store = Store::open(dir.db()).unwrap();
    assert_eq!(store.chat("wenurses", wenurses().date).unwrap(), None);
    let first = store.upsert_chat(&wenurses(), start()).unwrap();
    assert_eq!(first.state, ChatState::Planned);
    assert_eq!(first.start_utc, start());

    let moved = NewChat {
        instance_url: "https://elsewhere.example".into(),
        ..wenurses()
    };
    let again = store
        .upsert_chat(&moved, start() + Duration::hours(1))
        .unwrap();
    assert_eq!(again, first);

    let next_week = NewChat {
        date: NaiveDate::from_ymd_opt(2026, 12, 9).unwrap(),
        start_utc: start() + Duration::days(7),
        ..wenurses()
    };
    assert_ne!(store.upsert_chat(&next_week, start()).unwrap().id, first.id);

    store
        .set_chat_state(first.id, ChatState::Running, start())
        .unwrap();
    drop(store);
    let store = Store::open(dir.db()).unwrap();
    assert_eq!(
        store.chat_by_id(first.id).unwrap().state,
        ChatState::Running
    );
    let err = store
        .set_chat_state(ChatId(9999), ChatState::Done, start())
        .unwrap_err();
    assert!(matches!(err.problem, Problem::NoSuchChat(_)), "{err:?}");
}

#[test]
fn a_step_keeps_one_idempotency_key_across_retries_and_restarts() {
    let dir = TempDir::new("life");
    let (store, chat) = planned(&dir.db(), &["What helps?", "What hinders?"]);
    let q1 = step_by_key(&store, chat.id, "q1");
    assert_eq!(q1.state, StepState::Pending);
    assert_eq!(q1.kind, StepKind::Question { number: 1 });
    assert_eq!(q1.planned_at, at("2026-12-02T20:05:00Z"));
    assert_eq!(q1.idempotency_key, None);

    let t = at("2026-12-02T20:05:00.010Z");
    let first = store.begin_attempt(q1.id, t).unwrap();
    assert_eq!(first.number, 1);
    assert_eq!(first.idempotency_key.len(), 32);
    assert!(first.idempotency_key.chars().all(|c| c.is_ascii_hexdigit()));
    store
        .record_attempt_error(q1.id, "the server answered 503", Some(503), t)
        .unwrap();
    let q1_now = store.step(q1.id).unwrap();
    assert_eq!(q1_now.state, StepState::Posting);
    assert_eq!(
        q1_now.last_error.as_deref(),
        Some("the server answered 503")
    );

    // A restart: the step is still posting, with its key.
    drop(store);
    let store = Store::open(dir.db()).unwrap();
    let unfinished = store.unfinished_steps().unwrap();
    assert_eq!(unfinished.len(), 1);
    assert_eq!(unfinished[0].id, q1.id);
    assert_eq!(
        unfinished[0].idempotency_key.as_deref(),
        Some(first.idempotency_key.as_str())
    );

    let second = store
        .begin_attempt(q1.id, t + Duration::seconds(2))
        .unwrap();
    assert_eq!(second.number, 2);
    assert_eq!(second.idempotency_key, first.idempotency_key);

    let posted = store
        .mark_posted(q1.id, &status("109"), t + Duration::seconds(3))
        .unwrap();
    assert_eq!(posted.state, StepState::Posted);
    assert_eq!(posted.attempts, 2);
    assert_eq!(posted.remote, Some(status("109")));
    assert_eq!(posted.posted_at, Some(t + Duration::seconds(3)));
    assert!(store.unfinished_steps().unwrap().is_empty());

    let log = store.attempts(q1.id).unwrap();
    let outcomes: Vec<_> = log
        .iter()
        .map(|a| (a.number, a.outcome, a.http_status))
        .collect();
    assert_eq!(
        outcomes,
        [
            (1, Some(AttemptOutcome::Error), Some(503)),
            (2, Some(AttemptOutcome::Posted), None)
        ]
    );
    assert_eq!(log[1].finished_at, Some(t + Duration::seconds(3)));

    // Another step draws its own key.
    let q2 = step_by_key(&store, chat.id, "q2");
    let other = store.begin_attempt(q2.id, t).unwrap();
    assert_ne!(other.idempotency_key, first.idempotency_key);
}

#[test]
fn an_attempt_that_never_got_an_outcome_is_logged_as_unknown() {
    let dir = TempDir::new("unknown");
    let (store, chat) = planned(&dir.db(), &["What helps?"]);
    let welcome = step_by_key(&store, chat.id, "welcome");
    store.begin_attempt(welcome.id, start()).unwrap();
    assert_eq!(store.attempts(welcome.id).unwrap()[0].outcome, None);
    store.begin_attempt(welcome.id, start()).unwrap();
    let log = store.attempts(welcome.id).unwrap();
    assert_eq!(log[0].outcome, Some(AttemptOutcome::Unknown));
    assert_eq!(log[1].outcome, None);
}

#[test]
fn marking_posted_again_is_harmless_but_another_status_is_a_double_post() {
    let dir = TempDir::new("double");
    let (store, chat) = planned(&dir.db(), &["What helps?"]);
    let welcome = step_by_key(&store, chat.id, "welcome");
    store.begin_attempt(welcome.id, start()).unwrap();
    let first = store
        .mark_posted(welcome.id, &status("109"), start())
        .unwrap();
    let again = store
        .mark_posted(welcome.id, &status("109"), start() + Duration::minutes(1))
        .unwrap();
    assert_eq!(again, first);

    let err = store
        .mark_posted(welcome.id, &status("110"), start())
        .unwrap_err();
    assert!(matches!(err.problem, Problem::DoublePost { .. }), "{err:?}");
    let message = err.to_string();
    for part in [
        "welcome of wenurses on 2026-12-02",
        "109",
        "110",
        "double post",
    ] {
        assert!(message.contains(part), "{message} lacks {part}");
    }
    assert!(
        message.contains(&dir.db().display().to_string()),
        "{message}"
    );
    assert_eq!(store.step(welcome.id).unwrap().remote, Some(status("109")));

    // One status cannot stand for two steps either.
    let q1 = step_by_key(&store, chat.id, "q1");
    store.begin_attempt(q1.id, start()).unwrap();
    let err = store
        .mark_posted(q1.id, &status("109"), start())
        .unwrap_err();
    assert!(
        matches!(err.problem, Problem::PostClaimed { .. }),
        "{err:?}"
    );
    assert_eq!(store.step(q1.id).unwrap().state, StepState::Posting);
}

#[test]
fn failed_and_skipped_steps_keep_their_reason_and_take_no_more_attempts() {
    let dir = TempDir::new("ends");
    let (store, chat) = planned(&dir.db(), &["What helps?", "What hinders?"]);
    let q1 = step_by_key(&store, chat.id, "q1");
    let q2 = step_by_key(&store, chat.id, "q2");
    let wrap = step_by_key(&store, chat.id, "wrap-up");

    // Posting a pending step without an attempt is refused.
    let err = store.mark_posted(q1.id, &status("1"), start()).unwrap_err();
    assert!(matches!(
        err.problem,
        Problem::WrongState {
            state: StepState::Pending,
            ..
        }
    ));

    store.begin_attempt(q1.id, start()).unwrap();
    let reason = "the server refused the post (422): it is longer than 500 characters";
    store
        .mark_failed(q1.id, reason, Some(422), start())
        .unwrap();
    let failed = store.step(q1.id).unwrap();
    assert_eq!(failed.state, StepState::Failed);
    assert_eq!(failed.reason.as_deref(), Some(reason));
    let log = store.attempts(q1.id).unwrap();
    assert_eq!(log[0].outcome, Some(AttemptOutcome::Failed));
    assert_eq!(log[0].http_status, Some(422));

    let err = store.begin_attempt(q1.id, start()).unwrap_err();
    assert!(matches!(
        err.problem,
        Problem::WrongState {
            state: StepState::Failed,
            ..
        }
    ));
    assert!(
        err.to_string()
            .contains("step q1 of wenurses on 2026-12-02 is failed"),
        "{err}"
    );

    store
        .mark_skipped(q2.id, "the bot started 40 minutes late", start())
        .unwrap();
    assert_eq!(store.step(q2.id).unwrap().state, StepState::Skipped);
    assert!(store.begin_attempt(q2.id, start()).is_err());
    assert!(
        store
            .record_attempt_error(q2.id, "x", None, start())
            .is_err()
    );

    // The wrap-up still goes out.
    store.begin_attempt(wrap.id, start()).unwrap();
    store.mark_posted(wrap.id, &status("200"), start()).unwrap();
    assert!(store.mark_skipped(wrap.id, "late", start()).is_err());
    assert!(store.mark_failed(wrap.id, "late", None, start()).is_err());

    let err = store.step(StepId(9999)).unwrap_err();
    assert!(matches!(err.problem, Problem::NoSuchStep(_)));
}

#[test]
fn a_hosts_edit_changes_pending_steps_only() {
    let dir = TempDir::new("sync");
    let (store, chat) = planned(&dir.db(), &["What helps?", "What hinders?", "Who helps?"]);
    let welcome = step_by_key(&store, chat.id, "welcome");
    let q1 = step_by_key(&store, chat.id, "q1");
    store.begin_attempt(welcome.id, start()).unwrap();
    store
        .mark_posted(welcome.id, &status("100"), start())
        .unwrap();
    store.begin_attempt(q1.id, start()).unwrap();

    // The same plan again changes nothing.
    let report = store
        .sync_steps(
            chat.id,
            &plan(&["What helps?", "What hinders?", "Who helps?"]),
            start(),
        )
        .unwrap();
    assert_eq!(report, Default::default());

    // The host rewrites every question and drops the third; the welcome
    // text changes too.
    let mut edited = plan(&["What helps you?", "What gets in the way?"]);
    edited[0].text = "Welcome, everyone!".into();
    let later = start() + Duration::minutes(3);
    let report = store.sync_steps(chat.id, &edited, later).unwrap();
    assert!(report.added.is_empty());
    assert_eq!(report.updated, ["q2"]);
    assert_eq!(report.cancelled, ["q3"]);
    assert_eq!(report.locked, ["welcome", "q1"]);

    let steps = store.steps(chat.id).unwrap();
    let keys: Vec<_> = steps.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(keys, ["welcome", "q1", "q2", "q3", "wrap-up"]);
    assert_eq!(steps[0].text, "Welcome to #WeNurses!");
    assert_eq!(steps[0].state, StepState::Posted);
    assert_eq!(steps[1].text, "Q1: What helps? #WeNurses");
    assert_eq!(steps[1].state, StepState::Posting);
    assert_eq!(steps[2].text, "Q2: What gets in the way? #WeNurses");
    assert_eq!(steps[2].updated_at, later);
    assert_eq!(steps[3].state, StepState::Cancelled);
    assert!(steps[3].reason.is_some());
    assert_eq!(steps[4].state, StepState::Pending);

    // A question planned again comes back, at its new instant; the posted
    // welcome dropped from the plan stays posted.
    let mut readded = plan(&["What helps you?", "What gets in the way?", "Who helps you?"]);
    readded.remove(0);
    readded[2].at += Duration::minutes(1);
    let report = store.sync_steps(chat.id, &readded, later).unwrap();
    assert_eq!(report.restored, ["q3"]);
    assert_eq!(report.locked, ["q1", "welcome"]);
    let q3 = step_by_key(&store, chat.id, "q3");
    assert_eq!(q3.state, StepState::Pending);
    assert_eq!(q3.text, "Q3: Who helps you? #WeNurses");
    assert_eq!(q3.planned_at, at("2026-12-02T20:26:00Z"));
    assert_eq!(q3.reason, None);
    assert_eq!(
        step_by_key(&store, chat.id, "welcome").state,
        StepState::Posted
    );

    // A fourth question is added.
    let report = store
        .sync_steps(chat.id, &plan(&["a", "b", "c", "d"]), later)
        .unwrap();
    assert_eq!(report.added, ["q4"]);

    // A plan with one key twice is refused whole: nothing of it is saved.
    let mut twice = plan(&["x", "y"]);
    twice.push(twice[1].clone());
    let err = store.sync_steps(chat.id, &twice, later).unwrap_err();
    assert!(
        matches!(err.problem, Problem::DuplicateKey(ref k) if k == "q1"),
        "{err:?}"
    );
    assert_eq!(step_by_key(&store, chat.id, "q2").text, "Q2: b #WeNurses");
    assert_eq!(step_by_key(&store, chat.id, "q4").state, StepState::Pending);
}

#[test]
fn unfinished_steps_are_the_posting_steps_of_every_chat() {
    let dir = TempDir::new("unfinished");
    let (store, chat) = planned(&dir.db(), &["What helps?"]);
    let next = store
        .upsert_chat(
            &NewChat {
                date: NaiveDate::from_ymd_opt(2026, 12, 9).unwrap(),
                start_utc: start() + Duration::days(7),
                ..wenurses()
            },
            start(),
        )
        .unwrap();
    let next_plan: Vec<Step> = plan(&["Later?"])
        .into_iter()
        .map(|s| Step {
            at: s.at + Duration::days(7),
            ..s
        })
        .collect();
    store.sync_steps(next.id, &next_plan, start()).unwrap();

    let a = step_by_key(&store, next.id, "welcome");
    let b = step_by_key(&store, chat.id, "q1");
    let done = step_by_key(&store, chat.id, "welcome");
    for s in [&a, &b, &done] {
        store.begin_attempt(s.id, start()).unwrap();
    }
    store.mark_posted(done.id, &status("1"), start()).unwrap();
    let ids: Vec<_> = store
        .unfinished_steps()
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, [b.id, a.id]);
}

#[test]
fn clones_share_one_store_across_threads() {
    let dir = TempDir::new("threads");
    let questions: Vec<String> = (1..=8).map(|i| format!("Question {i}?")).collect();
    let refs: Vec<&str> = questions.iter().map(String::as_str).collect();
    let (store, chat) = planned(&dir.db(), &refs);
    let steps = store.steps(chat.id).unwrap();
    std::thread::scope(|scope| {
        for (i, step) in steps.iter().enumerate() {
            let store = store.clone();
            scope.spawn(move || {
                store.begin_attempt(step.id, start()).unwrap();
                store
                    .mark_posted(step.id, &status(&format!("{i}")), start())
                    .unwrap();
            });
        }
    });
    assert!(
        store
            .steps(chat.id)
            .unwrap()
            .iter()
            .all(|s| s.state == StepState::Posted && s.attempts == 1)
    );
}

// ---------------------------------------------------------------------------
// Crash safety: a real process killed with SIGKILL.

/// Set in the environment of the child process: the database it writes to.
const CHILD_DB: &str = "CHATHOST_STORE_TEST_CHILD_DB";
/// Set in the environment of the child process to make it wait to be
/// killed right after its first `begin_attempt`, so the kill lands there.
const CHILD_PAUSE: &str = "CHATHOST_STORE_TEST_CHILD_PAUSE";

/// Not a test of its own: the writer the crash tests start as a child
/// process (this same test binary, with `CHILD_DB` set) and kill. It posts
/// every step that is not posted yet, in order, printing a line after each
/// call returns, then waits to be killed (with `CHILD_PAUSE` set, right
/// after the first `begin_attempt`).
#[test]
fn writer_child_process() {
    use std::io::Write;
    let Ok(path) = std::env::var(CHILD_DB) else {
        return;
    };
    let store = Store::open(&path).unwrap();
    let chat = store.chat("wenurses", wenurses().date).unwrap().unwrap();
    let mut out = std::io::stdout().lock();
    for step in store.steps(chat.id).unwrap() {
        if step.state == StepState::Posted {
            continue;
        }
        let attempt = store.begin_attempt(step.id, Utc::now()).unwrap();
        writeln!(
            out,
            "BEGUN {} {} {}",
            step.id.0, attempt.number, attempt.idempotency_key
        )
        .unwrap();
        out.flush().unwrap();
        if std::env::var_os(CHILD_PAUSE).is_some() {
            break;
        }
        store
            .mark_posted(step.id, &status(&format!("s-{}", step.key)), Utc::now())
            .unwrap();
        writeln!(out, "POSTED {}", step.id.0).unwrap();
        out.flush().unwrap();
    }
    if std::env::var_os(CHILD_PAUSE).is_none() {
        writeln!(out, "DONE").unwrap();
        out.flush().unwrap();
    }
    // Wait to be killed; never outlive a test run that went wrong.
    std::thread::sleep(std::time::Duration::from_secs(30));
}

/// What the child said before it was killed.
#[derive(Debug, Default)]
struct Heard {
    /// (step, attempt number, idempotency key) for each attempt begun.
    begun: Vec<(i64, u32, String)>,
    /// Steps marked posted.
    posted: Vec<i64>,
    /// Whether it posted everything.
    done: bool,
}

fn spawn_writer(db: &Path, pause: bool) -> Child {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "writer_child_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DB, db)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if pause {
        command.env(CHILD_PAUSE, "1");
    }
    command.spawn().unwrap()
}

/// Runs the writer until it has said `lines` lines (or finished), then
/// kills it with SIGKILL.
fn run_and_kill(db: &Path, lines: usize, pause: bool) -> Heard {
    let mut child = spawn_writer(db, pause);
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut heard = Heard::default();
    let mut said = 0;
    let mut line = String::new();
    while said < lines && !heard.done {
        line.clear();
        if reader.read_line(&mut line).unwrap() == 0 {
            let _ = child.kill();
            panic!("the writer stopped before being killed: {:?}", child.wait());
        }
        // The harness starts its "test … " line before ours: read from the marker on.
        let ours = ["BEGUN ", "POSTED ", "DONE"]
            .iter()
            .find_map(|m| line.find(m).map(|i| &line[i..]))
            .unwrap_or("");
        let words: Vec<&str> = ours.split_whitespace().collect();
        match words.as_slice() {
            ["BEGUN", id, n, key] => {
                heard
                    .begun
                    .push((id.parse().unwrap(), n.parse().unwrap(), key.to_string()));
                said += 1;
            }
            ["POSTED", id] => {
                heard.posted.push(id.parse().unwrap());
                said += 1;
            }
            ["DONE"] => heard.done = true,
            _ => {} // the harness's own lines
        }
    }
    // On Unix, Child::kill sends SIGKILL: no destructor, no rollback.
    child.kill().unwrap();
    child.wait().unwrap();
    heard
}

/// What must hold in the file after any kill.
fn assert_consistent(db: &Path, heard: &Heard) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    drop(conn);

    let store = Store::open(db).unwrap();
    let chat = store.chat("wenurses", wenurses().date).unwrap().unwrap();
    for step in store.steps(chat.id).unwrap() {
        let log = store.attempts(step.id).unwrap();
        // begin_attempt's two writes are one transaction.
        assert_eq!(log.len() as u32, step.attempts, "{step:?}");
        match step.state {
            StepState::Pending => assert_eq!(step.idempotency_key, None),
            StepState::Posting => assert!(step.idempotency_key.is_some() && step.remote.is_none()),
            StepState::Posted => assert!(step.remote.is_some()),
            other => panic!("the writer never makes a step {other}"),
        }
    }
    // Whatever the child was told is committed.
    for (id, number, key) in &heard.begun {
        let step = store.step(StepId(*id)).unwrap();
        assert!(
            matches!(step.state, StepState::Posting | StepState::Posted),
            "{step:?}"
        );
        assert_eq!(step.idempotency_key.as_deref(), Some(key.as_str()));
        assert!(step.attempts >= *number);
    }
    for id in &heard.posted {
        assert_eq!(store.step(StepId(*id)).unwrap().state, StepState::Posted);
    }
}

#[test]
fn a_process_killed_right_after_begin_attempt_leaves_the_step_posting_with_its_key() {
    let dir = TempDir::new("kill-one");
    let (store, chat) = planned(&dir.db(), &["What helps?"]);
    drop(store);

    let heard = run_and_kill(&dir.db(), 1, true);
    assert_eq!(heard.begun.len(), 1);
    let (id, number, key) = heard.begun[0].clone();
    assert_eq!(number, 1);

    let store = Store::open(dir.db()).unwrap();
    let step = store.step(StepId(id)).unwrap();
    assert_eq!(step.key, "welcome");
    assert_eq!(step.state, StepState::Posting);
    assert_eq!(step.idempotency_key.as_deref(), Some(key.as_str()));
    let unfinished = store.unfinished_steps().unwrap();
    assert_eq!(unfinished.iter().map(|s| s.id.0).collect::<Vec<_>>(), [id]);
    assert_eq!(store.attempts(step.id).unwrap()[0].outcome, None);

    // The retry after the restart carries the same key.
    let retry = store.begin_attempt(step.id, Utc::now()).unwrap();
    assert_eq!(retry.number, 2);
    assert_eq!(retry.idempotency_key, key);
    assert_eq!(
        store.attempts(step.id).unwrap()[0].outcome,
        Some(AttemptOutcome::Unknown)
    );
    assert_eq!(step_by_key(&store, chat.id, "q1").state, StepState::Pending);
}

#[test]
fn a_writer_killed_again_and_again_loses_nothing_it_was_told() {
    let dir = TempDir::new("kill-many");
    let questions: Vec<String> = (1..=40).map(|i| format!("Question {i}?")).collect();
    let refs: Vec<&str> = questions.iter().map(String::as_str).collect();
    let (store, chat) = planned(&dir.db(), &refs);
    drop(store);

    // Kill points chosen so that some land between begin and mark, some
    // just after a mark; the child goes on writing until the signal lands.
    let mut rounds = 0;
    for lines in [3, 8, 1, 13, 6, 21].into_iter().cycle() {
        let heard = run_and_kill(&dir.db(), lines, false);
        assert_consistent(&dir.db(), &heard);
        rounds += 1;
        if heard.done {
            break;
        }
        assert!(rounds < 60, "the writer never finished");
    }

    let store = Store::open(dir.db()).unwrap();
    let steps = store.steps(chat.id).unwrap();
    assert_eq!(steps.len(), 42);
    let mut ids = std::collections::HashSet::new();
    for step in &steps {
        assert_eq!(step.state, StepState::Posted, "{step:?}");
        let remote = step.remote.as_ref().unwrap();
        assert_eq!(remote.id, format!("s-{}", step.key));
        assert!(ids.insert(remote.id.clone()));
        let log = store.attempts(step.id).unwrap();
        assert_eq!(log.last().unwrap().outcome, Some(AttemptOutcome::Posted));
    }
    assert!(rounds > 1, "every kill came too late to test anything");
}

/// Issue 13, item 5: a state file with a few pages overwritten opened
/// normally, then failed with "database disk image is malformed" at chat
/// time, every 30 s, posting nothing. It is refused at open, with what to do.
#[test]
fn a_damaged_file_is_refused_at_open_with_what_to_do() {
    let dir = TempDir::new("damaged");
    let long: Vec<String> = (0..200)
        .map(|i| {
            format!(
                "Question {i} with enough words to fill a page or two {}",
                "x".repeat(200)
            )
        })
        .collect();
    let questions: Vec<&str> = long.iter().map(String::as_str).collect();
    {
        let (store, _) = planned(&dir.db(), &questions);
        drop(store);
    }
    let size = std::fs::metadata(dir.db()).unwrap().len();
    assert!(size > 8 * 4096, "the file is only {size} bytes");
    // Overwrite pages 3 to 5 (of at least 8), as a failing disk might.
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.db())
            .unwrap();
        file.seek(SeekFrom::Start(2 * 4096)).unwrap();
        file.write_all(&[0xA5; 3 * 4096]).unwrap();
    }
    let err = Store::open(dir.db()).expect_err("a damaged file opened");
    assert!(err.is_damaged(), "{err}");
    let text = err.to_string();
    assert!(text.contains("damaged"), "{text}");
    assert!(text.contains("Restore the latest backup"), "{text}");
    assert!(text.contains(&dir.db().display().to_string()), "{text}");
}

#[test]
fn a_version_1_database_is_upgraded_keeping_its_chats_and_steps() {
    let dir = TempDir::new("from-v1");
    {
        // A database as the first release left it: only migration 1.
        let conn = rusqlite::Connection::open(dir.db()).unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO chats (name, local_date, start_utc, instance_url, account, state, \
             questions_file, created_at, updated_at) VALUES ('wenurses', '2026-12-02', \
             '2026-12-02T20:00:00.000Z', 'https://mastodon.example', 'chatbot@mastodon.example', \
             'done', NULL, '2026-12-01T10:00:00.000Z', '2026-12-02T21:00:00.000Z')",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO steps (chat_id, key, kind, planned_at, text, state, created_at, \
             updated_at) VALUES (1, 'welcome', 'welcome', '2026-12-02T20:00:00.000Z', \
             'Welcome!', 'pending', '2026-12-01T10:00:00.000Z', '2026-12-01T10:00:00.000Z')",
            [],
        )
        .unwrap();
    }
    let store = Store::open(dir.db()).unwrap();
    assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
    let chat = store
        .chat("wenurses", NaiveDate::from_ymd_opt(2026, 12, 2).unwrap())
        .unwrap()
        .expect("the chat is kept");
    assert_eq!(chat.state, ChatState::Done);
    assert_eq!(chat.updated_at, at("2026-12-02T21:00:00Z"));
    assert_eq!(chat.swept_at, None);
    assert_eq!(store.steps(chat.id).unwrap()[0].text, "Welcome!");
    // The new tables are there and empty, and work.
    assert!(store.answers(chat.id).unwrap().is_empty());
    assert!(store.sources(chat.id).unwrap().is_empty());
    store
        .mark_swept(chat.id, at("2026-12-03T09:00:00Z"))
        .unwrap();
    drop(store);
    let store = Store::open(dir.db()).unwrap();
    assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
    assert_eq!(
        store.chat_by_id(chat.id).unwrap().swept_at,
        Some(at("2026-12-03T09:00:00Z"))
    );
}
