//! The `chathost` command line. Each subcommand is a thin shell around the
//! library; see `lib.rs` for the layout.

mod logging;
mod manual;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use chrono::{NaiveDate, TimeZone, Utc};
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use chathost::clock::{ScaledClock, SharedClock, SystemClock};
use chathost::engine::Shutdown;
use chathost::engine::service;
use chathost::{check, collect, config, diagnostic, notify, preview, rehearse, sandbox};

#[derive(Parser)]
#[command(
    name = "chathost",
    version,
    about = "Hosts a weekly hashtag chat on Mastodon-compatible servers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check bot.toml, the question files and templates; exit 1 on any error.
    Check {
        /// The settings file.
        #[arg(long, default_value = "bot.toml")]
        config: PathBuf,
        /// Also ask the instance: its length limit, the token, the account.
        #[arg(long)]
        online: bool,
    },
    /// Show the next chats and every post in them.
    Plan {
        /// The settings file.
        #[arg(long, default_value = "bot.toml")]
        config: PathBuf,
        /// How many chats (1 to 520: ten years of weekly chats).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=520))]
        count: u16,
        /// First date to show (YYYY-MM-DD); default: now.
        #[arg(long)]
        from: Option<NaiveDate>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Host every configured chat, week after week (the systemd service).
    Run {
        /// The settings file.
        #[arg(long, default_value = "bot.toml")]
        config: PathBuf,
    },
    /// Make the bot's access token: register chathost as an app with the least
    /// scopes, approve it in a browser (the page shows a code), and write the
    /// token to a file only its owner can read. Then offer to mark the account
    /// as a bot and to set its profile note to:
    ///
    /// "I am a bot: I host a weekly hashtag chat (chathost) — I post the
    /// questions and collect the answers for a recap. Put #nobot in your
    /// profile and I will count your answers but never quote you."
    Auth {
        /// The server, e.g. https://mastodon.example (default: `[instance] url` of --config).
        #[arg(long)]
        instance: Option<String>,
        /// A settings file to take the server's address from.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Where to write the token (created with mode 0600).
        #[arg(long, default_value = chathost::auth::DEFAULT_TOKEN_FILE)]
        token_file: PathBuf,
        /// Replace an existing token file.
        #[arg(long)]
        force: bool,
        /// The code the authorisation page shows (else it is asked for on stdin).
        #[arg(long)]
        code: Option<String>,
        /// Mark the account as a bot: yes, no, or ask (no when stdin is not a terminal).
        #[arg(long, default_value = "ask", value_parser = clap::value_parser!(chathost::auth::Choice))]
        bot: chathost::auth::Choice,
        /// Set the profile note above: yes, no, or ask (no when stdin is not a terminal; a
        /// non-empty note is replaced only on yes).
        #[arg(long, default_value = "ask", value_parser = clap::value_parser!(chathost::auth::Choice))]
        note: chathost::auth::Choice,
    },
    /// Host one chat right now on the real account, with the next chat's questions.
    Chat {
        /// The settings file.
        #[arg(long, default_value = "bot.toml")]
        config: PathBuf,
        /// Start now (required: this posts for real).
        #[arg(long, required = true)]
        now: bool,
        /// Which chat, when bot.toml has several.
        #[arg(long)]
        chat: Option<String>,
    },
    /// Rehearse a whole chat from the shipped files against the built-in sandbox.
    Rehearse {
        /// The settings file.
        #[arg(long, default_value = "bot.toml")]
        config: PathBuf,
        /// How many times faster than real time, 1 to 3600 (60: an hour in a minute).
        #[arg(long, default_value_t = 60.0, value_parser = rehearse::parse_speed)]
        speed: f64,
        /// Simulated participants, 0 to 500.
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(0..=500))]
        participants: u16,
        /// Keep the rehearsal's state and archive in this new or empty folder.
        #[arg(long)]
        keep: Option<PathBuf>,
    },
    /// List the chat dates the store knows, newest first, with their outcome.
    Chats {
        /// The settings file.
        #[arg(long, default_value = "bot.toml")]
        config: PathBuf,
        /// Only this chat.
        #[arg(long)]
        chat: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Read a past chat's answers again from the server (a chat the bot was down for).
    Collect {
        /// The settings file.
        #[arg(long, default_value = "bot.toml")]
        config: PathBuf,
        /// The chat's name in bot.toml.
        chat: String,
        /// The chat date (YYYY-MM-DD); default: the latest.
        #[arg(long)]
        date: Option<NaiveDate>,
    },
    /// List the answers collected for a chat, by question (consent respected).
    Answers {
        /// The settings file.
        #[arg(long, default_value = "bot.toml")]
        config: PathBuf,
        /// The chat's name in bot.toml.
        chat: String,
        /// The chat date (YYYY-MM-DD); default: the latest.
        #[arg(long)]
        date: Option<NaiveDate>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Show a past chat's recap thread, or post it (exactly once) with --post.
    Recap {
        /// The settings file.
        #[arg(long, default_value = "bot.toml")]
        config: PathBuf,
        /// The chat's name in bot.toml.
        chat: String,
        /// The chat date (YYYY-MM-DD); default: the latest.
        #[arg(long)]
        date: Option<NaiveDate>,
        /// Post the thread (what is not posted yet; never twice).
        #[arg(long)]
        post: bool,
    },
    /// Write a past chat's archive folder (HTML, Markdown, JSON, chart) and the chat's index and feed.
    Archive {
        /// The settings file.
        #[arg(long, default_value = "bot.toml")]
        config: PathBuf,
        /// The chat's name in bot.toml.
        chat: String,
        /// The chat date (YYYY-MM-DD); default: the latest.
        #[arg(long)]
        date: Option<NaiveDate>,
        /// Write into this folder instead (the chat's index goes to its parent).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// What the store holds about one participant; --forget erases it.
    Participant {
        /// The settings file.
        #[arg(long, default_value = "bot.toml")]
        config: PathBuf,
        /// The account, @user@host.
        account: String,
        /// Erase it (a person's data-protection request); the archives it was in are written again.
        #[arg(long)]
        forget: bool,
    },
    /// Is all well? The next chats, their questions, the last chat's outcome, the store's health.
    ///
    /// Per configured chat: the next chat (local time and UTC) and whether its
    /// question file passes `check`; the last chat's posts, answers,
    /// participants, recap and archive. Then the state database: size,
    /// schema, quick_check, and whether the service holds it. Reads the store
    /// read only (works while the service runs) and never the network.
    ///
    /// Exit status: 0 when all is well; 1 when something needs the host's
    /// attention: a question file that fails check, a next chat with no
    /// questions, a failed post or recap post on the last chat, or a store
    /// problem (a missing database is none: the service has not run yet).
    Status {
        /// The settings file.
        #[arg(long, default_value = "bot.toml")]
        config: PathBuf,
        /// Output format (JSON: stable, snake_case keys, RFC 3339 times).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Copy the state database consistently to a new file, also while the service runs.
    ///
    /// The copy is a snapshot (SQLite's VACUUM INTO through a read-only
    /// connection), readable by its owner only, checked before its path and
    /// size are printed. An existing FILE is never overwritten.
    ///
    /// Restore: stop the service, copy the backup over chathost.sqlite3,
    /// remove any chathost.sqlite3-wal and -shm beside it, start the service.
    Backup {
        /// The settings file.
        #[arg(long, default_value = "bot.toml")]
        config: PathBuf,
        /// The new file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Run a Mastodon-compatible sandbox server with simulated participants.
    Sandbox(sandbox::cli::SandboxArgs),
    /// Print the shell completion script (e.g. > /usr/share/bash-completion/completions/chathost).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff; e.g. > /usr/local/share/man/man1/chathost.1).
    Man,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Generated from the CLI definition: no log, no runtime.
    match cli.command {
        Command::Completions { shell } => {
            let written = manual::completions(shell, &mut Cli::command(), &mut std::io::stdout());
            return printed(written);
        }
        Command::Man => return printed(manual::man(Cli::command(), &mut std::io::stdout())),
        _ => {}
    }
    // A rehearsal prints the chat itself; its log shows only problems.
    logging::init(if matches!(cli.command, Command::Rehearse { .. }) {
        "warn"
    } else {
        "info,tokio_cron_scheduler=warn"
    });
    // The service waits on the network and the clock: one thread does, and
    // idles smaller (fewer stacks and allocator arenas). A rehearsal runs a
    // server and its participants beside the engine: give it the cores.
    let mut builder = if matches!(cli.command, Command::Rehearse { .. } | Command::Sandbox(_)) {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
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
                code,
                bot,
                note,
            } => run_auth(instance, config, token_file, force, code, bot, note).await,
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
                let text =
                    chathost::mentions::cli::run(&loaded.config, &account, forget, Utc::now())
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
    });
    // The one place that says why a command failed and sets the exit code.
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Shown) => ExitCode::FAILURE,
        Err(Failure::Error(e)) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
        Err(Failure::Usage(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(Failure::Config(e)) => {
            // An error, for `journalctl -p warning`, under systemd too.
            tracing::error!("cannot start: {e}");
            eprintln!("error: {e}");
            ExitCode::from(78)
        }
        Err(Failure::Stopped(reason)) => {
            // Exit non-zero so systemd shows the unit as failed and says why.
            tracing::error!("stopped: {reason}");
            ExitCode::FAILURE
        }
    }
}

/// The exit code of a command that only prints.
fn printed(written: std::io::Result<()>) -> ExitCode {
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write to standard output: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Why a command failed.
enum Failure {
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
type Outcome = Result<(), Failure>;

async fn run_check(path: PathBuf, online: bool) -> Outcome {
    let env = std::env::vars().collect();
    let report = check::check(&path, online, &env, Utc::now()).await;
    for note in &report.notes {
        println!("{note}");
    }
    diagnostic::print_all(&report.diagnostics);
    let (errors, warnings) = (report.errors(), report.warnings());
    if errors == 0 {
        println!(
            "all is well{}",
            match warnings {
                0 => String::new(),
                1 => " (1 warning)".into(),
                n => format!(" ({n} warnings)"),
            }
        );
        Ok(())
    } else {
        eprintln!(
            "{errors} error(s), {warnings} warning(s): fix the errors above and run `chathost check` again"
        );
        Err(Failure::Shown)
    }
}

fn run_plan(path: PathBuf, count: usize, from: Option<NaiveDate>, format: Format) -> Outcome {
    let loaded = load(&path)?;
    let start = match from {
        Some(d) => match plan_start(&loaded.config, d) {
            Some(t) => t,
            None => {
                return Err(Failure::Usage(format!(
                    "--from {d}: plan shows chats between 0001-01-01 and {}; give a date in that range",
                    chathost::plan::LAST_DAY
                )));
            }
        },
        None => Utc::now(),
    };
    let chats = preview::upcoming(&loaded.config, start, count);
    let note = preview::calendar_end_note(chats.len(), count);
    match format {
        Format::Text => {
            print!("{}", preview::render_text(&chats));
            if let Some(note) = &note {
                println!("{note}");
            }
            // Once a chat has answers: its recap thread, before it is posted.
            print!(
                "{}",
                chathost::recap::command::preview_for_plan(&loaded.config)
            );
        }
        Format::Json => {
            let json = serde_json::json!({ "chats": chats, "note": note });
            let text = serde_json::to_string_pretty(&json)
                .map_err(|e| Failure::Error(format!("cannot write the plan as JSON: {e}")))?;
            println!("{text}");
        }
    }
    // A broken or unusable question file or template is an error, as in
    // `check`; a week without a file (skipped) is not.
    if chats.iter().any(|c| c.broken) {
        Err(Failure::Shown)
    } else {
        Ok(())
    }
}

/// The first instant of `date` for `plan --from`: that day's first instant
/// in each chat's own zone, the earliest across chats, so a chat on that
/// date is included. `None` outside the years plan can show.
fn plan_start(config: &config::Config, date: NaiveDate) -> Option<chrono::DateTime<Utc>> {
    if !(1..=9999).contains(&chrono::Datelike::year(&date)) {
        return None;
    }
    let midnight = date.and_hms_opt(0, 0, 0)?;
    config
        .chats
        .iter()
        .filter_map(|c| c.zone.from_local_datetime(&midnight).earliest())
        .map(|t| t.with_timezone(&Utc))
        .min()
        .or_else(|| Some(midnight.and_utc()))
}

fn load(path: &std::path::Path) -> Result<config::Loaded, Failure> {
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
fn clock_from_env() -> Result<(SharedClock, bool), String> {
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
fn prepare(
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

async fn run_service(path: PathBuf) -> Outcome {
    use tokio::signal::unix::{SignalKind, signal};
    let (loaded, token, clock, real) = prepare(&path).map_err(|f| match f {
        // Settings that do not load: a restart reads the same file.
        Failure::Shown => Failure::Config("the settings have errors (shown above)".into()),
        other => other,
    })?;
    let (trigger, shutdown) = Shutdown::new();
    let fatal = shutdown.clone();
    // Listening before start-up: a SIGTERM while the server is still being
    // waited for stops at once.
    let (Ok(mut hup), Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return Err(Failure::Error("cannot listen for signals".into()));
    };
    let starting = service::start_retrying(service::Parts {
        config: loaded.config,
        token,
        clock,
        use_scheduler: real,
        events: None,
        shutdown,
    });
    let started = tokio::select! {
        started = starting => started.map_err(Failure::Config)?,
        _ = term.recv() => return stopped_early(),
        _ = int.recv() => return stopped_early(),
    };
    notify::ready();
    // Not the start-up retries' last word: connected.
    notify::status(&format!("connected to {}", started.engine.instance.url));
    let reload = started.reload.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = hup.recv() => match config::load(&path) {
                    Ok(l) => {
                        diagnostic::print_all(&l.warnings);
                        let fixed = service::restart_needed(&reload.borrow(), &l.config);
                        if fixed.is_empty() {
                            tracing::info!("SIGHUP: settings re-read from {}", path.display());
                        } else {
                            tracing::warn!(
                                "SIGHUP: settings re-read from {}; the changes to {} take effect only after a restart (systemctl restart chathost)",
                                path.display(),
                                fixed.join(", ")
                            );
                        }
                        // Every chat task holds a receiver until the end of `run`.
                        reload.send_replace(Arc::new(l.config));
                    }
                    Err(diags) => {
                        diagnostic::print_all(&diags);
                        tracing::error!("SIGHUP: {} has errors; keeping the current settings", path.display());
                    }
                },
                _ = term.recv() => break,
                _ = int.recv() => break,
            }
        }
        notify::stopping();
        tracing::info!("stopping: finishing any post in flight");
        trigger.trigger();
    });
    service::run_all(&started).await;
    if let Some(reason) = fatal.fatal() {
        notify::stopping();
        return Err(Failure::Stopped(reason));
    }
    tracing::info!("stopped");
    Ok(())
}

/// SIGTERM before the server ever answered: nothing was begun.
fn stopped_early() -> Outcome {
    notify::stopping();
    tracing::info!("stopped before the server answered");
    Ok(())
}

/// `chathost auth`: the server from `--instance` or `--config`'s `[instance] url`.
async fn run_auth(
    instance: Option<String>,
    config: Option<PathBuf>,
    token_file: PathBuf,
    force: bool,
    code: Option<String>,
    bot: chathost::auth::Choice,
    note: chathost::auth::Choice,
) -> Outcome {
    use std::io::IsTerminal;
    let (instance, timeout) = match (instance, config) {
        (Some(url), _) => (url, std::time::Duration::from_secs(15)),
        (None, Some(path)) => {
            let loaded = load(&path)?;
            let settings = &loaded.config.instance;
            (settings.url.clone(), settings.timeout)
        }
        (None, None) => {
            return Err(Failure::Usage(
                "say which server: --instance https://mastodon.example (or --config bot.toml)"
                    .into(),
            ));
        }
    };
    let options = chathost::auth::AuthOptions {
        instance,
        token_file,
        force,
        code,
        bot,
        note,
        timeout,
    };
    let stdin = std::io::stdin();
    let mut console = chathost::auth::Console {
        interactive: stdin.is_terminal(),
        input: stdin.lock(),
        out: std::io::stdout(),
        err: std::io::stderr(),
    };
    chathost::auth::run(&options, &mut console)
        .await
        .map_err(Failure::Error)
}

async fn run_chat_now(path: PathBuf, name: Option<String>) -> Outcome {
    let (loaded, token, clock, _) = prepare(&path)?;
    let (config, occ, chat_name) =
        chathost::rehearse::one_off(&loaded.config, name.as_deref(), clock.now())
            .map_err(Failure::Error)?;
    let (trigger, shutdown) = Shutdown::new();
    let started = service::start(service::Parts {
        config,
        token,
        clock,
        use_scheduler: false,
        events: None,
        shutdown,
    })
    .await
    .map_err(Failure::Error)?;
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        trigger.trigger();
    });
    let mut engine = started.engine.clone();
    tracing::info!(
        chat = %chat_name,
        "one-off chat starting at {}",
        occ.start.format("%H:%M %Z")
    );
    let finished = engine.run_occurrence(&chat_name, &occ).await;
    match engine.shutdown.fatal() {
        Some(reason) => Err(Failure::Error(reason)),
        // Stopped by Ctrl-C: what the host asked for.
        None if !finished && !engine.shutdown.requested() => Err(Failure::Error(
            "the chat did not finish (see the log above)".into(),
        )),
        None => Ok(()),
    }
}

async fn run_collect(path: PathBuf, chat: String, date: Option<NaiveDate>) -> Outcome {
    let (loaded, token, clock, _) = prepare(&path)?;
    let config = loaded.config.clone();
    let report = collect::command::recollect(loaded.config, token, clock, &chat, date)
        .await
        .map_err(Failure::Error)?;
    print!("{}", collect::report::render_text(&report));
    // Deletions and opt-outs read now reach the published archive too.
    if let Some(note) =
        chathost::recap::command::refresh_archive(&config, &chat, report.date, Utc::now())
    {
        println!("{note}");
    }
    Ok(())
}

fn run_answers(path: PathBuf, chat: String, date: Option<NaiveDate>, format: Format) -> Outcome {
    let loaded = load(&path)?;
    let found = collect::command::find_chat(&loaded.config, &chat).map_err(Failure::Usage)?;
    let occ = collect::command::chat_date(found, date, Utc::now()).map_err(Failure::Usage)?;
    let store = service::open_store_read_only(&loaded.config.state_dir).map_err(Failure::Error)?;
    let report =
        collect::command::answers_report(&store, &chat, occ.date).map_err(Failure::Error)?;
    match format {
        Format::Text => print!("{}", collect::report::render_text(&report)),
        Format::Json => {
            let text = serde_json::to_string_pretty(&report)
                .map_err(|e| Failure::Error(format!("cannot write the answers as JSON: {e}")))?;
            println!("{text}");
        }
    }
    Ok(())
}

fn run_chats(path: PathBuf, chat: Option<String>, format: Format) -> Outcome {
    let loaded = load(&path)?;
    let store = service::open_store_read_only(&loaded.config.state_dir).map_err(Failure::Error)?;
    let list = chathost::recap::listing::list(&store, chat.as_deref()).map_err(Failure::Error)?;
    match format {
        Format::Text => print!("{}", chathost::recap::listing::render_text(&list)),
        Format::Json => {
            let text = serde_json::to_string_pretty(&list)
                .map_err(|e| Failure::Error(format!("cannot write the list as JSON: {e}")))?;
            println!("{text}");
        }
    }
    Ok(())
}

fn run_status(path: PathBuf, format: Format) -> Outcome {
    let loaded = load(&path)?;
    // The service's clock (a test's fast one too), so "next" and "last" agree with it.
    let (clock, _) = clock_from_env().map_err(Failure::Error)?;
    let json = matches!(format, Format::Json);
    let (text, ok) =
        chathost::status::report(&loaded.config, clock.now(), json).map_err(Failure::Error)?;
    print!("{text}");
    if ok { Ok(()) } else { Err(Failure::Shown) }
}

fn run_backup(path: PathBuf, out: PathBuf) -> Outcome {
    let loaded = load(&path)?;
    let copied =
        chathost::status::backup::backup(&loaded.config.state_dir, &out).map_err(Failure::Error)?;
    println!(
        "backup written to {} ({} bytes, {} chat dates, checked)",
        copied.path.display(),
        copied.size_bytes,
        copied.chats
    );
    Ok(())
}

async fn run_recap(path: PathBuf, chat: String, date: Option<NaiveDate>, post: bool) -> Outcome {
    use chathost::recap::command;
    let text = if post {
        let (loaded, token, clock, _) = prepare(&path)?;
        command::post(loaded.config, token, clock, &chat, date).await
    } else {
        let loaded = load(&path)?;
        command::show(&loaded.config, &chat, date, Utc::now())
    };
    print!("{}", text.map_err(Failure::Error)?);
    Ok(())
}
