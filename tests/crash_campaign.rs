//! The crash campaign (issue 12, item 1): a whole chat against the sandbox
//! — posting, collecting (live, the catch-up after a restart, the final
//! sweep), the recap thread and archive, and participants' commands
//! answered by direct replies — while `chathost run` is SIGKILLed at seeded
//! random moments spread over all of it, and restarted each time on the
//! same state folder and the same fast clock. Some kills come right after
//! the server stored a post (its answer still on the way), one while a
//! post's answer is lost altogether, some as a mention reply reaches the
//! server, some while a restarted engine catches up on the answers it
//! missed while down, some while the recap thread goes out.
//!
//! At the end it prints a table of what participants would have seen go
//! wrong, checked against the sandbox's own record (its truth), and asserts
//! every figure is zero: steps posted twice or missed, answers lost, recap
//! posts doubled or missing, mention replies doubled or missing
//! ([`tally`]). On Mastodon the sandbox honours `Idempotency-Key` as
//! Mastodon does, so a POST sent again shows no double there; GoToSocial
//! ignores the key, so only the engine's reading back of its own posts
//! keeps that flavour's tally at zero.
//!
//! The CI-sized version is the two plain tests (12 kills per flavour). The
//! long version, 3 seeds × 25 kills per flavour (`CHATHOST_CAMPAIGN_SEED=N`
//! picks the first seed), is one command:
//!
//! ```sh
//! cargo test --release --test crash_campaign -- --ignored
//! ```
//!
//! Each campaign's table is printed also when it passes; `--nocapture`
//! adds a line per kill (its run, kind and virtual instant).

mod common;
#[path = "crash_campaign/tally.rs"]
mod tally;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chathost::clock::SharedClock;
use chathost::plan::{self, Step};
use chathost::prompts::{self, Templates};
use chathost::sandbox::{Fault, FaultKind, Flavour, Method, Sandbox, SandboxConfig, Visibility};
use chrono::{DateTime, Utc};
use common::process::{Engine, EngineCmd};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// Virtual seconds per real second: the chat's 23 minutes take about 9 s.
const SPEED: f64 = 150.0;
/// Two minutes before the 20:00 chat (London is on GMT that week).
const ORIGIN: &str = "2027-03-24T19:58:00Z";
const DATE: &str = "2027-03-24";
const NEXT_DATE: &str = "2027-03-31";
const CHAT: &str = "wenurses";
const HASHTAG: &str = "WeNurses";

/// A 16-minute chat: welcome 20:00, Q1 20:02, Q2, Q3, last call 20:13,
/// wrap-up 20:16; answers count until 20:18 (the final sweep), the recap
/// thread is due at 20:19, the archive follows it.
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
hashtag = "{HASHTAG}"
weekday = "Wednesday"
time = "20:00"
zone = "Europe/London"
duration_minutes = 16
reminders = []

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
delay_minutes = 3
"#
    )
}

const QUESTIONS: &str = r#"topic = "Handovers"

[[question]]
text = "What do you always say at a handover?"

[[question]]
text = "How do you keep a handover short?"

[[question]]
text = "Which checklist has helped you?"
"#;

/// Next week's file, for the `next` command's reply.
const NEXT_WEEK: &str = r#"topic = "Night shifts"

[[question]]
text = "What keeps you going at 3am?"
"#;

/// How often a kill looks for its event: the engine records a post within
/// a millisecond or so of the server storing it, so look often to strike
/// inside that window.
const FINE: Duration = Duration::from_micros(200);
/// How often to look while nothing is about to happen.
const COARSE: Duration = Duration::from_millis(5);

/// A kill on a stored post that comes up this long after its moment
/// strikes at once instead.
const STALE: chrono::Duration = chrono::Duration::seconds(30);

/// What a kill waits for before it strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// Nothing: at its moment (plus a few ms), whatever the engine does.
    Anytime,
    /// The server has just stored one more post by the bot.
    Stored,
    /// The next post is stored and its answer lost: 300 ms into the wait.
    InFlight,
    /// A direct reply to a participant's command has just been stored.
    Reply,
    /// A restart after some downtime has just taken up collecting again.
    CatchUp,
    /// A post of the recap thread has just been stored.
    Recap,
}

/// One kill of the plan.
#[derive(Debug, Clone, Copy)]
struct Kill {
    /// Not before this virtual instant.
    from: DateTime<Utc>,
    kind: Kind,
    /// Real milliseconds to wait after the moment (Anytime, CatchUp).
    jitter_ms: u64,
    /// Real milliseconds the engine stays down after this kill.
    down_ms: u64,
}

/// The chat's moments, as planned.
struct Times {
    origin: DateTime<Utc>,
    start: DateTime<Utc>,
    q1: DateTime<Utc>,
    last_call: DateTime<Utc>,
    grace_end: DateTime<Utc>,
    recap_due: DateTime<Utc>,
    /// The instants of the chat's own posts (welcome to wrap-up).
    steps: Vec<DateTime<Utc>>,
}

impl Times {
    fn new(steps: &[Step]) -> Times {
        let at = |t: &str| format!("{DATE}T{t}Z").parse().expect("an instant");
        Times {
            origin: ORIGIN.parse().expect("the origin"),
            start: at("20:00:00"),
            q1: at("20:02:00"),
            last_call: at("20:13:00"),
            grace_end: at("20:18:00"),
            recap_due: at("20:19:00"),
            steps: steps.iter().map(|s| s.at).collect(),
        }
    }
}

/// `kills` kills of every kind, reproducible from `seed`, in the order of
/// their moments; a catch-up kill follows a kill with downtime, so the
/// restart has answers to catch up on.
fn kill_plan(seed: u64, kills: usize, t: &Times) -> Vec<Kill> {
    assert!(kills >= 8, "a campaign needs at least 8 kills");
    let mut rng = StdRng::seed_from_u64(seed);
    // Each kill on a stored post watches its own step from just before its
    // instant (one that comes up late, behind a kill still waiting for its
    // event, strikes at once instead: see STALE).
    let mut steps = t.steps.clone();
    steps.shuffle(&mut rng);
    steps.truncate(kills / 4);
    let mut plan: Vec<(DateTime<Utc>, Kind)> = steps
        .iter()
        .map(|at| (*at - chrono::Duration::seconds(3), Kind::Stored))
        .collect();
    // The thread has five posts: three kills on it at most.
    let recap = (kills / 6).clamp(1, 3);
    plan.extend((0..recap).map(|_| (t.recap_due, Kind::Recap)));
    // Three commands are answered: two kills on their replies.
    plan.extend((0..2).map(|_| (t.q1 + chrono::Duration::seconds(30), Kind::Reply)));
    let mut between = |a: DateTime<Utc>, b: DateTime<Utc>| {
        a + chrono::Duration::seconds(rng.gen_range(0..(b - a).num_seconds().max(1)))
    };
    plan.push((between(t.q1, t.last_call), Kind::InFlight));
    for _ in 0..(kills / 6).max(1) {
        plan.push((between(t.start, t.grace_end), Kind::CatchUp));
    }
    let end = t.recap_due + chrono::Duration::minutes(3);
    while plan.len() < kills {
        plan.push((between(t.origin, end), Kind::Anytime));
    }
    plan.sort();
    let mut rng = StdRng::seed_from_u64(seed ^ 0x00D0_5E00);
    let mut kills: Vec<Kill> = plan
        .into_iter()
        .map(|(from, kind)| Kill {
            from,
            kind,
            jitter_ms: rng.gen_range(0..300),
            down_ms: 0,
        })
        .collect();
    for i in 1..kills.len() {
        if kills[i].kind == Kind::CatchUp {
            // 30 to 60 virtual seconds of answers to catch up on.
            kills[i - 1].down_ms = rng.gen_range(200..400);
        }
    }
    kills
}

/// The campaign's files, sandbox, clock and engine command.
struct Rig {
    name: String,
    dir: PathBuf,
    sandbox: Sandbox,
    clock: SharedClock,
    engine: EngineCmd,
    times: Times,
}

impl Rig {
    async fn new(flavour: Flavour, seed: u64) -> Rig {
        let (clock, anchor_ms) = common::anchored_clock(ORIGIN, SPEED);
        let sandbox = Sandbox::start(SandboxConfig {
            flavour,
            participants: 8,
            clock: clock.clone(),
            hashtag: HASHTAG.into(),
            answer_window: Duration::from_secs(150),
            commands: true,
            seed,
            ..SandboxConfig::default()
        })
        .await
        .expect("the sandbox starts");
        let software = common::software(flavour);
        let name = format!("{software} seed {seed:#x}");
        let dir = common::fresh_dir(&format!("chathost-campaign-{software}-{seed:x}"));
        std::fs::write(dir.join(format!("prompts/{DATE}.toml")), QUESTIONS).unwrap();
        std::fs::write(dir.join(format!("prompts/{NEXT_DATE}.toml")), NEXT_WEEK).unwrap();
        std::fs::write(dir.join("bot.toml"), bot_toml(sandbox.base_url(), software)).unwrap();
        let times = Times::new(&planned_steps(&dir.join("bot.toml")));
        let engine = EngineCmd {
            dir: dir.clone(),
            token: sandbox.bot().token.expose().to_string(),
            clock_spec: format!("{},{anchor_ms},{SPEED}", times.origin.to_rfc3339()),
        };
        Rig {
            name,
            dir,
            sandbox,
            clock,
            engine,
            times,
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The bot's statuses on the server, deleted ones included.
    fn bot_posts(&self) -> usize {
        self.sandbox.statuses_of("chatbot").len()
    }

    fn direct_replies(&self) -> usize {
        self.sandbox
            .statuses_of("chatbot")
            .iter()
            .filter(|s| s.visibility == Visibility::Direct)
            .count()
    }

    /// Waits (the engine running) until `done`, or until `deadline`,
    /// looking every `period`: whether it happened.
    fn wait_for(
        &self,
        child: &mut Engine,
        run: usize,
        deadline: DateTime<Utc>,
        period: Duration,
        mut done: impl FnMut() -> bool,
    ) -> bool {
        loop {
            child.assert_running(run);
            if done() {
                return true;
            }
            if self.now() >= deadline {
                return false;
            }
            std::thread::sleep(period);
        }
    }

    /// Waits for `kill`'s moment in run `run`; what it struck during, or
    /// `None` when its event never came (killed at the deadline instead).
    async fn strike(&self, child: &mut Engine, run: usize, kill: Kill) -> Option<String> {
        let wait = chrono::Duration::minutes(4);
        if kill.kind != Kind::CatchUp {
            let from = kill.from;
            self.wait_for(child, run, from + wait, COARSE, || self.now() >= from);
        }
        let deadline = self.now().max(kill.from) + wait;
        let before = self.bot_posts();
        match kill.kind {
            Kind::Anytime => {
                tokio::time::sleep(Duration::from_millis(kill.jitter_ms)).await;
                Some("at a random moment".into())
            }
            Kind::Stored | Kind::Recap => self
                .wait_for(child, run, deadline, FINE, || self.bot_posts() > before)
                .then(|| "as a post reached the server".into()),
            Kind::Reply => {
                let replies = self.direct_replies();
                self.wait_for(child, run, deadline, FINE, || {
                    self.direct_replies() > replies
                })
                .then(|| "as a reply reached the server".into())
            }
            Kind::InFlight => {
                self.sandbox.faults().inject(
                    Fault::new(Method::POST, "/api/v1/statuses", FaultKind::LoseResponse)
                        .exact()
                        .times(1),
                );
                let stored =
                    self.wait_for(child, run, deadline, FINE, || self.bot_posts() > before);
                // The child's timeout is 1 s: 300 ms in, it still waits.
                tokio::time::sleep(Duration::from_millis(300)).await;
                self.sandbox.faults().clear();
                stored.then(|| "300 ms into a POST whose answer was lost".into())
            }
            Kind::CatchUp => {
                let log = || self.engine.log(run).contains("collecting answers");
                // Collecting is taken up only before the window's end.
                let deadline = self.times.grace_end + chrono::Duration::seconds(10);
                let began = self.wait_for(child, run, deadline, Duration::from_millis(1), log);
                tokio::time::sleep(Duration::from_millis(kill.jitter_ms / 3)).await;
                began.then(|| format!("{} ms into collecting again", kill.jitter_ms / 3))
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mastodon_whole_chat_through_12_sigkills() {
    campaign(Flavour::Mastodon, 0xCA3_0001, 12).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gotosocial_whole_chat_through_12_sigkills() {
    campaign(Flavour::GoToSocial, 0xCA3_0002, 12).await;
}

/// The long version: 3 seeds × 25 kills per flavour.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: cargo test --release --test crash_campaign -- --ignored"]
async fn long_campaign_3_seeds_of_25_kills_per_flavour() {
    let base = std::env::var("CHATHOST_CAMPAIGN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0xCA3_1000_u64);
    for seed in base..base + 3 {
        for flavour in [Flavour::GoToSocial, Flavour::Mastodon] {
            campaign(flavour, seed, 25).await;
        }
    }
}

/// One whole chat of `flavour` through `kills` SIGKILLs planned from
/// `seed`; prints the tally and asserts it is all zeros.
async fn campaign(flavour: Flavour, seed: u64, kills: usize) {
    let began = Instant::now();
    let rig = Rig::new(flavour, seed).await;
    let plan = kill_plan(seed, kills, &rig.times);
    eprintln!("[{}] files and run logs in {}", rig.name, rig.dir.display());
    let mut run = 0;
    let mut struck = Vec::new();
    for kill in &plan {
        let mut kill = *kill;
        if kill.kind == Kind::Stored && rig.now() > kill.from + STALE {
            // Its step went out while earlier kills waited: strike now.
            kill.kind = Kind::Anytime;
        }
        run += 1;
        let mut child = rig.engine.spawn(run);
        let what = rig.strike(&mut child, run, kill).await;
        child.kill();
        eprintln!(
            "[{}] run {run}: SIGKILL ({:?}) at {} {}; {} bot posts",
            rig.name,
            kill.kind,
            rig.now().format("%H:%M:%S%.3f"),
            what.as_deref().unwrap_or("(its moment never came)"),
            rig.bot_posts()
        );
        struck.push((kill.kind, what.is_some()));
        tokio::time::sleep(Duration::from_millis(kill.down_ms)).await;
    }
    run += 1;
    finish(&rig, run);
    let tally = tally::tally(
        &rig.sandbox,
        &rig.dir,
        &planned_steps(&rig.dir.join("bot.toml")),
    );
    // Straight to stderr, past the test harness's capture: the figures
    // are the campaign's report, shown also when it passes.
    let _ = writeln!(
        std::io::stderr(),
        "{}",
        summary(&rig, run, &struck, began, &tally)
    );
    assert!(
        tally.all_zero(),
        "[{}] the campaign found faults:\n{}(logs in {})",
        rig.name,
        tally.table(),
        rig.dir.display()
    );
    // A kill that missed its event makes a weaker campaign, not a wrong
    // one; but each kind must have struck at least once (a kill on a step
    // can turn into one at once when its step went out meanwhile).
    for k in [Kind::InFlight, Kind::Reply, Kind::CatchUp, Kind::Recap] {
        assert!(
            struck.iter().any(|(x, hit)| *x == k && *hit),
            "[{}] no {k:?} kill struck as planned",
            rig.name
        );
    }
    rig.sandbox.shutdown().await;
    let _ = std::fs::remove_dir_all(&rig.dir);
}

/// The campaign's first lines: the kills by kind (struck as planned of
/// all), the posts and replies the engine found again after a restart, and
/// the tally.
fn summary(
    rig: &Rig,
    runs: usize,
    struck: &[(Kind, bool)],
    began: Instant,
    tally: &tally::Tally,
) -> String {
    let found = |needle: &str| -> usize {
        (1..=runs)
            .map(|r| rig.engine.log(r).matches(needle).count())
            .sum()
    };
    // The reply's line contains the post's: count them apart.
    let replies = found("reply found on the server after an unknown outcome");
    let posts = found("found on the server after an unknown outcome") - replies;
    let kinds: Vec<String> = [
        Kind::Anytime,
        Kind::Stored,
        Kind::InFlight,
        Kind::Reply,
        Kind::CatchUp,
        Kind::Recap,
    ]
    .iter()
    .map(|k| {
        let all = struck.iter().filter(|(x, _)| x == k).count();
        let hit = struck.iter().filter(|(x, hit)| x == k && *hit).count();
        format!("{k:?} {hit}/{all}")
    })
    .collect();
    format!(
        "crash campaign [{}]: {} SIGKILLs over {runs} runs (struck as planned: {}); \
         found again after a restart: {posts} posts, {replies} replies; {:.1} s real\n{}",
        rig.name,
        struck.len(),
        kinds.join(", "),
        began.elapsed().as_secs_f64(),
        tally.table()
    )
}

/// The last run hosts the chat to its end: once it waits for next week's
/// chat and every command is answered, it is stopped as systemd stops it.
fn finish(rig: &Rig, run: usize) {
    let mut child = rig.engine.spawn(run);
    let waiting = format!("date={NEXT_DATE}");
    let deadline = rig.times.recap_due + chrono::Duration::minutes(30);
    let done = || {
        rig.engine.log(run).contains(&waiting)
            && tally::known_commands(&rig.sandbox)
                .iter()
                .all(|id| tally::replies_to(&rig.sandbox, id) > 0)
    };
    if !rig.wait_for(&mut child, run, deadline, COARSE, done) {
        panic!(
            "[{}] run {run} did not finish the chat by {deadline}; its log:\n{}",
            rig.name,
            rig.engine.log(run)
        );
    }
    // A little longer: nothing doubles later.
    std::thread::sleep(Duration::from_millis(500));
    let status = child.terminate();
    assert!(status.success(), "[{}] SIGTERM: {status}", rig.name);
}

/// The chat's steps as the library plans them from the test's files.
fn planned_steps(bot_toml: &Path) -> Vec<Step> {
    let loaded = chathost::config::load(bot_toml).expect("bot.toml loads");
    let chat = loaded.config.chats[0].clone();
    let origin: DateTime<Utc> = ORIGIN.parse().unwrap();
    let occ = plan::occurrences(&chat, origin)
        .next()
        .expect("a chat date");
    assert_eq!(occ.date.to_string(), DATE);
    let next = plan::next_after(&chat, &occ);
    let questions = prompts::question_file(&chat, occ.date)
        .load(&chat)
        .expect("a question file")
        .expect("questions load");
    let templates = Templates::load(&chat.prompts_dir).expect("templates").0;
    plan::build_steps(&chat, &occ, &questions, &templates, next.as_ref()).expect("a plan")
}
