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
    assert_eq!(status.attention.len(), 2, "{:?}", status.attention);
    assert!(status.attention[0].contains("1 post(s) failed"));
    assert!(status.attention[1].contains("recap post(s) failed"));
    // The store itself is fine, and nobody holds it.
    assert_eq!(status.store.quick_check.as_deref(), Some("ok"));
    assert_eq!(status.store.service_running, Some(false));
    assert!(render::text(&status).contains("needs attention"));
    let _ = std::fs::remove_dir_all(&config.base_dir);
}

#[test]
fn pending_posts_alone_and_a_fallback_week_are_well() {
    let config = folder("pending", false);
    let now: DateTime<Utc> = "2026-12-03T12:00:00Z".parse().unwrap();
    let status = gather(&config, now);
    assert!(status.ok, "{:?}", status.attention);
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
