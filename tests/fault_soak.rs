//! The fault soak (issue 12, item 2): a whole chat — reminder, welcome,
//! questions, last call and wrap-up; live collection and the final sweep;
//! the recap thread and the archive; replies to participants' commands —
//! against the sandbox while a seeded share of every request and stream
//! event fails, in every way the sandbox can make it fail: 5xx (with a
//! proxy's HTML page or JSON), 429 with no hint, with `Retry-After: 0`, with
//! a reset already past or a sensible one, TCP resets before and after the
//! request was handled, answers lost for good, latency under and over the
//! client's timeout, stream disconnects and reordered stream events. Every
//! route chathost uses is in the line of fire: posting, tag timelines,
//! contexts, notifications, the bot's own statuses, pins, streaming.
//!
//! At the end it prints a report and asserts its zeros: no step posted
//! twice or missed, no answer lost against the sandbox's record (nor one
//! shown that is not there), no recap post doubled or missing, no command
//! reply doubled or missing.
//!
//! Each kind fires at least once in every soak ([`one_of_each`], about 13 %
//! of an evening's ~110 requests); a seeded random mix adds more. The two
//! short tests (one per flavour, one seed each, a 5 % mix: about 15 % of
//! requests fail in all, 8 participants) run in the suite, ~13 s each. The
//! long soak — five seeds, both flavours, a 10 % mix (about 20 % in all),
//! 16 participants, ~3½ minutes — is one command:
//!
//! ```text
//! cargo test --release --test fault_soak -- --ignored --nocapture
//! ```
//!
//! `CHATHOST_SOAK_SEED=N` (decimal) replays one seed in the short and the
//! long tests: the same faults in the same order of requests, though the
//! order itself varies a little with timing, so a replay is close, not
//! exact. Time is a scaled clock (150×): a chat evening takes ~13 s.
//!
//! What the report may show that is not a broken promise: a reminder or
//! last call left out because the server asked for a pause past its moment
//! (a 429 with `X-RateLimit-Remaining: 0` and its reset 5 minutes ahead;
//! the last call's moment ends 3 minutes later, at the wrap-up). The
//! catch-up policy allows that; it happened once in ten long soaks.

mod common;

use common::soak::{self, Report};

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chathost::clock::SharedClock;
use chathost::engine::Shutdown;
use chathost::engine::service;
use chathost::plan::{self, Step};
use chathost::prompts::{self, Templates};
use chathost::sandbox::{
    Fault, FaultKind, FaultMix, Flavour, Method, Sandbox, SandboxConfig, TestPost,
};
use chathost::secret::Secret;
use chathost::store::Store;

/// Wednesday 24 March 2027, 20:00 in London is 20:00Z (GMT that week).
const DATE: &str = "2027-03-24";
const ORIGIN: &str = "2027-03-24T19:49:00Z";
const SPEED: f64 = 150.0;
const CHAT: &str = "wenurses";
const ARCHIVE_URL: &str = "https://wenurses.example/archive";

const QUESTIONS: &str = r#"topic = "Handovers"

[[question]]
text = "What do you always say at a handover?"

[[question]]
text = "How do you keep a handover short?"

[[question]]
text = "Which checklist has helped you?"
"#;

/// A 16-minute chat with a reminder 2 minutes ahead: reminder 19:58,
/// welcome 20:00, Q1–Q3 from 20:02, last call 20:13, wrap-up 20:16;
/// answers count until 20:18; the recap is due at 20:19. Calls time out
/// after 1 s, which is 150 virtual s: one lost answer costs a step 2½
/// minutes, so the reminder's moment (the start) can pass while the engine
/// waits for a lost answer and the look for it is refused; it is then
/// given up with the outcome unknown and looked for again once posting is
/// over, before the recap: never recorded failed while it is on the server.
fn bot_toml(url: &str, software: &str) -> String {
    format!(
        r#"[instance]
url = "{url}"
software = "{software}"
timeout_seconds = 1

[account]
token_env = "CHATHOST_TOKEN"

[state]
dir = "state"

[chats.{CHAT}]
hashtag = "WeNurses"
weekday = "Wednesday"
time = "20:00"
zone = "Europe/London"
duration_minutes = 16
reminders = ["2m"]

[chats.{CHAT}.pacing]
welcome = 0
first_question = 2
last_call = 13
wrap_up = 16

[chats.{CHAT}.catch_up]
missed = "post"
spacing_seconds = 10

[chats.{CHAT}.collect]
grace_minutes = 2

[chats.{CHAT}.recap]
enabled = true
delay_minutes = 3
answers_per_question = 2

[chats.{CHAT}.archive]
url = "{ARCHIVE_URL}"
"#
    )
}

/// Every kind of fault the sandbox injects, drawn evenly.
fn every_fault_kind() -> Vec<FaultKind> {
    let hinting = |retry_after, reset_in| FaultKind::RateLimitedHinting {
        retry_after,
        reset_in,
    };
    vec![
        FaultKind::Status(500),
        FaultKind::Status(502),
        FaultKind::Status(503),
        FaultKind::Status(504),
        FaultKind::RateLimited,
        hinting(Some(0), None),
        hinting(None, Some(-30)),
        hinting(Some(10), Some(10)),
        FaultKind::Reset,
        FaultKind::ResetAfterHandling,
        FaultKind::LoseResponse,
        FaultKind::Latency(Duration::from_millis(150)),
        FaultKind::Latency(Duration::from_millis(1500)),
        FaultKind::StreamDisconnect,
        FaultKind::StreamReorder,
    ]
}

/// Each kind once, armed ahead of the random mix so that every kind fires
/// in every soak, on the route where it hurts most: an unknown outcome of
/// a post (then of the reconcile that settles it), rate limits on the
/// reads, a refused stream handshake.
fn one_of_each() -> Vec<Fault> {
    let hinting = |retry_after, reset_in| FaultKind::RateLimitedHinting {
        retry_after,
        reset_in,
    };
    let post = |kind| Fault::new(Method::POST, "/api/v1/statuses", kind).exact();
    let get = |path, kind| Fault::new(Method::GET, path, kind);
    let timeline = "/api/v1/timelines/tag/";
    let notifications = "/api/v1/notifications";
    vec![
        post(FaultKind::LoseResponse),
        post(FaultKind::ResetAfterHandling),
        post(hinting(Some(10), Some(10))),
        Fault::new(Method::POST, "/api/v1/statuses/", FaultKind::Status(504)),
        get("/api/v1/accounts/", hinting(None, Some(-30))),
        get(timeline, FaultKind::RateLimited),
        get(timeline, FaultKind::Status(502)),
        get(timeline, FaultKind::Latency(Duration::from_millis(150))),
        get("/api/v1/statuses/", FaultKind::Reset),
        get(
            "/api/v1/statuses/",
            FaultKind::Latency(Duration::from_millis(1500)),
        ),
        get(notifications, hinting(Some(0), None)),
        get(notifications, FaultKind::Status(503)),
        get("/api/v1/streaming", FaultKind::Status(500)),
        Fault::stream(FaultKind::StreamDisconnect),
        Fault::stream(FaultKind::StreamReorder),
    ]
}

/// One soak: a flavour, a seed, the crowd, and the random mix's share of
/// failing requests on top of [`one_of_each`] (which alone is about 13 %
/// of the ~100 requests of an evening: the report prints the total).
#[derive(Clone, Copy, Debug)]
struct Soak {
    flavour: Flavour,
    seed: u64,
    mix: f64,
    participants: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mastodon_chat_keeps_its_promises_with_15_percent_of_requests_failing() {
    let seed = env_seed().unwrap_or(0x50a4_0001);
    soak(Soak {
        flavour: Flavour::Mastodon,
        seed,
        mix: 0.05,
        participants: 8,
    })
    .await
    .assert_zero();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gotosocial_chat_keeps_its_promises_with_15_percent_of_requests_failing() {
    let seed = env_seed().unwrap_or(0x50a4_0002);
    soak(Soak {
        flavour: Flavour::GoToSocial,
        seed,
        mix: 0.05,
        participants: 8,
    })
    .await
    .assert_zero();
}

/// The long soak: five seeds (or the one in `CHATHOST_SOAK_SEED`), about
/// 20 % of requests failing, 16 participants, both flavours. Every report
/// is printed before any is judged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the long soak: cargo test --release --test fault_soak -- --ignored"]
async fn long_soak_many_seeds_20_percent_both_flavours() {
    let seeds: Vec<u64> = match env_seed() {
        Some(seed) => vec![seed],
        None => (1..=5).map(|i| 0x50a4_1000 + i).collect(),
    };
    let mut reports = Vec::new();
    for seed in seeds {
        for flavour in [Flavour::Mastodon, Flavour::GoToSocial] {
            let soak = Soak {
                flavour,
                seed,
                mix: 0.10,
                participants: 16,
            };
            reports.push(self::soak(soak).await);
        }
    }
    let left_out: usize = reports.iter().map(|r| r.steps_left_out.len()).sum();
    eprintln!(
        "== {} soaks; steps left out by the catch-up policy: {left_out}",
        reports.len()
    );
    let bad: Vec<_> = (reports.iter())
        .map(|r| (&r.what, r.problems()))
        .filter(|(_, p)| !p.is_empty())
        .collect();
    assert!(bad.is_empty(), "{} soaks went wrong: {bad:#?}", bad.len());
}

fn env_seed() -> Option<u64> {
    std::env::var("CHATHOST_SOAK_SEED").ok()?.parse().ok()
}

/// The sandbox and files of one soak.
struct Rig {
    dir: PathBuf,
    sandbox: Sandbox,
    clock: SharedClock,
}

impl Rig {
    async fn new(soak: Soak) -> Rig {
        let (clock, _) = common::anchored_clock(ORIGIN, SPEED);
        let sandbox = Sandbox::start(SandboxConfig {
            flavour: soak.flavour,
            participants: soak.participants,
            clock: clock.clone(),
            hashtag: "WeNurses".into(),
            answer_window: Duration::from_secs(150),
            commands: true,
            seed: soak.seed,
            ..SandboxConfig::default()
        })
        .await
        .expect("the sandbox starts");
        let software = common::software(soak.flavour);
        // Two soaks of one seed may run at once (`--include-ignored`).
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        let run = RUNS.fetch_add(1, Ordering::Relaxed);
        let name = format!("chathost-soak-{software}-{:x}-{run}", soak.seed);
        let dir = common::fresh_dir(&name);
        std::fs::write(dir.join(format!("prompts/{DATE}.toml")), QUESTIONS).unwrap();
        let toml = bot_toml(sandbox.base_url(), software);
        std::fs::write(dir.join("bot.toml"), toml).unwrap();
        Rig {
            dir,
            sandbox,
            clock,
        }
    }

    fn config(&self) -> chathost::config::Config {
        common::load_config(&self.dir)
    }

    /// The chat's steps as the library plans them from the test's files:
    /// what the host saw in `chathost plan`.
    fn planned_steps(&self) -> Vec<Step> {
        let config = self.config();
        let chat = config.chats[0].clone();
        let origin = ORIGIN.parse().unwrap();
        let occ = plan::occurrences(&chat, origin).next().expect("a date");
        assert_eq!(occ.date.to_string(), DATE);
        let next = plan::next_after(&chat, &occ);
        let questions = prompts::question_file(&chat, occ.date)
            .load(&chat)
            .expect("a question file")
            .expect("questions load");
        let templates = Templates::load(&chat.prompts_dir).expect("templates").0;
        plan::build_steps(&chat, &occ, &questions, &templates, next.as_ref()).expect("a plan")
    }
}

/// Runs one chat evening under faults and reports what the participants
/// and the host got.
async fn soak(soak: Soak) -> Report {
    let began = Instant::now();
    let rig = Rig::new(soak).await;
    let software = common::software(soak.flavour);
    let what = format!(
        "{software} seed {:#x}, mix {:.0} %",
        soak.seed,
        soak.mix * 100.0
    );
    eprintln!("[{what}] files in {}", rig.dir.display());
    let (trigger, shutdown) = Shutdown::new();
    let started = service::start(service::Parts {
        config: rig.config(),
        token: Secret::new(rig.sandbox.bot().token.expose()),
        clock: rig.clock.clone(),
        use_scheduler: false,
        events: None,
        shutdown,
    })
    .await
    .expect("the engine starts");
    // From here on every API request and stream event may fail (start-up
    // under faults is the crash test's and the wire tests' subject).
    for fault in one_of_each() {
        rig.sandbox.faults().inject(fault);
    }
    rig.sandbox.faults().mix(FaultMix {
        rate: soak.mix,
        path_prefix: "/api/".into(),
        kinds: every_fault_kind(),
        seed: soak.seed,
    });
    let mentions = service::spawn_mentions(&started.engine);
    let occ = {
        let chat = rig.config().chats[0].clone();
        plan::resolve_start(chat.zone, DATE.parse().unwrap(), chat.time)
    };
    let mut engine = started.engine.clone();
    let run = tokio::spawn(async move { engine.run_occurrence(CHAT, &occ).await });
    reply_in_doubt(&rig).await;
    late_moves(&rig).await;
    let finished = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .unwrap_or_else(|_| panic!("[{what}] the chat, recap and archive end within 120 s"))
        .expect("the chat task");
    assert!(finished, "[{what}] the chat date finished");
    let store = started.engine.store.clone();
    wait_for_replies(&rig, &store).await;
    rig.sandbox.faults().clear();
    trigger.trigger();
    mentions.await.expect("the mentions task ends");

    let planned = rig.planned_steps();
    let mut report = soak::judge(
        &soak::Chat {
            sandbox: &rig.sandbox,
            store: &store,
            name: CHAT,
            date: DATE.parse().unwrap(),
            planned: &planned,
            archive: rig.dir.join("state/archive").join(CHAT),
            kinds: &every_fault_kind(),
        },
        what,
    );
    report.real_seconds = began.elapsed().as_secs_f64();
    report.print();
    drop((store, started));
    rig.sandbox.shutdown().await;
    if report.is_zero() {
        let _ = std::fs::remove_dir_all(&rig.dir);
    }
    report
}

/// Once the first command is sent, the bot's next post (most likely its
/// reply) is stored but its answer is lost to a reset: the reply's
/// outcome is unknown and must be settled by reading, not by posting again.
async fn reply_in_doubt(rig: &Rig) {
    let deadline = rig.clock.now() + chrono::Duration::minutes(20);
    while soak::commands(&rig.sandbox).is_empty() && rig.clock.now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let post = Fault::new(
        Method::POST,
        "/api/v1/statuses",
        FaultKind::ResetAfterHandling,
    );
    rig.sandbox.faults().inject(post.exact());
}

/// What only the final sweep can get right, and the sweep made to retry:
/// in the grace after the wrap-up a participant replies to Q1 without the
/// hashtag (live collection reads the replies of the latest two questions
/// only), another answers Q3 late, and a third deletes an answer; once the
/// grace is over the sweep's first timeline and context reads fail.
async fn late_moves(rig: &Rig) {
    let at = |hm: &str| format!("{DATE}T{hm}Z").parse::<chrono::DateTime<chrono::Utc>>();
    rig.clock.sleep_until(at("20:16:40").unwrap()).await;
    let people: Vec<String> = (rig.sandbox.accounts().into_iter())
        .filter(|a| !a.bot)
        .map(|a| a.acct)
        .collect();
    // Without Q1 (a broken engine) the report says so; no reply to it then.
    let q1 = (rig.sandbox.statuses_of("chatbot").into_iter()).find(|s| s.text.starts_with("Q1:"));
    if let Some(q1) = q1 {
        let reply = TestPost {
            in_reply_to_id: Some(q1.id),
            ..TestPost::answer(1, "A1: a late thought, no tag, only a reply")
        };
        rig.sandbox.post_as(&people[0], reply).unwrap();
    }
    let late = TestPost::answer(3, "A3: late but counted #WeNurses");
    rig.sandbox.post_as(&people[1], late).unwrap();
    let gone = (rig.sandbox.answers_made().into_iter())
        .find(|a| !a.bot && a.deleted_at.is_none() && a.acct != people[0])
        .expect("an answer to delete");
    rig.sandbox.delete_as(&gone.acct, &gone.status_id).unwrap();
    // The grace ends at 20:18: the sweep begins.
    rig.clock.sleep_until(at("20:18:01").unwrap()).await;
    let faults = rig.sandbox.faults();
    faults.inject(Fault::new(
        Method::GET,
        "/api/v1/timelines/tag/",
        FaultKind::Status(503),
    ));
    faults.inject(Fault::new(
        Method::GET,
        "/api/v1/statuses/",
        FaultKind::Reset,
    ));
}

/// Waits (under faults still) until every command due a reply has one and
/// no mention is open, or 20 virtual minutes: the report tells what is
/// missing then.
async fn wait_for_replies(rig: &Rig, store: &Store) {
    let deadline = rig.clock.now() + chrono::Duration::minutes(20);
    while rig.clock.now() < deadline {
        let replied = (soak::commands(&rig.sandbox).iter())
            .all(|(_, id, due)| soak::replies_to(&rig.sandbox, id).len() >= *due);
        if replied && store.open_mentions().is_ok_and(|o| o.is_empty()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
