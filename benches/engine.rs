//! `cargo bench`: how fast, how punctual and how economical the engine is on
//! this machine. Prints a table; BENCHMARKS.md keeps a run's numbers.
//!
//! - plan: building every post of a chat from its files (what happens
//!   before each step);
//! - store: recording one post (intent, then remote id: two fsyncs);
//! - season: 33 weekly chats against the sandbox on a jumping clock —
//!   posts per second and API requests per post;
//! - punctuality: a chat on a clock 60 times faster than real time, so one
//!   real millisecond late is 60 virtual ones — lateness in real ms;
//! - memory: the process's peak resident size.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chathost::clock::{JumpClock, ScaledClock, SharedClock};
use chathost::engine::service;
use chathost::engine::{Event, Shutdown};
use chathost::sandbox::{Sandbox, SandboxConfig};
use chathost::secret::Secret;
use chathost::{config, plan, prompts};
use chrono::{DateTime, Utc};

const QUESTIONS: &str = "topic = \"Bench\"\n\n[[question]]\ntext = \"One?\"\n\n[[question]]\ntext = \"Two?\"\n\n[[question]]\ntext = \"Three?\"\n\n[[question]]\ntext = \"Four?\"\n\n[[question]]\ntext = \"Five?\"\n";

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("{:<34} {:>14}", "measure", "value");
    bench_plan();
    bench_store();
    rt.block_on(bench_season());
    rt.block_on(bench_punctuality());
    println!("{:<34} {:>11} MiB", "peak resident memory", peak_rss_mib());
}

fn row(name: &str, value: String) {
    println!("{name:<34} {value:>14}");
}

fn shipped() -> config::Config {
    config::load(&std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bot.toml"))
        .expect("the shipped bot.toml loads")
        .config
}

fn bench_plan() {
    let cfg = shipped();
    let chat = &cfg.chats[0];
    let date = chrono::NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
    let n = 2000;
    let started = Instant::now();
    for _ in 0..n {
        let occ = plan::resolve_start(chat.zone, date, chat.time);
        let qs = prompts::question_file(chat, date)
            .load(chat)
            .unwrap()
            .unwrap();
        let templates = prompts::Templates::load(&chat.prompts_dir).unwrap().0;
        let steps = plan::build_steps(chat, &occ, &qs, &templates, None).unwrap();
        assert_eq!(steps.len(), 10);
    }
    row(
        "plan a chat (read files, render)",
        format!("{:.0} µs", started.elapsed().as_micros() as f64 / n as f64),
    );
}

fn bench_store() {
    use chathost::store::{NewChat, RemotePost, Store};
    let dir = std::env::temp_dir().join(format!("chathost-bench-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::open(dir.join("bench.sqlite3")).unwrap();
    let now = Utc::now();
    let cfg = shipped();
    let chat = &cfg.chats[0];
    let n = 100;
    let mut total = Duration::ZERO;
    for week in 0..n {
        let date =
            chrono::NaiveDate::from_ymd_opt(2027, 1, 6).unwrap() + chrono::Duration::weeks(week);
        let occ = plan::resolve_start(chat.zone, date, chat.time);
        let record = store
            .upsert_chat(
                &NewChat {
                    name: "bench".into(),
                    date,
                    start_utc: occ.start_utc(),
                    instance_url: "http://127.0.0.1".into(),
                    account: "bench".into(),
                    questions_file: None,
                },
                now,
            )
            .unwrap();
        let step = plan::Step {
            kind: plan::StepKind::Welcome,
            at: occ.start_utc(),
            text: "Welcome".into(),
        };
        store.sync_steps(record.id, &[step], now).unwrap();
        let id = store.steps(record.id).unwrap()[0].id;
        let started = Instant::now();
        store.begin_attempt(id, now).unwrap();
        store
            .mark_posted(
                id,
                &RemotePost {
                    id: format!("{week}"),
                    uri: format!("http://127.0.0.1/s/{week}"),
                    url: None,
                    created_at: now,
                },
                now,
            )
            .unwrap();
        total += started.elapsed();
    }
    row(
        "record one post (2 commits)",
        format!("{:.2} ms", total.as_secs_f64() * 1000.0 / n as f64),
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A host folder with bot.toml pointing at `url`, and the engine on `clock`.
async fn engine(
    name: &str,
    url: &str,
    clock: SharedClock,
    token: &str,
    extra: &str,
) -> (
    service::Started,
    tokio::sync::mpsc::UnboundedReceiver<Event>,
    std::path::PathBuf,
) {
    let dir = std::env::temp_dir().join(format!("chathost-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("prompts")).unwrap();
    std::fs::write(dir.join("prompts/evergreen.toml"), QUESTIONS).unwrap();
    std::fs::write(
        dir.join("bot.toml"),
        format!(
            "[instance]\nurl = \"{url}\"\nsoftware = \"mastodon\"\n\n[state]\ndir = \"state\"\n\n[chats.bench]\nhashtag = \"Bench\"\nweekday = \"Wednesday\"\ntime = \"20:00\"\nzone = \"Europe/London\"\nfallback = \"evergreen.toml\"\n{extra}\n"
        ),
    )
    .unwrap();
    let config = config::load_with_env(&dir.join("bot.toml"), &BTreeMap::new())
        .unwrap()
        .config;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (_trigger, shutdown) = Shutdown::new();
    std::mem::forget(_trigger);
    let started = service::start(service::Parts {
        config,
        token: Secret::new(token),
        clock,
        use_scheduler: false,
        events: Some(tx),
        shutdown,
    })
    .await
    .unwrap();
    (started, rx, dir)
}

/// A sandbox and the engine on one clock, for the chat `bench`.
async fn rig(
    name: &str,
    clock: SharedClock,
    participants: usize,
    extra: &str,
) -> (
    Sandbox,
    service::Started,
    tokio::sync::mpsc::UnboundedReceiver<Event>,
    std::path::PathBuf,
) {
    let sandbox = Sandbox::start(SandboxConfig {
        participants,
        clock: clock.clone(),
        hashtag: "Bench".into(),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let (started, events, dir) = engine(
        name,
        sandbox.base_url(),
        clock,
        sandbox.bot().token.expose(),
        extra,
    )
    .await;
    tokio::spawn(started.engine.clone().run_chat_forever("bench".into()));
    (sandbox, started, events, dir)
}

async fn bench_season() {
    let start: DateTime<Utc> = "2027-01-04T12:00:00Z".parse().unwrap();
    let t0 = Instant::now();
    let (sandbox, _started, mut events, dir) = rig(
        "season",
        Arc::new(JumpClock::new(start)),
        0,
        // A JumpClock serves one waiter: posting only.
        "reminders = [\"24h\", \"1h\"]\n[chats.bench.collect]\nenabled = false",
    )
    .await;
    let (mut chats, mut posts) = (0, 0);
    while chats < 33 {
        match events.recv().await.unwrap() {
            Event::ChatDone { .. } => chats += 1,
            Event::Posted { .. } => posts += 1,
            _ => {}
        }
    }
    let elapsed = t0.elapsed();
    // Everything the bot asked of the server, start-up included.
    let requests = sandbox.log().total();
    row(
        "season: 33 chats, posts/second",
        format!("{:.0}", posts as f64 / elapsed.as_secs_f64()),
    );
    row(
        "season: API requests per post",
        format!("{:.2}", requests as f64 / posts as f64),
    );
    let _ = std::fs::remove_dir_all(dir);
}

async fn bench_punctuality() {
    let speed = 60.0;
    let start: DateTime<Utc> = "2027-01-06T19:59:30Z".parse().unwrap();
    let (_sandbox, _started, mut events, dir) = rig(
        "punctual",
        Arc::new(ScaledClock::new(start, speed)),
        4,
        "reminders = []\nduration_minutes = 15\n\n[chats.bench.pacing]\nfirst_question = 1\nlast_call = 13",
    )
    .await;
    let mut late_ms = Vec::new();
    loop {
        match events.recv().await.unwrap() {
            Event::ChatDone { .. } => break,
            Event::Posted { planned, at, .. } => {
                late_ms.push((at - planned).num_microseconds().unwrap_or(0) as f64 / 1000.0 / speed)
            }
            _ => {}
        }
    }
    late_ms.sort_by(f64::total_cmp);
    row(
        "punctuality: median late (real)",
        format!("{:.2} ms", late_ms[late_ms.len() / 2]),
    );
    row(
        "punctuality: worst late (real)",
        format!("{:.2} ms", late_ms[late_ms.len() - 1]),
    );
    let _ = std::fs::remove_dir_all(dir);
}

fn peak_rss_mib() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or("?".into(), |kb| format!("{:.1}", kb / 1024.0))
}
