//! The collection tests' rig: a chat date hosted against the sandbox on a
//! scaled clock, and what a host checks in the store afterwards.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chathost::clock::{ScaledClock, SharedClock};
use chathost::engine::service::{self, Started};
use chathost::engine::{Shutdown, ShutdownTrigger};
use chathost::sandbox::{AnswerMade, Flavour, Sandbox, SandboxConfig};
use chathost::secret::Secret;
use chathost::store::{AnswerRecord, Store};
use chrono::{DateTime, Utc};

/// Wednesday 24 March 2027, 20:00 in London is 20:00Z (GMT that week).
pub const DATE: &str = "2027-03-24";
/// Virtual seconds per real second.
pub const SPEED: f64 = 120.0;

pub const QUESTIONS: &str = r#"topic = "Handovers"

[[question]]
text = "What do you always say at a handover?"

[[question]]
text = "How do you keep a handover short?"

[[question]]
text = "Which checklist has helped you?"
"#;

pub fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// A 16-minute chat: welcome 20:00, Q1 20:02, Q2 and Q3 after, last call
/// 20:13, wrap-up 20:16; answers count until 20:19.
pub fn bot_toml(url: &str, software: &str, extra: &str) -> String {
    format!(
        r#"[instance]
url = "{url}"
software = "{software}"
timeout_seconds = 2

[account]
token_env = "UNUSED_IN_TESTS"

[state]
dir = "state"

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
grace_minutes = 3
{extra}
"#
    )
}

pub struct Rig {
    pub dir: PathBuf,
    pub sandbox: Sandbox,
    pub clock: SharedClock,
    pub software: &'static str,
}

impl Rig {
    pub async fn new(name: &str, flavour: Flavour, participants: usize) -> Rig {
        let clock: SharedClock = Arc::new(ScaledClock::new(t("2027-03-24T19:57:30Z"), SPEED));
        let sandbox = Sandbox::start(SandboxConfig {
            flavour,
            participants,
            clock: clock.clone(),
            hashtag: "WeNurses".into(),
            answer_window: Duration::from_secs(150),
            ..SandboxConfig::default()
        })
        .await
        .unwrap();
        let software = match flavour {
            Flavour::Mastodon => "mastodon",
            Flavour::GoToSocial => "gotosocial",
        };
        let dir = std::env::temp_dir().join(format!(
            "chathost-collect-{name}-{software}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("prompts")).unwrap();
        std::fs::write(dir.join(format!("prompts/{DATE}.toml")), QUESTIONS).unwrap();
        let rig = Rig {
            dir,
            sandbox,
            clock,
            software,
        };
        rig.settings("");
        rig
    }

    pub fn settings(&self, extra: &str) {
        let toml = bot_toml(self.sandbox.base_url(), self.software, extra);
        std::fs::write(self.dir.join("bot.toml"), toml).unwrap();
    }

    pub async fn engine(&self) -> (Started, ShutdownTrigger) {
        let config = chathost::config::load_with_env(&self.dir.join("bot.toml"), &BTreeMap::new())
            .unwrap_or_else(|d| panic!("{}", d.iter().map(ToString::to_string).collect::<String>()))
            .config;
        let (trigger, shutdown) = Shutdown::new();
        let started = service::start(service::Parts {
            config,
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

    /// Hosts the chat date to its end (posting, collection, sweep).
    pub async fn host(&self) -> Store {
        let (started, _trigger) = self.engine().await;
        self.run(&started).await;
        started.engine.store.clone()
    }

    /// Hosts the chat date in a task of its own.
    pub fn spawn(&self, started: &Started) -> tokio::task::JoinHandle<bool> {
        let chat = started.engine.config.borrow().chats[0].clone();
        let occ = chathost::plan::resolve_start(chat.zone, DATE.parse().unwrap(), chat.time);
        let mut engine = started.engine.clone();
        tokio::spawn(async move { engine.run_occurrence("wenurses", &occ).await })
    }

    pub async fn run(&self, started: &Started) -> bool {
        let chat = started.engine.config.borrow().chats[0].clone();
        let occ = chathost::plan::resolve_start(chat.zone, DATE.parse().unwrap(), chat.time);
        let mut engine = started.engine.clone();
        tokio::time::timeout(
            Duration::from_secs(90),
            engine.run_occurrence("wenurses", &occ),
        )
        .await
        .expect("the chat date ends within 90 s")
    }

    /// What the participants made that should be collected: not by the
    /// automated account, and (for visible) not deleted.
    pub fn truth(&self) -> Vec<AnswerMade> {
        self.sandbox
            .answers_made()
            .into_iter()
            .filter(|a| !a.bot)
            .collect()
    }
}

pub fn stored(store: &Store) -> Vec<AnswerRecord> {
    let chat = store
        .chat("wenurses", DATE.parse().unwrap())
        .unwrap()
        .unwrap();
    assert!(chat.swept_at.is_some(), "the final sweep ran");
    store.answers(chat.id).unwrap()
}

/// The store holds exactly the visible answers made, each under its
/// question and with why it counted; deleted ones are text-less tombstones
/// if at all; nothing by the bot or the automated account.
pub fn assert_matches_truth(truth: &[AnswerMade], answers: &[AnswerRecord], sandbox: &Sandbox) {
    let by_uri: HashMap<&str, &AnswerRecord> =
        answers.iter().map(|a| (a.uri.as_str(), a)).collect();
    let visible: Vec<&AnswerMade> = truth.iter().filter(|a| a.deleted_at.is_none()).collect();
    assert!(visible.len() >= 6, "the participants answered: {truth:#?}");
    for made in &visible {
        let got = by_uri
            .get(made.uri.as_str())
            .unwrap_or_else(|| panic!("not collected: {made:#?}"));
        assert!(
            got.deleted_at.is_none(),
            "a visible answer stored deleted: {got:#?}"
        );
        assert_eq!(
            got.question,
            Some(made.question),
            "attributed wrongly: {got:#?} for {made:#?}"
        );
        assert_eq!(got.via_tag, made.tagged, "why it counted (tag): {got:#?}");
        assert_eq!(
            got.via_reply, made.reply,
            "why it counted (reply): {got:#?}"
        );
        if made.edited_at.is_some() && got.quotable {
            assert!(
                got.text.as_deref().is_some_and(|t| t.contains("(edited")),
                "the edit was not kept: {got:#?}"
            );
        }
    }
    let shown: Vec<&AnswerRecord> = answers.iter().filter(|a| a.deleted_at.is_none()).collect();
    assert_eq!(
        shown.len(),
        visible.len(),
        "visible answers stored {} != made {}: extra ones: {:#?}",
        shown.len(),
        visible.len(),
        shown
            .iter()
            .filter(|a| !visible.iter().any(|m| m.uri == a.uri))
            .collect::<Vec<_>>()
    );
    for gone in truth.iter().filter(|a| a.deleted_at.is_some()) {
        if let Some(got) = by_uri.get(gone.uri.as_str()) {
            assert!(got.deleted_at.is_some(), "a deleted answer shown: {got:#?}");
            assert_eq!((&got.text, &got.html, &got.url), (&None, &None, &None));
        }
    }
    let bot = sandbox.bot().acct;
    let automated: Vec<String> = sandbox
        .accounts()
        .into_iter()
        .filter(|a| a.bot)
        .map(|a| a.acct)
        .collect();
    for a in answers {
        let user = a.acct.split('@').next().unwrap();
        assert_ne!(user, bot, "the bot's own post collected: {a:#?}");
        assert!(
            !automated.iter().any(|b| b == user),
            "an automated account collected: {a:#?}"
        );
    }
}

/// `#nobot` in a profile: counted, never stored for display.
pub fn assert_nobot_counted_not_quoted(answers: &[AnswerRecord], sandbox: &Sandbox) {
    let nobot = sandbox
        .accounts()
        .into_iter()
        .find(|a| a.note.contains("#nobot"))
        .expect("a #nobot participant");
    let theirs: Vec<&AnswerRecord> = answers
        .iter()
        .filter(|a| a.acct.starts_with(&format!("{}@", nobot.acct)))
        .collect();
    assert!(
        !theirs.is_empty(),
        "the #nobot participant's answers are counted"
    );
    for a in theirs {
        assert!(!a.quotable);
        assert_eq!(
            (&a.text, &a.html, &a.url, &a.display_name, &a.account_url),
            (&None, &None, &None, &None, &None)
        );
    }
}
