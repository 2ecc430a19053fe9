//! The recap thread and the archive, as participants and a host see them
//! (issue 9): after a whole chat against the sandbox, the bot's thread is
//! on the server once, each post answering the one before, the head public
//! with the hashtag and the archive's address; every post fits the
//! instance's limit (500 on Mastodon, 5000 on GoToSocial); nobody is
//! mentioned; a participant who opted out, a deleted answer and hostile
//! markup never show. The archive folder holds its four files, the chat's
//! index and feed. Then `chathost recap --post` on purpose, twice: the
//! second posts nothing. Then a real `chathost run` killed while it posts
//! the thread: one thread, each post once, still chained.
//!
//! Time is a scaled clock (posting, collecting and the recap wait on it).

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chathost::clock::SharedClock;
use chathost::engine::Shutdown;
use chathost::engine::service::{self, Started};
use chathost::length::post_length;
use chathost::plan::StepKind;
use chathost::sandbox::{
    Fault, FaultKind, Flavour, Method, Sandbox, SandboxConfig, StatusRecord, TestPost, Visibility,
};
use chathost::secret::Secret;
use chathost::store::{ChatRecord, RecapState, StepRecord, StepState, Store};
use chrono::{DateTime, Utc};
use common::process::EngineCmd;

/// Wednesday 24 March 2027, 20:00 in London is 20:00Z (GMT that week).
const DATE: &str = "2027-03-24";
const ORIGIN: &str = "2027-03-24T19:57:30Z";
const SPEED: f64 = 150.0;
const ARCHIVE_URL: &str = "https://wenurses.example/archive";

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
fn bot_toml(url: &str, software: &str, visibility: &str, recap: bool) -> String {
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
visibility = "{visibility}"

[chats.wenurses.pacing]
welcome = 0
first_question = 2
last_call = 13
wrap_up = 16

[chats.wenurses.collect]
grace_minutes = 2

[chats.wenurses.recap]
enabled = {recap}
delay_minutes = 3
answers_per_question = 2

[chats.wenurses.archive]
url = "{ARCHIVE_URL}"
"#
    )
}

struct Rig {
    dir: PathBuf,
    sandbox: Sandbox,
    clock: SharedClock,
    anchor_ms: u64,
    /// The in-process engine's store, once started.
    engine: std::sync::OnceLock<Store>,
}

impl Rig {
    async fn new(name: &str, flavour: Flavour, visibility: &str, recap: bool) -> Rig {
        Rig::with_limit(name, flavour, visibility, recap, None).await
    }

    /// As `new`, with the server's post length limit.
    async fn with_limit(
        name: &str,
        flavour: Flavour,
        visibility: &str,
        recap: bool,
        max_characters: Option<usize>,
    ) -> Rig {
        let (clock, anchor_ms) = common::anchored_clock(ORIGIN, SPEED);
        let sandbox = Sandbox::start(SandboxConfig {
            flavour,
            participants: 10,
            clock: clock.clone(),
            hashtag: "WeNurses".into(),
            answer_window: Duration::from_secs(150),
            max_characters,
            ..SandboxConfig::default()
        })
        .await
        .unwrap();
        let software = common::software(flavour);
        let dir = common::fresh_dir(&format!("chathost-recap-{name}-{software}"));
        std::fs::write(dir.join(format!("prompts/{DATE}.toml")), QUESTIONS).unwrap();
        let toml = bot_toml(sandbox.base_url(), software, visibility, recap);
        std::fs::write(dir.join("bot.toml"), toml).unwrap();
        Rig {
            dir,
            sandbox,
            clock,
            anchor_ms,
            engine: std::sync::OnceLock::new(),
        }
    }

    fn config(&self) -> chathost::config::Config {
        common::load_config(&self.dir)
    }

    async fn engine(&self) -> Started {
        let (trigger, shutdown) = Shutdown::new();
        // Never triggered: the engine runs until the test ends.
        std::mem::forget(trigger);
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
        let _ = self.engine.set(started.engine.store.clone());
        started
    }

    fn occurrence(&self) -> chathost::plan::Occurrence {
        let chat = self.config().chats[0].clone();
        chathost::plan::resolve_start(chat.zone, DATE.parse().unwrap(), chat.time)
    }

    /// The store: the running engine's (its file is locked while open),
    /// else the file's.
    fn store(&self) -> Store {
        match self.engine.get() {
            Some(store) => store.clone(),
            None => Store::open(self.dir.join("state/chathost.sqlite3")).unwrap(),
        }
    }

    fn record(&self) -> ChatRecord {
        self.store()
            .chat("wenurses", DATE.parse().unwrap())
            .unwrap()
            .expect("the chat date is stored")
    }

    /// The thread's steps as stored, in order.
    fn thread(&self) -> Vec<StepRecord> {
        // One store at a time: a second open of the file is refused.
        let id = self.record().id;
        let mut steps: Vec<StepRecord> = self
            .store()
            .steps(id)
            .unwrap()
            .into_iter()
            .filter(|s| s.kind.is_recap())
            .collect();
        steps.sort_by_key(|s| match s.kind {
            StepKind::Recap { part, .. } => part,
            _ => 0,
        });
        steps
    }

    /// Special answers made during the chat, once Q2 is out: a hostile
    /// one, an opted-out participant's, one deleted and one edited.
    async fn special_answers(&self) {
        let deadline = self.clock.now() + chrono::Duration::minutes(12);
        while !self
            .sandbox
            .statuses_of("chatbot")
            .iter()
            .any(|s| s.text.starts_with("Q2:"))
        {
            assert!(self.clock.now() < deadline, "Q2 was never posted");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let post = |acct: &str, q: u32, text: &str| {
            self.sandbox
                .post_as(acct, TestPost::answer(q, text))
                .unwrap()
        };
        post(
            "alice",
            2,
            "A2: <script>window.__pwned=1</script><img src=x onerror=alert(1)> hostilewords #WeNurses",
        );
        // Seat 6 ("grace") has #nobot in her profile: counted, never quoted.
        post("grace", 2, "A2: graceprivatewords #WeNurses");
        let gone = post("bob", 2, "A2: deletedwordsxyz #WeNurses");
        let edited = post("carol", 2, "A2: firstdraftwords #WeNurses");
        // A mention and a tag glued to a link, favourited to the top of Q2:
        // quoted, but neither may notify anyone nor file the thread.
        let glued = post(
            "dave",
            2,
            "A2: gluedwords “@alice@evil.social”https://x.example and x,#othertag #WeNurses",
        );
        for fan in ["alice", "bob", "erin", "frank", "heidi"] {
            self.sandbox.favourite_as(fan, &glued).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.sandbox.delete_as("bob", &gone).unwrap();
        self.sandbox
            .edit_as("carol", &edited, "A2: editedfinalwords #WeNurses")
            .unwrap();
    }
}

/// The bot's posts that are the stored thread's, in thread order.
fn thread_on_server(sandbox: &Sandbox, thread: &[StepRecord]) -> Vec<StatusRecord> {
    let bot = sandbox.statuses_of("chatbot");
    thread
        .iter()
        .map(|step| {
            let id = &step.remote.as_ref().expect("posted").id;
            bot.iter()
                .find(|s| &s.id == id)
                .unwrap_or_else(|| panic!("{} is not on the server", step.key))
                .clone()
        })
        .collect()
}

/// One thread: every stored post posted once, on the server once (no
/// other bot post with its text), each answering the one before; the head
/// public, the rest as the chat's visibility.
fn assert_one_chained_thread(rig: &Rig, chat_visibility: Visibility) -> Vec<StatusRecord> {
    let thread = rig.thread();
    assert!(thread.len() >= 5, "head, three questions, end: {thread:#?}");
    for s in &thread {
        assert_eq!(s.state, StepState::Posted, "{}: {:?}", s.key, s.reason);
    }
    let on_server = thread_on_server(&rig.sandbox, &thread);
    let bot = rig.sandbox.statuses_of("chatbot");
    for (step, status) in thread.iter().zip(&on_server) {
        let copies = bot
            .iter()
            .filter(|s| s.deleted_at.is_none() && s.text == step.text)
            .count();
        assert_eq!(copies, 1, "{} is on the server {copies} times", step.key);
        assert_eq!(status.text, step.text);
    }
    assert_eq!(
        on_server[0].in_reply_to_id, None,
        "the head starts the thread"
    );
    assert_eq!(
        on_server[0].visibility,
        Visibility::Public,
        "the head is public"
    );
    for pair in on_server.windows(2) {
        assert_eq!(
            pair[1].in_reply_to_id.as_deref(),
            Some(pair[0].id.as_str()),
            "each post answers the one before"
        );
    }
    for (step, status) in thread.iter().zip(&on_server) {
        if let StepKind::Recap { head: false, .. } = step.kind {
            assert_eq!(status.visibility, chat_visibility, "{}", step.key);
        }
    }
    on_server
}

async fn whole_chat(flavour: Flavour, visibility: Visibility, word: &str, limit: usize) {
    let rig = Rig::new("thread", flavour, word, true).await;
    let started = rig.engine().await;
    let occ = rig.occurrence();
    let mut engine = started.engine.clone();
    let run = tokio::spawn(async move { engine.run_occurrence("wenurses", &occ).await });
    rig.special_answers().await;
    let finished = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the chat date, its recap and archive end within 120 s")
        .unwrap();
    assert!(finished, "the chat date finished");
    let record = rig.record();
    assert_eq!(
        record.recap,
        Some(RecapState::Done),
        "{:?}",
        record.recap_note
    );

    let posts = assert_one_chained_thread(&rig, visibility);
    let texts: Vec<&str> = posts.iter().map(|p| p.text.as_str()).collect();
    let all = texts.join("\n\n");
    for t in &texts {
        assert!(
            post_length(t, 23) <= limit,
            "a post longer than {limit}: {t}"
        );
    }
    assert!(
        texts[0].contains("#WeNurses"),
        "the head carries the hashtag: {}",
        texts[0]
    );
    assert!(
        texts[0].contains(&format!("{ARCHIVE_URL}/wenurses/{DATE}/")),
        "the head links the archive: {}",
        texts[0]
    );
    // Nobody is mentioned and no other hashtag is used: an `@` or `#`
    // counts as Mastodon counts it, unless after a word character, `/` or
    // `=` (an address, a link's path). Only the chat's own tag is allowed.
    let chars: Vec<char> = all.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if !matches!(c, '@' | '#' | '＠' | '＃') {
            continue;
        }
        let quiet = i > 0 && {
            let p = chars[i - 1];
            p.is_ascii_alphanumeric() || matches!(p, '_' | '/' | '=')
        };
        let own = chars[i..].iter().take(9).collect::<String>() == "#WeNurses";
        assert!(
            quiet || own,
            "a mention or hashtag at {:?}:\n{all}",
            chars[i.saturating_sub(10)..(i + 20).min(chars.len())]
                .iter()
                .collect::<String>()
        );
    }
    for gone in ["graceprivatewords", "deletedwordsxyz", "firstdraftwords"] {
        assert!(!all.contains(gone), "{gone:?} in the thread:\n{all}");
    }
    assert!(
        all.contains("gluedwords"),
        "the most favourited answer is quoted:\n{all}"
    );

    // The archive: four files, the chat's index and feed, no opted-out
    // participant, no deleted answer, the edit shown edited, the hostile
    // post as text.
    let root = rig.dir.join("state/archive/wenurses");
    let dir = root.join(DATE);
    for f in ["index.html", "transcript.md", "chat.json", "activity.svg"] {
        assert!(dir.join(f).is_file(), "{f} in {}", dir.display());
    }
    assert!(root.join("index.html").is_file() && root.join("feed.xml").is_file());
    let page = read(&dir.join("index.html"));
    let md = read(&dir.join("transcript.md"));
    let json = read(&dir.join("chat.json"));
    for (name, text) in [
        ("index.html", &page),
        ("transcript.md", &md),
        ("chat.json", &json),
    ] {
        for gone in ["graceprivatewords", "deletedwordsxyz", "firstdraftwords"] {
            assert!(!text.contains(gone), "{gone:?} in {name}");
        }
        assert!(text.contains("editedfinalwords"), "the edit in {name}");
        assert!(
            text.contains("hostilewords"),
            "the hostile answer's words in {name}"
        );
    }
    assert!(!page.contains("<script"), "no script element in index.html");
    assert!(!page.contains("<img"), "no image in index.html");
    assert!(record.archived_at.is_some(), "the archive is recorded");
    let feed = read(&root.join("feed.xml"));
    assert_eq!(feed.matches("<entry>").count(), 1, "{feed}");
    if let Some(url) = rig.thread()[0].remote.as_ref().and_then(|r| r.url.clone()) {
        assert!(page.contains(&url), "the archive links the recap thread");
    }
    rig.sandbox.shutdown().await;
    let _ = std::fs::remove_dir_all(&rig.dir);
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mastodon_posts_one_chained_thread_within_500_and_writes_the_archive() {
    whole_chat(Flavour::Mastodon, Visibility::Public, "public", 500).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gotosocial_posts_one_chained_thread_within_5000_the_rest_unlisted() {
    whole_chat(Flavour::GoToSocial, Visibility::Unlisted, "unlisted", 5000).await;
}

/// A host who had the recap off posts it on purpose, twice: one thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recap_post_on_purpose_posts_the_thread_once() {
    let mut rig = Rig::new("post", Flavour::GoToSocial, "public", false).await;
    let started = rig.engine().await;
    let occ = rig.occurrence();
    let mut engine = started.engine.clone();
    let run = tokio::spawn(async move { engine.run_occurrence("wenurses", &occ).await });
    let finished = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the chat date ends within 120 s")
        .unwrap();
    assert!(finished);
    assert!(rig.thread().is_empty(), "recap off: no thread composed");
    let before = rig.sandbox.statuses_of("chatbot").len();
    let chat = rig.config().chats[0].clone();
    let occ = rig.occurrence();

    // The commands open the store themselves: the engine's must be closed.
    drop(started);
    rig.engine.take();
    // `chathost plan` previews the thread owed; nothing is posted by it.
    let preview = chathost::recap::command::preview_for_plan(&rig.config());
    assert!(
        preview.contains("Recap thread of #WeNurses on 2027-03-24")
            && preview.contains("(not posted")
            && preview.contains("--- 1 (head, public"),
        "{preview}"
    );
    assert_eq!(rig.sandbox.statuses_of("chatbot").len(), before);
    // `chathost archive --out` writes the folder where asked.
    let out = rig.dir.join("published/wenurses/2027-03-24");
    let written = chathost::recap::command::archive(
        &rig.config(),
        "wenurses",
        Some(occ.date),
        Some(&out),
        rig.clock.now(),
    )
    .unwrap();
    assert_eq!(written.0, out);
    for f in ["index.html", "transcript.md", "chat.json", "activity.svg"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    assert!(
        !rig.dir.join("published/wenurses/feed.xml").exists(),
        "--out writes the date's files only, never over a page beside them"
    );

    let started = rig.engine().await;
    let mut engine = started.engine.clone();
    engine.post_recap_now(&chat, &occ).await.unwrap();
    let thread = rig.thread();
    let after_one = rig.sandbox.statuses_of("chatbot").len();
    assert_eq!(after_one - before, thread.len(), "the thread, once");
    assert_one_chained_thread(&rig, Visibility::Public);

    drop((engine, started));
    rig.engine.take();
    // Again, as `chathost recap --post` does it: nothing more is posted,
    // and it shows the thread as posted.
    let text = chathost::recap::command::post(
        rig.config(),
        Secret::new(rig.sandbox.bot().token.expose()),
        rig.clock.clone(),
        "wenurses",
        Some(occ.date),
    )
    .await
    .unwrap();
    assert!(text.contains("recap-001-head [posted]"), "{text}");
    assert_eq!(
        rig.sandbox.statuses_of("chatbot").len(),
        after_one,
        "posting again posts nothing"
    );
    let shown =
        chathost::recap::command::show(&rig.config(), "wenurses", Some(occ.date), rig.clock.now())
            .unwrap();
    assert!(shown.contains("recap-001-head [posted]"), "{shown}");
    assert!(
        chathost::recap::command::preview_for_plan(&rig.config()).is_empty(),
        "a posted thread is no longer previewed"
    );
    rig.sandbox.shutdown().await;
    let _ = std::fs::remove_dir_all(&rig.dir);
}

/// `chathost run` is killed as each of the thread's first posts reaches
/// the server, and restarted on the same files: one thread, each post
/// once, still chained (GoToSocial ignores Idempotency-Key: only the
/// engine's reading back of its own posts prevents a double).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_during_the_thread_leaves_one_complete_thread() {
    let rig = Rig::new("kill", Flavour::GoToSocial, "public", true).await;
    let origin: DateTime<Utc> = ORIGIN.parse().unwrap();
    let engine = EngineCmd {
        dir: rig.dir.clone(),
        token: rig.sandbox.bot().token.expose().to_string(),
        clock_spec: format!("{},{},{SPEED}", origin.to_rfc3339(), rig.anchor_ms),
    };
    let deadline = origin + chrono::Duration::minutes(40);
    let mut run = 1;
    let mut child = engine.spawn(run);
    // The chat's six posts (welcome, three questions, last call, wrap-up),
    // then the thread: kill as each of its first three posts reaches the
    // server (the engine records a post within a millisecond or so of the
    // server storing it: look often, to kill inside that window).
    let plan = 6;
    // The head's answer is lost on the way back (the post is stored): the
    // engine must find it, never post it again.
    while rig.sandbox.statuses_of("chatbot").len() < plan {
        child.assert_running(run);
        assert!(
            rig.clock.now() < deadline,
            "no wrap-up:\n{}",
            engine.log(run)
        );
        std::thread::sleep(Duration::from_micros(200));
    }
    rig.sandbox.faults().inject(
        Fault::new(Method::POST, "/api/v1/statuses", FaultKind::LoseResponse)
            .exact()
            .times(1),
    );
    let mut kills = 0;
    while kills < 3 {
        let before = rig.sandbox.statuses_of("chatbot").len().max(plan);
        while rig.sandbox.statuses_of("chatbot").len() <= before {
            child.assert_running(run);
            assert!(rig.clock.now() < deadline, "stalled:\n{}", engine.log(run));
            std::thread::sleep(Duration::from_micros(200));
        }
        child.kill();
        kills += 1;
        eprintln!(
            "run {run}: SIGKILL at {} as a recap post reached the server",
            rig.clock.now().format("%H:%M:%S")
        );
        run += 1;
        child = engine.spawn(run);
    }
    // The last run finishes the thread and then waits for next week.
    while !engine.log(run).contains("date=2027-03-31") {
        child.assert_running(run);
        assert!(
            rig.clock.now() < deadline,
            "unfinished:\n{}",
            engine.log(run)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = child.terminate();
    assert!(status.success(), "{status}");
    assert_eq!(rig.record().recap, Some(RecapState::Done));
    assert_one_chained_thread(&rig, Visibility::Public);
    // The lost answer was settled by reading the bot's posts back, and the
    // head was sent once.
    let found: usize = (1..=run)
        .map(|r| {
            engine
                .log(r)
                .matches("found on the server after an unknown outcome")
                .count()
        })
        .sum();
    assert!(
        found >= 1,
        "no post was found again after a lost answer or a kill"
    );
    assert_eq!(rig.thread()[0].attempts, 1, "the head was sent once");
    rig.sandbox.shutdown().await;
    let _ = std::fs::remove_dir_all(&rig.dir);
}

/// The head refused (a 422): the rest is left out, never a headless
/// thread of replies to nothing. Then a reload that turns the recap off
/// while it waits for its moment: no thread at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_head_or_a_recap_turned_off_posts_no_thread() {
    for case in ["refused", "turned off"] {
        // 200 characters: the head is split in parts (head: true each).
        let limit = (case == "refused").then_some(200);
        let name = case.replace(' ', "-");
        let rig = Rig::with_limit(&name, Flavour::GoToSocial, "public", true, limit).await;
        if case == "turned off" {
            // A recap due at 20:26, long after the final sweep: the reload
            // at 20:23 comes while the after part waits for its moment.
            let toml = std::fs::read_to_string(rig.dir.join("bot.toml")).unwrap();
            let toml = toml.replace("delay_minutes = 3", "delay_minutes = 10");
            std::fs::write(rig.dir.join("bot.toml"), toml).unwrap();
        }
        let started = rig.engine().await;
        let occ = rig.occurrence();
        let mut engine = started.engine.clone();
        let run = tokio::spawn(async move { engine.run_occurrence("wenurses", &occ).await });
        // Once the wrap-up (the chat's sixth post) is out.
        let deadline = rig.clock.now() + chrono::Duration::minutes(30);
        while rig.sandbox.statuses_of("chatbot").len() < 6 {
            assert!(rig.clock.now() < deadline, "no wrap-up");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let chat_posts = rig.sandbox.statuses_of("chatbot").len();
        if case == "refused" {
            rig.sandbox.faults().inject(
                Fault::new(Method::POST, "/api/v1/statuses", FaultKind::Status(422))
                    .exact()
                    .times(1),
            );
        } else {
            let reload_at: DateTime<Utc> = "2027-03-24T20:23:00Z".parse().unwrap();
            while rig.clock.now() < reload_at {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            assert!(
                rig.thread().is_empty(),
                "nothing composed before its moment"
            );
            let mut config = rig.config();
            config.chats[0].recap.enabled = false;
            started.reload.send(Arc::new(config)).unwrap();
        }
        let finished = tokio::time::timeout(Duration::from_secs(120), run)
            .await
            .expect("the chat date ends within 120 s")
            .unwrap();
        assert!(finished, "{case}");
        assert_eq!(
            rig.sandbox.statuses_of("chatbot").len(),
            chat_posts,
            "{case}: nothing posted after the wrap-up"
        );
        let thread = rig.thread();
        let record = rig.record();
        if case == "refused" {
            assert!(
                matches!(thread[1].kind, StepKind::Recap { head: true, .. }),
                "the head is in parts: {thread:#?}"
            );
            assert_eq!(thread[0].state, StepState::Failed);
            assert!(
                thread[1..].iter().all(|s| s.state == StepState::Skipped
                    && s.reason.as_deref() == Some("the thread's head post could not be posted")),
                "{thread:#?}"
            );
            assert_eq!(record.recap, Some(RecapState::Done));
        } else {
            assert!(thread.is_empty(), "{thread:#?}");
            assert_eq!(record.recap, None, "not composed");
        }
        assert!(
            record.archived_at.is_some(),
            "{case}: the archive is still written"
        );
        drop(started);
        rig.sandbox.shutdown().await;
        let _ = std::fs::remove_dir_all(&rig.dir);
    }
}
