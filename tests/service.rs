//! `chathost run` and `chathost chat --now` as real processes against the
//! sandbox, on a shared fast clock (`CHATHOST_FAKE_CLOCK`): what the log
//! says, signals, and the token never showing.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use chathost::clock::{ScaledClock, SharedClock};
use chathost::sandbox::{Flavour, Sandbox, SandboxConfig};
use chrono::{DateTime, Utc};

/// 300 virtual seconds per real second: the 20-minute chat takes 4 s.
const SPEED: f64 = 300.0;

struct Rig {
    dir: PathBuf,
    sandbox: Sandbox,
    clock_env: String,
    token: String,
}

fn bot_toml(url: &str, hashtag: &str) -> String {
    format!(
        r#"[instance]
url = "{url}"
software = "gotosocial"
timeout_seconds = 2

[account]
token_env = "CHATHOST_TOKEN"

[state]
dir = "state"

[chats.wenurses]
hashtag = "{hashtag}"
weekday = "Wednesday"
time = "20:00"
zone = "Europe/London"
duration_minutes = 20
reminders = []

[chats.wenurses.pacing]
first_question = 3
last_call = 17
"#
    )
}

const QUESTIONS: &str = r#"topic = "Quick test"

[[question]]
text = "First question?"

[[question]]
text = "Second question?"

[[question]]
text = "Third question?"
"#;

impl Rig {
    async fn new(name: &str) -> Rig {
        let dir = std::env::temp_dir().join(format!("chathost-svc-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("prompts")).unwrap();
        // Virtual time starts a minute before the chat of 2 December.
        let origin: DateTime<Utc> = "2026-12-02T19:59:00Z".parse().unwrap();
        let anchor = SystemTime::now();
        let clock: SharedClock = Arc::new(ScaledClock::anchored(origin, anchor, SPEED));
        let sandbox = Sandbox::start(SandboxConfig {
            flavour: Flavour::GoToSocial,
            participants: 2,
            clock,
            hashtag: "WeNurses".into(),
            ..SandboxConfig::default()
        })
        .await
        .unwrap();
        std::fs::write(
            dir.join("bot.toml"),
            bot_toml(sandbox.base_url(), "WeNurses"),
        )
        .unwrap();
        std::fs::write(dir.join("prompts/2026-12-02.toml"), QUESTIONS).unwrap();
        let anchor_ms = anchor
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        Rig {
            dir,
            token: sandbox.bot().token.expose().to_string(),
            sandbox,
            clock_env: format!("{},{anchor_ms},{SPEED}", origin.to_rfc3339()),
        }
    }

    fn spawn(&self, args: &[&str]) -> Child {
        Command::new(env!("CARGO_BIN_EXE_chathost"))
            .args(args)
            .current_dir(&self.dir)
            .env("CHATHOST_TOKEN", &self.token)
            .env("CHATHOST_FAKE_CLOCK", &self.clock_env)
            .env("RUST_LOG", "info")
            .env_remove("JOURNAL_STREAM")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Waits (real time, bounded) until the bot has posted `n` statuses.
    async fn wait_for_posts(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.sandbox.statuses_of("chatbot").len() < n {
            assert!(
                Instant::now() < deadline,
                "the bot posted only {} of {n}",
                self.sandbox.statuses_of("chatbot").len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn finish(mut child: Child) -> (std::process::ExitStatus, String) {
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    (child.wait().unwrap(), log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_logs_every_step_keeps_going_on_a_broken_reload_and_stops_cleanly() {
    let rig = Rig::new("run").await;
    let child = rig.spawn(&["run", "--config", "bot.toml"]);
    // Welcome and Q1 are out; now the host breaks bot.toml and reloads.
    rig.wait_for_posts(2).await;
    std::fs::write(rig.dir.join("bot.toml"), "[instance\nurl = ").unwrap();
    signal(&child, "-HUP");
    // The chat goes on with the settings it had: 3 questions, last call, wrap-up.
    rig.wait_for_posts(6).await;
    signal(&child, "-TERM");
    let (status, log) = finish(child);
    assert!(status.success(), "exit {status}:\n{log}");

    let firsts: Vec<String> = {
        let mut posts = rig.sandbox.statuses_of("chatbot");
        posts.sort_by_key(|p| p.created_at);
        posts
            .iter()
            .map(|p| p.text.lines().next().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(firsts.len(), 6, "{firsts:#?}");
    assert!(firsts[1].starts_with("Q1: First question?"), "{firsts:#?}");
    assert!(firsts[5].starts_with("That's a wrap!"), "{firsts:#?}");

    // One line per step: what was posted, how late, its id.
    let posted: Vec<&str> = log.lines().filter(|l| l.contains(" posted ")).collect();
    assert_eq!(posted.len(), 6, "{log}");
    assert!(
        posted
            .iter()
            .all(|l| l.contains("late_ms=") && l.contains("remote_id=")),
        "{log}"
    );
    assert!(
        log.contains("has errors; keeping the current settings"),
        "{log}"
    );
    assert!(log.contains("stopping"), "{log}");
    assert!(!log.contains(&rig.token), "the token appeared in the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_now_hosts_one_chat_with_the_next_questions() {
    let rig = Rig::new("now").await;
    let child = rig.spawn(&["chat", "--now", "--config", "bot.toml"]);
    let (status, log) = finish(child);
    assert!(status.success(), "exit {status}:\n{log}");
    let mut posts = rig.sandbox.statuses_of("chatbot");
    posts.sort_by_key(|p| p.created_at);
    // The chat's six posts, then the recap thread: a head, each later
    // post answering the one before.
    let thread = posts.split_off(6);
    assert!(posts.iter().all(|p| p.in_reply_to_id.is_none()), "{log}");
    assert!(
        thread
            .first()
            .is_some_and(|h| h.text.starts_with("Thank you for the #")),
        "{log}"
    );
    assert!(
        thread
            .windows(2)
            .all(|w| w[1].in_reply_to_id.as_deref() == Some(w[0].id.as_str())),
        "{log}"
    );
    assert!(
        posts
            .iter()
            .any(|p| p.text.starts_with("Q3: Third question?"))
    );
    assert!(!log.contains(&rig.token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_refuses_to_start_without_a_token_and_says_where_it_looked() {
    let rig = Rig::new("notoken").await;
    let out = Command::new(env!("CARGO_BIN_EXE_chathost"))
        .args(["run", "--config", "bot.toml"])
        .current_dir(&rig.dir)
        .env_remove("CHATHOST_TOKEN")
        .env_remove("CREDENTIALS_DIRECTORY")
        .output()
        .unwrap();
    // 78 (EX_CONFIG): systemd does not restart it (RestartPreventExitStatus).
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no access token found"), "{err}");
    assert!(err.contains("CHATHOST_TOKEN"), "{err}");
}

/// CPU time (user + system) a process has used, in clock ticks (1/100 s).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which is in parentheses.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// Collects a child's stderr lines as they come.
fn tail_lines(child: &mut Child) -> Arc<std::sync::Mutex<Vec<String>>> {
    use std::io::BufRead;
    let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = lines.clone();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

async fn wait_for_lines(lines: &std::sync::Mutex<Vec<String>>, needle: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .count();
        if found >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{needle:?} appeared {found} of {n} times:\n{}",
            lines.lock().unwrap().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Issue 13, item 1: one SIGHUP made `run` spin at 100 % CPU, writing
/// "next chat; waiting until …" and scheduler errors hundreds of thousands
/// of times a second. On the real clock (the scheduler's path), three
/// reloads must cost three log lines and next to no CPU afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_cost_one_line_each_and_no_cpu_afterwards() {
    let rig = Rig::new("reload").await;
    // On the real clock: a chat three days from now in London, so that a
    // run on a Wednesday evening does not start hosting mid-test.
    let day = (chrono::Utc::now().with_timezone(&chrono_tz::Europe::London)
        + chrono::Duration::days(3))
    .format("%A")
    .to_string();
    let toml = std::fs::read_to_string(rig.dir.join("bot.toml")).unwrap();
    std::fs::write(
        rig.dir.join("bot.toml"),
        toml.replace("weekday = \"Wednesday\"", &format!("weekday = \"{day}\"")),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_chathost"))
        .args(["run", "--config", "bot.toml"])
        .current_dir(&rig.dir)
        .env("CHATHOST_TOKEN", &rig.token)
        .env_remove("CHATHOST_FAKE_CLOCK")
        .env("RUST_LOG", "info")
        .env_remove("JOURNAL_STREAM")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = tail_lines(&mut child);
    wait_for_lines(&lines, "next chat; waiting until", 1).await;
    let before = lines.lock().unwrap().len();
    let ticks_before = cpu_ticks(child.id());
    for n in 1..=3 {
        if n == 3 {
            // A changed server setting cannot apply to a running service:
            // the reload says so rather than passing over it.
            let toml = std::fs::read_to_string(rig.dir.join("bot.toml")).unwrap();
            let toml = toml.replace("timeout_seconds = 2", "timeout_seconds = 3");
            std::fs::write(rig.dir.join("bot.toml"), toml).unwrap();
        }
        signal(&child, "-HUP");
        wait_for_lines(&lines, "SIGHUP: settings re-read", n).await;
    }
    // Watch it as a host would, for a few seconds after the last reload.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ticks = cpu_ticks(child.id()) - ticks_before;
    let after: Vec<String> = lines.lock().unwrap()[before..].to_vec();
    let rss_kib: u64 = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap();
    signal(&child, "-TERM");
    let status = child.wait().unwrap();
    assert!(status.success(), "exit {status}");

    assert!(
        after[2].contains("[instance] take effect only after a restart"),
        "{}",
        after[2]
    );
    assert!(!after[0].contains("restart"), "{}", after[0]);
    // One line per reload, nothing else (the spin wrote ~100,000 a second).
    assert_eq!(
        after.len(),
        3,
        "log lines after the reloads:\n{}",
        after.join("\n")
    );
    // Under half a second of CPU in about four (the spin used all of it).
    assert!(ticks < 50, "{ticks} CPU ticks after three reloads");
    // The spin also grew the process past 150 MB.
    assert!(
        rss_kib < 64 * 1024,
        "{rss_kib} KiB resident after three reloads"
    );
}

/// Issue 13, item 5: `run` on a damaged state file once started normally and
/// then, at chat time, logged "database disk image is malformed" every 30 s
/// forever. It refuses at start, says what to do, and exits 1 (systemd
/// shows the unit failed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_refuses_a_damaged_state_file_and_says_what_to_do() {
    use chathost::plan::{Step, StepKind};
    use chathost::store::{NewChat, Store};
    let rig = Rig::new("damaged").await;
    let db = rig
        .dir
        .join("state")
        .join(chathost::engine::service::DATABASE);
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    {
        let store = Store::open(&db).unwrap();
        let start: DateTime<Utc> = "2026-11-25T20:00:00Z".parse().unwrap();
        let chat = store
            .upsert_chat(
                &NewChat {
                    name: "wenurses".into(),
                    date: start.date_naive(),
                    start_utc: start,
                    instance_url: rig.sandbox.base_url().to_string(),
                    account: "chatbot".into(),
                    questions_file: None,
                },
                start,
            )
            .unwrap();
        let steps: Vec<Step> = (1..=200)
            .map(|n| Step {
                kind: StepKind::Question { number: n },
                at: start + chrono::Duration::seconds(n as i64),
                text: format!("Q{n}: {}", "words ".repeat(40)),
            })
            .collect();
        store.sync_steps(chat.id, &steps, start).unwrap();
    }
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut file = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
        file.seek(SeekFrom::Start(2 * 4096)).unwrap();
        file.write_all(&[0x5A; 3 * 4096]).unwrap();
    }
    let child = rig.spawn(&["run", "--config", "bot.toml"]);
    let (status, log) = finish(child);
    assert_eq!(status.code(), Some(78), "{log}");
    assert!(log.contains("damaged"), "{log}");
    assert!(log.contains("Restore the latest backup"), "{log}");
    assert!(!log.contains("next chat;"), "it went on to host:\n{log}");
    assert!(rig.sandbox.statuses_of("chatbot").is_empty());
}
