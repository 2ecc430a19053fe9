//! `chathost check --online` (the binary) and the posting path against
//! hand-written faulty servers: huge or endless answers, silence, refusal,
//! error pages, redirects, rate limits and a broken token. Each must end
//! with a message naming the real cause and the fix, in bounded memory,
//! and never show the token.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chathost::config::{InstanceSettings, Software, Visibility};
use chathost::instance::{CallError, FailureClass, Instance, NewStatus};
use chathost::secret::Secret;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const TOKEN: &str = "s3cr3t-T0KEN-abc";

/// The wrong advice for anything but a rejected token.
const TOKEN_ADVICE: &str = "chathost auth --instance URL --force";

/// How a faulty server answers every request.
#[derive(Clone)]
enum Reply {
    /// These bytes, then close.
    Raw(String),
    /// `Content-Length: 2000000000`, then zeros for as long as anyone reads.
    HugeLength,
    /// A chunked body that never ends.
    EndlessChunks,
    /// Reads the request and never answers.
    Silent,
    /// A chunked body of this many MiB, then the connection closes
    /// (bounded, so the code before the cap fails without eating memory).
    ManyChunks(usize),
}

fn answer(status: &str, headers: &str, body: &str) -> Reply {
    Reply::Raw(format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n{body}",
        body.len()
    ))
}

fn json(status: &str, body: &str) -> Reply {
    answer(status, "Content-Type: application/json\r\n", body)
}

/// A faulty server on 127.0.0.1; keeps the head of every request it got.
struct Hostile {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

async fn hostile(route: impl Fn(&str) -> Reply + Send + Sync + 'static) -> Hostile {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    let route = Arc::new(route);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let seen = seen.clone();
            let route = route.clone();
            tokio::spawn(async move {
                let _ = serve(socket, seen, route.as_ref()).await;
            });
        }
    });
    Hostile { url, requests }
}

async fn serve(
    mut socket: TcpStream,
    seen: Arc<Mutex<Vec<String>>>,
    route: &(dyn Fn(&str) -> Reply + Send + Sync),
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head).to_string();
    seen.lock().unwrap().push(head.clone());
    let zeros = vec![b'0'; 64 * 1024];
    match route(&head) {
        Reply::Raw(bytes) => socket.write_all(bytes.as_bytes()).await?,
        Reply::HugeLength => {
            socket
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2000000000\r\n\r\n")
                .await?;
            loop {
                socket.write_all(&zeros).await?;
            }
        }
        Reply::EndlessChunks => {
            socket
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
                .await?;
            loop {
                socket.write_all(b"10000\r\n").await?;
                socket.write_all(&zeros).await?;
                socket.write_all(b"\r\n").await?;
            }
        }
        Reply::ManyChunks(mib) => {
            socket
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
                .await?;
            for _ in 0..mib * 16 {
                socket.write_all(b"10000\r\n").await?;
                socket.write_all(&zeros).await?;
                socket.write_all(b"\r\n").await?;
            }
        }
        Reply::Silent => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    }
    socket.shutdown().await
}

/// A host's folder with a bot.toml pointing at `url`.
struct Folder(PathBuf);

impl Folder {
    fn new(name: &str, url: &str, extra_instance: &str) -> Folder {
        let dir =
            std::env::temp_dir().join(format!("chathost-hostile-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("prompts")).unwrap();
        std::fs::write(
            dir.join("bot.toml"),
            format!(
                "[instance]\nurl = \"{url}\"\ntimeout_seconds = 2\n{extra_instance}\n\n[account]\ntoken_env = \"TEST_TOKEN\"\n\n[state]\ndir = \"state\"\n\n[chats.wenurses]\nhashtag = \"WeNurses\"\nweekday = \"Wednesday\"\ntime = \"20:00\"\nzone = \"Europe/London\"\n"
            ),
        )
        .unwrap();
        Folder(dir)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What `chathost check --online` printed, its exit code and its peak
/// resident memory in KiB.
struct Outcome {
    text: String,
    code: Option<i32>,
    peak_kib: u64,
}

/// A process that grows past this is killed: the test has failed already.
const MEMORY_LIMIT_KIB: u64 = 100 * 1024;

fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .filter(|l| l.starts_with("VmHWM:") || l.starts_with("VmRSS:"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .max()
}

/// Runs `chathost check --online` in `folder` with `token`, watching its
/// memory; kills it past [`MEMORY_LIMIT_KIB`] or after a minute.
async fn check_online(folder: &Folder, token: &str) -> Outcome {
    let dir = folder.0.clone();
    let token = token.to_string();
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_chathost"))
            .args(["check", "--online", "--config"])
            .arg(dir.join("bot.toml"))
            .current_dir(&dir)
            .env_remove("CHATHOST_TOKEN")
            .env_remove("CREDENTIALS_DIRECTORY")
            .env_remove("STATE_DIRECTORY")
            .env("NO_COLOR", "1")
            .env("TEST_TOKEN", &token)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run chathost");
        let pid = child.id();
        let started = Instant::now();
        let mut peak = 0;
        let mut killed = None;
        loop {
            if let Some(kib) = peak_kib(pid) {
                peak = peak.max(kib);
            }
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if peak > MEMORY_LIMIT_KIB {
                killed = Some(format!("killed at {peak} KiB resident"));
            } else if started.elapsed() > Duration::from_secs(60) {
                killed = Some("killed: still running after a minute".into());
            }
            if killed.is_some() {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let out = child.wait_with_output().unwrap();
        let mut text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if let Some(k) = killed {
            text.push_str(&k);
        }
        Outcome {
            text,
            code: out.status.code(),
            peak_kib: peak,
        }
    })
    .await
    .unwrap()
}

/// Runs the check against a server answering every request with `reply`.
async fn check_against(name: &str, extra: &str, reply: Reply) -> (Outcome, Hostile) {
    let server = hostile(move |_| reply.clone()).await;
    let folder = Folder::new(name, &server.url, extra);
    (check_online(&folder, TOKEN).await, server)
}

/// What every failed online check shares: exit 1, the token never shown.
fn failed(o: &Outcome) {
    assert_eq!(o.code, Some(1), "{}", o.text);
    assert!(!o.text.contains(TOKEN), "the token is shown: {}", o.text);
}

const MASTODON: &str = "software = \"mastodon\"";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_two_gigabyte_answer_is_cut_off_at_the_cap() {
    let (o, _s) = check_against("huge", MASTODON, Reply::HugeLength).await;
    failed(&o);
    assert!(o.text.contains("sent more than 4 MiB"), "{}", o.text);
    eprintln!("peak resident: {} KiB", o.peak_kib);
    assert!(o.peak_kib < MEMORY_LIMIT_KIB, "peak {} KiB", o.peak_kib);
    assert!(!o.text.contains(TOKEN_ADVICE), "{}", o.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_chunked_answer_is_cut_off_at_the_cap() {
    let (o, _s) = check_against("endless", MASTODON, Reply::EndlessChunks).await;
    failed(&o);
    assert!(o.text.contains("sent more than 4 MiB"), "{}", o.text);
    eprintln!("peak resident: {} KiB", o.peak_kib);
    assert!(o.peak_kib < MEMORY_LIMIT_KIB, "peak {} KiB", o.peak_kib);
    assert!(!o.text.contains(TOKEN_ADVICE), "{}", o.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_nodeinfo_during_detection_is_cut_off_too() {
    let (o, _s) = check_against("endless-auto", "", Reply::EndlessChunks).await;
    failed(&o);
    assert!(o.text.contains("sent more than 4 MiB"), "{}", o.text);
    eprintln!("peak resident: {} KiB", o.peak_kib);
    assert!(o.peak_kib < MEMORY_LIMIT_KIB, "peak {} KiB", o.peak_kib);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_times_out() {
    let (o, _s) = check_against("silent", MASTODON, Reply::Silent).await;
    failed(&o);
    assert!(o.text.contains("timed out after 2 s"), "{}", o.text);
    assert!(o.text.contains("timeout_seconds"), "{}", o.text);
    assert!(!o.text.contains(TOKEN_ADVICE), "{}", o.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_says_so() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let folder = Folder::new("refused", &url, MASTODON);
    let o = check_online(&folder, TOKEN).await;
    failed(&o);
    assert!(
        o.text.contains(&format!("nothing answers at {url}")),
        "{}",
        o.text
    );
    assert!(o.text.contains("[instance] url"), "{}", o.text);
    assert!(!o.text.contains(TOKEN_ADVICE), "{}", o.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_error_is_the_servers_failure() {
    let (o, _s) = check_against(
        "500",
        MASTODON,
        answer("500 Internal Server Error", "", "oops"),
    )
    .await;
    failed(&o);
    assert!(o.text.contains("failed on its side (500)"), "{}", o.text);
    assert!(o.text.contains("try again later"), "{}", o.text);
    assert!(!o.text.contains(TOKEN_ADVICE), "{}", o.text);
}

const PAGE: &str = "<!DOCTYPE html><html><body><h1>Welcome to our site</h1></body></html>";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_page_instead_of_the_api_says_so() {
    let page = answer("200 OK", "Content-Type: text/html\r\n", PAGE);
    let (o, _s) = check_against("html", MASTODON, page.clone()).await;
    failed(&o);
    assert!(
        o.text.contains("answered with a web page, not the API"),
        "{}",
        o.text
    );
    assert!(!o.text.contains(TOKEN_ADVICE), "{}", o.text);

    // The same during detection (`software = "auto"`).
    let (o, _s) = check_against("html-auto", "", page).await;
    failed(&o);
    assert!(
        o.text.contains("answered with a web page, not the API"),
        "{}",
        o.text
    );
    assert!(!o.text.contains("missing field"), "{}", o.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_means_no_api_at_this_address() {
    let (o, _s) = check_against(
        "404",
        MASTODON,
        answer("404 Not Found", "Content-Type: text/html\r\n", PAGE),
    )
    .await;
    failed(&o);
    assert!(
        o.text.contains("no Mastodon API at this address"),
        "{}",
        o.text
    );
    assert!(!o.text.contains(TOKEN_ADVICE), "{}", o.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_another_host_is_not_followed_with_the_token() {
    let elsewhere = hostile(|_| json("401 Unauthorized", r#"{"error":"no"}"#)).await;
    let target = format!("{}/api/v1/instance", elsewhere.url);
    let location = format!("Location: {target}\r\n");
    let (o, _s) = check_against(
        "redirect",
        MASTODON,
        answer("301 Moved Permanently", &location, ""),
    )
    .await;
    failed(&o);
    assert!(
        o.text.contains(&format!("redirects to {target}")),
        "{}",
        o.text
    );
    assert!(o.text.contains("[instance] url"), "{}", o.text);
    assert!(!o.text.contains("(401)"), "{}", o.text);
    assert!(!o.text.contains(TOKEN_ADVICE), "{}", o.text);
    let leaked = elsewhere.requests.lock().unwrap().clone();
    assert!(
        leaked.iter().all(|r| !r.contains(TOKEN)),
        "the token went to another host"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_rejected_token_gets_the_token_advice() {
    let (o, _s) = check_against(
        "401",
        MASTODON,
        json(
            "401 Unauthorized",
            r#"{"error":"The access token is invalid"}"#,
        ),
    )
    .await;
    failed(&o);
    assert!(o.text.contains("rejected the access token"), "{}", o.text);
    assert!(o.text.contains(TOKEN_ADVICE), "{}", o.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_during_detection_says_when_to_try_again() {
    let (o, _s) = check_against(
        "429",
        "",
        answer(
            "429 Too Many Requests",
            "Retry-After: 30\r\nContent-Type: application/json\r\n",
            r#"{"error":"Too Many Requests"}"#,
        ),
    )
    .await;
    failed(&o);
    assert!(o.text.contains("rate limited"), "{}", o.text);
    assert!(o.text.contains("try again in 30 s"), "{}", o.text);
    assert!(!o.text.contains("missing field"), "{}", o.text);
    assert!(!o.text.contains("could not tell"), "{}", o.text);
    assert!(!o.text.contains(TOKEN_ADVICE), "{}", o.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_with_a_line_break_is_named_without_showing_it() {
    let server = hostile(|_| json("200 OK", "{}")).await;
    let folder = Folder::new("newline", &server.url, MASTODON);
    let o = check_online(&folder, &format!("{TOKEN}\nxyz")).await;
    failed(&o);
    assert!(
        o.text.contains("the token contains a line break"),
        "{}",
        o.text
    );
    // Refused when the settings are read, before any request.
    assert!(o.text.contains("paste it on one line"), "{}", o.text);
    assert!(
        !o.text.contains("failed to parse header value"),
        "{}",
        o.text
    );
    assert!(!o.text.contains("xyz"), "{}", o.text);
}

// The engine (`run`, `chat`) posts through the same client: what it is
// told decides whether it retries (transient), waits (rate limit) or gives
// up with the message in its log (permanent).

async fn post_to(server: &Hostile) -> Result<chathost::instance::RemoteStatus, CallError> {
    let settings = InstanceSettings {
        url: server.url.clone(),
        max_characters: 500,
        characters_per_url: 23,
        software: Software::Mastodon,
        timeout: Duration::from_secs(2),
    };
    let instance = Instance::connect(&settings, &Secret::new(TOKEN)).await?;
    instance
        .post_status(&NewStatus {
            text: "Q1: What helps? #WeNurses",
            visibility: Visibility::Public,
            language: "en",
            in_reply_to_id: None,
            idempotency_key: "key-1",
        })
        .await
}

async fn post_failure(reply: Reply) -> CallError {
    let server = hostile(move |_| reply.clone()).await;
    let e = post_to(&server).await.expect_err("the post must fail");
    assert!(!e.message.contains(TOKEN), "{e}");
    e
}

const STATUS: &str = r#"{"id":"1","uri":"https://elsewhere.example/s/1","created_at":"2026-12-02T20:00:00Z","content":"<p>Q1</p>"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posting_failures_are_classed_for_the_engine() {
    // Passing faults: retried after checking whether the post went out.
    let e = post_failure(answer(
        "503 Service Unavailable",
        "Content-Type: text/html\r\n",
        PAGE,
    ))
    .await;
    assert_eq!(e.class, FailureClass::Transient, "{e}");
    assert!(e.message.contains("try again later"), "{e}");
    let e = post_failure(Reply::Silent).await;
    assert_eq!(e.class, FailureClass::Transient, "{e}");
    assert!(e.message.contains("timed out after 2 s"), "{e}");
    let e = post_failure(Reply::ManyChunks(16)).await;
    assert_eq!(e.class, FailureClass::Transient, "{e}");
    assert!(e.message.contains("sent more than 4 MiB"), "{e}");

    // A rate limit: waited out.
    let e = post_failure(answer("429 Too Many Requests", "Retry-After: 30\r\n", "")).await;
    assert_eq!(
        e.class,
        FailureClass::WaitFor(Duration::from_secs(30)),
        "{e}"
    );

    // Retrying cannot help: given up, with the cause in the log.
    let e = post_failure(answer("404 Not Found", "Content-Type: text/html\r\n", PAGE)).await;
    assert_eq!(e.class, FailureClass::Permanent, "{e}");
    assert!(e.message.contains("no Mastodon API at this address"), "{e}");
    let e = post_failure(json("401 Unauthorized", r#"{"error":"invalid token"}"#)).await;
    assert_eq!(e.class, FailureClass::Permanent, "{e}");
    let e = post_failure(answer("200 OK", "Content-Type: text/html\r\n", PAGE)).await;
    assert_eq!(e.class, FailureClass::Permanent, "{e}");
    assert!(e.message.contains("web page, not the API"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_is_not_redirected_to_another_host() {
    // The other host would take the post: it must never see it.
    let elsewhere = hostile(|_| json("200 OK", STATUS)).await;
    let location = format!("Location: {}/api/v1/statuses\r\n", elsewhere.url);
    let e = post_failure(answer("302 Found", &location, "")).await;
    assert_eq!(e.class, FailureClass::Permanent, "{e}");
    assert!(
        e.message
            .contains(&format!("redirects to {}", elsewhere.url)),
        "{e}"
    );
    assert!(
        elsewhere.requests.lock().unwrap().is_empty(),
        "followed to another host"
    );
}
