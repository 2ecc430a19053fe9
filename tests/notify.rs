//! `chathost run` under a stand-in for systemd: the test owns the
//! `NOTIFY_SOCKET` datagram socket and reads what the service says —
//! READY, STATUS, WATCHDOG pings, STOPPING — and how start-up behaves when
//! the server is not there yet, or refuses the token.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chathost::sandbox::{Flavour, Sandbox, SandboxConfig};

/// systemd's watchdog period for these runs: pings every 100 ms.
const WATCHDOG_USEC: &str = "200000";

fn bot_toml(url: &str) -> String {
    let weekday = (chrono::Utc::now().date_naive() + chrono::Days::new(3)).format("%A");
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
hashtag = "WeNurses"
weekday = "{weekday}"
time = "20:00"
zone = "Europe/London"
duration_minutes = 20
reminders = []
"#
    )
}

const QUESTIONS: &str = r#"topic = "Quick test"

[[question]]
text = "First question?"

[[question]]
text = "Second question?"
"#;

/// A folder with bot.toml, and the socket systemd would own.
struct Host {
    dir: PathBuf,
    messages: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Host {
    fn new(name: &str, url: &str) -> Host {
        let dir =
            std::env::temp_dir().join(format!("chathost-notify-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("prompts")).unwrap();
        std::fs::write(dir.join("bot.toml"), bot_toml(url)).unwrap();
        let socket = UnixDatagram::bind(dir.join("notify")).unwrap();
        let (tx, messages) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 4096];
            while let Ok(n) = socket.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                if tx.send(text).is_err() {
                    return;
                }
            }
        });
        Host {
            dir,
            messages,
            seen: Vec::new(),
        }
    }

    fn spawn(&self, token: &str) -> Child {
        Command::new(env!("CARGO_BIN_EXE_chathost"))
            .args(["run", "--config", "bot.toml"])
            .current_dir(&self.dir)
            .env("CHATHOST_TOKEN", token)
            .env("NOTIFY_SOCKET", self.dir.join("notify"))
            .env("WATCHDOG_USEC", WATCHDOG_USEC)
            .env_remove("WATCHDOG_PID")
            .env_remove("CHATHOST_FAKE_CLOCK")
            .env_remove("JOURNAL_STREAM")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Waits (real time, bounded) for a message matching `want`; every
    /// message read is kept in `seen`.
    fn expect(&mut self, what: &str, within: Duration, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.messages.recv_timeout(left) {
                Ok(m) => {
                    self.seen.push(m.clone());
                    if want(&m) {
                        return m;
                    }
                }
                Err(_) => panic!("no {what} within {within:?}; seen: {:?}", self.seen),
            }
        }
    }

    /// Everything sent until now, without waiting.
    fn drain(&mut self) {
        while let Ok(m) = self.messages.try_recv() {
            self.seen.push(m);
        }
    }
}

impl Drop for Host {
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

/// Waits (bounded) for the process to end: its exit code and log.
fn finish(mut child: Child, within: Duration) -> (Option<i32>, String) {
    let deadline = Instant::now() + within;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the service did not end within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut log = String::new();
    if let Some(mut err) = child.stderr.take() {
        std::io::Read::read_to_string(&mut err, &mut log).unwrap();
    }
    (status.code(), log)
}

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig {
        flavour: Flavour::GoToSocial,
        participants: 1,
        hashtag: "WeNurses".into(),
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

/// The date (`YYYY-MM-DD`) a status line names after "next chat".
fn named_date(status: &str) -> chrono::NaiveDate {
    let after = status.split("next chat ").nth(1).unwrap();
    let date = after.split_whitespace().nth(1).unwrap();
    date.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_service_tells_systemd_ready_status_watchdog_and_stopping() {
    let sandbox = sandbox().await;
    let token = sandbox.bot().token.expose().to_string();
    let mut host = Host::new("ready", sandbox.base_url());
    let child = host.spawn(&token);

    host.expect("READY=1", Duration::from_secs(20), |m| m == "READY=1");
    let status = host.expect(
        "a STATUS naming the next chat",
        Duration::from_secs(10),
        |m| m.starts_with("STATUS=wenurses: next chat"),
    );
    // The real clock: the chat is three days from today (never under way
    // now, whatever day the test runs), 20:00 in London,
    // and no question file was written for it yet.
    let date = named_date(&status);
    assert_eq!(chrono::Datelike::weekday(&date), chat_weekday(), "{status}");
    let today = chrono::Utc::now().date_naive();
    assert!(
        date >= today && date <= today + chrono::Days::new(7),
        "{status}"
    );
    assert!(status.contains("20:00"), "{status}");
    assert!(status.contains("no question file yet"), "{status}");

    // Pings keep coming while the engine only waits (the chat is days
    // away): they come from its waits, every half period.
    for _ in 0..3 {
        host.expect("WATCHDOG=1", Duration::from_secs(5), |m| m == "WATCHDOG=1");
    }

    // The host adds the question file and reloads: the status says so.
    let file = host.dir.join(format!("prompts/{date}.toml"));
    std::fs::write(&file, QUESTIONS).unwrap();
    signal(&child, "-HUP");
    host.expect(
        "a STATUS saying the questions are ready",
        Duration::from_secs(10),
        |m| m.starts_with("STATUS=wenurses: next chat") && m.contains("questions ready"),
    );

    // A chat added to bot.toml gets its own part of the status; once
    // removed, its part goes too (no stale line about a chat not hosted).
    let settings = std::fs::read_to_string(host.dir.join("bot.toml")).unwrap();
    let second = settings.clone()
        + "\n[chats.second]\nhashtag = \"SecondChat\"\nweekday = \"Monday\"\ntime = \"09:00\"\nzone = \"UTC\"\nreminders = []\n";
    std::fs::write(host.dir.join("bot.toml"), second).unwrap();
    signal(&child, "-HUP");
    host.expect("a STATUS naming both chats", Duration::from_secs(10), |m| {
        m.contains("wenurses: next chat") && m.contains("second: next chat")
    });
    std::fs::write(host.dir.join("bot.toml"), &settings).unwrap();
    signal(&child, "-HUP");
    host.expect(
        "a STATUS without the removed chat",
        Duration::from_secs(10),
        |m| m.starts_with("STATUS=wenurses: next chat") && !m.contains("second"),
    );

    signal(&child, "-TERM");
    host.expect("STOPPING=1", Duration::from_secs(10), |m| m == "STOPPING=1");
    let (code, log) = finish(child, Duration::from_secs(20));
    assert_eq!(code, Some(0), "{log}");
    host.drain();
    let last_status = host.seen.iter().rev().find(|m| m.starts_with("STATUS="));
    assert!(
        last_status.is_some_and(|m| !m.contains("second")),
        "the removed chat stays gone: {:?}",
        host.seen
    );
    assert_eq!(
        host.seen.iter().filter(|m| *m == "READY=1").count(),
        1,
        "READY once: {:?}",
        host.seen
    );
    assert!(
        host.seen.iter().all(|m| !m.contains(&token)),
        "the token never reaches systemd"
    );
    assert!(!log.contains(&token), "the token is never logged");
}

/// A port nobody listens on (yet).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The server comes up at `port`: connections there reach the sandbox.
async fn come_up(port: u16, sandbox: &Sandbox) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let target = sandbox.base_url().trim_start_matches("http://").to_string();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_down_at_start_is_retried_until_it_answers() {
    let sandbox = sandbox().await;
    let token = sandbox.bot().token.expose().to_string();
    let port = free_port();
    let mut host = Host::new("down", &format!("http://127.0.0.1:{port}"));
    let mut child = host.spawn(&token);

    let waiting = host.expect("a STATUS saying it waits", Duration::from_secs(10), |m| {
        m.starts_with("STATUS=waiting for the server")
    });
    assert!(waiting.contains("next try at"), "{waiting}");
    host.expect(
        "more start-up time asked of systemd",
        Duration::from_secs(5),
        |m| m.starts_with("EXTEND_TIMEOUT_USEC="),
    );
    // Still running, and not READY, while the server is down.
    std::thread::sleep(Duration::from_secs(2));
    host.drain();
    assert!(!host.seen.iter().any(|m| m == "READY=1"), "{:?}", host.seen);
    assert!(
        child.try_wait().unwrap().is_none(),
        "the service keeps trying instead of exiting"
    );

    let proxy = come_up(port, &sandbox).await;
    host.expect(
        "READY=1 once the server answers",
        Duration::from_secs(30),
        |m| m == "READY=1",
    );
    signal(&child, "-TERM");
    let (code, log) = finish(child, Duration::from_secs(20));
    proxy.abort();
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains("the server did not answer (attempt 1)"),
        "{log}"
    );
    assert!(log.contains("trying again in 5s"), "{log}");
    assert!(!log.contains(&token), "the token is never logged");
}

/// A host's `chathost collect` by hand holds the state folder when the
/// service (re)starts: under systemd it waits for the folder instead of
/// exiting 78, which would keep it down through tonight's chat.
#[tokio::test(flavor = "multi_thread")]
async fn a_state_folder_in_use_is_waited_for_under_systemd() {
    let sandbox = sandbox().await;
    let token = sandbox.bot().token.expose().to_string();
    let mut host = Host::new("inuse", sandbox.base_url());
    std::fs::create_dir_all(host.dir.join("state")).unwrap();
    let other = chathost::store::Store::open(host.dir.join("state/chathost.sqlite3")).unwrap();
    let mut child = host.spawn(&token);

    host.expect("a STATUS saying it waits", Duration::from_secs(10), |m| {
        m.starts_with("STATUS=waiting for the state folder")
    });
    std::thread::sleep(Duration::from_secs(1));
    host.drain();
    assert!(!host.seen.iter().any(|m| m == "READY=1"), "{:?}", host.seen);
    assert!(
        child.try_wait().unwrap().is_none(),
        "the service waits instead of exiting"
    );

    drop(other);
    host.expect(
        "READY=1 once the folder is free",
        Duration::from_secs(30),
        |m| m == "READY=1",
    );
    signal(&child, "-TERM");
    let (code, log) = finish(child, Duration::from_secs(20));
    assert_eq!(code, Some(0), "{log}");
    // Its own words, once per wait, and not the terminal's advice to stop
    // the service (this is the service).
    assert_eq!(
        log.matches("another chathost run by hand holds").count(),
        1,
        "{log}"
    );
    assert!(
        log.contains("chathost.sqlite3.lock; waiting for it to finish"),
        "{log}"
    );
    assert!(log.contains("is free: starting"), "{log}");
    assert!(!log.contains("stop the service first"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_token_fails_at_once_without_retrying() {
    let sandbox = sandbox().await;
    let mut host = Host::new("revoked", sandbox.base_url());
    let revoked = "revoked-token-0123456789abcdef";
    let child = host.spawn(revoked);
    let (code, log) = finish(child, Duration::from_secs(15));
    assert_eq!(code, Some(78), "{log}");
    assert!(log.contains("401"), "{log}");
    assert!(!log.contains("trying again"), "{log}");
    assert!(!log.contains(revoked), "the token is never logged");
    host.drain();
    assert!(
        !host
            .seen
            .iter()
            .any(|m| m == "READY=1" || m.starts_with("STATUS=waiting")),
        "{:?}",
        host.seen
    );
}

/// The chat's weekday: three days from today, so that on no day of the
/// week is the chat under way while the test runs on the real clock.
fn chat_weekday() -> chrono::Weekday {
    chrono::Datelike::weekday(&(chrono::Utc::now().date_naive() + chrono::Days::new(3)))
}
