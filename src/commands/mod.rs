//! One function per subcommand: each loads the settings, calls the
//! library and says how it went ([`Failure`]); `main` turns that into the
//! message and the exit code.

mod auth;
mod look;
mod service;

use std::sync::Arc;

use chrono::Utc;

use chathost::clock::{ScaledClock, SharedClock, SystemClock};
use chathost::{config, diagnostic, rehearse, sandbox};

use crate::args::Command;
use auth::run_auth;
use look::*;
use service::{run_chat_now, run_service};

/// Why a command failed.
pub enum Failure {
    /// The command has shown why (diagnostics, a summary line).
    Shown,
    /// An error to print.
    Error(String),
    /// A wrong argument (exit code 2, as clap's own).
    Usage(String),
    /// The service stopped on a fatal error (logged, for the journal).
    Stopped(String),
    /// The service cannot start and restarting cannot help (broken
    /// settings, a refused token): exit 78 (EX_CONFIG), which the unit
    /// does not restart on (`RestartPreventExitStatus=78`).
    Config(String),
}

/// What a command comes to.
pub type Outcome = Result<(), Failure>;

/// Runs one subcommand (not `completions` or `man`, which `main` prints
/// before any runtime starts).
pub async fn run(command: Command) -> Outcome {
    match command {
        Command::Check { config, online } => run_check(config, online).await,
        Command::Plan {
            config,
            count,
            from,
            format,
        } => run_plan(config, usize::from(count), from, format),
        Command::Run { config } => run_service(config).await,
        Command::Auth {
            instance,
            config,
            token_file,
            force,
            bot,
            note,
        } => run_auth(instance, config, token_file, force, bot, note).await,
        Command::Chat { config, chat, .. } => run_chat_now(config, chat).await,
        Command::Rehearse {
            config,
            speed,
            participants,
            keep,
        } => rehearse::rehearse(
            &config,
            speed,
            usize::from(participants),
            keep.as_deref(),
            &mut std::io::stdout(),
        )
        .await
        .map_err(Failure::Error),
        Command::Chats {
            config,
            chat,
            format,
        } => run_chats(config, chat, format),
        Command::Collect { config, chat, date } => run_collect(config, chat, date).await,
        Command::Answers {
            config,
            chat,
            date,
            format,
        } => run_answers(config, chat, date, format),
        Command::Recap {
            config,
            chat,
            date,
            post,
        } => run_recap(config, chat, date, post).await,
        Command::Archive {
            config,
            chat,
            date,
            out,
        } => {
            let loaded = load(&config)?;
            let (dir, warnings) = chathost::recap::command::archive(
                &loaded.config,
                &chat,
                date,
                out.as_deref(),
                Utc::now(),
            )
            .map_err(Failure::Error)?;
            for w in warnings {
                eprintln!("warning: {w}");
            }
            println!("archive written to {}", dir.display());
            Ok(())
        }
        Command::Participant {
            config,
            account,
            forget,
        } => {
            let loaded = load(&config)?;
            let text = chathost::mentions::cli::run(&loaded.config, &account, forget, Utc::now())
                .map_err(Failure::Error)?;
            print!("{text}");
            Ok(())
        }
        Command::Status { config, format } => run_status(config, format),
        Command::Backup { config, out } => run_backup(config, out),
        Command::Sandbox(args) => sandbox::cli::run(args, &mut std::io::stdout())
            .await
            .map_err(|e| Failure::Error(e.to_string())),
        Command::Completions { .. } | Command::Man => Ok(()),
    }
}

pub fn load(path: &std::path::Path) -> Result<config::Loaded, Failure> {
    match config::load(path) {
        Ok(l) => {
            diagnostic::print_all(&l.warnings);
            Ok(l)
        }
        Err(diags) => {
            diagnostic::print_all(&diags);
            Err(Failure::Shown)
        }
    }
}

/// The real clock, unless `CHATHOST_FAKE_CLOCK=ORIGIN,ANCHOR_MS,SPEED` asks
/// for a scaled one (the crash tests run the service against a sandbox on a
/// shared fast clock). Returns whether the clock is the real one.
pub fn clock_from_env() -> Result<(SharedClock, bool), String> {
    let Ok(spec) = std::env::var("CHATHOST_FAKE_CLOCK") else {
        return Ok((Arc::new(SystemClock), true));
    };
    let parts: Vec<&str> = spec.split(',').collect();
    let bad =
        || format!("CHATHOST_FAKE_CLOCK={spec:?}: expected ORIGIN(RFC 3339),ANCHOR(unix ms),SPEED");
    let [origin, anchor, speed] = parts[..] else {
        return Err(bad());
    };
    let origin = chrono::DateTime::parse_from_rfc3339(origin)
        .map_err(|_| bad())?
        .with_timezone(&Utc);
    let anchor_ms: u64 = anchor.parse().map_err(|_| bad())?;
    let speed: f64 = speed.parse().map_err(|_| bad())?;
    let anchor = std::time::UNIX_EPOCH + std::time::Duration::from_millis(anchor_ms);
    Ok((
        Arc::new(ScaledClock::anchored(origin, anchor, speed)),
        false,
    ))
}

/// What `run` and `chat --now` need before the engine starts: settings,
/// token and clock.
pub fn prepare(
    path: &std::path::Path,
) -> Result<(config::Loaded, chathost::secret::Secret, SharedClock, bool), Failure> {
    let loaded = load(path)?;
    let found = chathost::secret::find_token(&loaded.config.account, &|k| std::env::var(k).ok())
        .map_err(|d| {
            diagnostic::print_all(&[d]);
            Failure::Shown
        })?;
    diagnostic::print_all(&found.warnings);
    let (clock, real) = clock_from_env().map_err(Failure::Error)?;
    Ok((loaded, found.token, clock, real))
}
