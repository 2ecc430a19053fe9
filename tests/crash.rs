//! The crash test (issue 4): `chathost run` is a real process, and a host's
//! machine can lose it at any moment — an OOM kill, a power cut, a
//! `systemctl kill -s KILL`. Here the engine hosts a short chat against the
//! sandbox while the test kills it with SIGKILL again and again, at seeded
//! random moments, right after the server has stored a post (its answer
//! still on the way), and once while a post's answer is lost altogether.
//! Each time it is restarted at once on the same state directory and clock.
//!
//! What the participants saw is the truth: the sandbox's record of the
//! bot's statuses must hold every planned step exactly once, in the planned
//! order, none early — and the engine's own database must agree with it.
//! Both flavours: on GoToSocial, which ignores `Idempotency-Key`, only the
//! engine's reconciliation (reading back its own statuses) prevents a
//! double post.

mod common;

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::process::EngineCmd;

use chathost::clock::{Clock, ScaledClock};
use chathost::plan::{self, Step};
use chathost::prompts::{self, Templates};
use chathost::sandbox::{Fault, FaultKind, Flavour, Method, Sandbox, SandboxConfig};
use chathost::store::{ChatState, StepState, Store};
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Virtual seconds per real second: the 23 minutes from the origin to the
/// wrap-up take about 9 s.
const SPEED: f64 = 150.0;

/// The virtual instant both processes' clocks start at: Wednesday
/// 24 March 2027, three minutes before the 20:00 chat (20:00Z: London is
/// still on GMT that week).
const ORIGIN: &str = "2027-03-24T19:57:00Z";

/// The chat's local date, and the next one (named in the wrap-up, and what
/// the engine waits for once this chat is over).
const CHAT_DATE: &str = "2027-03-24";
const NEXT_DATE: &str = "2027-03-31";

const CHAT: &str = "nightshift";
const HASHTAG: &str = "NightShift";

/// A 20-minute chat with a reminder 2 minutes before the start: nine posts
/// (reminder 19:58, welcome 20:00, Q1–Q5 at 20:02, 05, 08, 11, 14, last
/// call 20:17, wrap-up 20:20). Calls time out after 1 s (150 virtual s).
fn bot_toml(url: &str, software: &str) -> String {
    format!(
        r#"[instance]
url = "{url}"
software = "{software}"
timeout_seconds = 1

[state]
dir = "state"

[chats.{CHAT}]
hashtag = "{HASHTAG}"
weekday = "Wednesday"
time = "20:00"
zone = "Europe/London"
duration_minutes = 20
prompts = "prompts"
reminders = ["2m"]

[chats.{CHAT}.pacing]
welcome = 0
first_question = 2
last_call = 17
wrap_up = 20

[chats.{CHAT}.catch_up]
missed = "post"
spacing_seconds = 10

# The recap thread has its own crash test (tests/recap.rs): here the
# bot's posts are exactly the plan.
[chats.{CHAT}.recap]
enabled = false
"#
    )
}

const QUESTIONS: &str = r#"topic = "Handovers in the small hours"
intro = "Tonight: what makes a night-shift handover safe when everyone is tired."

[[question]]
text = "What is the one thing you always say at a night handover?"

[[question]]
text = "How do you keep a handover short when the ward is busy?"

[[question]]
text = "Which handover tool or checklist has actually helped you?"

[[question]]
text = "What do you do when a handover feels incomplete?"

[[question]]
text = "What would you change about handovers on your ward tomorrow?"
"#;

/// How one run of the engine ends.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// SIGKILL this long (real time) after the start: anywhere — starting
    /// up, waiting, reconciling, posting.
    After(Duration),
    /// SIGKILL as soon as the sandbox has stored one more status by the
    /// bot: the server's answer is most likely still on its way, so the
    /// engine cannot have recorded the post.
    NextStatus,
    /// The next post is stored but never answered (`LoseResponse`); SIGKILL
    /// while the engine is still waiting for the answer.
    InFlight,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mastodon_posts_every_step_exactly_once_through_sigkills() {
    crash_test(Flavour::Mastodon, "mastodon", 0x0c4a_5401).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gotosocial_posts_every_step_exactly_once_through_sigkills() {
    crash_test(Flavour::GoToSocial, "gotosocial", 0x0c4a_5402).await;
}

/// `CHATHOST_CRASH_SEED=N` replays (or explores) another kill plan.
async fn crash_test(flavour: Flavour, software: &str, seed: u64) {
    let seed = std::env::var("CHATHOST_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(seed);
    let began = Instant::now();
    let origin: DateTime<Utc> = ORIGIN.parse().unwrap();
    // One anchor for both clocks, to the millisecond the child is told.
    let anchor_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let anchor = UNIX_EPOCH + Duration::from_millis(anchor_ms);
    let clock = Arc::new(ScaledClock::anchored(origin, anchor, SPEED));
    let sandbox = Sandbox::start(SandboxConfig {
        flavour,
        participants: 4,
        hashtag: HASHTAG.into(),
        clock: clock.clone(),
        seed,
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox starts");

    let dir =
        std::env::temp_dir().join(format!("chathost-crash-{software}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("prompts")).unwrap();
    std::fs::write(dir.join("bot.toml"), bot_toml(sandbox.base_url(), software)).unwrap();
    std::fs::write(
        dir.join("prompts").join(format!("{CHAT_DATE}.toml")),
        QUESTIONS,
    )
    .unwrap();
    eprintln!(
        "[{software}] seed {seed}; files and run logs in {}",
        dir.display()
    );

    // What the host will have seen in `chathost plan`: the exact posts.
    let steps = planned_steps(&dir.join("bot.toml"));
    let n = steps.len();
    assert_eq!(
        n, 9,
        "reminder, welcome, five questions, last call, wrap-up"
    );
    let wrap_up = steps[n - 1].at;
    let q1 = steps
        .iter()
        .position(|s| s.text.starts_with("Q1:"))
        .expect("a Q1 step");

    let engine = EngineCmd {
        dir: dir.clone(),
        token: sandbox.bot().token.expose().to_string(),
        clock_spec: format!("{},{anchor_ms},{SPEED}", origin.to_rfc3339()),
    };
    let bot_statuses = || sandbox.statuses_of("chatbot");

    // The kill plan, reproducible from the seed: for every post, a kill at
    // a random moment, one within the first 150 ms (the engine starting up
    // and recovering from the previous kill), and one right after the post
    // reaches the server.
    let mut rng = StdRng::seed_from_u64(seed);
    let mut plan: VecDeque<Kill> = (0..n)
        .flat_map(|_| {
            [
                Kill::After(Duration::from_millis(rng.gen_range(0..600))),
                Kill::After(Duration::from_millis(rng.gen_range(0..150))),
                Kill::NextStatus,
            ]
        })
        .collect();
    // And, once Q1 is out, a kill with the next post's answer lost (the
    // fault matches the exact path, so a re-pin of the welcome after a
    // restart does not take it).
    let mut in_flight_due = true;

    let mut kills = 0;
    let mut in_flight = None;
    let mut run = 0;
    let mut last_child = None;
    loop {
        let before = bot_statuses().len();
        if before >= n {
            // Every step is on the server: nothing left to interrupt. The
            // next run finishes the chat.
            break;
        }
        let kill = if in_flight_due && before > q1 {
            in_flight_due = false;
            sandbox.faults().inject(
                Fault::new(Method::POST, "/api/v1/statuses", FaultKind::LoseResponse)
                    .exact()
                    .times(1),
            );
            Kill::InFlight
        } else {
            match plan.pop_front() {
                Some(k) => k,
                None => break,
            }
        };
        run += 1;
        let mut child = engine.spawn(run);
        let what = match kill {
            Kill::After(d) => {
                tokio::time::sleep(d).await;
                format!("{} ms after its start", d.as_millis())
            }
            Kill::NextStatus | Kill::InFlight => {
                let deadline = wrap_up + chrono::Duration::minutes(3);
                let mut stored = None;
                while clock.now() < deadline {
                    child.assert_running(run);
                    if let Some(s) = bot_statuses().get(before) {
                        stored = Some(first_line(&s.text).to_string());
                        break;
                    }
                    // The engine records a post within a millisecond or so
                    // of the server storing it: look often, to kill inside
                    // that window. (This thread only drives the test; the
                    // sandbox runs on the runtime's workers.)
                    std::thread::sleep(Duration::from_micros(200));
                }
                let Some(stored) = stored else {
                    // The chat ended without another post: this run goes on
                    // as the last one.
                    eprintln!(
                        "[{software}] run {run}: no further post by {}; letting it finish",
                        clock.now().format("%H:%M:%S")
                    );
                    last_child = Some(child);
                    break;
                };
                if let Kill::InFlight = kill {
                    // The child's timeout is 1 s: 300 ms in, it is still
                    // waiting for an answer that will never come.
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    // The new status came from the POST whose answer was
                    // lost. (Were it another, the engine would have sent
                    // some POST before it — a step already on the server
                    // posted again.)
                    let last_post = sandbox
                        .log()
                        .records()
                        .into_iter()
                        .rfind(|r| {
                            r.key() == "POST /api/v1/statuses"
                                && r.account.as_deref() == Some("chatbot")
                        })
                        .expect("the bot posted");
                    assert_eq!(
                        (last_post.fault, last_post.status),
                        (Some(FaultKind::LoseResponse), None),
                        "[{software}] {stored:?} was not the post whose answer was lost: \
                         the engine's first POST of run {run} was not for the next step"
                    );
                    in_flight = Some(stored.clone());
                    format!("300 ms into the unanswered POST of {stored:?}")
                } else {
                    format!("as {stored:?} reached the server")
                }
            }
        };
        child.assert_running(run);
        child.kill();
        kills += 1;
        eprintln!(
            "[{software}] run {run}: SIGKILL at {} {what} ({} bot statuses)",
            clock.now().format("%H:%M:%S"),
            bot_statuses().len()
        );
    }

    // Collection goes on into the grace after the wrap-up: one more kill
    // while a fresh run has taken it up again (a run left going above is
    // killed first: one kill more).
    if let Some(child) = last_child.take() {
        child.kill();
        kills += 1;
    }
    {
        run += 1;
        let mut child = engine.spawn(run);
        // Once it has taken up collection again, and 100 ms into it.
        let deadline = wrap_up + chrono::Duration::minutes(10);
        while !engine.log(run).contains("collecting answers") {
            child.assert_running(run);
            assert!(
                clock.now() < deadline,
                "run {run} did not collect:\n{}",
                engine.log(run)
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        child.assert_running(run);
        child.kill();
        kills += 1;
        eprintln!(
            "[{software}] run {run}: SIGKILL at {} while collecting",
            clock.now().format("%H:%M:%S")
        );
    }

    // The last run hosts the chat to its end; once it waits for next
    // week's chat, it is stopped the way systemd stops it.
    run += 1;
    let mut child = engine.spawn(run);
    let waiting_for_next = format!("date={NEXT_DATE}");
    let deadline = wrap_up + chrono::Duration::minutes(30);
    while !engine.log(run).contains(&waiting_for_next) {
        child.assert_running(run);
        assert!(
            clock.now() < deadline,
            "run {run} did not finish the chat by {deadline}; its log:\n{}",
            engine.log(run)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let status = child.terminate();
    eprintln!(
        "[{software}] run {run}: SIGTERM at {} once it waited for the {NEXT_DATE} chat: {status}",
        clock.now().format("%H:%M:%S")
    );
    assert!(
        status.success(),
        "SIGTERM must end the engine cleanly (exit 0), got {status}; log:\n{}",
        engine.log(run)
    );
    assert!(kills >= n, "only {kills} kills: the plan ran short");
    let in_flight = in_flight.expect("one kill with a post in flight");

    // The participants' view: every step once, in order, none early.
    let posted: Vec<_> = bot_statuses()
        .into_iter()
        .filter(|s| s.deleted_at.is_none())
        .collect();
    let report = steps
        .iter()
        .map(|s| {
            let times = posted.iter().filter(|p| p.text == s.text).count();
            format!("  {}x {}", times, first_line(&s.text))
        })
        .collect::<Vec<_>>()
        .join("\n");
    let strangers: Vec<_> = posted
        .iter()
        .filter(|p| !steps.iter().any(|s| s.text == p.text))
        .map(|p| first_line(&p.text))
        .collect();
    assert_eq!(
        posted
            .iter()
            .map(|p| first_line(&p.text))
            .collect::<Vec<_>>(),
        steps
            .iter()
            .map(|s| first_line(&s.text))
            .collect::<Vec<_>>(),
        "[{software}] after {kills} kills the bot's posts are not the plan, once each, in order:\n\
         {report}\n  not planned: {strangers:?}\n(logs in {})",
        dir.display()
    );
    for (p, s) in posted.iter().zip(&steps) {
        assert_eq!(p.text, s.text, "the full text as planned");
        // The clocks of the two processes agree to a few ms (~1 virtual s).
        assert!(
            p.created_at >= s.at - chrono::Duration::seconds(2),
            "{:?} posted at {}, before its instant {}",
            first_line(&s.text),
            p.created_at,
            s.at
        );
    }

    // The engine's view agrees: the chat is over, every step posted, with
    // the id the server gave that very post.
    let store = Store::open(dir.join("state").join("chathost.sqlite3")).expect("open the store");
    let chat = store
        .chat(CHAT, CHAT_DATE.parse().unwrap())
        .unwrap()
        .expect("the chat is in the store");
    assert_eq!(chat.state, ChatState::Done);
    let records = store.steps(chat.id).unwrap();
    assert_eq!(records.len(), n);
    for (r, p) in records.iter().zip(&posted) {
        assert_eq!(r.state, StepState::Posted, "step {}: {:?}", r.key, r.reason);
        assert_eq!(r.text, p.text, "step {}", r.key);
        assert_eq!(
            r.remote.as_ref().map(|x| x.id.as_str()),
            Some(p.id.as_str()),
            "step {}: the remote id is the sandbox's",
            r.key
        );
    }
    // Every answer the participants made and kept, collected once under
    // its question; deleted ones never shown; the final sweep done.
    assert!(chat.swept_at.is_some(), "[{software}] the final sweep ran");
    let answers = store.answers(chat.id).unwrap();
    let made: Vec<_> = sandbox
        .answers_made()
        .into_iter()
        .filter(|a| !a.bot)
        .collect();
    let visible: Vec<_> = made.iter().filter(|a| a.deleted_at.is_none()).collect();
    assert!(
        !visible.is_empty(),
        "[{software}] the participants answered"
    );
    for a in &visible {
        let got = answers
            .iter()
            .find(|s| s.uri == a.uri)
            .unwrap_or_else(|| panic!("[{software}] answer not collected: {a:?}"));
        assert!(got.deleted_at.is_none(), "[{software}] {got:?}");
        assert_eq!(got.question, Some(a.question), "[{software}] {got:?}");
    }
    // Nothing else shown: not a deleted answer, not the automated
    // account's, not a post twice under another uri.
    let shown = answers.iter().filter(|s| s.deleted_at.is_none()).count();
    assert_eq!(
        shown,
        visible.len(),
        "[{software}] answers shown: {answers:#?}"
    );

    // The post whose answer was lost went out once and was found again by
    // the restarted engine: one attempt, no second POST (on Mastodon the
    // Idempotency-Key would hide a second POST from the record above).
    let lost = records
        .iter()
        .find(|r| first_line(&r.text) == in_flight)
        .expect("the step in flight");
    assert_eq!(
        lost.attempts,
        1,
        "{in_flight:?} was posted again instead of being found: {:?}",
        store.attempts(lost.id).unwrap()
    );
    let reconciled: usize = (1..=run)
        .map(|r| {
            engine
                .log(r)
                .matches("found on the server after an unknown outcome")
                .count()
        })
        .sum();

    let late: Vec<String> = posted
        .iter()
        .zip(&steps)
        .map(|(p, s)| format!("+{}s", (p.created_at - s.at).num_seconds()))
        .collect();
    eprintln!(
        "[{software}] {kills} SIGKILLs over {run} runs, {reconciled} posts found again after a \
         restart, every step once; late by {}; {:.1} s real",
        late.join(" "),
        began.elapsed().as_secs_f64()
    );
    sandbox.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// The chat's steps as the library plans them from the test's files.
fn planned_steps(bot_toml: &Path) -> Vec<Step> {
    let loaded = chathost::config::load(bot_toml).expect("bot.toml loads");
    let chat = loaded
        .config
        .chats
        .iter()
        .find(|c| c.name == CHAT)
        .expect("the chat")
        .clone();
    let origin: DateTime<Utc> = ORIGIN.parse().unwrap();
    let occ = plan::occurrences(&chat, origin)
        .next()
        .expect("a chat date");
    assert_eq!(occ.date.to_string(), CHAT_DATE);
    let next = plan::next_after(&chat, &occ);
    let questions = prompts::question_file(&chat, occ.date)
        .load(&chat)
        .expect("a question file")
        .expect("questions load");
    let templates = Templates::load(&chat.prompts_dir).expect("templates").0;
    plan::build_steps(&chat, &occ, &questions, &templates, next.as_ref()).expect("a plan")
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}
