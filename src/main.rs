//! The `chathost` command line. Each subcommand is a thin shell around the
//! library; see `lib.rs` for the layout.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{NaiveDate, TimeZone, Utc};
use clap::{Parser, Subcommand, ValueEnum};

use chathost::{check, config, diagnostic, preview};

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
        /// How many chats.
        #[arg(long, default_value_t = 3)]
        count: usize,
        /// First date to show (YYYY-MM-DD); default: now.
        #[arg(long)]
        from: Option<NaiveDate>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("start the async runtime");
    runtime.block_on(async {
        match cli.command {
            Command::Check { config, online } => run_check(config, online).await,
            Command::Plan {
                config,
                count,
                from,
                format,
            } => run_plan(config, count, from, format),
        }
    })
}

async fn run_check(path: PathBuf, online: bool) -> ExitCode {
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
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "{errors} error(s), {warnings} warning(s): fix the errors above and run `chathost check` again"
        );
        ExitCode::FAILURE
    }
}

fn run_plan(path: PathBuf, count: usize, from: Option<NaiveDate>, format: Format) -> ExitCode {
    let loaded = match config::load(&path) {
        Ok(l) => l,
        Err(diags) => {
            diagnostic::print_all(&diags);
            return ExitCode::FAILURE;
        }
    };
    diagnostic::print_all(&loaded.warnings);
    // A date means that day's first instant in each chat's own zone; using
    // the earliest zone across chats keeps a chat on that date included.
    let start = match from {
        Some(d) => loaded
            .config
            .chats
            .iter()
            .filter_map(|c| {
                c.zone
                    .from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
                    .earliest()
            })
            .map(|t| t.with_timezone(&Utc))
            .min()
            .unwrap_or_else(|| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc()),
        None => Utc::now(),
    };
    let chats = preview::upcoming(&loaded.config, start, count);
    match format {
        Format::Text => print!("{}", preview::render_text(&chats)),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "chats": chats }))
                .expect("serialisable")
        ),
    }
    ExitCode::SUCCESS
}
