//! Issue 12's load figures, as numbers (no assertions); each prints its
//! figure and the command that reruns it:
//!
//! - `punctuality`: a chat in real time (SystemClock) on the loopback
//!   sandbox; each post's lateness, planned instant to the server's answer
//!   recorded by the engine, p50/p99/max. Pacing is whole minutes (the
//!   shortest allowed), so the run holds a reminder, the welcome and Q1 of
//!   several chats at once (`CHATHOST_BENCH_CHATS`, default 4): ~3 minutes.
//!   The engine runs on one thread as `chathost run` does, while answers
//!   go into the first chat's hashtag (`CHATHOST_BENCH_LOAD` a second,
//!   default 50), so its collector works beside the posting.
//! - `ingest`: answers posted into the hashtag at a fixed rate during a
//!   chat in real time (from 5 s before Q1), the engine on one thread;
//!   what the store holds against what was posted, and store growth per
//!   10,000.
//!   `CHATHOST_BENCH_SECONDS` (default 60, the minute) and
//!   `CHATHOST_BENCH_RATE` (default 200 a second).
//! - `economy`: whole chats (posting, collection, recap, archive) on a 60x
//!   clock with 100, 1,000, 2,000 and 10,000 answers; requests the bot made
//!   (the sandbox's request log) and the most in any 5-minute window / 300.
//!
//! `cargo bench --bench load -- punctuality|ingest|economy` (all without);
//! `RUST_LOG=info` shows the engine's log lines.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chathost::clock::{ScaledClock, SharedClock, SystemClock};
use chathost::engine::service;
use chathost::engine::{Event, Shutdown};
use chathost::sandbox::{Sandbox, SandboxConfig, TestPost, Visibility};
use chathost::secret::Secret;
use chathost::store::Store;
use chrono::{DateTime, Datelike, Timelike, Utc};
use tokio::sync::mpsc::UnboundedReceiver;

const QUESTIONS: &str = "topic = \"Bench\"\n\n[[question]]\ntext = \"One?\"\n\n[[question]]\ntext = \"Two?\"\n\n[[question]]\ntext = \"Three?\"\n\n[[question]]\ntext = \"Four?\"\n\n[[question]]\ntext = \"Five?\"\n";

fn main() {
    let which: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let all = which.is_empty();
    let want = |name: &str| all || which.iter().any(|w| w == name);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!("machine: {} cores, {}", cores(), kernel());
    if want("punctuality") {
        rt.block_on(punctuality());
    }
    if want("ingest") {
        rt.block_on(ingest());
    }
    if want("economy") {
        rt.block_on(economy());
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(0, |n| n.get())
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or("?".into(), |s| s.trim().to_string())
}

fn env_num(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A host folder with `chats` (TOML of `[chats.*]` tables) against `url`,
/// and the engine started on `clock`; one task per chat name.
async fn engine(
    name: &str,
    url: &str,
    token: &str,
    clock: SharedClock,
    chats: &str,
    names: &[String],
) -> (
    service::Started,
    UnboundedReceiver<Event>,
    std::path::PathBuf,
) {
    let dir = std::env::temp_dir().join(format!("chathost-load-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("prompts")).expect("temp dir");
    std::fs::write(dir.join("prompts/evergreen.toml"), QUESTIONS).expect("questions");
    std::fs::write(
        dir.join("bot.toml"),
        format!(
            "[instance]\nurl = \"{url}\"\nsoftware = \"mastodon\"\n\n[state]\ndir = \"state\"\n\n{chats}\n"
        ),
    )
    .expect("bot.toml");
    let config = chathost::config::load_with_env(&dir.join("bot.toml"), &BTreeMap::new())
        .expect("bench bot.toml loads")
        .config;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (trigger, shutdown) = Shutdown::new();
    // The engine runs until the process ends.
    std::mem::forget(trigger);
    let started = service::start(service::Parts {
        config,
        token: Secret::new(token),
        clock,
        use_scheduler: false,
        events: Some(tx),
        shutdown,
    })
    .await
    .expect("engine starts");
    for n in names {
        tokio::spawn(started.engine.clone().run_chat_forever(n.clone()));
    }
    (started, rx, dir)
}

/// [`engine`] on a runtime of its own with one thread, as `chathost run`
/// has (`main.rs`): its collectors share that thread with the posting.
fn engine_on_one_thread(
    name: &'static str,
    url: &str,
    token: &str,
    clock: SharedClock,
    chats: String,
    names: Vec<String>,
) -> (UnboundedReceiver<Event>, std::path::PathBuf, Store) {
    let (url, token) = (url.to_string(), token.to_string());
    let (handed, taken) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let (started, events, dir) = engine(name, &url, &token, clock, &chats, &names).await;
            let store = started.engine.store.clone();
            handed.send((events, dir, store)).expect("hand over");
            // The engine's tasks run until the process ends.
            std::future::pending::<()>().await;
            drop(started);
        });
    });
    taken.recv().expect("the engine starts")
}

fn sandbox_config(clock: SharedClock, participants: usize) -> SandboxConfig {
    SandboxConfig {
        participants,
        clock,
        hashtag: "Bench0".into(),
        answer_window: Duration::from_secs(60),
        ..SandboxConfig::default()
    }
}

/// One `[chats.benchN]` table: 15 minutes (the shortest), Q1 at minute 1.
fn chat_table(n: usize, weekday: &str, time: &str, extra: &str) -> String {
    format!(
        "[chats.bench{n}]\nhashtag = \"Bench{n}\"\nweekday = \"{weekday}\"\ntime = \"{time}\"\nzone = \"UTC\"\nfallback = \"evergreen.toml\"\nduration_minutes = 15\n{extra}\n[chats.bench{n}.pacing]\nfirst_question = 1\nlast_call = 13\n"
    )
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

async fn punctuality() {
    let chats = env_num("CHATHOST_BENCH_CHATS", 4).clamp(1, 20) as usize;
    // The next whole minute at least 65 s away: the 1-minute reminder is
    // still ahead when the engine starts.
    let now = Utc::now();
    let t = now + chrono::Duration::seconds(65);
    let start = t
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .map(|t| t + chrono::Duration::minutes(1))
        .expect("a whole minute");
    let weekday = format!("{:?}", start.weekday());
    let time = start.format("%H:%M").to_string();
    let clock: SharedClock = Arc::new(SystemClock);
    let sandbox = Sandbox::start(sandbox_config(clock.clone(), 4))
        .await
        .expect("sandbox");
    let names: Vec<String> = (0..chats).map(|n| format!("bench{n}")).collect();
    let tables: String = (0..chats)
        .map(|n| chat_table(n, &weekday, &time, "reminders = [\"1m\"]"))
        .collect();
    let bot = sandbox.bot();
    let (mut events, dir, _store) = engine_on_one_thread(
        "punctual",
        sandbox.base_url(),
        bot.token.expose(),
        clock,
        tables,
        names,
    );
    // A busy chat beside the posting: answers into the first chat's tag.
    let load = env_num("CHATHOST_BENCH_LOAD", 50);
    let posters = posters(&sandbox);
    println!(
        "punctuality: {chats} chats at {time} UTC, each a 1-minute reminder, the welcome and Q1 (real time, ~{} s); {load} answers a second into #Bench0 meanwhile",
        (start - now).num_seconds() + 60
    );
    let measured = lateness(&mut events, chats);
    tokio::pin!(measured);
    let (mut late_ms, first_ms, remote) = if load > 0 {
        tokio::select! {
            m = &mut measured => m,
            _ = post_at_rate(&sandbox, &posters, load, 600) => measured.await,
        }
    } else {
        measured.await
    };
    late_ms.sort_by(f64::total_cmp);
    let firsts: Vec<f64> = first_ms.values().copied().collect();
    println!(
        "punctuality (real time): {} posts, late p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; first post of each instant: {}",
        late_ms.len(),
        percentile(&late_ms, 0.5),
        percentile(&late_ms, 0.99),
        late_ms.last().copied().unwrap_or(f64::NAN),
        firsts
            .iter()
            .map(|m| format!("{m:.2} ms"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    server_lateness(&sandbox, &bot.acct, &remote);
    println!(
        "  rerun: CHATHOST_BENCH_CHATS={chats} CHATHOST_BENCH_LOAD={load} cargo bench --bench load -- punctuality"
    );
    sandbox.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Bytes of the SQLite file and its WAL.
fn store_bytes(path: &std::path::Path) -> u64 {
    let wal = std::path::PathBuf::from(format!("{}-wal", path.display()));
    [path.to_path_buf(), wal]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// A chat clock: `speed` times real time from 19:59:58 on a Wednesday.
fn chat_clock(speed: f64) -> SharedClock {
    let start: DateTime<Utc> = "2027-01-06T19:59:58Z".parse().expect("instant");
    Arc::new(ScaledClock::new(start, speed))
}

async fn wait_for(events: &mut UnboundedReceiver<Event>, want: &str) {
    while let Some(e) = events.recv().await {
        match e {
            Event::Posted { key, .. } if key == want => return,
            Event::Failed { key, reason, .. } => println!("  failed {key}: {reason}"),
            _ => {}
        }
    }
}

async fn ingest() {
    let seconds = env_num("CHATHOST_BENCH_SECONDS", 60).max(1);
    let rate = env_num("CHATHOST_BENCH_RATE", 200).max(1);
    // Real time (a clock at 1x), from just before Q1 of a 15-minute chat:
    // the collector's share of the rate limit is what a real chat has, and
    // the chat stays live for the whole minute and the wait after.
    let start: DateTime<Utc> = "2027-01-06T20:00:55Z".parse().expect("instant");
    let clock: SharedClock = Arc::new(ScaledClock::new(start, 1.0));
    let sandbox = Sandbox::start(sandbox_config(clock.clone(), 8))
        .await
        .expect("sandbox");
    let posters = posters(&sandbox);
    let names = vec!["bench0".to_string()];
    let bot = sandbox.bot();
    let (mut events, dir, store) = engine_on_one_thread(
        "ingest",
        sandbox.base_url(),
        bot.token.expose(),
        clock,
        chat_table(0, "Wednesday", "20:00", "reminders = []"),
        names,
    );
    wait_for(&mut events, "q1").await;
    let store_path = store.path().to_path_buf();
    let bytes_before = store_bytes(&store_path);
    let (ids, posting) = post_at_rate(&sandbox, &posters, rate, seconds).await;
    let (stored, lag) = wait_stored(&store, &ids).await;
    let growth = store_bytes(&store_path).saturating_sub(bytes_before);
    println!(
        "ingest: {} answers posted in {:.1} s ({:.0}/s asked, {:.0}/s achieved); stored {} ({} not stored), the last {:.1} s after posting stopped; store + WAL grew {:.2} MiB, {:.2} MiB per 10,000 answers",
        ids.len(),
        posting.as_secs_f64(),
        rate,
        ids.len() as f64 / posting.as_secs_f64(),
        stored,
        ids.len() - stored,
        lag.as_secs_f64(),
        growth as f64 / 1048576.0,
        growth as f64 / 1048576.0 * 10000.0 / ids.len().max(1) as f64
    );
    println!(
        "  rerun: CHATHOST_BENCH_SECONDS={seconds} CHATHOST_BENCH_RATE={rate} cargo bench --bench load -- ingest{}",
        if seconds < 60 {
            "  (shorter than the issue's full minute)"
        } else {
            ""
        }
    );
    sandbox.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

async fn economy() {
    for answers in [100, 1_000, 2_000, 10_000] {
        economy_chat(answers).await;
    }
    println!("  rerun: cargo bench --bench load -- economy");
}

/// One whole chat with `answers` answers spread over its five questions.
async fn economy_chat(answers: usize) {
    let clock = chat_clock(60.0);
    let sandbox = Sandbox::start(sandbox_config(clock.clone(), 8))
        .await
        .expect("sandbox");
    let names = vec!["bench0".to_string()];
    let bot = sandbox.bot();
    let extra = "reminders = []\n[chats.bench0.recap]\ndelay_minutes = 0\n[chats.bench0.collect]\ngrace_minutes = 1\n";
    let (_started, mut events, dir) = engine(
        "economy",
        sandbox.base_url(),
        bot.token.expose(),
        clock,
        &chat_table(0, "Wednesday", "20:00", extra),
        &names,
    )
    .await;
    let t0 = Instant::now();
    // The sandbox's own participants answer too (8 accounts, each
    // question): the bursts make up the rest.
    let burst = answers.saturating_sub(40) / 5;
    while let Some(e) = events.recv().await {
        match e {
            Event::Posted { key, .. } if key.starts_with('q') => {
                if let Ok(q) = key[1..].parse::<u32>() {
                    sandbox.burst(q, burst).await;
                }
            }
            Event::Failed { key, reason, .. } => println!("  failed {key}: {reason}"),
            Event::Archived { .. } => break,
            _ => {}
        }
    }
    let made = sandbox.answers_made().len();
    let records = sandbox.log().records();
    let mut at: Vec<DateTime<Utc>> = records
        .iter()
        .filter(|r| r.account.as_deref() == Some(bot.acct.as_str()) || r.account.is_none())
        .map(|r| r.at)
        .collect();
    at.sort();
    let window = chrono::Duration::minutes(5);
    let (mut peak, mut lo) = (0, 0);
    for hi in 0..at.len() {
        while at[hi] - at[lo] >= window {
            lo += 1;
        }
        peak = peak.max(hi + 1 - lo);
    }
    let limited = records.iter().filter(|r| r.status == Some(429)).count();
    println!(
        "economy: {made} answers: {} requests per chat (welcome to archive, start-up included), peak {peak} in 5 minutes = {:.2} of the rate limit; {limited} answered 429; {:.1} s real",
        at.len(),
        peak as f64 / 300.0,
        t0.elapsed().as_secs_f64()
    );
    let mut by: Vec<(String, usize)> = sandbox.log().by_endpoint().into_iter().collect();
    by.sort_by_key(|b| std::cmp::Reverse(b.1));
    let top: Vec<String> = by.iter().take(5).map(|(k, n)| format!("{k} {n}")).collect();
    println!("  most asked: {}", top.join(", "));
    sandbox.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Prints the lateness of `remote` (id, planned instant) by the server's
/// own record: when each POST arrived (its clock is the same system clock),
/// without the round trip back.
fn server_lateness(sandbox: &Sandbox, acct: &str, remote: &[(String, DateTime<Utc>)]) {
    let arrived: BTreeMap<String, DateTime<Utc>> = sandbox
        .statuses_of(acct)
        .into_iter()
        .map(|s| (s.id, s.created_at))
        .collect();
    let mut server_ms: Vec<f64> = remote
        .iter()
        .filter_map(|(id, planned)| arrived.get(id).map(|a| *a - *planned))
        .map(|d| d.num_microseconds().unwrap_or(0) as f64 / 1000.0)
        .collect();
    server_ms.sort_by(f64::total_cmp);
    println!(
        "  as the server recorded arrival: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&server_ms, 0.5),
        percentile(&server_ms, 0.99),
        server_ms.last().copied().unwrap_or(f64::NAN)
    );
}

/// Ordinary public participants: every post of theirs is stored.
fn posters(sandbox: &Sandbox) -> Vec<String> {
    sandbox
        .accounts()
        .into_iter()
        .filter(|a| {
            a.persona
                .as_ref()
                .is_some_and(|p| p.visibility == Visibility::Public)
                && !a.bot
                && !a.noindex
                && a.discoverable
                && !a.note.to_lowercase().contains("#nobot")
        })
        .map(|a| a.acct)
        .collect()
}

/// Posts answers to Q1 at `rate` a second for `seconds`, round robin over
/// `posters`; the ids posted and how long it took.
async fn post_at_rate(
    sandbox: &Sandbox,
    posters: &[String],
    rate: u64,
    seconds: u64,
) -> (HashSet<String>, Duration) {
    let per_tick = (rate / 100).max(1);
    let mut tick = tokio::time::interval(Duration::from_millis(1000 * per_tick / rate));
    let (t0, mut ids) = (Instant::now(), HashSet::new());
    while t0.elapsed() < Duration::from_secs(seconds) {
        tick.tick().await;
        for _ in 0..per_tick {
            let k = ids.len();
            let acct = &posters[k % posters.len()];
            let text = format!("A1: answer number {k} #Bench0");
            match sandbox.post_as(acct, TestPost::answer(1, text)) {
                Ok(id) => {
                    ids.insert(id);
                }
                Err(e) => println!("  post failed: {e}"),
            }
        }
    }
    (ids, t0.elapsed())
}

/// Waits up to 30 s (real) for the collector to store every id of `ids`;
/// how many it stored and how long that took.
async fn wait_stored(store: &Store, ids: &HashSet<String>) -> (usize, Duration) {
    let chat = store
        .chats(Some("bench0"))
        .ok()
        .and_then(|c| c.into_iter().next())
        .expect("the chat is stored");
    // Give the collector up to 30 s (real) to catch up with the last post.
    let (t1, mut stored) = (Instant::now(), 0);
    while t1.elapsed() < Duration::from_secs(30) {
        let answers = store.answers(chat.id).unwrap_or_default();
        stored = answers
            .iter()
            .filter(|a| a.remote_id.as_ref().is_some_and(|r| ids.contains(r)))
            .count();
        if stored == ids.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (stored, t1.elapsed())
}

/// Each post's lateness (ms) until Q1 of all `chats` is out, the least at
/// each planned instant, and the posts' ids with their planned instants.
async fn lateness(
    events: &mut UnboundedReceiver<Event>,
    chats: usize,
) -> (
    Vec<f64>,
    BTreeMap<DateTime<Utc>, f64>,
    Vec<(String, DateTime<Utc>)>,
) {
    let (mut late_ms, mut first_ms) = (Vec::new(), BTreeMap::new());
    let (mut q1, mut remote) = (0, Vec::new());
    while q1 < chats {
        match events.recv().await {
            Some(Event::Posted {
                chat,
                key,
                planned,
                at,
                remote_id,
                ..
            }) => {
                let ms = (at - planned).num_microseconds().unwrap_or(0) as f64 / 1000.0;
                println!("  {chat} {key}: {ms:.2} ms late");
                remote.push((remote_id, planned));
                late_ms.push(ms);
                // The first post at each instant waits for nobody else.
                let first = first_ms.entry(planned).or_insert(ms);
                *first = f64::min(*first, ms);
                q1 += usize::from(key == "q1");
            }
            Some(Event::Failed { key, reason, .. }) => println!("  failed {key}: {reason}"),
            Some(_) => {}
            None => break,
        }
    }
    (late_ms, first_ms, remote)
}
