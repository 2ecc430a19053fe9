//! `chathost sandbox`: runs a sandbox alone on 127.0.0.1 and prints what a
//! person needs to point `chathost` or any Mastodon client at it — the base
//! URL, the tokens (that is this command's purpose) and a curl example.

use std::io::{self, Write};
use std::time::Duration;

use clap::Args;

use super::{Flavour, Sandbox, SandboxConfig};

/// Options of `chathost sandbox`.
#[derive(Args, Debug, Clone)]
pub struct SandboxArgs {
    /// TCP port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Server to imitate: mastodon or gotosocial.
    #[arg(long, default_value = "mastodon")]
    pub flavour: Flavour,
    /// Number of simulated participants, 0 to 500 (each is a task with
    /// its own state: millions would exhaust memory).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(0..=500))]
    pub participants: u16,
    /// The chat hashtag, without `#`.
    #[arg(long, default_value = "testchat")]
    pub hashtag: String,
    /// Character limit per post (default: 500 mastodon, 5000 gotosocial).
    #[arg(long)]
    pub max_characters: Option<usize>,
    /// Seconds within which participants answer a question.
    #[arg(long, default_value_t = 480)]
    pub answer_window: u64,
    /// Seed of the participants' randomness.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Switch rate limiting off.
    #[arg(long)]
    pub no_rate_limit: bool,
}

/// Starts the sandbox, prints how to use it to `out`, runs until Ctrl-C.
pub async fn run(args: SandboxArgs, out: &mut impl Write) -> io::Result<()> {
    let sandbox = Sandbox::start(SandboxConfig {
        flavour: args.flavour,
        port: args.port,
        max_characters: args.max_characters,
        participants: usize::from(args.participants),
        seed: args.seed,
        rate_limit: !args.no_rate_limit,
        hashtag: args.hashtag.clone(),
        answer_window: Duration::from_secs(args.answer_window),
        ..SandboxConfig::default()
    })
    .await?;
    print_banner(&sandbox, out)?;
    out.flush()?;
    tokio::signal::ctrl_c().await?;
    writeln!(out, "\nstopping")?;
    sandbox.shutdown().await;
    Ok(())
}

/// What `chathost sandbox` prints once it listens.
pub fn print_banner(sandbox: &Sandbox, out: &mut impl Write) -> io::Result<()> {
    let url = sandbox.base_url();
    let bot = sandbox.bot();
    let tag = sandbox.hashtag();
    writeln!(
        out,
        "chathost sandbox ({} flavour) listening on {url}",
        sandbox.flavour()
    )?;
    writeln!(out, "hashtag: #{tag}")?;
    writeln!(out)?;
    writeln!(
        out,
        "bot account:  {:<12} id {}  token {}",
        bot.acct,
        bot.id,
        bot.token.expose()
    )?;
    writeln!(out, "participants:")?;
    for a in sandbox.accounts().iter().skip(1) {
        let mut traits = Vec::new();
        if let Some(p) = &a.persona {
            traits.push(format!("{:?}", p.style));
            if p.visibility != super::Visibility::Public {
                traits.push(p.visibility.as_str().to_string());
            }
            if p.afterwards != super::Afterwards::Nothing {
                traits.push(format!("{:?}", p.afterwards).to_lowercase() + "s");
            }
        }
        if a.bot {
            traits.push("bot".into());
        }
        if a.note.contains("#nobot") {
            traits.push("#nobot".into());
        }
        writeln!(
            out,
            "  {:<12} token {}  ({})",
            a.acct,
            a.token.expose(),
            traits.join(", ")
        )?;
    }
    let token = bot.token.expose();
    writeln!(out)?;
    writeln!(
        out,
        "Post a question (participants answer within the answer window):"
    )?;
    writeln!(
        out,
        "  curl -s -H 'Authorization: Bearer {token}' --data-urlencode 'status=#{tag} Q1: What helps you learn?' {url}/api/v1/statuses"
    )?;
    writeln!(out, "Read the tag timeline:")?;
    writeln!(
        out,
        "  curl -s -H 'Authorization: Bearer {token}' {url}/api/v1/timelines/tag/{tag}"
    )?;
    writeln!(out)?;
    writeln!(out, "Press Ctrl-C to stop.")
}
