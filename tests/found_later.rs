//! A question whose POST went out but whose answer was lost, while the
//! server would not say whether it had it (the bot's own statuses refused):
//! recorded failed with the outcome unknown so the chat goes on, then looked
//! for again once posting is over — through a 429 — before the recap. Found:
//! recorded posted with the server's id, answers replying to it tied to it,
//! never posted twice. Not there (the request was lost): failed, and known.
//!
//! Time is a scaled clock (posting, collecting and the recap wait on it).

mod common;

use std::path::PathBuf;
use std::time::Duration;

use chathost::clock::SharedClock;
use chathost::engine::Shutdown;
use chathost::engine::service::{self, Started};
use chathost::sandbox::{Fault, FaultKind, Flavour, Method, Sandbox, SandboxConfig};
use chathost::secret::Secret;
use chathost::store::{ChatId, RecapState, StepRecord, StepState, Store};

/// Wednesday 24 March 2027, 20:00 in London is 20:00Z (GMT that week).
const DATE: &str = "2027-03-24";
const ORIGIN: &str = "2027-03-24T19:57:30Z";
const SPEED: f64 = 150.0;

const QUESTIONS: &str = r#"topic = "Handovers"

[[question]]
text = "What do you always say at a handover?"

[[question]]
text = "How do you keep a handover short?"

[[question]]
text = "Which checklist has helped you?"
"#;

/// A 16-minute chat: welcome 20:00, Q1 20:02, last call 20:13, wrap-up
/// 20:16; answers count until 20:18; the recap is due at 20:19.
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
enabled = true
delay_minutes = 3
answers_per_question = 2
"#
    )
}

struct Rig {
    dir: PathBuf,
    sandbox: Sandbox,
    clock: SharedClock,
}

impl Rig {
    async fn new(name: &str, flavour: Flavour) -> Rig {
        Rig::from(name, flavour, ORIGIN).await
    }

    /// As `new`, the clock starting at `origin`.
    async fn from(name: &str, flavour: Flavour, origin: &str) -> Rig {
        let (clock, _) = common::anchored_clock(origin, SPEED);
        let sandbox = Sandbox::start(SandboxConfig {
            flavour,
            participants: 10,
            clock: clock.clone(),
            hashtag: "WeNurses".into(),
            answer_window: Duration::from_secs(150),
            ..SandboxConfig::default()
        })
        .await
        .unwrap();
        let software = common::software(flavour);
        let dir = common::fresh_dir(&format!("chathost-found-later-{name}-{software}"));
        std::fs::write(dir.join(format!("prompts/{DATE}.toml")), QUESTIONS).unwrap();
        std::fs::write(dir.join("bot.toml"), bot_toml(sandbox.base_url(), software)).unwrap();
        Rig {
            dir,
            sandbox,
            clock,
        }
    }

    async fn engine(&self) -> Started {
        let (trigger, shutdown) = Shutdown::new();
        // Never triggered: the engine runs until the test ends.
        std::mem::forget(trigger);
        service::start(service::Parts {
            config: common::load_config(&self.dir),
            token: Secret::new(self.sandbox.bot().token.expose()),
            clock: self.clock.clone(),
            use_scheduler: false,
            events: None,
            shutdown,
        })
        .await
        .unwrap()
    }

    /// The bot's chat posts (not replies: the recap thread quotes them)
    /// starting with `prefix`.
    fn chat_posts(&self, prefix: &str) -> Vec<chathost::sandbox::StatusRecord> {
        self.sandbox
            .statuses_of("chatbot")
            .into_iter()
            .filter(|s| s.in_reply_to_id.is_none() && s.text.starts_with(prefix))
            .collect()
    }

    /// `GET /api/v1/accounts/{bot}/statuses`: how the bot reads its own posts.
    fn own_statuses(&self) -> String {
        format!("/api/v1/accounts/{}/statuses", self.sandbox.bot().id)
    }

    /// Waits (on the real clock, within the chat) until `ok` holds.
    async fn until(&self, what: &str, ok: impl Fn() -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !ok() {
            assert!(std::time::Instant::now() < deadline, "never: {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Runs the chat date: the welcome goes out cleanly; Q1's POST meets
    /// `post_fault` while every read of the bot's own statuses fails, until
    /// Q1 is recorded failed with the outcome unknown; then the next read
    /// of them is a 429 with a reset 20 s ahead, and the rest succeed.
    /// Returns the store and Q1 as recorded at the end.
    async fn chat(&self, post_fault: FaultKind) -> (Store, ChatId, StepRecord) {
        let started = self.engine().await;
        let store = started.engine.store.clone();
        let chat = common::load_config(&self.dir).chats[0].clone();
        let occ = chathost::plan::resolve_start(chat.zone, DATE.parse().unwrap(), chat.time);
        let mut engine = started.engine.clone();
        let run = tokio::spawn(async move { engine.run_occurrence("wenurses", &occ).await });
        let bot = |prefix: &str| self.chat_posts(prefix).len();
        self.until("the welcome is posted", || bot("Welcome") == 1)
            .await;
        let faults = self.sandbox.faults();
        faults.inject(Fault::new(Method::POST, "/api/v1/statuses", post_fault).exact());
        faults.inject(
            Fault::new(Method::GET, &self.own_statuses(), FaultKind::Status(503))
                .exact()
                .always(),
        );
        let q1 = |store: &Store| {
            let id = store.chat("wenurses", DATE.parse().unwrap()).ok()??.id;
            store.steps(id).ok()?.into_iter().find(|s| s.key == "q1")
        };
        self.until("Q1 is given up with the outcome unknown", || {
            q1(&store).is_some_and(|s| s.state == StepState::Failed && s.outcome_unknown)
        })
        .await;
        assert_eq!(
            q1(&store).unwrap().remote,
            None,
            "not claimed while unknown"
        );
        faults.clear();
        let hinting = FaultKind::RateLimitedHinting {
            retry_after: None,
            reset_in: Some(20),
        };
        faults.inject(Fault::new(Method::GET, &self.own_statuses(), hinting).exact());
        let finished = tokio::time::timeout(Duration::from_secs(120), run)
            .await
            .expect("the chat date, its recap and archive end within 120 s")
            .unwrap();
        assert!(finished, "the chat date finished");
        assert_eq!(faults.pending(), 0, "the re-check met the 429");
        let chat_id = store
            .chat("wenurses", DATE.parse().unwrap())
            .unwrap()
            .unwrap()
            .id;
        let steps: Vec<_> = store.steps(chat_id).unwrap();
        let states: Vec<_> = steps.iter().map(|s| (&s.key, s.state, &s.reason)).collect();
        assert!(
            bot("Q2:") == 1 && bot("Q3:") == 1,
            "the chat went on: {states:#?}"
        );
        let q1 = q1(&store).unwrap();
        (store, chat_id, q1)
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_given_up_unknown_is_found_later_and_its_answers_tied_to_it() {
    let rig = Rig::new("found", Flavour::GoToSocial).await;
    // Stored by the server, the answer lost: the client times out.
    let (store, chat_id, q1) = rig.chat(FaultKind::LoseResponse).await;
    let on_server = rig.chat_posts("Q1:");
    assert_eq!(on_server.len(), 1, "Q1 once on the server, never again");
    assert_eq!(q1.state, StepState::Posted, "{:?}", q1.reason);
    assert!(!q1.outcome_unknown);
    assert_eq!(
        q1.remote.as_ref().map(|r| r.id.as_str()),
        Some(on_server[0].id.as_str())
    );
    // Answers replying to Q1 are Q1's, in the store the recap reads.
    let answers = store.answers(chat_id).unwrap();
    let replies: Vec<_> = answers
        .iter()
        .filter(|a| a.in_reply_to_id.as_deref() == Some(on_server[0].id.as_str()))
        .collect();
    assert!(!replies.is_empty(), "participants replied to Q1");
    for a in &replies {
        assert_eq!(a.question, Some(1), "{} tied to Q1", a.uri);
        assert_eq!(a.method.as_deref(), Some("reply"), "{}", a.uri);
    }
    let record = store.chat_by_id(chat_id).unwrap();
    assert_eq!(
        record.recap,
        Some(RecapState::Done),
        "{:?}",
        record.recap_note
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_that_never_went_out_ends_failed_and_known() {
    let rig = Rig::new("absent", Flavour::Mastodon).await;
    // The connection drops before the server handles the POST.
    let (store, chat_id, q1) = rig.chat(FaultKind::Reset).await;
    let on_server = rig.chat_posts("Q1:").len();
    assert_eq!(on_server, 0, "Q1 is not posted late, nor blind");
    assert_eq!(q1.state, StepState::Failed);
    assert!(!q1.outcome_unknown, "known now: {:?}", q1.reason);
    let reason = q1.reason.unwrap_or_default();
    assert!(reason.contains("not on the server"), "{reason}");
    assert!(!reason.contains("look at the bot's account"), "{reason}");
    assert!(store.outcome_unknown_steps(chat_id).unwrap().is_empty());
}

/// What an earlier run left: the chat date done, Q1 given up with the
/// outcome unknown — though the server has it.
fn given_up_unknown(rig: &Rig) -> Store {
    let chat = common::load_config(&rig.dir).chats[0].clone();
    let occ = chathost::plan::resolve_start(chat.zone, DATE.parse().unwrap(), chat.time);
    let questions = chathost::prompts::question_file(&chat, occ.date)
        .load(&chat)
        .expect("a question file")
        .expect("questions load");
    let templates = chathost::prompts::Templates::load(&chat.prompts_dir)
        .expect("templates")
        .0;
    let plan =
        chathost::plan::build_steps(&chat, &occ, &questions, &templates, None).expect("a plan");
    std::fs::create_dir_all(rig.dir.join("state")).unwrap();
    let store = Store::open(rig.dir.join("state/chathost.sqlite3")).unwrap();
    let now = rig.clock.now();
    let record = store
        .upsert_chat(
            &chathost::store::NewChat {
                name: "wenurses".into(),
                date: occ.date,
                start_utc: occ.start_utc(),
                instance_url: rig.sandbox.base_url().to_string(),
                account: "chatbot".into(),
                questions_file: None,
            },
            now,
        )
        .unwrap();
    store.sync_steps(record.id, &plan, now).unwrap();
    let q1 = step(&store, record.id, "q1");
    store.begin_attempt(q1.id, now).unwrap();
    store.mark_failed_unknown(q1.id, "unknown", now).unwrap();
    store
        .set_chat_state(record.id, chathost::store::ChatState::Done, now)
        .unwrap();
    store
}

/// The step `key` of the chat date `chat`.
fn step(store: &Store, chat: ChatId, key: &str) -> StepRecord {
    store
        .steps(chat)
        .unwrap()
        .into_iter()
        .find(|s| s.key == key)
        .unwrap()
}

/// A restart: a new engine on the rig's state runs the chat date again
/// (`adjust` first sets it up) until its after part ends.
async fn run_date_again(rig: &Rig, adjust: impl FnOnce(&mut chathost::engine::Engine)) -> Started {
    let started = rig.engine().await;
    let chat = common::load_config(&rig.dir).chats[0].clone();
    let occ = chathost::plan::resolve_start(chat.zone, DATE.parse().unwrap(), chat.time);
    let mut engine = started.engine.clone();
    adjust(&mut engine);
    let finished = tokio::time::timeout(Duration::from_secs(120), async move {
        engine.run_occurrence("wenurses", &occ).await
    })
    .await
    .expect("the date's after part ends within 120 s");
    assert!(finished);
    started
}

/// A restart after the chat, before the recap is due: a step an earlier
/// run gave up with the outcome unknown is looked for first, found, and
/// recorded posted — not posted again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_before_the_recap_finds_a_step_given_up_unknown() {
    let rig = Rig::from("restart", Flavour::Mastodon, "2027-03-24T20:16:30Z").await;
    // No recap thread: its own end-of-thread look must not be what finds it.
    let toml = rig.dir.join("bot.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(&toml, text.replace("enabled = true", "enabled = false")).unwrap();
    let store = given_up_unknown(&rig);
    let chat_id = store
        .chat("wenurses", DATE.parse().unwrap())
        .unwrap()
        .unwrap()
        .id;
    let text = store.steps(chat_id).unwrap()[1].text.clone();
    assert!(text.starts_with("Q1:"), "{text}");
    drop(store);
    let api = common::Api::new(rig.sandbox.base_url());
    let token = rig.sandbox.bot().token.expose().to_string();
    let posted = api
        .status(
            &token,
            serde_json::json!({ "status": text, "visibility": "public" }),
        )
        .await;
    // Posting's pause (a 429 on a POST) runs past the look's time: reading
    // the bot's statuses is not held by it.
    let paused = rig.clock.now() + chrono::Duration::hours(2);
    let started = run_date_again(&rig, |engine| engine.rate_limited = (1, Some(paused))).await;
    let q1 = step(&started.engine.store, chat_id, "q1");
    assert_eq!(q1.state, StepState::Posted, "{:?}", q1.reason);
    assert_eq!(
        q1.remote.map(|r| r.id),
        posted["id"].as_str().map(String::from)
    );
    assert_eq!(rig.chat_posts("Q1:").len(), 1, "not posted again");
}

/// Three participants' replies to `q1_id` (no `A1:` prefix: only the reply
/// ties them), as the final sweep stored them while Q1 was not known posted:
/// tied to no question. The date is recorded swept.
fn replies_swept_untied(store: &Store, chat_id: ChatId, q1_id: &str) {
    let at: chrono::DateTime<chrono::Utc> = "2027-03-24T20:05:00Z".parse().unwrap();
    let names = ["ann", "bea", "cal"];
    let uris: Vec<String> = names
        .iter()
        .map(|n| format!("https://nurses.example/users/{n}/statuses/9"))
        .collect();
    let accts: Vec<String> = names
        .iter()
        .map(|n| format!("{n}@nurses.example"))
        .collect();
    let ids: Vec<String> = (0..3).map(|i| format!("99000{i}")).collect();
    let batch: Vec<_> = (0..3)
        .map(|i| chathost::store::SeenAnswer {
            uri: &uris[i],
            account: chathost::store::SeenAccount {
                acct: &accts[i],
                display_name: names[i],
                url: None,
                quotable: true,
                why_not: None,
            },
            source: "https://nurses.example",
            remote_id: Some(&ids[i]),
            in_reply_to_id: Some(q1_id),
            via_tag: false,
            via_reply: true,
            visibility: "public",
            language: Some("en"),
            created_at: at,
            edited_at: None,
            text: "Who is sickest, and what is still pending",
            html: "Who is sickest, and what is still pending",
            url: Some(&uris[i]),
            engagement: None,
        })
        .collect();
    store.record_answers(chat_id, &batch, at).unwrap();
    store.mark_swept(chat_id, at).unwrap();
    let answers = store.answers(chat_id).unwrap();
    assert_eq!(answers.len(), 3);
    assert!(answers.iter().all(|a| a.question.is_none()), "{answers:#?}");
}

/// A question found on the server only after the final sweep (a restart
/// past the chat, recap on): the replies the sweep stored are tied to it
/// then, from the store alone, and the recap counts them under it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_found_after_the_final_sweep_gets_its_answers() {
    let rig = Rig::from("retie", Flavour::Mastodon, "2027-03-24T20:16:30Z").await;
    let store = given_up_unknown(&rig);
    let chat_id = store
        .chat("wenurses", DATE.parse().unwrap())
        .unwrap()
        .unwrap()
        .id;
    let text = store.steps(chat_id).unwrap()[1].text.clone();
    assert!(text.starts_with("Q1:"), "{text}");
    let api = common::Api::new(rig.sandbox.base_url());
    let token = rig.sandbox.bot().token.expose().to_string();
    let posted = api
        .status(
            &token,
            serde_json::json!({ "status": text, "visibility": "public" }),
        )
        .await;
    let q1_id = posted["id"].as_str().unwrap().to_string();
    replies_swept_untied(&store, chat_id, &q1_id);
    drop(store);
    let started = run_date_again(&rig, |_| {}).await;
    let store = &started.engine.store;
    let q1 = step(store, chat_id, "q1");
    assert_eq!(q1.state, StepState::Posted, "{:?}", q1.reason);
    for a in store.answers(chat_id).unwrap() {
        assert_eq!(a.question, Some(1), "{} tied to Q1", a.uri);
        assert_eq!(a.method.as_deref(), Some("reply"), "{}", a.uri);
    }
    let record = store.chat_by_id(chat_id).unwrap();
    assert_eq!(
        record.recap,
        Some(RecapState::Done),
        "{:?}",
        record.recap_note
    );
    // The thread's Q1 post (a reply, quoting Q1) counts the three.
    let recap_q1: Vec<_> = rig
        .sandbox
        .statuses_of("chatbot")
        .into_iter()
        .filter(|s| s.in_reply_to_id.is_some() && s.text.starts_with("Q1:"))
        .collect();
    assert_eq!(recap_q1.len(), 1, "one recap post for Q1");
    assert!(
        recap_q1[0].text.contains("3 answers"),
        "{}",
        recap_q1[0].text
    );
    assert!(
        !recap_q1[0].text.contains("No answers"),
        "{}",
        recap_q1[0].text
    );
    assert_eq!(rig.chat_posts("Q1:").len(), 1, "Q1 not posted again");
}

/// A status found for a step given up unknown, which the store will not let
/// it claim (another step is recorded with it): recorded failed, known and
/// said why — never looked for again at every restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_found_status_another_step_holds_ends_the_unknown() {
    let rig = Rig::from("claimed", Flavour::Mastodon, "2027-03-24T20:16:30Z").await;
    let toml = rig.dir.join("bot.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(&toml, text.replace("enabled = true", "enabled = false")).unwrap();
    let store = given_up_unknown(&rig);
    let chat_id = store
        .chat("wenurses", DATE.parse().unwrap())
        .unwrap()
        .unwrap()
        .id;
    let steps = store.steps(chat_id).unwrap();
    let text = steps[1].text.clone();
    assert!(text.starts_with("Q1:"), "{text}");
    let api = common::Api::new(rig.sandbox.base_url());
    let token = rig.sandbox.bot().token.expose().to_string();
    let posted = api
        .status(
            &token,
            serde_json::json!({ "status": text, "visibility": "public" }),
        )
        .await;
    // Q2 recorded with the same status (by its uri): Q1 cannot claim it.
    let q2 = steps.iter().find(|s| s.key == "q2").unwrap();
    let now = rig.clock.now();
    store.begin_attempt(q2.id, now).unwrap();
    let held = chathost::store::RemotePost {
        id: "held-elsewhere".into(),
        uri: posted["uri"].as_str().unwrap().into(),
        url: None,
        created_at: now,
    };
    store.mark_posted(q2.id, &held, now).unwrap();
    drop(store);
    let started = run_date_again(&rig, |_| {}).await;
    let store = &started.engine.store;
    let q1 = step(store, chat_id, "q1");
    assert_eq!(q1.state, StepState::Failed);
    assert!(!q1.outcome_unknown, "known now: {:?}", q1.reason);
    assert_eq!(q1.remote, None, "not claimed");
    let reason = q1.reason.unwrap_or_default();
    assert!(reason.contains("cannot be recorded"), "{reason}");
    assert!(store.outcome_unknown_steps(chat_id).unwrap().is_empty());
    assert_eq!(rig.chat_posts("Q1:").len(), 1, "not posted again");
}

/// A recap head given up with the outcome unknown, though the server has it:
/// the next part looks for it first, finds it, and the thread goes on under
/// it — the parts are not left out for a head that was there all along.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recap_head_given_up_unknown_is_looked_for_before_parts_are_left_out() {
    let rig = Rig::from("head", Flavour::Mastodon, "2027-03-24T20:30:00Z").await;
    let store = given_up_unknown(&rig);
    let chat_id = store
        .chat("wenurses", DATE.parse().unwrap())
        .unwrap()
        .unwrap()
        .id;
    let now = rig.clock.now();
    let thread = [
        "Thank you for the #WeNurses chat!",
        "Q1: two answers",
        "Q2: none",
    ];
    let posts: Vec<_> = thread
        .iter()
        .enumerate()
        .map(|(i, t)| chathost::store::ThreadStep {
            text: (*t).into(),
            head: i == 0,
        })
        .collect();
    assert!(store.compose_recap(chat_id, &posts, now, now).unwrap());
    let head = store.steps(chat_id).unwrap();
    let head = head.iter().find(|s| s.text == thread[0]).unwrap();
    store.begin_attempt(head.id, now).unwrap();
    store.mark_failed_unknown(head.id, "unknown", now).unwrap();
    let api = common::Api::new(rig.sandbox.base_url());
    let token = rig.sandbox.bot().token.expose().to_string();
    let on_server = api
        .status(
            &token,
            serde_json::json!({ "status": thread[0], "visibility": "public" }),
        )
        .await;
    drop(store);
    let started = rig.engine().await;
    let chat = common::load_config(&rig.dir).chats[0].clone();
    let occ = chathost::plan::resolve_start(chat.zone, DATE.parse().unwrap(), chat.time);
    let mut engine = started.engine.clone();
    let posted = tokio::time::timeout(Duration::from_secs(120), async move {
        engine.post_recap_now(&chat, &occ).await
    })
    .await
    .expect("the thread is over within 120 s");
    assert_eq!(posted, Ok(()), "every post of the thread is on the server");
    let steps = started.engine.store.steps(chat_id).unwrap();
    let states: Vec<_> = steps.iter().map(|s| (&s.text, s.state)).collect();
    let recap: Vec<_> = steps.iter().filter(|s| s.kind.is_recap()).collect();
    assert!(
        recap.iter().all(|s| s.state == StepState::Posted),
        "none left out: {states:#?}"
    );
    // One head, never posted again; the parts chained under it.
    let bot = rig.sandbox.statuses_of("chatbot");
    let heads: Vec<_> = bot.iter().filter(|s| s.text == thread[0]).collect();
    assert_eq!(heads.len(), 1, "the head not posted twice");
    assert_eq!(heads[0].id.as_str(), on_server["id"].as_str().unwrap());
    let part1 = bot.iter().find(|s| s.text == thread[1]).unwrap();
    assert_eq!(part1.in_reply_to_id.as_deref(), Some(heads[0].id.as_str()));
}
