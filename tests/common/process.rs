//! A real `chathost run` process on a test's files, token and fake clock,
//! to kill and restart as a host's machine might.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How to start `chathost run` on the test's files, token and clock.
pub struct EngineCmd {
    /// The folder with bot.toml (the process's working directory).
    pub dir: PathBuf,
    /// The bot's token.
    pub token: String,
    /// `CHATHOST_FAKE_CLOCK`: origin, anchor ms, speed.
    pub clock_spec: String,
}

impl EngineCmd {
    pub fn log_path(&self, run: usize) -> PathBuf {
        self.dir.join(format!("run-{run:02}.log"))
    }

    pub fn log(&self, run: usize) -> String {
        std::fs::read_to_string(self.log_path(run)).unwrap_or_default()
    }

    pub fn spawn(&self, run: usize) -> Engine {
        let log = File::create(self.log_path(run)).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_chathost"));
        cmd.args(["run", "--config", "bot.toml"])
            .current_dir(&self.dir)
            .env("CHATHOST_TOKEN", &self.token)
            .env("CHATHOST_FAKE_CLOCK", &self.clock_spec)
            .env("RUST_LOG", "info,tokio_cron_scheduler=warn")
            .env("NO_COLOR", "1")
            .env_remove("CREDENTIALS_DIRECTORY")
            .env_remove("STATE_DIRECTORY")
            .env_remove("JOURNAL_STREAM")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        // Settings come from the test's bot.toml only.
        for (key, _) in std::env::vars() {
            if key.starts_with("CHATHOST__") {
                cmd.env_remove(key);
            }
        }
        Engine {
            child: Some(cmd.spawn().expect("start chathost run")),
            log: self.log_path(run),
        }
    }
}

/// A running `chathost run`; killed if the test fails while it runs.
pub struct Engine {
    child: Option<Child>,
    log: PathBuf,
}

impl Engine {
    pub fn child(&mut self) -> &mut Child {
        self.child.as_mut().expect("still ours")
    }

    /// Fails the test if the engine exited on its own (it never should).
    pub fn assert_running(&mut self, run: usize) {
        if let Some(status) = self.child().try_wait().unwrap() {
            panic!(
                "run {run} exited by itself ({status}); its log:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }

    /// SIGKILL, and reap it.
    pub fn kill(mut self) {
        let mut child = self.child.take().expect("still ours");
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
    }

    /// SIGTERM; the exit status (SIGKILL after 10 s without one).
    pub fn terminate(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("still ours");
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM failed");
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > until {
                let _ = child.kill();
                let status = child.wait().unwrap();
                panic!("no exit 10 s after SIGTERM; killed ({status})");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
