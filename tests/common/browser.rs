//! A headless Chromium (Debian's `chromium`, installed by `scripts/test.sh`)
//! driven over the Chrome DevTools Protocol, so a test can open a page the
//! way a reader's browser does and see what it logged, threw and fetched.
//!
//! Blocking on purpose (`std::net` and tungstenite's plain client): usable
//! from a `#[test]` and from inside a tokio test alike. Every wait has a
//! deadline that fails the test loudly rather than hanging it.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message, WebSocket};

/// How long Chromium may take to start (a cold start on a busy CI box).
const LAUNCH_WAIT: Duration = Duration::from_secs(30);
/// How long a page may take to load, and any one protocol call to answer.
const PAGE_WAIT: Duration = Duration::from_secs(10);
/// Screenshots are cut at this height so a runaway page cannot fill a disk.
const MAX_SHOT_HEIGHT: f64 = 16_384.0;

/// A headless Chromium; the process and everything it started are killed
/// when this is dropped.
pub struct Browser {
    /// The browser process, leader of its own process group.
    child: Child,
    /// The DevTools port it listens on (127.0.0.1).
    port: u16,
    /// The browser-wide DevTools connection (creates and closes pages).
    socket: Cdp,
    /// Its throwaway profile, removed on drop.
    profile: PathBuf,
    /// The last lines Chromium wrote to stderr, for failure messages.
    stderr: Arc<Mutex<Vec<String>>>,
}

/// One console line: from the page's `console.*` calls or from the
/// browser itself (a blocked or failed load, a CSP violation).
#[derive(Debug, Clone)]
pub struct ConsoleMessage {
    /// `log`, `info`, `warning`, `error`, `assert`, `verbose`, …
    pub level: String,
    /// The message (a `console.*` call's arguments joined by spaces).
    pub text: String,
    /// `console` for the page's own calls, else the browser's log source
    /// (`network`, `security`, `javascript`, …).
    pub source: String,
}

/// What a page did since it was opened, and a handle to look further.
/// Later calls ([`PageReport::eval`], screenshots) keep adding to the lists.
pub struct PageReport {
    /// The `file://` URL that was opened.
    pub url: String,
    /// Every console message, in order.
    pub console: Vec<ConsoleMessage>,
    /// Every uncaught exception's description, in order.
    pub exceptions: Vec<String>,
    /// Every URL the page asked for, the page itself included, in order.
    pub requests: Vec<String>,
    /// The page's own DevTools connection.
    socket: Cdp,
    /// The loader ids of the documents whose load event has fired.
    loads: Vec<String>,
}

/// A screenshot written to the test-output folder.
pub struct Screenshot {
    /// `target/test-output/browser/<name>.png`.
    pub path: PathBuf,
    /// The PNG file's bytes.
    pub png: Vec<u8>,
}

impl Browser {
    /// Starts headless Chromium on a fresh profile with everything that
    /// phones home switched off, and with every host name unresolvable so a
    /// page under test cannot reach the network (its requests are still
    /// seen). Panics when Chromium is not installed or does not start.
    pub fn launch() -> Browser {
        let binary =
            chromium_path().expect("chromium not found: run scripts/test.sh, which installs it");
        let profile = profile_dir();
        let mut child = Command::new(&binary)
            .args(CHROMIUM_FLAGS)
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own group, so Drop can end the renderers and helpers too.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let pipe = child.stderr.take().expect("stderr is piped");
        let lines = Arc::clone(&stderr);
        // Reads stderr to its end: an unread pipe would block Chromium.
        std::thread::spawn(move || read_stderr(pipe, &lines, &tx));
        let started = rx
            .recv_timeout(LAUNCH_WAIT)
            .map_err(|_| format!("no DevTools port announced within {LAUNCH_WAIT:?}"))
            .and_then(|url| Ok((port_of(&url)?, Cdp::connect(&url)?)));
        match started {
            Ok((port, socket)) => Browser {
                child,
                port,
                socket,
                profile,
                stderr,
            },
            Err(e) => {
                end_group(&mut child);
                let _ = std::fs::remove_dir_all(&profile);
                let tail = stderr.lock().map(|l| l.join("\n")).unwrap_or_default();
                panic!("chromium did not start: {e}\nits stderr ends with:\n{tail}");
            }
        }
    }

    /// The browser process's id (also its process group's id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Opens `path` in a new tab of `viewport` (width, height in CSS
    /// pixels; below 768 wide it is a touch phone), waits for its load event
    /// and for pending timers and frames, and reports what happened.
    pub fn open(&mut self, path: &Path, viewport: (u32, u32)) -> PageReport {
        let path = path
            .canonicalize()
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
        let url = file_url(&path);
        let target = self
            .socket
            .call("Target.createTarget", json!({"url": "about:blank"}), None)
            .unwrap_or_else(|e| self.fail(&format!("Target.createTarget: {e}")));
        let id = target["targetId"].as_str().unwrap_or_default();
        let page_ws = format!("ws://127.0.0.1:{}/devtools/page/{id}", self.port);
        let mut page = PageReport {
            url,
            console: Vec::new(),
            exceptions: Vec::new(),
            requests: Vec::new(),
            socket: Cdp::connect(&page_ws).unwrap_or_else(|e| self.fail(&e)),
            loads: Vec::new(),
        };
        for domain in ["Runtime", "Log", "Network", "Page"] {
            page.call(&format!("{domain}.enable"), json!({}));
        }
        // Lifecycle events name their document, so the blank tab's load
        // cannot pass for the page's.
        page.call("Page.setLifecycleEventsEnabled", json!({"enabled": true}));
        let (width, height) = viewport;
        page.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 768}),
        );
        page.navigate();
        page
    }

    /// Panics with `what` and the end of Chromium's stderr.
    fn fail(&self, what: &str) -> ! {
        let tail = self.stderr.lock().map(|l| l.join("\n")).unwrap_or_default();
        panic!("{what}\nchromium's stderr ends with:\n{tail}");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A clean close first, so the browser reaps its own children.
        let _ = self.socket.send("Browser.close", json!({}));
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Then the whole group, whatever is left of it (a crash handler, a
        // renderer that outlived the close).
        end_group(&mut self.child);
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Flags beyond `--headless`: no sandbox (containers run as root), no GPU,
/// nothing fetched in the background, no host name resolvable.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--remote-debugging-port=0",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--metrics-recording-only",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND",
];

/// The processes of process group `group` still alive, as `pid (name)`.
/// Zombies are dead and left out: once their parent is gone, init reaps
/// them in its own time.
pub fn live_processes_in_group(group: u32) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let stat = std::fs::read_to_string(entry.ok()?.path().join("stat")).ok()?;
            // `pid (name) state ppid pgrp …`; the name may hold spaces.
            let (head, rest) = stat.rsplit_once(") ")?;
            let mut fields = rest.split(' ');
            let state = fields.next()?;
            let pgrp: u32 = fields.nth(1)?.parse().ok()?;
            let alive = state != "Z" && state != "X";
            (pgrp == group && alive).then(|| format!("{head})"))
        })
        .collect()
}

/// Kills `child`'s whole process group (it leads one) and reaps `child`.
fn end_group(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.wait();
}

/// `/usr/bin/chromium`, else `chromium` on `PATH`.
fn chromium_path() -> Option<PathBuf> {
    let usual = PathBuf::from("/usr/bin/chromium");
    if usual.is_file() {
        return Some(usual);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromium"))
        .find(|candidate| candidate.is_file())
}

/// A fresh profile folder under cargo's scratch folder for tests.
fn profile_dir() -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("chromium-profile-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("profile folder can be created");
    dir
}

/// Keeps the last lines of Chromium's stderr and sends the DevTools URL
/// once announced.
fn read_stderr(
    pipe: std::process::ChildStderr,
    lines: &Mutex<Vec<String>>,
    found: &mpsc::Sender<String>,
) {
    for line in BufReader::new(pipe).lines() {
        let Ok(line) = line else { break };
        if let Some(url) = line.strip_prefix("DevTools listening on ") {
            let _ = found.send(url.trim().to_string());
        }
        if let Ok(mut lines) = lines.lock() {
            if lines.len() >= 40 {
                lines.remove(0);
            }
            lines.push(line);
        }
    }
}

/// The port of `ws://127.0.0.1:PORT/devtools/browser/…`.
fn port_of(ws_url: &str) -> Result<u16, String> {
    ws_url
        .strip_prefix("ws://")
        .and_then(|rest| rest.split('/').next())
        .and_then(|host| host.rsplit(':').next())
        .and_then(|port| port.parse().ok())
        .ok_or_else(|| format!("unexpected DevTools URL {ws_url:?}"))
}

/// `file://` URL of an absolute path, percent-encoding what a URL cannot
/// hold as is.
fn file_url(path: &Path) -> String {
    let mut url = String::from("file://");
    for byte in path.as_os_str().as_encoded_bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                url.push(char::from(*byte));
            }
            _ => url.push_str(&format!("%{byte:02X}")),
        }
    }
    url
}

impl PageReport {
    /// Console messages of level `error` or `assert`.
    pub fn errors(&self) -> Vec<&ConsoleMessage> {
        self.console
            .iter()
            .filter(|m| m.level == "error" || m.level == "assert")
            .collect()
    }

    /// Evaluates `js` in the page (awaiting a promise) and returns its value
    /// as JSON; `undefined` comes back as `Null`, so ask `typeof x` to tell
    /// them apart. Panics when the expression throws.
    pub fn eval(&mut self, js: &str) -> Value {
        let answer = self.call(
            "Runtime.evaluate",
            json!({"expression": js, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(details) = answer.get("exceptionDetails") {
            panic!("evaluating {js:?} threw: {}", exception_text(details));
        }
        answer["result"]
            .get("value")
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// A full-page screenshot as the screen shows it, written to
    /// `target/test-output/browser/<name>.png` (the path is printed).
    pub fn screenshot(&mut self, name: &str) -> Screenshot {
        self.capture(name)
    }

    /// A full-page screenshot with print media emulated (`@media print`
    /// rules apply), written like [`PageReport::screenshot`]; the screen
    /// media is restored afterwards.
    pub fn print_screenshot(&mut self, name: &str) -> Screenshot {
        self.call("Emulation.setEmulatedMedia", json!({"media": "print"}));
        let shot = self.capture(name);
        self.call("Emulation.setEmulatedMedia", json!({"media": ""}));
        shot
    }

    /// Navigates to `self.url` and waits for its load event, then for one
    /// animation frame and one timer turn, so what the page does on load is
    /// in the report.
    fn navigate(&mut self) {
        let url = self.url.clone();
        let answer = self.call("Page.navigate", json!({"url": url}));
        if let Some(error) = answer.get("errorText").and_then(Value::as_str) {
            panic!("opening {url} failed: {error}");
        }
        let loader = answer["loaderId"].as_str().unwrap_or_default().to_string();
        let deadline = Instant::now() + PAGE_WAIT;
        while !self.loads.contains(&loader) {
            match self.socket.next(deadline) {
                Ok(message) => self.record(&message),
                Err(e) => panic!("{url} did not load within {PAGE_WAIT:?}: {e}"),
            }
        }
        let here = self.eval("[location.href, document.readyState]");
        assert_eq!(here, json!([url, "complete"]), "the page loaded");
        self.eval("new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)))");
    }

    /// Captures the whole page (up to [`MAX_SHOT_HEIGHT`]) and writes it.
    fn capture(&mut self, name: &str) -> Screenshot {
        assert!(
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "screenshot names are plain words: {name:?}"
        );
        let metrics = self.call("Page.getLayoutMetrics", json!({}));
        let size = &metrics["cssContentSize"];
        let width = size["width"].as_f64().unwrap_or(800.0).ceil();
        let height = size["height"].as_f64().unwrap_or(600.0).ceil();
        let shot = self.call(
            "Page.captureScreenshot",
            json!({
                "format": "png",
                "captureBeyondViewport": true,
                "clip": {"x": 0, "y": 0, "width": width,
                         "height": height.min(MAX_SHOT_HEIGHT), "scale": 1},
            }),
        );
        let png = base64_decode(shot["data"].as_str().unwrap_or_default())
            .unwrap_or_else(|| panic!("screenshot {name}: data is not base64"));
        let dir = output_dir();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, &png)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        println!("screenshot: {}", path.display());
        Screenshot { path, png }
    }

    /// Calls `method` on the page, recording the events that arrive
    /// meanwhile; panics when it fails or does not answer in time.
    fn call(&mut self, method: &str, params: Value) -> Value {
        let mut events = Vec::new();
        let answer = self.socket.call(method, params, Some(&mut events));
        for event in &events {
            self.record(event);
        }
        answer.unwrap_or_else(|e| panic!("{method} on {}: {e}", self.url))
    }

    /// Files one event under the report's lists.
    fn record(&mut self, event: &Value) {
        let params = &event["params"];
        match event["method"].as_str().unwrap_or_default() {
            "Page.lifecycleEvent" if params["name"] == "load" => {
                let loader = params["loaderId"].as_str().unwrap_or_default();
                self.loads.push(loader.to_string());
            }
            "Network.requestWillBeSent" => {
                let url = params["request"]["url"].as_str().unwrap_or_default();
                self.requests.push(url.to_string());
            }
            "Runtime.exceptionThrown" => {
                let text = exception_text(&params["exceptionDetails"]);
                self.exceptions.push(text);
            }
            "Runtime.consoleAPICalled" => self.console.push(ConsoleMessage {
                level: params["type"].as_str().unwrap_or_default().to_string(),
                text: console_text(&params["args"]),
                source: "console".to_string(),
            }),
            "Log.entryAdded" => {
                let entry = &params["entry"];
                let field = |k: &str| entry[k].as_str().unwrap_or_default().to_string();
                let mut text = field("text");
                if let Some(url) = entry["url"].as_str() {
                    text = format!("{text} ({url})");
                }
                self.console.push(ConsoleMessage {
                    level: field("level"),
                    text,
                    source: field("source"),
                });
            }
            _ => {}
        }
    }
}

/// An exception's description (`Error: … at …`), else its summary.
fn exception_text(details: &Value) -> String {
    details["exception"]["description"]
        .as_str()
        .or_else(|| details["text"].as_str())
        .unwrap_or("an exception without text")
        .to_string()
}

/// A `console.*` call's arguments as the console would print them.
fn console_text(args: &Value) -> String {
    let parts = args.as_array().map(Vec::as_slice).unwrap_or_default();
    parts
        .iter()
        .map(|arg| match &arg["value"] {
            Value::String(s) => s.clone(),
            Value::Null => arg["description"]
                .as_str()
                .or_else(|| arg["unserializableValue"].as_str())
                .or_else(|| arg["type"].as_str())
                .unwrap_or_default()
                .to_string(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `target/test-output/browser/`, created on first use.
fn output_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let target = tmp.parent().unwrap_or(tmp);
    let dir = target.join("test-output").join("browser");
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// Decodes standard base64 (what DevTools sends screenshots in).
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let digits = text.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        // 4 digits give 3 bytes, 3 give 2, 2 give 1.
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

/// One DevTools WebSocket connection: numbered calls, events in between.
struct Cdp {
    /// The connection (blocking, with a read timeout per wait).
    ws: WebSocket<TcpStream>,
    /// The id of the next call.
    next_id: u64,
}

impl Cdp {
    /// Connects to a DevTools WebSocket URL on loopback.
    fn connect(url: &str) -> Result<Cdp, String> {
        let host = url
            .strip_prefix("ws://")
            .and_then(|rest| rest.split('/').next())
            .ok_or_else(|| format!("unexpected DevTools URL {url:?}"))?;
        let stream = TcpStream::connect(host)
            .map_err(|e| format!("cannot reach DevTools at {host}: {e}"))?;
        let _ = stream.set_nodelay(true);
        // Full-page screenshots arrive as one large message.
        let config = WebSocketConfig::default()
            .max_message_size(Some(256 << 20))
            .max_frame_size(Some(256 << 20));
        let (ws, _) = tungstenite::client::client_with_config(url, stream, Some(config))
            .map_err(|e| format!("DevTools handshake with {url} failed: {e}"))?;
        Ok(Cdp { ws, next_id: 1 })
    }

    /// Sends `method` without waiting for its answer; returns its id.
    fn send(&mut self, method: &str, params: Value) -> Result<u64, String> {
        let id = self.next_id;
        self.next_id += 1;
        let message = json!({"id": id, "method": method, "params": params});
        self.ws
            .send(Message::text(message.to_string()))
            .map_err(|e| format!("sending {method}: {e}"))?;
        Ok(id)
    }

    /// Calls `method` and waits for its answer; events arriving meanwhile
    /// go to `events` (dropped when `None`).
    fn call(
        &mut self,
        method: &str,
        params: Value,
        mut events: Option<&mut Vec<Value>>,
    ) -> Result<Value, String> {
        let id = self.send(method, params)?;
        let deadline = Instant::now() + PAGE_WAIT;
        loop {
            let message = self.next(deadline)?;
            if message["id"].as_u64() == Some(id) {
                if let Some(error) = message.get("error") {
                    return Err(format!("DevTools refused it: {error}"));
                }
                return Ok(message["result"].clone());
            }
            if let Some(events) = events.as_deref_mut() {
                events.push(message);
            }
        }
    }

    /// The next JSON message, waiting until `deadline` at most.
    fn next(&mut self, deadline: Instant) -> Result<Value, String> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err("no answer in time".to_string());
            }
            let _ = self.ws.get_ref().set_read_timeout(Some(left));
            match self.ws.read() {
                Ok(Message::Text(text)) => {
                    return serde_json::from_str(text.as_str())
                        .map_err(|e| format!("DevTools sent something not JSON: {e}"));
                }
                Ok(Message::Close(_)) => return Err("DevTools closed the connection".into()),
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err("no answer in time".to_string());
                }
                Err(e) => return Err(format!("DevTools connection failed: {e}")),
            }
        }
    }
}
