//! The `chathost` command line: parses arguments and hands over to the library.

use clap::{Parser, Subcommand};

use chathost::sandbox::cli::SandboxArgs;

/// Hosts a weekly hashtag chat on Mastodon, GoToSocial and other fediverse servers.
#[derive(Parser, Debug)]
#[command(name = "chathost", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a Mastodon-compatible sandbox server with simulated participants.
    Sandbox(SandboxArgs),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Sandbox(args) => chathost::sandbox::cli::run(args, &mut std::io::stdout()).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
