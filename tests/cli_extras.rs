//! `chathost completions`, `chathost man`, and the log under systemd: run
//! as the real binary.

use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use chathost::clock::{ScaledClock, SharedClock};
use chathost::sandbox::{Flavour, Sandbox, SandboxConfig};
use chrono::{DateTime, Utc};

fn chathost(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chathost"))
        .args(args)
        .env_remove("JOURNAL_STREAM")
        .output()
        .expect("run chathost")
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {}: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).expect("UTF-8 output")
}

/// Every subcommand the binary has, read from its own `--help`, so a
/// command added later is covered too.
fn subcommands() -> Vec<String> {
    let help = stdout(&chathost(&["--help"]));
    let names: Vec<String> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| *n != "help")
        .map(String::from)
        .collect();
    for known in [
        "check",
        "plan",
        "run",
        "rehearse",
        "sandbox",
        "completions",
        "man",
    ] {
        assert!(
            names.iter().any(|n| n == known),
            "{known} not in {names:?}\n{help}"
        );
    }
    names
}

#[test]
fn completions_exist_for_every_shell_and_bash_knows_every_subcommand() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = stdout(&chathost(&["completions", shell]));
        assert!(script.contains("chathost"), "{shell}: {script}");
        assert!(script.contains("config"), "{shell}: options missing");
    }
    let bash = stdout(&chathost(&["completions", "bash"]));
    // The words offered after `chathost `, and a case for each command's options.
    let top = bash
        .lines()
        .find(|l| l.trim_start().starts_with("opts=\"-h -V"))
        .unwrap_or_default();
    for name in subcommands() {
        assert!(
            top.split([' ', '"']).any(|w| w == name),
            "bash: {name} not offered: {top}"
        );
        assert!(
            bash.contains(&format!("chathost,{name})")),
            "bash: no case for {name}"
        );
    }
    // An unknown shell is a usage error, not an empty script.
    let wrong = chathost(&["completions", "tcsh"]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(wrong.stdout.is_empty());
}

#[test]
fn man_page_is_roff_names_every_subcommand_and_renders() {
    let page = stdout(&chathost(&["man"]));
    assert!(
        page.starts_with(".TH chathost 1"),
        "{}",
        &page[..80.min(page.len())]
    );
    assert_eq!(page.matches(".TH ").count(), 1);
    for name in subcommands() {
        assert!(
            page.contains(&format!(".SS \"chathost {name}\"")),
            "{name} missing"
        );
    }
    // Options, defaults and possible values of a command are there.
    assert!(
        page.contains("\\-\\-count") || page.contains("--count"),
        "{page}"
    );
    assert!(page.contains("Default: bot.toml."), "{page}");
    assert!(page.contains("One of: text, json."), "{page}");

    let has_man = Command::new("man")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_man {
        eprintln!("man is not installed: skipping the rendering check");
        return;
    }
    let file = std::env::temp_dir().join(format!("chathost-man-{}.1", std::process::id()));
    std::fs::write(&file, &page).unwrap();
    let shown = Command::new("man")
        .arg("-l")
        .arg(&file)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "80")
        .output()
        .unwrap();
    std::fs::remove_file(&file).unwrap();
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.status.success(),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    assert!(
        shown.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    assert!(text.contains("chathost rehearse"), "{text}");
    assert!(!text.contains(".SS"), "roff leaked into the page: {text}");
}

const BOT_TOML: &str = r#"[instance]
url = "URL"
software = "gotosocial"
timeout_seconds = 2

[account]
token_env = "CHATHOST_TOKEN"

[state]
dir = "state"

[chats.wenurses]
hashtag = "WeNurses"
weekday = "Wednesday"
time = "20:00"
zone = "Europe/London"
duration_minutes = 20
reminders = []

[chats.wenurses.pacing]
first_question = 3
last_call = 17
"#;

const QUESTIONS: &str = r#"topic = "Quick test"

[[question]]
text = "First question?"

[[question]]
text = "Second question?"
"#;

/// Whether this machine lets a test give a process its own /run (a user
/// and mount namespace), where a socket of the test's plays journald.
fn can_fake_journald() -> bool {
    Command::new("unshare")
        .args(["-rm", "sh", "-c", "mount -t tmpfs none /run"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Reads the datagrams the process sends to the journal, until stopped.
fn journal_reader(
    sock: UnixDatagram,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<Vec<u8>>> {
    std::thread::spawn(move || {
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut got = Vec::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            match sock.recv(&mut buf) {
                Ok(n) => got.push(buf[..n].to_vec()),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    if stop.load(Ordering::SeqCst) {
                        return got;
                    }
                }
                Err(e) => panic!("journal socket: {e}"),
            }
        }
    })
}

/// The fields of one entry in journald's native protocol: `NAME=value`
/// lines, or `NAME`, a little-endian u64 length and the raw value.
fn fields(entry: &[u8]) -> Vec<(String, String)> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut out = Vec::new();
    let mut rest = entry;
    while !rest.is_empty() {
        let nl = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let line = &rest[..nl];
        if let Some(eq) = line.iter().position(|&b| b == b'=') {
            out.push((text(&line[..eq]), text(&line[eq + 1..])));
            rest = &rest[(nl + 1).min(rest.len())..];
        } else {
            let len = u64::from_le_bytes(rest[nl + 1..nl + 9].try_into().unwrap()) as usize;
            out.push((text(line), text(&rest[nl + 9..nl + 9 + len])));
            rest = &rest[(nl + 10 + len).min(rest.len())..];
        }
    }
    out
}

fn has(entry: &[u8], needle: &str) -> bool {
    entry.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// `chat --now` under a faked systemd: stderr is the journal stream, and
/// /run/systemd/journal/socket is the test's.
fn chat_under_systemd(
    dir: &Path,
    sandbox: &Sandbox,
    clock_env: &str,
    token: &str,
) -> (Vec<Vec<u8>>, String) {
    let sock_path = dir.join("journal.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = journal_reader(sock, stop.clone());
    let stderr_path = dir.join("stderr.log");
    let stderr = std::fs::File::create(&stderr_path).unwrap();
    let meta = stderr.metadata().unwrap();
    let script = "mount -t tmpfs none /run && mkdir -p /run/systemd/journal \
        && : > /run/systemd/journal/socket && mount --bind \"$0\" /run/systemd/journal/socket \
        && exec \"$@\"";
    let status = Command::new("unshare")
        .args(["-rm", "sh", "-c", script])
        .arg(&sock_path)
        .arg(env!("CARGO_BIN_EXE_chathost"))
        .args(["chat", "--now", "--config", "bot.toml"])
        .current_dir(dir)
        .env("CHATHOST_TOKEN", token)
        .env("CHATHOST_FAKE_CLOCK", clock_env)
        .env("RUST_LOG", "debug")
        .env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()))
        .stdout(Stdio::null())
        .stderr(stderr)
        .status()
        .unwrap();
    stop.store(true, Ordering::SeqCst);
    let entries = reader.join().unwrap();
    let err = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(status.success(), "exit {status}: {err}");
    assert!(sandbox.statuses_of("chatbot").len() >= 5, "{err}");
    (entries, err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_systemd_the_log_goes_to_the_journal_with_fields_and_never_the_token() {
    if !can_fake_journald() {
        // Skipping silently would let CI pass without the check: only on
        // purpose.
        assert!(
            std::env::var_os("CHATHOST_SKIP_JOURNALD").is_some(),
            "no user and mount namespaces here for the journald check; set CHATHOST_SKIP_JOURNALD=1 to skip it"
        );
        eprintln!("CHATHOST_SKIP_JOURNALD: skipping the journald check");
        return;
    }
    let dir: PathBuf =
        std::env::temp_dir().join(format!("chathost-journal-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("prompts")).unwrap();
    let origin: DateTime<Utc> = "2026-12-02T19:59:00Z".parse().unwrap();
    let anchor = SystemTime::now();
    let speed = 300.0;
    let clock: SharedClock = Arc::new(ScaledClock::anchored(origin, anchor, speed));
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
        BOT_TOML.replace("URL", sandbox.base_url()),
    )
    .unwrap();
    std::fs::write(dir.join("prompts/2026-12-02.toml"), QUESTIONS).unwrap();
    let anchor_ms = anchor
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let clock_env = format!("{},{anchor_ms},{speed}", origin.to_rfc3339());
    let token = sandbox.bot().token.expose().to_string();

    let (entries, err) =
        tokio::task::block_in_place(|| chat_under_systemd(&dir, &sandbox, &clock_env, &token));

    // One entry per posted step, with the chat, the step and the post as fields.
    let parsed: Vec<Vec<(String, String)>> = entries.iter().map(|e| fields(e)).collect();
    let field = |e: &[(String, String)], name: &str| {
        e.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    };
    let posted: Vec<_> = parsed
        .iter()
        .filter(|e| field(e, "MESSAGE").as_deref() == Some("posted"))
        .collect();
    assert!(
        posted.len() >= 5,
        "{} posted entries of {}",
        posted.len(),
        entries.len()
    );
    for e in &posted {
        let name = field(e, "CHATHOST_NAME").unwrap_or_default();
        assert!(name.starts_with("wenurses"), "{e:?}");
        assert_eq!(
            field(e, "CHATHOST_DATE").as_deref(),
            Some("2026-12-02"),
            "{e:?}"
        );
        assert_eq!(field(e, "PRIORITY").as_deref(), Some("6"), "{e:?}");
        assert_eq!(
            field(e, "SYSLOG_IDENTIFIER").as_deref(),
            Some("chathost"),
            "{e:?}"
        );
        assert!(
            field(e, "CHATHOST_REMOTE_ID").is_some_and(|v| !v.is_empty()),
            "{e:?}"
        );
        let late = field(e, "CHATHOST_LATE_MS").unwrap_or_default();
        assert!(late.parse::<i64>().is_ok(), "{e:?}");
    }
    let keys: Vec<String> = posted
        .iter()
        .filter_map(|e| field(e, "CHATHOST_KEY"))
        .collect();
    assert!(
        keys.iter().any(|k| k == "q1") && keys.iter().any(|k| k == "welcome"),
        "{keys:?}"
    );
    // Never the token, at any level (RUST_LOG=debug), in any field.
    assert!(
        !entries.iter().any(|e| has(e, &token)),
        "the token reached the journal"
    );
    // The journal has the log; stderr does not repeat it.
    assert!(!err.contains("posted"), "{err}");
    assert!(!err.contains(&token));
    let _ = std::fs::remove_dir_all(&dir);
}
