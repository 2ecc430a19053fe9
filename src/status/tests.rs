//! `gather` on a real file store: what makes `status` say "needs attention".

use chrono::{DateTime, Utc};

use super::*;
use crate::plan::{Step, StepKind};
use crate::store::{NewChat, ThreadStep};

const BOT: &str = r#"[instance]
url = "https://chat.invalid"

[account]
token_env = "UNUSED_TOKEN"

[state]
dir = "state"

[chats.wenurses]
hashtag = "WeNurses"
weekday = "Wednesday"
time = "20:00"
zone = "Europe/London"
fallback = "always.toml"
"#;

const QUESTIONS: &str = "topic = \"T\"\n\n[[question]]\ntext = \"One?\"\n";

/// A folder with bot.toml, a fallback question file and a store holding
/// the chat of 2 December with two steps (one posted) and a recap thread
/// of two posts (one posted); `fail` fails the other step and recap post.
fn folder(name: &str, fail: bool) -> Config {
    let dir = std::env::temp_dir().join(format!("chathost-status-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("prompts")).unwrap();
    std::fs::create_dir_all(dir.join("state")).unwrap();
    std::fs::write(dir.join("bot.toml"), BOT).unwrap();
    std::fs::write(dir.join("prompts/always.toml"), QUESTIONS).unwrap();
    let config = crate::config::load_with_env(&dir.join("bot.toml"), &Default::default())
        .unwrap()
        .config;
    let store = Store::open(config.state_dir.join(DATABASE)).unwrap();
    let start: DateTime<Utc> = "2026-12-02T20:00:00Z".parse().unwrap();
    let chat = store
        .upsert_chat(
            &NewChat {
                name: "wenurses".into(),
                date: start.date_naive(),
                start_utc: start,
                instance_url: "https://chat.invalid".into(),
                account: "bot".into(),
                questions_file: None,
            },
            start,
        )
        .unwrap();
    let step = |kind, text: &str| Step {
        kind,
        at: start,
        text: text.into(),
    };
    let steps = [step(StepKind::Welcome, "Hi"), step(StepKind::WrapUp, "Bye")];
    store.sync_steps(chat.id, &steps, start).unwrap();
    let thread = ["Thanks", "More"].map(|t| ThreadStep {
        text: t.into(),
        head: t == "Thanks",
    });
    store.compose_recap(chat.id, &thread, start, start).unwrap();
    for (i, s) in store.steps(chat.id).unwrap().iter().enumerate() {
        if i % 2 == 0 {
            store.begin_attempt(s.id, start).unwrap();
            let post = crate::store::RemotePost {
                id: format!("r{i}"),
                uri: format!("https://chat.invalid/s/{i}"),
                url: None,
                created_at: start,
            };
            store.mark_posted(s.id, &post, start).unwrap();
        } else if fail {
            store
                .mark_failed(s.id, "refused", Some(422), start)
                .unwrap();
        }
    }
    config
}

#[test]
fn a_failed_post_and_a_failed_recap_post_need_attention() {
    let config = folder("failed", true);
    let now: DateTime<Utc> = "2026-12-03T12:00:00Z".parse().unwrap();
    let status = gather(&config, now);
    assert!(!status.ok);
    let last = status.chats[0].last.as_ref().unwrap();
    assert_eq!((last.steps.posted, last.steps.failed), (1, 1));
    assert_eq!((last.recap.posted, last.recap.failed), (1, 1));
    assert_eq!(status.attention.len(), 3, "{:?}", status.attention);
    assert!(status.attention[0].contains("the service is not running"));
    assert!(status.attention[1].contains("1 post(s) failed"));
    // A failed part is final: the hint must not promise that --post redoes it.
    assert!(status.attention[2].contains("1 recap post(s) failed, and a failed post is final"));
    assert!(status.attention[2].contains("`chathost recap wenurses --date 2026-12-02`"));
    assert!(!status.attention[2].contains("--post"));
    // The store itself is fine, and nobody holds it.
    assert_eq!(status.store.quick_check.as_deref(), Some("ok"));
    assert_eq!(status.store.service_running, Some(false));
    assert!(render::text(&status).contains("needs attention"));
    let _ = std::fs::remove_dir_all(&config.base_dir);
}

/// The service's writer lock on the folder's store, as while it runs.
fn service(config: &Config) -> Store {
    Store::open(config.state_dir.join(DATABASE)).unwrap()
}

#[test]
fn pending_posts_during_the_chat_and_a_fallback_week_are_well() {
    let config = folder("pending", false);
    let _service = service(&config);
    // The chat of 2 December runs 20:00 to 21:00 (the default hour).
    let now: DateTime<Utc> = "2026-12-02T21:30:00Z".parse().unwrap();
    let status = gather(&config, now);
    assert!(status.ok, "{:?}", status.attention);
    assert_eq!(status.store.service_running, Some(true));
    let next = status.chats[0].next.as_ref().unwrap();
    assert_eq!(next.date, "2026-12-09");
    assert_eq!(next.questions.source, "fallback");
    assert!(next.questions.passes_check);
    let last = status.chats[0].last.as_ref().unwrap();
    assert_eq!((last.steps.posted, last.steps.pending), (1, 1));
    // A chat date not yet begun is not the last one.
    let before: DateTime<Utc> = "2026-12-01T12:00:00Z".parse().unwrap();
    assert!(gather(&config, before).chats[0].last.is_none());
    assert!(render::text(&status).ends_with("all is well\n"));
    let _ = std::fs::remove_dir_all(&config.base_dir);
}

#[test]
fn posts_still_pending_an_hour_after_the_chat_were_missed() {
    let config = folder("missed", false);
    let _service = service(&config);
    let now: DateTime<Utc> = "2026-12-03T12:00:00Z".parse().unwrap();
    let status = gather(&config, now);
    assert!(!status.ok);
    assert_eq!(status.attention.len(), 1, "{:?}", status.attention);
    assert!(
        status.attention[0]
            .contains("wenurses: 1 posts of 2026-12-02 never went out: was the service down?"),
        "{:?}",
        status.attention
    );
    assert!(render::text(&status).contains("needs attention"));
    // Within the hour after its end (21:00), a late post is no alarm yet.
    let soon: DateTime<Utc> = "2026-12-02T21:59:00Z".parse().unwrap();
    assert!(gather(&config, soon).ok);
    let _ = std::fs::remove_dir_all(&config.base_dir);
}

#[test]
fn a_database_no_service_holds_needs_attention() {
    let config = folder("down", false);
    let now: DateTime<Utc> = "2026-12-02T21:30:00Z".parse().unwrap();
    let status = gather(&config, now);
    assert_eq!(status.store.service_running, Some(false));
    assert!(!status.ok);
    assert_eq!(
        status.attention,
        ["the service is not running: systemctl status chathost"]
    );
    // The same folder with the service holding it is well.
    let _service = service(&config);
    assert!(gather(&config, now).ok);
    let _ = std::fs::remove_dir_all(&config.base_dir);
}

#[test]
fn a_chat_whose_reminder_went_out_is_still_the_next_not_the_last() {
    let config = folder("reminded", false);
    let store = service(&config);
    let start: DateTime<Utc> = "2026-12-09T20:00:00Z".parse().unwrap();
    let next = store
        .upsert_chat(
            &NewChat {
                name: "wenurses".into(),
                date: start.date_naive(),
                start_utc: start,
                instance_url: "https://chat.invalid".into(),
                account: "bot".into(),
                questions_file: None,
            },
            start,
        )
        .unwrap();
    // What the 24 h reminder does to the chat date.
    let now: DateTime<Utc> = "2026-12-08T21:00:00Z".parse().unwrap();
    store
        .set_chat_state(next.id, crate::store::ChatState::Running, now)
        .unwrap();
    let status = gather(&config, now);
    let chat = &status.chats[0];
    assert_eq!(chat.last.as_ref().unwrap().date, "2026-12-02");
    assert_eq!(chat.next.as_ref().unwrap().date, "2026-12-09");
    let _ = std::fs::remove_dir_all(&config.base_dir);
}
