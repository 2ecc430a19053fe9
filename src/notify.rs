//! Tells systemd how the service is doing (`sd_notify`), without libsystemd:
//! one datagram per message to `$NOTIFY_SOCKET`. Not under systemd (no such
//! variable), every call here does nothing and costs nothing.
//!
//! - [`ready`] once settings, store and server are checked; [`stopping`] on
//!   shutdown;
//! - [`chat_status`] keeps one line per chat and sends them all as
//!   `STATUS=` (what `systemctl status` shows);
//! - [`watchdog`] pings (`WATCHDOG=1`) come from the engine's own loops, at
//!   most every [`watchdog_every`], so that a stuck engine stops pinging.

use std::collections::BTreeMap;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Where systemd listens, read once.
fn address() -> Option<&'static SocketAddr> {
    static ADDRESS: OnceLock<Option<SocketAddr>> = OnceLock::new();
    ADDRESS
        .get_or_init(|| {
            let raw = std::env::var_os("NOTIFY_SOCKET")?;
            let raw = raw.to_str()?;
            parse_address(raw)
        })
        .as_ref()
}

/// `/run/systemd/notify` or, for an abstract socket, `@name`.
fn parse_address(raw: &str) -> Option<SocketAddr> {
    if let Some(name) = raw.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        SocketAddr::from_abstract_name(name.as_bytes()).ok()
    } else if raw.starts_with('/') {
        SocketAddr::from_pathname(raw).ok()
    } else {
        None
    }
}

/// True when a notify socket is set: the service runs under systemd (or a
/// test standing in for it).
pub fn enabled() -> bool {
    address().is_some()
}

/// Sends `state` (newline-separated `KEY=value` lines). Failures are
/// logged once at debug level and otherwise ignored: systemd's absence
/// must never stop the service.
pub fn send(state: &str) {
    let Some(addr) = address() else {
        return;
    };
    let sent = UnixDatagram::unbound().and_then(|s| s.send_to_addr(state.as_bytes(), addr));
    if let Err(e) = sent {
        tracing::debug!("cannot notify systemd: {e}");
    }
}

/// Start-up is over: settings, store and server checked.
pub fn ready() {
    send("READY=1");
}

/// Shutdown has begun.
pub fn stopping() {
    send("STOPPING=1");
}

/// A free-form status line (start-up, retries).
pub fn status(text: &str) {
    send(&format!("STATUS={}", one_line(text)));
}

/// Start-up takes longer (retrying the server): asks systemd for `more`
/// time beyond its start timeout, so that it does not kill us meanwhile.
pub fn extend_start(more: Duration) {
    send(&format!("EXTEND_TIMEOUT_USEC={}", more.as_micros()));
}

/// One line per chat, sent together: the latest word on each chat.
fn board() -> &'static Mutex<BTreeMap<String, String>> {
    static BOARD: OnceLock<Mutex<BTreeMap<String, String>>> = OnceLock::new();
    BOARD.get_or_init(Mutex::default)
}

/// Sets chat `name`'s part of the status and sends the whole status.
pub fn chat_status(name: &str, text: &str) {
    if !enabled() {
        return;
    }
    let line = {
        let mut board = board().lock().unwrap_or_else(|p| p.into_inner());
        board.insert(name.to_string(), one_line(text));
        joined(&board)
    };
    send(&format!("STATUS={line}"));
}

/// Drops chat `name`'s part of the status (the chat left bot.toml) and
/// sends what remains.
pub fn forget_chat(name: &str) {
    if !enabled() {
        return;
    }
    let line = {
        let mut board = board().lock().unwrap_or_else(|p| p.into_inner());
        board.remove(name);
        joined(&board)
    };
    send(&format!("STATUS={line}"));
}

/// The chats' lines as one status.
fn joined(board: &BTreeMap<String, String>) -> String {
    board
        .iter()
        .map(|(chat, text)| format!("{chat}: {text}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A status is one line: systemd reads one message as `KEY=value` lines.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

/// How often the engine's loops must ping: half of `WATCHDOG_USEC`, when
/// systemd's watchdog is on for this process (`WATCHDOG_PID` unset or ours).
pub fn watchdog_every() -> Option<Duration> {
    static EVERY: OnceLock<Option<Duration>> = OnceLock::new();
    *EVERY.get_or_init(|| {
        address()?;
        if let Ok(pid) = std::env::var("WATCHDOG_PID")
            && pid.trim().parse::<u32>().ok() != Some(std::process::id())
        {
            return None;
        }
        let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.trim().parse().ok()?;
        (usec > 0).then(|| Duration::from_micros(usec) / 2)
    })
}

/// Pings the watchdog, when it is on, unless a loop pinged less than half
/// a period ago (many short waits in a row send few datagrams).
pub fn watchdog() {
    let Some(every) = watchdog_every() else {
        return;
    };
    static LAST: Mutex<Option<Instant>> = Mutex::new(None);
    {
        let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|t| t.elapsed() < every / 2) {
            return;
        }
        *last = Some(Instant::now());
    }
    send("WATCHDOG=1");
}

/// Completes after one watchdog period; never, when the watchdog is off
/// (so a wait has no extra wake-ups outside systemd).
pub async fn watchdog_tick() {
    match watchdog_every() {
        Some(every) => tokio::time::sleep(every).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abstract_and_path_addresses_are_read_and_others_refused() {
        use std::os::linux::net::SocketAddrExt;
        let a = parse_address("@chathost/notify").unwrap();
        assert_eq!(a.as_abstract_name(), Some(&b"chathost/notify"[..]));
        let p = parse_address("/run/systemd/notify").unwrap();
        assert_eq!(
            p.as_pathname(),
            Some(std::path::Path::new("/run/systemd/notify"))
        );
        assert!(parse_address("relative/socket").is_none());
        assert!(parse_address("").is_none());
    }

    #[test]
    fn a_status_stays_on_one_line() {
        assert_eq!(one_line("a\nb\r\nc"), "a b  c");
    }

    #[test]
    fn a_datagram_reaches_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("chathost-notify-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener = UnixDatagram::bind_addr(&addr).unwrap();
        let parsed = parse_address(&format!("@{name}")).unwrap();
        UnixDatagram::unbound()
            .unwrap()
            .send_to_addr(b"READY=1", &parsed)
            .unwrap();
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
    }
}
