//! The command line's definition (clap): every subcommand and option. The
//! completions and the man page are generated from it.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Parser, Subcommand, ValueEnum};

use chathost::{rehearse, sandbox};

#[derive(Parser)]
#[command(
    name = "chathost",
    version,
    about = "Hosts a weekly hashtag chat on Mastodon-compatible servers"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
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
    /// questions, a failed or missed post or recap post on the last chat,
    /// a database the service does not hold (it is not running), or a
    /// store problem. A missing database is none: check the state folder
    /// (the systemd service keeps it in /var/lib/chathost).
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
pub enum Format {
    Text,
    Json,
}
