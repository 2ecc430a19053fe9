//! The `chathost` command line. Each subcommand is a thin shell around the
//! library; see `lib.rs` for the layout. The binary's own modules:
//! [`args`] (the clap definition), [`commands`] (one function per
//! subcommand), [`logging`] and [`manual`] (completions, man page).

mod args;
mod commands;
mod logging;
mod manual;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use args::{Cli, Command};
use commands::Failure;

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
    let outcome = runtime.block_on(commands::run(cli.command));
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
