//! `chathost auth`.

use std::path::PathBuf;

use super::{Failure, Outcome, load};

/// `chathost auth`: the server from `--instance` or `--config`'s `[instance] url`.
pub async fn run_auth(
    instance: Option<String>,
    config: Option<PathBuf>,
    token_file: PathBuf,
    force: bool,
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
