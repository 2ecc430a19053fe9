//! Participants talking to the bot (issue 10), as they see it: during a
//! chat four simulated participants mention it — bob `next`, carol
//! `optout`, dave `record`, erin `dance` — and each known command gets
//! exactly one reply, a direct message to its sender, while `dance` gets
//! none. carol's words are gone from the store, the recap and the archive;
//! dave's record lists only his own answers. Then a command flood from one
//! account stops at the per-hour limit, and `chathost participant --forget`
//! erases dave. Then a real `chathost run`, killed as replies reach the
//! server, still answers each mention exactly once.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use chathost::clock::SharedClock;
use chathost::engine::service::{self, Started};
use chathost::engine::{Shutdown, ShutdownTrigger};
use chathost::sandbox::{Flavour, Sandbox, SandboxConfig, StatusRecord, TestPost, Visibility};
use chathost::secret::Secret;
use chathost::store::Store;
use chrono::{DateTime, Utc};
use common::process::EngineCmd;

const DATE: &str = "2027-03-24";
const ORIGIN: &str = "2027-03-24T19:57:30Z";
const SPEED: f64 = 150.0;

const QUESTIONS: &str = r#"topic = "Handovers"

[[question]]
text = "What do you always say at a handover?"

[[question]]
text = "How do you keep a handover short?"
"#;

const NEXT_WEEK: &str = r#"topic = "Night shifts"
guest = "Sam"

[[question]]
text = "What keeps you going at 3am?"
"#;

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

[mentions]
per_hour = 3

[chats.wenurses]
hashtag = "WeNurses"
weekday = "Wednesday"
time = "20:00"
zone = "Europe/London"
duration_minutes = 16
reminders = []

[chats.wenurses.pacing]
welcome = 0
first_question = 2
last_call = 13
wrap_up = 16

[chats.wenurses.collect]
grace_minutes = 2

[chats.wenurses.recap]
delay_minutes = 3
"#
    )
}

struct Rig {
    dir: PathBuf,
    sandbox: Sandbox,
    clock: SharedClock,
    anchor_ms: u64,
}

impl Rig {
    async fn new(name: &str, flavour: Flavour) -> Rig {
        Rig::at_speed(name, flavour, SPEED).await
    }

    async fn at_speed(name: &str, flavour: Flavour, speed: f64) -> Rig {
        let (clock, anchor_ms) = common::anchored_clock(ORIGIN, speed);
        let sandbox = Sandbox::start(SandboxConfig {
            flavour,
            participants: 8,
            clock: clock.clone(),
            hashtag: "WeNurses".into(),
            answer_window: Duration::from_secs(150),
            commands: true,
            ..SandboxConfig::default()
        })
        .await
        .unwrap();
        let software = common::software(flavour);
        let dir = common::fresh_dir(&format!("chathost-mentions-{name}-{software}"));
        std::fs::write(dir.join(format!("prompts/{DATE}.toml")), QUESTIONS).unwrap();
        std::fs::write(dir.join("prompts/2027-03-31.toml"), NEXT_WEEK).unwrap();
        std::fs::write(dir.join("bot.toml"), bot_toml(sandbox.base_url(), software)).unwrap();
        Rig {
            dir,
            sandbox,
            clock,
            anchor_ms,
        }
    }

    fn config(&self) -> chathost::config::Config {
        common::load_config(&self.dir)
    }

    async fn engine(&self) -> (Started, ShutdownTrigger) {
        let (trigger, shutdown) = Shutdown::new();
        let started = service::start(service::Parts {
            config: self.config(),
            token: Secret::new(self.sandbox.bot().token.expose()),
            clock: self.clock.clone(),
            use_scheduler: false,
            events: None,
            shutdown,
        })
        .await
        .unwrap();
        (started, trigger)
    }

    /// The bot's replies to a status.
    fn replies_to(&self, status_id: &str) -> Vec<StatusRecord> {
        self.sandbox
            .statuses_of("chatbot")
            .into_iter()
            .filter(|s| s.in_reply_to_id.as_deref() == Some(status_id))
            .collect()
    }

    /// The command a participant sent, once sent.
    fn command_of(&self, user: &str) -> Option<String> {
        self.sandbox
            .mentions_made()
            .into_iter()
            .find(|m| m.command && m.acct == user)
            .map(|m| m.status_id)
    }
}

/// Every mention in the store is settled (replied or ignored).
fn all_settled(store: &Store) -> bool {
    store.open_mentions().is_ok_and(|o| o.is_empty())
}

async fn commands_during_a_chat(flavour: Flavour) {
    let rig = Rig::new("chat", flavour).await;
    let (started, stop) = rig.engine().await;
    let mentions = service::spawn_mentions(&started.engine);
    let occ = {
        let chat = rig.config().chats[0].clone();
        chathost::plan::resolve_start(chat.zone, DATE.parse().unwrap(), chat.time)
    };
    let mut engine = started.engine.clone();
    let run = tokio::spawn(async move { engine.run_occurrence("wenurses", &occ).await });
    let finished = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the chat ends within 120 s")
        .unwrap();
    assert!(finished);
    let store = started.engine.store.clone();
    let deadline = rig.clock.now() + chrono::Duration::minutes(10);
    let answered = |user: &str| {
        rig.command_of(user)
            .is_some_and(|id| !rig.replies_to(&id).is_empty())
    };
    while !(["bob", "carol", "dave"].iter().all(|u| answered(u)) && all_settled(&store)) {
        assert!(rig.clock.now() < deadline, "mentions still open");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Each known command: one direct reply to its sender; `dance`: none.
    let mut texts = BTreeMap::new();
    for (user, word) in [("bob", "next"), ("carol", "optout"), ("dave", "record")] {
        let id = rig
            .command_of(user)
            .unwrap_or_else(|| panic!("{user} sent no command"));
        let replies = rig.replies_to(&id);
        assert_eq!(replies.len(), 1, "{user} ({word}): {replies:#?}");
        let r = &replies[0];
        assert_eq!(r.visibility, Visibility::Direct, "{user}: {r:#?}");
        assert_eq!(
            r.mentions,
            [user.to_string()],
            "{user}: only the sender is addressed"
        );
        texts.insert(word, r.text.clone());
    }
    let dance = rig.command_of("erin").expect("erin sent `dance`");
    assert!(
        rig.replies_to(&dance).is_empty(),
        "no reply to an unknown word"
    );

    let next = &texts["next"];
    assert!(
        next.contains("Wednesday 31 March")
            && next.contains("UTC")
            && next.contains("Night shifts"),
        "{next}"
    );
    assert!(
        texts["optout"].contains("optin"),
        "how to undo: {}",
        texts["optout"]
    );
    // dave's record (asked after his first answer): his own answers as
    // stored then, nobody else's.
    let record = &texts["record"];
    let links: Vec<&str> = record
        .split_whitespace()
        .filter(|w| w.starts_with("http"))
        .collect();
    assert!(!links.is_empty(), "{record}");
    let his: Vec<String> = rig
        .sandbox
        .answers_made()
        .into_iter()
        .filter(|a| a.acct == "dave")
        .map(|a| a.status_id)
        .collect();
    for link in &links {
        assert!(
            link.contains("/@dave/") && his.iter().any(|id| link.ends_with(id.as_str())),
            "not one of dave's answers: {link} in {record}"
        );
    }

    // carol opted out: counted, never quoted, in the store and the archive.
    let carol = store
        .participant(&format!("carol@{}", host(&rig)))
        .unwrap()
        .expect("carol answered");
    assert!(!carol.quotable && carol.opted_out_at.is_some());
    let page = std::fs::read_to_string(
        rig.dir
            .join(format!("state/archive/wenurses/{DATE}/index.html")),
    )
    .unwrap();
    assert!(!page.contains("@carol"), "carol in the archive");
    // Nor in the recap thread, nor in an archive written again.
    let record = store
        .chat("wenurses", DATE.parse().unwrap())
        .unwrap()
        .unwrap();
    for step in store.steps(record.id).unwrap() {
        assert!(
            !step.text.contains("/@carol/"),
            "carol quoted: {}",
            step.text
        );
    }
    stop.trigger();
    mentions.await.unwrap();
    drop((store, started));
    let (dir, _) = chathost::recap::command::archive(
        &rig.config(),
        "wenurses",
        Some(DATE.parse().unwrap()),
        None,
        rig.clock.now(),
    )
    .unwrap();
    let page = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(!page.contains("@carol"), "carol in the rewritten archive");

    rig.sandbox.shutdown().await;
    let _ = std::fs::remove_dir_all(&rig.dir);
}

fn host(rig: &Rig) -> String {
    rig.sandbox
        .base_url()
        .split_once("://")
        .map_or("", |(_, r)| r)
        .trim_end_matches('/')
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mastodon_participants_commands_get_one_direct_reply_each() {
    commands_during_a_chat(Flavour::Mastodon).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gotosocial_participants_commands_get_one_direct_reply_each() {
    commands_during_a_chat(Flavour::GoToSocial).await;
}

/// One account sends five `help`s in a minute: three replies (per_hour =
/// 3), then silence; `chathost participant` shows what is stored, and
/// `--forget` erases it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_stops_at_the_limit_and_forget_erases_an_account() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let rig = Rig::new("flood", Flavour::GoToSocial).await;
    let (started, stop) = rig.engine().await;
    let mentions = service::spawn_mentions(&started.engine);
    let mut sent = Vec::new();
    for i in 0..5 {
        let id = rig
            .sandbox
            .post_as("frank", TestPost::public(format!("@chatbot help {i}")))
            .unwrap();
        sent.push(id);
    }
    let store = started.engine.store.clone();
    let deadline = rig.clock.now() + chrono::Duration::minutes(10);
    loop {
        let replied: usize = sent.iter().map(|id| rig.replies_to(id).len()).sum();
        if replied >= 3 && all_settled(&store) {
            break;
        }
        assert!(rig.clock.now() < deadline, "replied {replied}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Meanwhile alice opts out and back in: both replied, and she ends
    // quotable again.
    let out = rig
        .sandbox
        .post_as("alice", TestPost::public("@chatbot optout"))
        .unwrap();
    let deadline = rig.clock.now() + chrono::Duration::minutes(10);
    while rig.replies_to(&out).is_empty() {
        if rig.clock.now() >= deadline {
            eprintln!("open: {:#?}", store.open_mentions());
            eprintln!("made: {:#?}", rig.sandbox.mentions_made());
        }
        assert!(rig.clock.now() < deadline, "optout unanswered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let heidi = format!("alice@{}", host(&rig));
    let data = store
        .participant(&heidi)
        .unwrap()
        .expect("heidi's opt-out is stored");
    assert!(!data.quotable && data.opted_out_at.is_some());
    let back = rig
        .sandbox
        .post_as("alice", TestPost::public("@chatbot OptIn please"))
        .unwrap();
    while rig.replies_to(&back).is_empty() {
        assert!(rig.clock.now() < deadline, "optin unanswered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let data = store.participant(&heidi).unwrap().unwrap();
    assert!(data.quotable && data.opted_out_at.is_none());
    assert!(rig.replies_to(&back)[0].text.starts_with("@alice "));
    // Two more polls: nothing more is answered.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let replied: Vec<usize> = sent.iter().map(|id| rig.replies_to(id).len()).collect();
    assert_eq!(replied.iter().sum::<usize>(), 3, "{replied:?}");
    assert!(replied.iter().all(|n| *n <= 1), "{replied:?}");

    stop.trigger();
    mentions.await.unwrap();
    drop((store, started));
    let config = rig.config();
    let shown = chathost::mentions::cli::run(&config, "@frank", false, rig.clock.now()).unwrap();
    assert!(shown.contains("5 commands sent to the bot"), "{shown}");
    let gone = chathost::mentions::cli::run(&config, "frank", true, rig.clock.now()).unwrap();
    assert!(gone.contains("Erased"), "{gone}");
    assert!(gone.contains("Erased: 5 mentions"), "{gone}");
    let again = chathost::mentions::cli::run(&config, "@frank", false, rig.clock.now()).unwrap();
    assert!(again.contains("holds nothing"), "{again}");
    rig.sandbox.shutdown().await;
    let _ = std::fs::remove_dir_all(&rig.dir);
}

/// `chathost run` killed each time a reply reaches the server, and
/// restarted: every known command still has exactly one reply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_as_replies_go_out_never_doubles_one() {
    let rig = Rig::new("kill", Flavour::GoToSocial).await;
    let origin: DateTime<Utc> = ORIGIN.parse().unwrap();
    let engine = EngineCmd {
        dir: rig.dir.clone(),
        token: rig.sandbox.bot().token.expose().to_string(),
        clock_spec: format!("{},{},{SPEED}", origin.to_rfc3339(), rig.anchor_ms),
    };
    let deadline = origin + chrono::Duration::minutes(40);
    let replies = || {
        rig.sandbox
            .statuses_of("chatbot")
            .into_iter()
            .filter(|s| s.visibility == Visibility::Direct)
            .count()
    };
    let mut run = 1;
    let mut child = engine.spawn(run);
    let mut kills = 0;
    while kills < 2 {
        let before = replies();
        while replies() == before {
            child.assert_running(run);
            assert!(rig.clock.now() < deadline, "no reply:\n{}", engine.log(run));
            std::thread::sleep(Duration::from_micros(200));
        }
        child.kill();
        kills += 1;
        run += 1;
        child = engine.spawn(run);
    }
    while replies() < 3 {
        child.assert_running(run);
        assert!(
            rig.clock.now() < deadline,
            "unanswered:\n{}",
            engine.log(run)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A little longer: nothing doubles later.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let status = child.terminate();
    assert!(status.success(), "{status}");
    let found: usize = (1..=run)
        .map(|r| {
            engine
                .log(r)
                .matches("reply found on the server after an unknown outcome")
                .count()
        })
        .sum();
    eprintln!("{kills} kills, {found} replies found again after a restart");
    assert!(
        found >= 1,
        "no kill landed between a reply's POST and its record"
    );
    for user in ["bob", "carol", "dave"] {
        let id = rig.command_of(user).unwrap();
        assert_eq!(rig.replies_to(&id).len(), 1, "{user}");
    }
    let dance = rig.command_of("erin").unwrap();
    assert!(rig.replies_to(&dance).is_empty());
    rig.sandbox.shutdown().await;
    let _ = std::fs::remove_dir_all(&rig.dir);
}

/// A mention older than `max_age_hours` when the bot comes back (it was
/// down) gets no reply; a fresh one does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mention_older_than_the_max_age_is_not_answered() {
    // 3000x: an hour in 1.2 s.
    let rig = Rig::at_speed("old", Flavour::Mastodon, 3000.0).await;
    let toml = std::fs::read_to_string(rig.dir.join("bot.toml")).unwrap();
    std::fs::write(
        rig.dir.join("bot.toml"),
        toml.replace("per_hour = 3", "per_hour = 3\nmax_age_hours = 1"),
    )
    .unwrap();
    let old = rig
        .sandbox
        .post_as("frank", TestPost::public("@chatbot next"))
        .unwrap();
    let later = rig.clock.now() + chrono::Duration::minutes(70);
    while rig.clock.now() < later {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let fresh = rig
        .sandbox
        .post_as("grace", TestPost::public("@chatbot next"))
        .unwrap();
    let (started, stop) = rig.engine().await;
    let mentions = service::spawn_mentions(&started.engine);
    let deadline = rig.clock.now() + chrono::Duration::minutes(30);
    while rig.replies_to(&fresh).is_empty() {
        assert!(
            rig.clock.now() < deadline,
            "the fresh mention was not answered"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        rig.replies_to(&old).is_empty(),
        "a mention older than an hour was answered"
    );
    stop.trigger();
    mentions.await.unwrap();
    drop(started);
    rig.sandbox.shutdown().await;
    let _ = std::fs::remove_dir_all(&rig.dir);
}
