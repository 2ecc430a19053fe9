//! The hosting engine against the sandbox, as a host would judge it: what
//! appears on the server, when, and how often.
//!
//! Time is a [`JumpClock`]: each wait jumps straight to its instant, so a
//! week of chats runs in moments and every post lands exactly when planned.
//! The sandbox reads the same clock, so its `created_at` is the truth.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chathost::clock::{JumpClock, ScaledClock, SharedClock};
use chathost::engine::service::{self, Started};
use chathost::engine::{Event, Shutdown, ShutdownTrigger};
use chathost::sandbox::{Fault, FaultKind, Flavour, Method, Sandbox, SandboxConfig, StatusRecord};
use chathost::secret::Secret;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

const QUESTIONS: &str = r#"topic = "Winter pressures"

[[question]]
text = "What is the first sign of winter pressures?"

[[question]]
text = "What helped your team most last winter?"

[[question]]
text = "How do you look after yourself on long shifts?"

[[question]]
text = "What should managers protect?"

[[question]]
text = "One tip for a newly qualified nurse?"
"#;

/// A host's folder, a sandbox and a running engine on one clock.
struct Rig {
    dir: PathBuf,
    sandbox: Sandbox,
    started: Started,
    events: mpsc::UnboundedReceiver<Event>,
    trigger: ShutdownTrigger,
}

struct Options {
    flavour: Flavour,
    start: &'static str,
    chat_extra: &'static str,
    reminders: &'static str,
    files: Vec<(&'static str, String)>,
    max_characters: Option<usize>,
    /// Run on a scaled real-time clock instead of the jumping one (for
    /// tests where the test itself acts while the engine waits).
    speed: Option<f64>,
    /// What an earlier run left in the state folder, written before the
    /// engine starts.
    earlier_run: Option<fn(&std::path::Path)>,
    /// The bot account's default content type is Markdown (GoToSocial).
    markdown_default: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            flavour: Flavour::Mastodon,
            start: "2026-12-01T12:00:00Z",
            chat_extra: "",
            reminders: r#"["24h", "1h"]"#,
            files: vec![("prompts/2026-12-02.toml", QUESTIONS.to_string())],
            max_characters: None,
            speed: None,
            earlier_run: None,
            markdown_default: false,
        }
    }
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

impl Rig {
    async fn new(name: &str, o: Options) -> Rig {
        let dir = std::env::temp_dir().join(format!("chathost-host-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("prompts")).unwrap();
        let shared: SharedClock = match o.speed {
            Some(speed) => Arc::new(ScaledClock::new(t(o.start), speed)),
            None => Arc::new(JumpClock::new(t(o.start))),
        };
        let sandbox = Sandbox::start(SandboxConfig {
            flavour: o.flavour,
            participants: 0,
            clock: shared.clone(),
            hashtag: "WeNurses".into(),
            max_characters: o.max_characters,
            markdown_default: o.markdown_default,
            ..SandboxConfig::default()
        })
        .await
        .unwrap();
        let software = match o.flavour {
            Flavour::Mastodon => "mastodon",
            Flavour::GoToSocial => "gotosocial",
        };
        let bot = format!(
            r#"[instance]
url = "{}"
software = "{software}"
timeout_seconds = 1

[account]
token_env = "UNUSED_IN_TESTS"

[state]
dir = "state"

[chats.wenurses]
hashtag = "WeNurses"
weekday = "Wednesday"
time = "20:00"
zone = "Europe/London"
reminders = {}
{}
"#,
            sandbox.base_url(),
            o.reminders,
            o.chat_extra
        );
        // A JumpClock serves one waiter: collection (a second one) runs on
        // the scaled clock only (tests/collect.rs).
        let bot = if o.speed.is_none() {
            format!("{bot}\n[chats.wenurses.collect]\nenabled = false\n")
        } else {
            bot
        };
        std::fs::write(dir.join("bot.toml"), bot).unwrap();
        for (path, text) in &o.files {
            std::fs::write(dir.join(path), text).unwrap();
        }
        if let Some(earlier_run) = o.earlier_run {
            earlier_run(&dir.join("state"));
        }
        let config = chathost::config::load_with_env(&dir.join("bot.toml"), &BTreeMap::new())
            .unwrap_or_else(|d| panic!("{}", d.iter().map(ToString::to_string).collect::<String>()))
            .config;
        let (tx, events) = mpsc::unbounded_channel();
        let (trigger, shutdown) = Shutdown::new();
        let started = service::start(service::Parts {
            config,
            token: Secret::new(sandbox.bot().token.expose()),
            clock: shared,
            use_scheduler: false,
            events: Some(tx),
            shutdown,
        })
        .await
        .unwrap();
        Rig {
            dir,
            sandbox,
            started,
            events,
            trigger,
        }
    }

    /// The default rig on a given flavour of server.
    async fn of_flavour(name: &str, flavour: Flavour) -> Rig {
        let options = Options {
            flavour,
            ..Options::default()
        };
        Rig::new(&format!("{name}-{flavour:?}"), options).await
    }

    /// Runs the weekly chat task until `chats` chat dates are done, then
    /// stops it; returns every event.
    async fn run_chats(&mut self, chats: usize) -> Vec<Event> {
        let task = tokio::spawn(
            self.started
                .engine
                .clone()
                .run_chat_forever("wenurses".into()),
        );
        let mut seen = Vec::new();
        let mut done = 0;
        while done < chats {
            let event = tokio::time::timeout(Duration::from_secs(60), self.events.recv())
                .await
                .expect("the engine went quiet")
                .expect("the engine stopped");
            if matches!(event, Event::ChatDone { .. }) {
                done += 1;
            }
            seen.push(event);
        }
        self.trigger.trigger();
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("the engine did not stop on shutdown")
            .unwrap();
        seen
    }

    /// Waits until the engine reports the step `key` posted.
    async fn wait_for_posted(&mut self, key: &str) {
        loop {
            match self.events.recv().await {
                Some(Event::Posted { key: k, .. }) if k == key => return,
                Some(_) => {}
                None => panic!("the engine stopped before posting {key}"),
            }
        }
    }

    /// The bot's statuses on the server, oldest first.
    /// How many `POST /api/v1/statuses` the sandbox was sent.
    fn post_requests(&self) -> usize {
        self.sandbox
            .log()
            .records()
            .into_iter()
            .filter(|r| r.method == "POST" && r.endpoint == "/api/v1/statuses")
            .count()
    }

    fn bot_posts(&self) -> Vec<StatusRecord> {
        let mut posts = self.sandbox.statuses_of("chatbot");
        posts.sort_by_key(|p| p.created_at);
        posts
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// (instant, first word(s)) of each post: enough to see the order and
/// the kind of every post.
fn timeline(posts: &[StatusRecord]) -> Vec<(String, String)> {
    posts
        .iter()
        .map(|p| {
            let first = p
                .text
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ");
            (p.created_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(), first)
        })
        .collect()
}

fn expected_chat() -> Vec<(String, String)> {
    [
        ("2026-12-01T20:00:00Z", "Coming up in"),
        ("2026-12-02T19:00:00Z", "Coming up in"),
        ("2026-12-02T20:00:00Z", "Welcome to the"),
        ("2026-12-02T20:05:00Z", "Q1: What is"),
        ("2026-12-02T20:15:00Z", "Q2: What helped"),
        ("2026-12-02T20:25:00Z", "Q3: How do"),
        ("2026-12-02T20:35:00Z", "Q4: What should"),
        ("2026-12-02T20:45:00Z", "Q5: One tip"),
        ("2026-12-02T20:55:00Z", "Last call: 5"),
        ("2026-12-02T21:00:00Z", "That's a wrap!"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect()
}

async fn full_chat(flavour: Flavour) {
    let mut rig = Rig::of_flavour("full", flavour).await;
    rig.run_chats(1).await;
    let posts = rig.bot_posts();
    assert_eq!(timeline(&posts), expected_chat());
    assert!(posts.iter().all(|p| p.deleted_at.is_none()));
    assert!(
        posts
            .iter()
            .all(|p| p.tags.contains(&"wenurses".to_string())),
        "every post carries the hashtag"
    );
    // The welcome was pinned during the chat and unpinned after it.
    assert_eq!(
        rig.sandbox.log().count("POST", "/api/v1/statuses/{id}/pin"),
        1
    );
    assert_eq!(
        rig.sandbox
            .log()
            .count("POST", "/api/v1/statuses/{id}/unpin"),
        1
    );
    assert!(posts.iter().all(|p| !p.pinned));
    // The reminder a day before says so.
    assert!(
        posts[0].text.starts_with("Coming up in 24 hours"),
        "{}",
        posts[0].text
    );
}

#[tokio::test]
async fn a_full_chat_posts_every_step_at_its_instant_on_mastodon() {
    full_chat(Flavour::Mastodon).await;
}

#[tokio::test]
async fn a_full_chat_posts_every_step_at_its_instant_on_gotosocial() {
    full_chat(Flavour::GoToSocial).await;
}

async fn faulty_chat(flavour: Flavour) {
    let mut rig = Rig::of_flavour("faults", flavour).await;
    let post = |kind| {
        Fault::new(Method::POST, "/api/v1/statuses", kind)
            .exact()
            .times(1)
    };
    // One of each, in this order, on the first posts of the chat.
    for kind in [
        FaultKind::Status(503),
        FaultKind::RateLimited,
        FaultKind::Reset,
        FaultKind::LoseResponse,
        FaultKind::ResetAfterHandling,
        FaultKind::Status(502),
    ] {
        rig.sandbox.faults().inject(post(kind));
    }
    rig.run_chats(1).await;
    assert_eq!(rig.sandbox.faults().pending(), 0, "every fault fired");
    let posts = rig.bot_posts();
    let got: Vec<String> = timeline(&posts).into_iter().map(|(_, w)| w).collect();
    let want: Vec<String> = expected_chat().into_iter().map(|(_, w)| w).collect();
    assert_eq!(got, want, "every step exactly once, in order");
    // Faults delay a post (the 429 asks for five minutes), never by more
    // than the retry budget, and never before its time.
    for ((at, what), (planned, _)) in timeline(&posts).iter().zip(expected_chat()) {
        let late = t(at) - t(&planned);
        assert!(
            late >= chrono::Duration::zero() && late <= chrono::Duration::minutes(10),
            "{what} at {at}, planned {planned}"
        );
    }
}

#[tokio::test]
async fn faults_never_double_or_drop_a_post_on_mastodon() {
    faulty_chat(Flavour::Mastodon).await;
}

#[tokio::test]
async fn faults_never_double_or_drop_a_post_on_gotosocial() {
    // GoToSocial ignores Idempotency-Key: only reconciliation prevents doubles.
    faulty_chat(Flavour::GoToSocial).await;
}

/// Issue 13, item 3: a server that answers every post with 429 and a hint
/// of "now" (`Retry-After: 0`, or a reset already past) once drew hundreds
/// of re-POSTs in seconds. Each retry waits at least a floor, and a step
/// gives up after a bounded number of attempts, saying how many.
/// A 429 on posting, with these hints.
fn rate_limited(retry_after: Option<u64>, reset_in: Option<i64>) -> Fault {
    Fault::new(
        Method::POST,
        "/api/v1/statuses",
        FaultKind::RateLimitedHinting {
            retry_after,
            reset_in,
        },
    )
    .exact()
}

async fn retry_now_is_not_hammered(retry_after: Option<u64>, reset_in: Option<i64>) {
    let mut rig = Rig::new(
        &format!("retry-now-{retry_after:?}-{reset_in:?}"),
        Options {
            reminders: "[]",
            ..Options::default()
        },
    )
    .await;
    rig.sandbox
        .faults()
        .inject(rate_limited(retry_after, reset_in).always());
    let events = rig.run_chats(1).await;
    let posts: Vec<DateTime<Utc>> = rig
        .sandbox
        .log()
        .records()
        .into_iter()
        .filter(|r| r.method == "POST" && r.endpoint == "/api/v1/statuses")
        .map(|r| r.at)
        .collect();
    // Eight steps (welcome, five questions, last call, wrap-up), none posted.
    let failed: Vec<&String> = events
        .iter()
        .filter_map(|e| match e {
            Event::Failed { reason, .. } => Some(reason),
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 8, "{events:#?}");
    assert!(rig.bot_posts().is_empty());
    // At most 30 attempts a step, and never two within the floor.
    assert!(posts.len() <= 8 * 30, "{} POSTs for 8 steps", posts.len());
    for pair in posts.windows(2) {
        assert!(
            pair[1] - pair[0] >= chrono::Duration::seconds(5),
            "two POSTs {} apart: {posts:?}",
            pair[1] - pair[0]
        );
    }
    // The wrap-up may retry for an hour: it ends on the attempt bound, and says so.
    assert!(
        failed
            .iter()
            .any(|r| r.starts_with("gave up after 30 attempts")),
        "{failed:#?}"
    );
}

#[tokio::test]
async fn retry_after_zero_is_not_hammered() {
    retry_now_is_not_hammered(Some(0), None).await;
}

#[tokio::test]
async fn a_rate_limit_reset_in_the_past_is_not_hammered() {
    retry_now_is_not_hammered(None, Some(-60)).await;
}

/// An earlier run hosted the 2 December chat until a crash cut one post
/// short: the step is `posting`, its POST never reached the server.
fn crashed_while_posting(state: &std::path::Path, key: &str) {
    use chathost::plan::{Step, StepKind};
    use chathost::store::{ChatState, NewChat, Store};
    std::fs::create_dir_all(state).unwrap();
    let store = Store::open(state.join(service::DATABASE)).unwrap();
    let start = t("2026-12-02T20:00:00Z");
    let chat = store
        .upsert_chat(
            &NewChat {
                name: "wenurses".into(),
                date: start.date_naive(),
                start_utc: start,
                instance_url: "http://127.0.0.1".into(),
                account: "chatbot".into(),
                questions_file: Some("prompts/2026-12-02.toml".into()),
            },
            start,
        )
        .unwrap();
    let kind = StepKind::from_key(key).unwrap();
    let at = match kind {
        StepKind::Reminder { .. } => t("2026-12-02T19:00:00Z"),
        _ => t("2026-12-02T20:25:00Z"),
    };
    let step = Step {
        kind,
        at,
        text: format!("The {key} the crash cut short"),
    };
    store.sync_steps(chat.id, &[step], start).unwrap();
    store
        .set_chat_state(chat.id, ChatState::Running, at)
        .unwrap();
    let id = store.steps(chat.id).unwrap()[0].id;
    store.begin_attempt(id, at).unwrap();
}

/// Issue 7, item 1: a step left `posting` by a crash was posted whatever
/// the time once reconciliation found nothing: Q3 an hour and a half after
/// the wrap-up. Now the catch-up policy decides, as for a pending step.
#[tokio::test]
async fn a_question_cut_short_by_a_crash_is_not_posted_after_the_chat() {
    let mut rig = Rig::new(
        "posting-after-end",
        Options {
            start: "2026-12-02T22:30:00Z",
            reminders: "[]",
            earlier_run: Some(|state| crashed_while_posting(state, "q3")),
            ..Options::default()
        },
    )
    .await;
    let events = rig.run_chats(1).await;
    assert!(
        rig.bot_posts().is_empty(),
        "posted after the chat: {:#?}",
        timeline(&rig.bot_posts())
    );
    let q3 = events.iter().find_map(|e| match e {
        Event::Skipped { key, reason, .. } if key == "q3" => Some(reason.clone()),
        _ => None,
    });
    assert_eq!(q3.as_deref(), Some("the chat is over"), "{events:#?}");
    // Reconciled first: the engine looked at its own statuses.
    assert!(rig.sandbox.log().records().iter().any(|r| r.method == "GET"
        && r.endpoint.starts_with("/api/v1/accounts/")
        && r.endpoint.ends_with("/statuses")));
}

/// Issue 7, item 1, for reminders: a restart during the chat must not post
/// "starts in 1 hour" left `posting` by a crash before it.
#[tokio::test]
async fn a_reminder_cut_short_by_a_crash_is_not_posted_once_the_chat_began() {
    let mut rig = Rig::new(
        "posting-reminder",
        Options {
            start: "2026-12-02T20:10:00Z",
            reminders: r#"["1h"]"#,
            earlier_run: Some(|state| crashed_while_posting(state, "reminder-60m")),
            ..Options::default()
        },
    )
    .await;
    rig.run_chats(1).await;
    let posts = timeline(&rig.bot_posts());
    assert!(
        posts.iter().all(|(_, words)| !words.starts_with("Coming up")
            && !words.starts_with("The reminder")),
        "{posts:#?}"
    );
    assert!(
        posts.iter().any(|(_, w)| w.starts_with("Welcome")),
        "{posts:#?}"
    );
}

/// Issue 7, item 2: a step whose last attempt had an unknown outcome (the
/// server stored it, the answer was lost) was marked failed when its moment
/// passed, though the server had it. It is looked for first, and recorded
/// posted.
#[tokio::test]
async fn a_step_given_up_after_an_unknown_outcome_is_found_and_recorded_posted() {
    let mut rig = Rig::new(
        "give-up-reconciles",
        Options {
            // One second before the wrap-up's last moment (an hour late).
            start: "2026-12-02T21:59:59Z",
            reminders: "[]",
            earlier_run: Some(|state| crashed_while_posting(state, "q3")),
            ..Options::default()
        },
    )
    .await;
    rig.sandbox.faults().inject(
        Fault::new(
            Method::POST,
            "/api/v1/statuses",
            FaultKind::ResetAfterHandling,
        )
        .exact()
        .times(1),
    );
    let events = rig.run_chats(1).await;
    let posts = rig.bot_posts();
    assert_eq!(posts.len(), 1, "{:#?}", timeline(&posts));
    assert!(posts[0].text.starts_with("That's a wrap!"));
    let wrap_up = events.iter().find(|e| match e {
        Event::Posted { key, .. } | Event::Failed { key, .. } => key == "wrap-up",
        _ => false,
    });
    assert!(
        matches!(wrap_up, Some(Event::Posted { remote_id, .. }) if *remote_id == posts[0].id),
        "{events:#?}"
    );
}

/// The welcome's POST reaches the server but its answer is lost, and the
/// server then refuses every read of the bot's own statuses (503): whether
/// the welcome went out cannot be known. It is not posted again (no double
/// post), it is recorded failed with the outcome unknown once Q1 is due,
/// and the chat goes on: every later step goes out on time.
#[tokio::test]
async fn a_server_that_cannot_be_asked_about_a_post_does_not_stall_the_chat() {
    let mut rig = Rig::new(
        "unaskable",
        Options {
            start: "2026-12-02T19:55:00Z",
            reminders: "[]",
            ..Options::default()
        },
    )
    .await;
    let faults = rig.sandbox.faults();
    faults.inject(
        Fault::new(
            Method::POST,
            "/api/v1/statuses",
            FaultKind::ResetAfterHandling,
        )
        .exact()
        .times(1),
    );
    faults.inject(Fault::new(Method::GET, "/api/v1/accounts/", FaultKind::Status(503)).always());
    let events = rig.run_chats(1).await;
    let posts = rig.bot_posts();
    let got: Vec<(String, String)> = timeline(&posts);
    let want: Vec<(String, String)> = expected_chat().into_iter().skip(2).collect();
    assert_eq!(
        got, want,
        "the welcome once (from its lost answer), then every step on time"
    );
    let welcome = events.iter().find_map(|e| match e {
        Event::Failed { key, reason, .. } if key == "welcome" => Some(reason.clone()),
        _ => None,
    });
    let reason = welcome.unwrap_or_else(|| panic!("welcome recorded failed: {events:#?}"));
    assert!(reason.contains("unknown"), "{reason}");
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::Failed { key, .. } | Event::Skipped { key, .. } if key != "welcome")),
        "no other step lost: {events:#?}"
    );
}

/// A server asking to wait 300,000 years, or until a reset in the next
/// century (a wrong clock, a broken proxy): the engine neither overflows
/// its clock nor stops posting for hours; the hint is taken for nonsense,
/// the floor decides, and the chat goes out with the welcome a few seconds
/// late.
#[tokio::test]
async fn an_absurd_rate_limit_hint_is_neither_a_panic_nor_a_lost_chat() {
    for (name, retry_after, reset_in) in [
        ("absurd-retry-after", Some(10_000_000_000_000), None),
        ("absurd-reset", None, Some(3_000_000_000)),
    ] {
        let mut rig = Rig::new(
            name,
            Options {
                start: "2026-12-02T19:55:00Z",
                reminders: "[]",
                ..Options::default()
            },
        )
        .await;
        rig.sandbox
            .faults()
            .inject(rate_limited(retry_after, reset_in).times(1));
        let events = rig.run_chats(1).await;
        let posts = rig.bot_posts();
        let got: Vec<String> = timeline(&posts).into_iter().map(|(_, w)| w).collect();
        let want: Vec<String> = expected_chat()
            .into_iter()
            .skip(2)
            .map(|(_, w)| w)
            .collect();
        assert_eq!(got, want, "{name}: every step once: {events:#?}");
        assert_eq!(rig.post_requests(), 9, "{name}: the refused POST and eight");
        let welcome_late = posts[0].created_at - t("2026-12-02T20:00:00Z");
        assert!(
            welcome_late < chrono::Duration::minutes(1),
            "{name}: welcome {welcome_late} late"
        );
    }
}

#[tokio::test]
async fn a_step_cut_short_is_found_behind_many_later_posts() {
    let mut rig = Rig::new(
        "found-far-back",
        Options {
            start: "2026-12-02T20:30:00Z",
            reminders: "[]",
            earlier_run: Some(|state| crashed_while_posting(state, "q3")),
            ..Options::default()
        },
    )
    .await;
    let http = reqwest::Client::new();
    let token = rig.sandbox.bot().token.expose().to_string();
    let url = format!("{}/api/v1/statuses", rig.sandbox.base_url());
    let texts = std::iter::once("The q3 the crash cut short".to_string())
        .chain((1..=45).map(|n| format!("A reply, number {n}")));
    for text in texts {
        let answer = http
            .post(&url)
            .bearer_auth(&token)
            .json(&serde_json::json!({ "status": text }))
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success());
    }
    let events = rig.run_chats(1).await;
    let q3 = rig
        .bot_posts()
        .into_iter()
        .filter(|p| p.text.starts_with("The q3"))
        .count();
    assert_eq!(q3, 1, "Q3 posted again");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Posted { key, .. } if key == "q3")),
        "{events:#?}"
    );
}

/// Issue 7, item 4: on a GoToSocial account whose default is Markdown, a
/// post sent without a content type shows `*first*` as emphasis, not as
/// the host wrote it. Posts go out as plain text.
#[tokio::test]
async fn posts_render_as_plain_text_on_a_markdown_account() {
    let mut rig = Rig::new(
        "markdown",
        Options {
            flavour: Flavour::GoToSocial,
            start: "2026-12-02T19:59:00Z",
            reminders: "[]",
            markdown_default: true,
            files: vec![(
                "prompts/2026-12-02.toml",
                QUESTIONS.replace("the first sign", "the *first* sign"),
            )],
            ..Options::default()
        },
    )
    .await;
    rig.run_chats(1).await;
    let q1 = rig
        .bot_posts()
        .into_iter()
        .find(|p| p.text.starts_with("Q1:"))
        .expect("Q1 posted");
    let url = format!("{}/api/v1/statuses/{}", rig.sandbox.base_url(), q1.id);
    // GoToSocial shows statuses only to a signed-in client.
    let status: serde_json::Value = reqwest::Client::new()
        .get(&url)
        .bearer_auth(rig.sandbox.bot().token.expose())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let content = status["content"].as_str().unwrap();
    assert!(content.contains("*first*"), "{content}");
    assert!(!content.contains("<em>"), "{content}");
}

#[tokio::test]
async fn one_running_engine_keeps_8pm_local_across_both_clock_changes() {
    let mut rig = Rig::new(
        "dst",
        Options {
            start: "2027-03-22T12:00:00Z",
            chat_extra: "fallback = \"evergreen.toml\"",
            reminders: "[]",
            files: vec![("prompts/evergreen.toml", QUESTIONS.to_string())],
            ..Options::default()
        },
    )
    .await;
    // From 24 March to 3 November 2027: 33 chats in one run.
    let events = rig.run_chats(33).await;
    let welcomes: BTreeMap<String, String> = rig
        .bot_posts()
        .iter()
        .filter(|p| p.text.starts_with("Welcome"))
        .map(|p| {
            let local = p.created_at.with_timezone(&chrono_tz::Europe::London);
            (
                local.format("%Y-%m-%d").to_string(),
                format!(
                    "{} {}",
                    local.format("%H:%M %Z"),
                    p.created_at.format("%H:%MZ")
                ),
            )
        })
        .collect();
    assert_eq!(welcomes.len(), 33, "one welcome a week");
    assert_eq!(welcomes["2027-03-24"], "20:00 GMT 20:00Z");
    assert_eq!(welcomes["2027-03-31"], "20:00 BST 19:00Z");
    assert_eq!(welcomes["2027-10-27"], "20:00 BST 19:00Z");
    assert_eq!(welcomes["2027-11-03"], "20:00 GMT 20:00Z");
    assert!(
        welcomes.values().all(|v| v.starts_with("20:00 ")),
        "{welcomes:?}"
    );
    let posted = events
        .iter()
        .filter(|e| matches!(e, Event::Posted { .. }))
        .count();
    assert_eq!(
        posted,
        33 * 8,
        "welcome, five questions, last call and wrap-up each week, once"
    );
    assert_eq!(rig.bot_posts().len(), 33 * 8);
}

#[tokio::test]
async fn starting_late_catches_up_in_order_and_leaves_out_stale_reminders() {
    let mut rig = Rig::new(
        "late",
        Options {
            // The service starts at 20:22, during the chat.
            start: "2026-12-02T20:22:00Z",
            ..Options::default()
        },
    )
    .await;
    let events = rig.run_chats(1).await;
    let skipped: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::Skipped { key, .. } => Some(key.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(skipped, ["reminder-1440m", "reminder-60m"]);
    let want: Vec<(String, String)> = [
        // Missed: welcome, Q1 and Q2 go out at once, a minute apart.
        ("2026-12-02T20:22:00Z", "Welcome to the"),
        ("2026-12-02T20:23:00Z", "Q1: What is"),
        ("2026-12-02T20:24:00Z", "Q2: What helped"),
        // Then the plan as it was.
        ("2026-12-02T20:25:00Z", "Q3: How do"),
        ("2026-12-02T20:35:00Z", "Q4: What should"),
        ("2026-12-02T20:45:00Z", "Q5: One tip"),
        ("2026-12-02T20:55:00Z", "Last call: 5"),
        ("2026-12-02T21:00:00Z", "That's a wrap!"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(timeline(&rig.bot_posts()), want);
}

#[tokio::test]
async fn a_broken_edit_during_the_chat_keeps_the_last_good_questions() {
    // Real time at 200x (the hour in 18 s, three seconds between
    // questions, room enough on a busy machine): the test edits while the
    // engine waits between questions, as a host would.
    let mut rig = Rig::new(
        "edit",
        Options {
            start: "2026-12-02T19:59:00Z",
            reminders: "[]",
            speed: Some(200.0),
            ..Options::default()
        },
    )
    .await;
    let file = rig.dir.join("prompts/2026-12-02.toml");
    let task = tokio::spawn(
        rig.started
            .engine
            .clone()
            .run_chat_forever("wenurses".into()),
    );
    // After Q1, the host fixes Q3's wording...
    rig.wait_for_posted("q1").await;
    std::fs::write(
        &file,
        QUESTIONS.replace("How do you look after yourself", "How do you rest"),
    )
    .unwrap();
    // ...and after Q2 breaks the file (Q3 is ten virtual minutes away).
    rig.wait_for_posted("q2").await;
    std::fs::write(
        &file,
        "topic = \"Winter pressures\"\n[[question]\ntext = \"oops\"\n",
    )
    .unwrap();
    let mut after_break = Vec::new();
    let mut reported = None;
    loop {
        match rig.events.recv().await {
            Some(Event::BrokenQuestions {
                kept_last_good,
                problem,
                file,
                ..
            }) if reported.is_none() => reported = Some((kept_last_good, problem, file)),
            Some(Event::Posted { key, .. }) => after_break.push((reported.is_some(), key)),
            Some(Event::ChatDone { .. }) | None => break,
            Some(_) => {}
        }
    }
    rig.trigger.trigger();
    task.await.unwrap();
    // The broken file was read and reported, with where the error is...
    let (kept, problem, reported_file) = reported.expect("the broken file was never reported");
    assert!(kept, "the last good version was not kept");
    assert!(
        reported_file.ends_with("2026-12-02.toml"),
        "{reported_file}"
    );
    assert!(problem.contains(":2:"), "no line in {problem:?}");
    // ...before Q3, which then went out from the last good version.
    assert_eq!(after_break.first(), Some(&(true, "q3".to_string())));
    let texts: Vec<String> = rig.bot_posts().iter().map(|p| p.text.clone()).collect();
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("Q3: How do you rest on long shifts?")),
        "{texts:#?}"
    );
    assert!(
        texts.iter().any(|t| t.starts_with("Q5: One tip")),
        "{texts:#?}"
    );
    assert_eq!(texts.len(), 8);
}

#[tokio::test]
async fn a_post_the_server_refuses_is_given_up_and_the_chat_goes_on() {
    let long = "x".repeat(480);
    let mut rig = Rig::new(
        "refused",
        Options {
            files: vec![(
                "prompts/2026-12-02.toml",
                QUESTIONS.replace("What should managers protect?", &long),
            )],
            max_characters: Some(500),
            ..Options::default()
        },
    )
    .await;
    let events = rig.run_chats(1).await;
    let failed: Vec<(&str, &str)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Failed { key, reason, .. } => Some((key.as_str(), reason.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].0, "q4");
    assert!(
        failed[0].1.contains("refused the post (422)"),
        "{}",
        failed[0].1
    );
    // One attempt only: retrying a refusal cannot help.
    assert_eq!(rig.sandbox.log().count("POST", "/api/v1/statuses"), 10);
    assert_eq!(rig.bot_posts().len(), 9);
}

#[tokio::test]
async fn a_question_file_added_late_is_still_used_and_a_week_without_one_is_skipped() {
    // No file for 2 December at first; the chat of 9 December has one.
    let mut rig = Rig::new(
        "missing",
        Options {
            files: vec![("prompts/2026-12-09.toml", QUESTIONS.to_string())],
            reminders: "[]",
            ..Options::default()
        },
    )
    .await;
    let events = rig.run_chats(1).await;
    // 2 December was skipped (nothing posted), 9 December was held.
    assert!(
        matches!(events.last(), Some(Event::ChatDone { date, .. }) if date.to_string() == "2026-12-09")
    );
    let posts = rig.bot_posts();
    assert_eq!(posts.len(), 8);
    assert!(
        posts
            .iter()
            .all(|p| p.created_at.format("%Y-%m-%d").to_string() == "2026-12-09")
    );

    // A file that appears after the chat's window opened is picked up
    // (real time, 1200x: the engine looks again every 5 virtual minutes).
    let mut rig = Rig::new(
        "late-file",
        Options {
            start: "2026-12-02T19:58:00Z",
            files: vec![],
            reminders: "[]",
            speed: Some(1200.0),
            ..Options::default()
        },
    )
    .await;
    let file = rig.dir.join("prompts/2026-12-02.toml");
    let engine = rig.started.engine.clone();
    let task = tokio::spawn(engine.clone().run_chat_forever("wenurses".into()));
    // Wait until the engine has looked and found no file, then add it.
    let first = tokio::time::timeout(Duration::from_secs(10), rig.events.recv())
        .await
        .expect("the engine never reported the missing file");
    let Some(Event::NoQuestions {
        expected: missing, ..
    }) = first
    else {
        panic!("before the file was added: {first:?}");
    };
    assert!(missing.ends_with("2026-12-02.toml"), "{missing}");
    std::fs::write(&file, QUESTIONS).unwrap();
    let mut posted = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(30), rig.events.recv())
            .await
            .unwrap()
        {
            Some(Event::ChatDone { .. }) | None => break,
            Some(Event::Posted { key, at, .. }) => posted.push((key, at)),
            Some(_) => {}
        }
    }
    rig.trigger.trigger();
    task.await.unwrap();
    // Found on a later look (every 5 minutes), and the whole chat held.
    let keys: Vec<&str> = posted.iter().map(|(k, _)| k.as_str()).collect();
    assert!(
        keys.contains(&"welcome") && keys.contains(&"q5"),
        "{keys:?}"
    );
}
