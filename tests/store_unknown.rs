//! A step given up while its post may be on the server (the look for it
//! failed): recorded failed with the outcome unknown, then settled by a
//! later look — posted after all, or known failed. A plain failed step can
//! never become posted.

use chathost::plan::{Step, StepKind};
use chathost::store::{ChatId, NewChat, RemotePost, StepRecord, StepState, Store};
use chrono::{DateTime, NaiveDate, Utc};

fn start() -> DateTime<Utc> {
    "2026-12-02T20:00:00Z".parse().unwrap()
}

/// A chat with a reminder and one question, the reminder `posting`.
fn store() -> (Store, ChatId, StepRecord) {
    let store = Store::open_in_memory().unwrap();
    let chat = store
        .upsert_chat(
            &NewChat {
                name: "wenurses".into(),
                date: NaiveDate::from_ymd_opt(2026, 12, 2).unwrap(),
                start_utc: start(),
                instance_url: "https://mastodon.example".into(),
                account: "chatbot@mastodon.example".into(),
                questions_file: None,
            },
            start(),
        )
        .unwrap();
    let plan = [
        Step {
            kind: StepKind::Reminder { lead_minutes: 2 },
            at: start() - chrono::Duration::minutes(2),
            text: "Starts in 2 minutes #WeNurses".into(),
        },
        Step {
            kind: StepKind::Question { number: 1 },
            at: start() + chrono::Duration::minutes(5),
            text: "Q1: why? #WeNurses".into(),
        },
    ];
    store.sync_steps(chat.id, &plan, start()).unwrap();
    let step = store.steps(chat.id).unwrap().remove(0);
    store.begin_attempt(step.id, start()).unwrap();
    (store, chat.id, step)
}

fn status(id: &str) -> RemotePost {
    RemotePost {
        id: id.into(),
        uri: format!("https://mastodon.example/users/chatbot/statuses/{id}"),
        url: None,
        created_at: start(),
    }
}

#[test]
fn an_unknown_failure_found_later_becomes_posted_with_its_status() {
    let (store, chat, step) = store();
    store
        .mark_failed_unknown(step.id, "gave up; unknown", start())
        .unwrap();
    let failed = store.step(step.id).unwrap();
    assert_eq!(failed.state, StepState::Failed);
    assert!(failed.outcome_unknown);
    let listed = store.outcome_unknown_steps(chat).unwrap();
    assert_eq!(listed.iter().map(|s| s.id).collect::<Vec<_>>(), [step.id]);

    let later = start() + chrono::Duration::minutes(30);
    let posted = store
        .mark_found_later(step.id, &status("111"), later)
        .unwrap();
    assert_eq!(posted.state, StepState::Posted);
    assert!(!posted.outcome_unknown);
    assert_eq!(posted.remote.map(|r| r.id).as_deref(), Some("111"));
    assert_eq!(posted.posted_at, Some(later));
    assert_eq!(
        posted.reason, None,
        "no failure reason left on a posted step"
    );
    assert!(store.outcome_unknown_steps(chat).unwrap().is_empty());
    // Settled: neither transition applies again.
    assert!(
        store
            .mark_found_later(step.id, &status("222"), later)
            .is_err()
    );
    assert!(store.clear_outcome_unknown(step.id, "no", later).is_err());
    assert_eq!(store.step(step.id).unwrap().remote.unwrap().id, "111");
}

#[test]
fn an_unknown_failure_confirmed_absent_stays_failed_and_known() {
    let (store, chat, step) = store();
    store
        .mark_failed_unknown(step.id, "unknown", start())
        .unwrap();
    store
        .clear_outcome_unknown(step.id, "not on the server", start())
        .unwrap();
    let failed = store.step(step.id).unwrap();
    assert_eq!(failed.state, StepState::Failed);
    assert!(!failed.outcome_unknown);
    assert_eq!(failed.reason.as_deref(), Some("not on the server"));
    assert!(store.outcome_unknown_steps(chat).unwrap().is_empty());
    // Known failed: it can no longer be recorded posted.
    assert!(
        store
            .mark_found_later(step.id, &status("111"), start())
            .is_err()
    );
    assert_eq!(store.step(step.id).unwrap().state, StepState::Failed);
}

#[test]
fn a_plain_failed_step_cannot_become_posted() {
    let (store, chat, step) = store();
    store
        .mark_failed(step.id, "refused", Some(422), start())
        .unwrap();
    assert!(!store.step(step.id).unwrap().outcome_unknown);
    assert!(store.outcome_unknown_steps(chat).unwrap().is_empty());
    assert!(
        store
            .mark_found_later(step.id, &status("111"), start())
            .is_err()
    );
    assert!(store.clear_outcome_unknown(step.id, "x", start()).is_err());
    let after = store.step(step.id).unwrap();
    assert_eq!(after.state, StepState::Failed);
    assert_eq!(after.remote, None);
}

#[test]
fn a_status_another_step_holds_is_not_claimed_later() {
    let (store, chat, step) = store();
    store
        .mark_failed_unknown(step.id, "unknown", start())
        .unwrap();
    let q1 = store.steps(chat).unwrap().remove(1);
    store.begin_attempt(q1.id, start()).unwrap();
    store.mark_posted(q1.id, &status("111"), start()).unwrap();
    assert!(
        store
            .mark_found_later(step.id, &status("111"), start())
            .is_err()
    );
    let still = store.step(step.id).unwrap();
    assert_eq!(still.state, StepState::Failed);
    assert!(still.outcome_unknown);
}

/// A step an older chathost gave up with the outcome unknown (its reason
/// says so) is looked for again after the upgrade; a plain failure is not.
#[test]
fn an_upgrade_marks_the_older_unknown_failures_for_a_look() {
    use chathost::store::MIGRATIONS;
    let dir = std::env::temp_dir().join(format!("chathost-unknown-v4-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("chathost.sqlite3");
    {
        // As chathost left it before migration 5.
        let conn = rusqlite::Connection::open(&db).unwrap();
        for script in &MIGRATIONS[..4] {
            conn.execute_batch(script).unwrap();
        }
        conn.pragma_update(None, "application_id", 0x6368_6174)
            .unwrap();
        conn.pragma_update(None, "user_version", 4).unwrap();
        conn.execute(
            "INSERT INTO chats (name, local_date, start_utc, instance_url, account, state, \
             questions_file, created_at, updated_at) VALUES ('wenurses', '2026-12-02', \
             '2026-12-02T20:00:00.000Z', 'https://mastodon.example', 'chatbot@mastodon.example', \
             'done', NULL, '2026-12-01T10:00:00.000Z', '2026-12-02T21:00:00.000Z')",
            [],
        )
        .unwrap();
        for (n, key, reason) in [
            (
                1,
                "q1",
                "gave up after 3 attempts; whether it reached the server is unknown: the server could not be asked (429); look at the bot's account",
            ),
            (2, "q2", "the server refused it (422): too long"),
        ] {
            conn.execute(
                "INSERT INTO steps (chat_id, key, kind, kind_number, planned_at, text, state, \
                 reason, created_at, updated_at) VALUES (1, ?1, 'question', ?3, \
                 '2026-12-02T20:05:00.000Z', 'Q: why?', 'failed', ?2, \
                 '2026-12-01T10:00:00.000Z', '2026-12-02T20:06:00.000Z')",
                rusqlite::params![key, reason, n],
            )
            .unwrap();
        }
    }
    let store = Store::open(&db).unwrap();
    let chat = store
        .chat("wenurses", NaiveDate::from_ymd_opt(2026, 12, 2).unwrap())
        .unwrap()
        .unwrap();
    let unknown: Vec<String> = store
        .outcome_unknown_steps(chat.id)
        .unwrap()
        .into_iter()
        .map(|s| s.key)
        .collect();
    assert_eq!(unknown, vec!["q1".to_string()]);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
