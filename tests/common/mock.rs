//! mastodon-mock, a Mastodon imitation from PyPI that nobody here wrote:
//! installed into a virtual environment on first use
//! (`$CARGO_TARGET_TMPDIR/mastodon-mock-0.6.1-venv`, or the venv named by
//! `CHATHOST_MASTODON_MOCK_VENV`) and run as a child process. Nothing happens
//! until a test calls [`start`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rand::Rng;

use super::Api;

/// The mastodon-mock release the tests are written against.
pub const MOCK_VERSION: &str = "0.6.1";

/// A mastodon-mock server process, killed when dropped.
pub struct MockProcess {
    /// The server process.
    child: Child,
    /// Its config folder, removed afterwards.
    dir: PathBuf,
}

impl Drop for MockProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running mastodon-mock and the tokens of its seeded accounts.
pub struct Mock {
    /// A client for it.
    pub api: Api,
    /// Access token of each seeded account.
    pub tokens: HashMap<&'static str, String>,
    /// The process; killed on drop.
    pub process: MockProcess,
}

fn venv_dir() -> PathBuf {
    match std::env::var_os("CHATHOST_MASTODON_MOCK_VENV") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("mastodon-mock-{MOCK_VERSION}-venv")),
    }
}

fn mock_installed(venv: &Path) -> bool {
    let python = venv.join("bin/python");
    Command::new(python)
        .args([
            "-c",
            "import importlib.metadata as m, sys; sys.exit(m.version('mastodon-mock') != sys.argv[1])",
            MOCK_VERSION,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
    Err(format!(
        "{what} failed ({}):\n{}",
        out.status,
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    ))
}

/// Installs mastodon-mock into the venv once per test run; parallel test
/// processes build in a private directory and rename it into place.
fn ensure_mock() -> Result<PathBuf, String> {
    static INSTALLED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let venv = venv_dir();
            if mock_installed(&venv) {
                return Ok(venv);
            }
            if std::env::var_os("CHATHOST_MASTODON_MOCK_VENV").is_some() {
                return Err(format!(
                    "CHATHOST_MASTODON_MOCK_VENV={} has no mastodon-mock {MOCK_VERSION}",
                    venv.display()
                ));
            }
            let building = venv.with_extension(format!("building-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&building);
            run(
                Command::new("python3").arg("-m").arg("venv").arg(&building),
                "creating a Python virtual environment (python3 -m venv)",
            )?;
            run(
                Command::new(building.join("bin/pip")).args([
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    &format!("mastodon-mock=={MOCK_VERSION}"),
                ]),
                &format!("pip install mastodon-mock=={MOCK_VERSION}"),
            )?;
            // Move it into place unless another process was quicker; the
            // server is started with `bin/python -m`, which survives a move.
            let target = if std::fs::rename(&building, &venv).is_ok() && mock_installed(&venv) {
                venv
            } else {
                building
            };
            if mock_installed(&target) {
                Ok(target)
            } else {
                Err(format!(
                    "mastodon-mock is not importable in {}",
                    target.display()
                ))
            }
        })
        .clone()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts mastodon-mock (installing it first if needed) with `accounts`
/// seeded, each with a random token, `bot` flagged as a bot, an in-memory
/// database and Mastodon's default rate limit (300 per 5 minutes); returns
/// once it answers. Panics, saying why, if it cannot be installed.
pub async fn start(accounts: &[&'static str], bot: &str) -> Mock {
    let venv = ensure_mock().unwrap_or_else(|e| {
        panic!(
            "mastodon-mock {MOCK_VERSION} is needed for the contract suite but could not be installed.\n{e}\n\
             help: check that python3 with venv and pip can reach PyPI, or point \
             CHATHOST_MASTODON_MOCK_VENV at a virtual environment that has mastodon-mock=={MOCK_VERSION}"
        )
    });
    let port = free_port();
    let run_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("mastodon-mock-run-{port}"));
    std::fs::create_dir_all(&run_dir).unwrap();
    let mut rng = rand::thread_rng();
    let tokens: HashMap<&'static str, String> = accounts
        .iter()
        .map(|a| (*a, format!("{a}-{:016x}", rng.r#gen::<u64>())))
        .collect();
    let mut config = format!(
        "domain = \"127.0.0.1:{port}\"\nurl_scheme = \"http\"\n\n[database]\npath = \":memory:\"\n\n\
         [ratelimit]\nenabled = true\nlimit = 300\nwindow_seconds = 300\n"
    );
    for acct in accounts {
        config.push_str(&format!(
            "\n[[seed.accounts]]\nusername = \"{acct}\"\ndisplay_name = \"{acct}\"\nbot = {}\naccess_token = \"{}\"\n",
            *acct == bot,
            tokens[acct]
        ));
    }
    let config_path = run_dir.join("mastodon_mock.toml");
    std::fs::write(&config_path, config).unwrap();
    // `python -m`, not the console script: a renamed venv keeps a working
    // interpreter but its scripts' shebangs point at the old path.
    let child = Command::new(venv.join("bin/python"))
        .args([
            "-m",
            "mastodon_mock",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--log-level",
            "warning",
        ])
        .arg("--config")
        .arg(&config_path)
        .current_dir(&run_dir)
        // Its ":memory:" database is a temporary file: keep it in the run
        // folder, which is removed with the mock, not in /tmp for ever.
        .env("TMPDIR", &run_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mastodon_mock starts");
    let process = MockProcess {
        child,
        dir: run_dir,
    };
    let api = Api::new(&format!("http://127.0.0.1:{port}"));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let up = api
            .http
            .get(format!("{}/api/v1/instance", api.base))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if up {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "mastodon-mock did not answer within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Mock {
        api,
        tokens,
        process,
    }
}
