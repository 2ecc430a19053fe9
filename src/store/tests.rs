use chrono::{DateTime, Utc};

use super::codec::*;
use super::*;
use crate::plan::StepKind;

#[test]
fn every_step_kind_survives_the_round_trip() {
    let kinds = [
        StepKind::Reminder { lead_minutes: 60 },
        StepKind::Welcome,
        StepKind::Question { number: 12 },
        StepKind::LastCall,
        StepKind::WrapUp,
        StepKind::Recap {
            part: 1,
            head: true,
        },
        StepKind::Recap {
            part: 7,
            head: false,
        },
    ];
    for kind in kinds {
        assert_eq!(StepKind::from_key(&kind.key()), Some(kind));
        let (word, number) = kind_parts(&kind);
        assert_eq!(kind_from_parts(word, number), Some(kind));
    }
    assert_eq!(kind_from_parts("question", None), None);
    assert_eq!(kind_from_parts("poll", Some(1)), None);
}

#[test]
fn every_state_word_parses_back() {
    for s in [
        StepState::Pending,
        StepState::Posting,
        StepState::Posted,
        StepState::Failed,
        StepState::Skipped,
        StepState::Cancelled,
    ] {
        assert_eq!(StepState::parse(s.as_str()), Some(s));
    }
    for s in [
        ChatState::Planned,
        ChatState::Running,
        ChatState::Done,
        ChatState::Skipped,
    ] {
        assert_eq!(ChatState::parse(s.as_str()), Some(s));
    }
    assert_eq!(StepState::parse("Posted"), None);
}

#[test]
fn instants_are_stored_as_utc_text_to_the_millisecond() {
    let store = Store::open_in_memory().unwrap();
    let conn = store.lock();
    let t = DateTime::parse_from_rfc3339("2026-12-02T21:00:00.123456+01:00")
        .unwrap()
        .with_timezone(&Utc);
    let stored: String = conn.query_row("SELECT ?1", [Ts(t)], |r| r.get(0)).unwrap();
    assert_eq!(stored, "2026-12-02T20:00:00.123Z");
    let back: Ts = conn
        .query_row("SELECT ?1", [&stored], |r| r.get(0))
        .unwrap();
    assert_eq!(back.0.timestamp_millis(), t.timestamp_millis());
    let bad = conn.query_row("SELECT 'yesterday'", [], |r| r.get::<_, Ts>(0));
    assert!(bad.is_err());
}

#[test]
fn a_store_can_be_shared_between_tasks() {
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<Store>();
}

#[test]
fn a_file_store_is_durable_at_every_commit() {
    let dir = std::env::temp_dir().join(format!("chathost-store-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::open(dir.join("chathost.db")).unwrap();
    let value = |name: &str| -> String {
        store
            .lock()
            .pragma_query_value(None, name, |r| r.get::<_, rusqlite::types::Value>(0))
            .map(|v| format!("{v:?}"))
            .unwrap()
    };
    assert_eq!(value("journal_mode"), r#"Text("wal")"#);
    assert_eq!(value("synchronous"), "Integer(2)"); // FULL
    assert_eq!(value("foreign_keys"), "Integer(1)");
    assert_eq!(value("busy_timeout"), "Integer(5000)");
    assert_eq!(
        value("application_id"),
        format!("Integer({APPLICATION_ID})")
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_in_memory_store_has_the_whole_schema_and_foreign_keys_on() {
    let store = Store::open_in_memory().unwrap();
    assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
    let conn = store.lock();
    let fk: i64 = conn
        .pragma_query_value(None, "foreign_keys", |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
    // A step must belong to a chat.
    let orphan = conn.execute(
        "INSERT INTO steps (chat_id, key, kind, planned_at, text, state, created_at, updated_at) \
         VALUES (999, 'q1', 'question', 'x', 'x', 'pending', 'x', 'x')",
        [],
    );
    assert!(orphan.is_err());
}

/// A fresh folder for one test's database.
fn temp_folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("chathost-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_second_writer_is_refused_until_the_first_is_gone() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_folder("writer-lock");
    let db = dir.join("chathost.sqlite3");
    let first = Store::open(&db).unwrap();
    let clone = first.clone();
    let err = Store::open(&db).expect_err("a second writer opened");
    assert!(matches!(err.problem, Problem::InUse), "{err}");
    let said = err.to_string();
    assert!(said.contains("another chathost"), "{said}");
    assert!(said.contains("stop the service"), "{said}");
    assert!(writer_active(&db).unwrap());
    let mode = std::fs::metadata(lock_path(&db))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // A clone keeps the lock: the store is one writer however shared.
    drop(first);
    assert!(matches!(
        Store::open(&db).unwrap_err().problem,
        Problem::InUse
    ));
    assert!(writer_active(&db).unwrap());
    drop(clone);
    assert!(!writer_active(&db).unwrap());
    let again = Store::open(&db).unwrap();
    assert_eq!(again.schema_version().unwrap(), MIGRATIONS.len() as i64);
    drop(again);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn readers_read_a_live_database_beside_its_writer() {
    let dir = temp_folder("readers");
    let db = dir.join("chathost.sqlite3");
    let missing = Store::open_read_only(&db).expect_err("a missing file opened");
    assert!(matches!(missing.problem, Problem::NoDatabase), "{missing}");
    assert!(
        missing.to_string().contains(
            "no database in this folder; the systemd service keeps it in /var/lib/chathost"
        ),
        "{missing}"
    );
    assert!(!db.exists(), "a reader created the database");

    let writer = Store::open(&db).unwrap();
    let start: DateTime<Utc> = "2026-12-02T20:00:00Z".parse().unwrap();
    let new = |date: &str| NewChat {
        name: "wenurses".into(),
        date: date.parse().unwrap(),
        start_utc: start,
        instance_url: "https://example.org".into(),
        account: "bot".into(),
        questions_file: None,
    };
    writer.upsert_chat(&new("2026-12-02"), start).unwrap();
    let reader = Store::open_read_only(&db).unwrap();
    assert_eq!(reader.chats(None).unwrap().len(), 1);
    assert_eq!(reader.quick_check().unwrap(), None);
    // The writer goes on while the reader is open, and the reader sees it.
    writer.upsert_chat(&new("2026-12-09"), start).unwrap();
    assert_eq!(reader.chats(None).unwrap().len(), 2);
    // A reader never writes.
    assert!(reader.upsert_chat(&new("2026-12-16"), start).is_err());

    // A consistent copy through the reader, while the writer holds the file.
    let copy = dir.join("copy.sqlite3");
    reader.copy_into(&copy).unwrap();
    writer.upsert_chat(&new("2026-12-16"), start).unwrap();
    let copied = Store::open_read_only(&copy).unwrap();
    assert_eq!(copied.chats(None).unwrap().len(), 2);
    assert_eq!(copied.quick_check().unwrap(), None);
    // SQLite itself refuses to copy over a database.
    assert!(reader.copy_into(&copy).is_err());
    drop((reader, writer, copied));
    // Every handle closed: a fresh reader still sees every commit.
    let after = Store::open_read_only(&db).unwrap();
    assert_eq!(after.chats(None).unwrap().len(), 3);
    drop(after);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_symlink_to_the_database_shares_its_writer_lock() {
    let dir = temp_folder("symlink");
    let db = dir.join("chathost.sqlite3");
    let first = Store::open(&db).unwrap();
    let link = dir.join("other-name.sqlite3");
    std::os::unix::fs::symlink(&db, &link).unwrap();
    assert!(
        writer_active(&link).unwrap(),
        "the lock is seen through the link"
    );
    let second = Store::open(&link).expect_err("a second writer through a symlink");
    assert!(matches!(second.problem, Problem::InUse), "{second}");
    assert!(!lock_path(&link).exists(), "no second lock file");
    drop(first);
    drop(Store::open(&link).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_lock_file_root_owns_names_the_chown_that_fixes_it() {
    let problem = Problem::LockFile {
        path: "/var/lib/private/chathost/chathost.sqlite3.lock".into(),
        error: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
    };
    let said = problem.to_string();
    assert!(
        said.contains("`sudo chown --reference=/var/lib/private/chathost /var/lib/private/chathost/chathost.sqlite3.lock`"),
        "{said}"
    );
}
