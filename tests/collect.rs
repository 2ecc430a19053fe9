//! Collection against the sandbox, as a host would judge it: after the
//! chat, the store holds exactly the answers the sandbox's participants
//! made in the window, still visible, each under the question it was meant
//! for, with consent respected; a deleted answer is a tombstone; nothing by
//! the bot or an automated account. Then again through a restart and a
//! dropped stream, with a burst of 2,000 answers within a third of the rate
//! limit, and with another instance read for posts that never reached ours.
//!
//! Time is a scaled clock (the collector and the poster wait side by side).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chathost::clock::{ScaledClock, SharedClock};
use chathost::engine::service::{self, Started};
use chathost::engine::{Shutdown, ShutdownTrigger};
use chathost::sandbox::{
    AnswerMade, Fault, FaultKind, Flavour, Method, Sandbox, SandboxConfig, TestPost,
};
use chathost::secret::Secret;
use chathost::store::{AnswerRecord, Store};
use chrono::{DateTime, Utc};

/// Wednesday 24 March 2027, 20:00 in London is 20:00Z (GMT that week).
const DATE: &str = "2027-03-24";
/// Virtual seconds per real second.
const SPEED: f64 = 120.0;

const QUESTIONS: &str = r#"topic = "Handovers"

[[question]]
text = "What do you always say at a handover?"

[[question]]
text = "How do you keep a handover short?"

[[question]]
text = "Which checklist has helped you?"
"#;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// A 16-minute chat: welcome 20:00, Q1 20:02, Q2 and Q3 after, last call
/// 20:13, wrap-up 20:16; answers count until 20:19.
fn bot_toml(url: &str, software: &str, extra: &str) -> String {
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

struct Rig {
    dir: PathBuf,
    sandbox: Sandbox,
    clock: SharedClock,
    software: &'static str,
}

impl Rig {
    async fn new(name: &str, flavour: Flavour, participants: usize) -> Rig {
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

    fn settings(&self, extra: &str) {
        let toml = bot_toml(self.sandbox.base_url(), self.software, extra);
        std::fs::write(self.dir.join("bot.toml"), toml).unwrap();
    }

    async fn engine(&self) -> (Started, ShutdownTrigger) {
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
    async fn host(&self) -> Store {
        let (started, _trigger) = self.engine().await;
        self.run(&started).await;
        started.engine.store.clone()
    }

    /// Hosts the chat date in a task of its own.
    fn spawn(&self, started: &Started) -> tokio::task::JoinHandle<bool> {
        let chat = started.engine.config.borrow().chats[0].clone();
        let occ = chathost::plan::resolve_start(chat.zone, DATE.parse().unwrap(), chat.time);
        let mut engine = started.engine.clone();
        tokio::spawn(async move { engine.run_occurrence("wenurses", &occ).await })
    }

    async fn run(&self, started: &Started) -> bool {
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
    fn truth(&self) -> Vec<AnswerMade> {
        self.sandbox
            .answers_made()
            .into_iter()
            .filter(|a| !a.bot)
            .collect()
    }
}

fn stored(store: &Store) -> Vec<AnswerRecord> {
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
fn assert_matches_truth(truth: &[AnswerMade], answers: &[AnswerRecord], sandbox: &Sandbox) {
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
fn assert_nobot_counted_not_quoted(answers: &[AnswerRecord], sandbox: &Sandbox) {
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

async fn collects_everything(flavour: Flavour) {
    let rig = Rig::new("all", flavour, 8).await;
    let (started, _trigger) = rig.engine().await;
    let store = started.engine.store.clone();
    let host = rig.spawn(&started);
    // Just before the window closes, before the final sweep: what the hour
    // itself gathered (stream, timeline, replies), not what the sweep mends.
    rig.clock.sleep_until(t("2027-03-24T20:18:45Z")).await;
    let chat = store
        .chat("wenurses", DATE.parse().unwrap())
        .unwrap()
        .unwrap();
    assert!(
        chat.swept_at.is_none(),
        "the snapshot is taken before the sweep"
    );
    let live = store.answers(chat.id).unwrap();
    let settled = t("2027-03-24T20:17:00Z");
    let truth = rig.truth();
    assert!(
        truth.iter().any(|a| a.edited_at.is_some()),
        "someone edited"
    );
    assert!(
        truth.iter().any(|a| a.deleted_at.is_some()),
        "someone deleted"
    );
    for made in truth
        .iter()
        .filter(|a| a.deleted_at.is_none() && a.created_at < settled)
    {
        let got = live
            .iter()
            .find(|a| a.uri == made.uri)
            .unwrap_or_else(|| panic!("not collected during the hour: {made:#?}"));
        assert_eq!(got.question, Some(made.question), "{got:#?}");
        if made.edited_at.is_some_and(|e| e < settled) && got.quotable {
            assert!(
                got.text.as_deref().is_some_and(|t| t.contains("(edited")),
                "an edit during the hour not heard: {got:#?}"
            );
        }
    }
    assert!(
        tokio::time::timeout(Duration::from_secs(60), host)
            .await
            .unwrap()
            .unwrap()
    );
    // The stream delivered (the hashtag stream, or on GoToSocial the
    // followed tag on the user stream), not only the polls.
    let sources = store.sources(chat.id).unwrap();
    let streamed = sources
        .iter()
        .find(|s| s.source == "stream")
        .map_or(0, |s| s.posts);
    assert!(
        streamed >= 6,
        "the stream delivered {streamed} posts: {sources:#?}"
    );
    let answers = stored(&store);
    assert_matches_truth(&rig.truth(), &answers, &rig.sandbox);
    assert_nobot_counted_not_quoted(&answers, &rig.sandbox);
    // Some answers drew favourites; the sweep read them.
    assert!(
        answers.iter().any(|a| a.engagement.favourites > 0),
        "engagement read"
    );
    drop(store);
    drop(started);
    assert_answers_command_respects_consent(&rig);
    let _ = std::fs::remove_dir_all(&rig.dir);
}

/// `chathost answers`, text and JSON: everyone's answers by question, but
/// nothing a `#nobot` participant wrote, nor their name or a link.
fn assert_answers_command_respects_consent(rig: &Rig) {
    let nobot = rig
        .sandbox
        .accounts()
        .into_iter()
        .find(|a| a.note.contains("#nobot"))
        .unwrap();
    let theirs: Vec<AnswerMade> = rig
        .truth()
        .into_iter()
        .filter(|a| a.acct == nobot.acct)
        .collect();
    assert!(!theirs.is_empty());
    let quoted = rig
        .truth()
        .into_iter()
        .find(|a| a.acct != nobot.acct && a.deleted_at.is_none() && a.tagged)
        .unwrap();
    for format in ["text", "json"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_chathost"))
            .args([
                "answers", "wenurses", "--date", DATE, "--format", format, "--config",
            ])
            .arg(rig.dir.join("bot.toml"))
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{format}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Others are quoted (the phrase before the hashtag).
        let phrase = quoted.text.split(" #").next().unwrap();
        assert!(
            stdout.contains(phrase),
            "{format}: {phrase:?} missing:\n{stdout}"
        );
        let lower = stdout.to_lowercase();
        assert!(
            !lower.contains(&nobot.acct.to_lowercase()),
            "{format}: the #nobot account named:\n{stdout}"
        );
        for a in &theirs {
            // The words after `A1:`; phrases are shared between
            // participants, so also the exact text.
            assert!(
                !stdout.contains(&a.text),
                "{format}: #nobot words shown:\n{stdout}"
            );
            assert!(
                !stdout.contains(&a.status_id),
                "{format}: a link to #nobot's post:\n{stdout}"
            );
        }
        if format == "text" {
            assert!(stdout.contains("asked not to be quoted"), "{stdout}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mastodon_every_answer_is_collected_once_under_its_question() {
    collects_everything(Flavour::Mastodon).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gotosocial_every_answer_is_collected_once_under_its_question() {
    collects_everything(Flavour::GoToSocial).await;
}

/// A dropped stream and a stop in the middle of the chat (the store is
/// closed and opened again, as after a crash): the next run catches up
/// from where the first stopped, and the store ends the same.
async fn survives_a_restart_and_a_lost_stream(flavour: Flavour) {
    let rig = Rig::new("restart", flavour, 8).await;
    {
        let (started, trigger) = rig.engine().await;
        let run = {
            let started_engine = started.engine.clone();
            let chat = started_engine.config.borrow().chats[0].clone();
            let occ = chathost::plan::resolve_start(chat.zone, DATE.parse().unwrap(), chat.time);
            let mut engine = started_engine;
            tokio::spawn(async move { engine.run_occurrence("wenurses", &occ).await })
        };
        rig.clock.sleep_until(t("2027-03-24T20:04:30Z")).await;
        rig.sandbox.faults().inject(
            Fault::new(
                Method::GET,
                "/api/v1/streaming",
                FaultKind::StreamDisconnect,
            )
            .times(1),
        );
        rig.clock.sleep_until(t("2027-03-24T20:07:00Z")).await;
        // Cut off mid-flight, as a crash would: no orderly stop.
        run.abort();
        assert!(run.await.unwrap_err().is_cancelled());
        drop(trigger);
        drop(started);
    }
    // Answers keep coming while nobody listens.
    rig.clock.sleep_until(t("2027-03-24T20:08:30Z")).await;
    let store = rig.host().await;
    let answers = stored(&store);
    assert_matches_truth(&rig.truth(), &answers, &rig.sandbox);
    let _ = std::fs::remove_dir_all(&rig.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mastodon_collection_survives_a_restart_and_a_lost_stream() {
    survives_a_restart_and_a_lost_stream(Flavour::Mastodon).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gotosocial_collection_survives_a_restart_and_a_lost_stream() {
    survives_a_restart_and_a_lost_stream(Flavour::GoToSocial).await;
}

/// Another instance's public tag timeline gives the answers that never
/// reached the bot's instance; no token goes there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_on_another_instance_are_collected() {
    let rig = Rig::new("extra", Flavour::Mastodon, 0).await;
    let other = Sandbox::start(SandboxConfig {
        flavour: Flavour::Mastodon,
        participants: 2,
        clock: rig.clock.clone(),
        hashtag: "WeNurses".into(),
        seed: 7,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    rig.settings(&format!("extra_sources = [\"{}\"]", other.base_url()));
    let (started, _trigger) = rig.engine().await;
    let host = {
        let chat = started.engine.config.borrow().chats[0].clone();
        let occ = chathost::plan::resolve_start(chat.zone, DATE.parse().unwrap(), chat.time);
        let mut engine = started.engine.clone();
        tokio::spawn(async move { engine.run_occurrence("wenurses", &occ).await })
    };
    let someone = other
        .accounts()
        .into_iter()
        .find(|a| !a.bot && a.acct != "chatbot")
        .unwrap();
    rig.clock.sleep_until(t("2027-03-24T20:05:00Z")).await;
    let id = other
        .post_as(
            &someone.acct,
            TestPost::answer(1, "A1: from my own server #WeNurses"),
        )
        .unwrap();
    let uri = other.status_uri(&id).unwrap();
    // Not an answer: before the window, and another hashtag.
    other
        .post_as(&someone.acct, TestPost::public("unrelated #SomethingElse"))
        .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_secs(90), host)
            .await
            .unwrap()
            .unwrap()
    );
    let answers = stored(&started.engine.store);
    let got: Vec<&AnswerRecord> = answers.iter().filter(|a| a.uri == uri).collect();
    assert_eq!(got.len(), 1, "{answers:#?}");
    assert_eq!(got[0].source, other.base_url());
    assert_eq!(
        got[0].remote_id, None,
        "ids of another instance are not ours"
    );
    assert_eq!(got[0].question, Some(1));
    assert_eq!(answers.len(), 1, "{answers:#?}");
    let tokens: Vec<_> = other
        .log()
        .records()
        .into_iter()
        .filter_map(|r| r.account)
        .collect();
    assert!(
        tokens.is_empty(),
        "the bot's token went to another instance: {tokens:?}"
    );
    other.shutdown().await;
    let _ = std::fs::remove_dir_all(&rig.dir);
}

/// 2,000 answers in ten minutes: all collected, and the collector's
/// requests in any five minutes stay within a third of the 300 allowed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_2000_answers_is_collected_within_a_third_of_the_rate_limit() {
    let rig = Rig::new("burst", Flavour::Mastodon, 4).await;
    let (started, _trigger) = rig.engine().await;
    let host = {
        let chat = started.engine.config.borrow().chats[0].clone();
        let occ = chathost::plan::resolve_start(chat.zone, DATE.parse().unwrap(), chat.time);
        let mut engine = started.engine.clone();
        tokio::spawn(async move { engine.run_occurrence("wenurses", &occ).await })
    };
    // 100 answers every 30 s from 20:02:30 to 20:12.
    let mut at = t("2027-03-24T20:02:30Z");
    for _ in 0..20 {
        rig.clock.sleep_until(at).await;
        assert_eq!(rig.sandbox.burst(1, 100).await.len(), 100);
        at += chrono::Duration::seconds(30);
    }
    assert!(
        tokio::time::timeout(Duration::from_secs(120), host)
            .await
            .unwrap()
            .unwrap()
    );
    let answers = stored(&started.engine.store);
    let truth = rig.truth();
    assert!(truth.len() >= 2000);
    assert_matches_truth(&truth, &answers, &rig.sandbox);
    // The bot's reads, in every five-minute window (posting excluded).
    let reads: Vec<DateTime<Utc>> = rig
        .sandbox
        .log()
        .records()
        .into_iter()
        .filter(|r| r.account.as_deref() == Some("chatbot") && r.method == "GET")
        .map(|r| r.at)
        .collect();
    let peak = reads
        .iter()
        .map(|&from| {
            reads
                .iter()
                .filter(|&&r| r >= from && r < from + chrono::Duration::minutes(5))
                .count()
        })
        .max()
        .unwrap_or(0);
    eprintln!(
        "burst: {} answers collected with {} reads in all, at most {peak} in five minutes",
        answers.len(),
        reads.len()
    );
    // The store's count of requests per chat is the collector's share of
    // those reads (the rest: start-up and stream handshakes).
    let chat = started
        .engine
        .store
        .chat("wenurses", DATE.parse().unwrap())
        .unwrap()
        .unwrap();
    let counted: u64 = started
        .engine
        .store
        .sources(chat.id)
        .unwrap()
        .iter()
        .map(|s| s.requests)
        .sum();
    assert!(
        counted as usize <= reads.len() && reads.len() - counted as usize <= 8,
        "{counted} requests counted, {} reads seen",
        reads.len()
    );
    assert!(
        peak <= 100,
        "{peak} reads in five minutes: more than a third of 300"
    );
    let _ = std::fs::remove_dir_all(&rig.dir);
}

/// `chathost collect` on a chat already hosted: the same answers again
/// (idempotent); and against a server that keeps failing, an error after
/// its patience, never "done" with half the window read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collecting_again_is_idempotent_and_a_failing_server_is_an_error() {
    let rig = Rig::new("again", Flavour::Mastodon, 8).await;
    let store = rig.host().await;
    let before = stored(&store);
    drop(store);
    let config = || {
        chathost::config::load_with_env(&rig.dir.join("bot.toml"), &BTreeMap::new())
            .unwrap()
            .config
    };
    let token = || Secret::new(rig.sandbox.bot().token.expose());
    let date = Some(DATE.parse().unwrap());
    let report = chathost::collect::command::recollect(
        config(),
        token(),
        rig.clock.clone(),
        "wenurses",
        date,
    )
    .await
    .expect("collecting again succeeds");
    assert_eq!(
        report.answers,
        before.iter().filter(|a| a.deleted_at.is_none()).count()
    );
    // Every read of the hashtag timeline fails from now on.
    rig.sandbox.faults().inject(
        Fault::new(Method::GET, "/api/v1/timelines/tag", FaultKind::Status(502)).times(100_000),
    );
    let failed = chathost::collect::command::recollect(
        config(),
        token(),
        rig.clock.clone(),
        "wenurses",
        date,
    )
    .await
    .expect_err("a server that keeps failing is an error");
    assert!(failed.contains("could not finish"), "{failed}");
    // `chathost chats`: the date with its outcome.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chathost"))
        .args(["chats", "--config"])
        .arg(rig.dir.join("bot.toml"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let visible = before.iter().filter(|a| a.deleted_at.is_none()).count();
    let line = text
        .lines()
        .find(|l| l.starts_with(DATE))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains("wenurses") && line.contains("done") && line.contains(" 6/6 posted"),
        "{text}"
    );
    assert!(
        line.contains(&format!(" {visible} (+")),
        "{visible} answers: {text}"
    );
    let (started, _trigger) = rig.engine().await;
    let after = stored(&started.engine.store);
    assert_eq!(after, before, "a failed collection changes nothing stored");
    let _ = std::fs::remove_dir_all(&rig.dir);
}
