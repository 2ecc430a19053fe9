//! Puts the engine together: settings, token, server, database, one task per
//! chat — for `chathost run`, `chathost chat --now` and `chathost rehearse`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::{Engine, Event, Shutdown};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::instance::{CallError, FailureClass, Instance, InstanceFacts};
use crate::schedule::Waiter;
use crate::secret::Secret;
use crate::store::{Problem, Store};

/// The database file under the state directory.
pub const DATABASE: &str = "chathost.sqlite3";

/// What the engine needs to start.
pub struct Parts {
    /// Checked settings.
    pub config: Config,
    /// The access token.
    pub token: Secret,
    /// Time.
    pub clock: SharedClock,
    /// Hand long waits to tokio-cron-scheduler (the real clock only).
    pub use_scheduler: bool,
    /// Where to report events, if anyone listens.
    pub events: Option<mpsc::UnboundedSender<Event>>,
    /// Stop request.
    pub shutdown: Shutdown,
}

/// A started engine: the engine (for one-off chats) and a way to swap in new
/// settings (SIGHUP).
pub struct Started {
    /// The shared engine state.
    pub engine: Engine,
    /// Send new settings here.
    pub reload: watch::Sender<Arc<Config>>,
}

/// Opens the database, connects to the server and builds the engine; a
/// server that does not answer is an error at once (`chat --now`).
pub async fn start(parts: Parts) -> Result<Started, String> {
    let store = open_store(&parts.config.state_dir)?;
    let (instance, facts) = connect(&parts.config, &parts.token)
        .await
        .map_err(|e| naming(&parts.config.instance.url, &e.message))?;
    build(parts, store, instance, facts).await
}

/// Like [`start`], for the service: a server that cannot be reached (down,
/// a timeout, a 5xx, rate limited) is tried again with a growing pause
/// ([`FIRST_RETRY`] up to [`LAST_RETRY`]), said in the log and in systemd's
/// status, until it answers or shutdown. What retrying cannot fix (a
/// revoked token, not a Mastodon API, an unusable database) is an error at
/// once.
pub async fn start_retrying(parts: Parts) -> Result<Started, String> {
    let Some(store) = open_store_waiting(&parts).await? else {
        return Err("stopped before the state folder was free".into());
    };
    let url = parts.config.instance.url.clone();
    let mut shutdown = parts.shutdown.clone();
    let mut pause = FIRST_RETRY;
    let mut attempt = 1u32;
    let (instance, facts) = loop {
        // Each try may take a few timed-out calls: systemd's start timeout
        // must not run out during the first one either.
        crate::notify::extend_start(parts.config.instance.timeout * 3 + RETRY_SLACK);
        let e = match connect(&parts.config, &parts.token).await {
            Ok(connected) => break connected,
            Err(e) => e,
        };
        let wait = match e.class {
            FailureClass::Permanent => return Err(naming(&url, &e.message)),
            FailureClass::Transient => pause,
            FailureClass::WaitFor(d) => d.clamp(FIRST_RETRY, LAST_RETRY),
            FailureClass::Wait(at) => (at - chrono::Utc::now())
                .to_std()
                .unwrap_or_default()
                .clamp(FIRST_RETRY, LAST_RETRY),
        };
        let next = chrono::Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
        let message = naming(&url, &e.message);
        // A network down at boot mends itself; a mistyped address does
        // not, and looks the same from here: say so once it lasts.
        let hint = if attempt >= 3 {
            "; if this lasts, check [instance] url in bot.toml"
        } else {
            ""
        };
        tracing::warn!(
            "the server did not answer (attempt {attempt}): {message}; trying again in {}s, at {}{hint}",
            wait.as_secs(),
            next.format("%H:%M:%SZ")
        );
        crate::notify::status(&format!(
            "waiting for the server {url}: attempt {attempt} failed; next try at {}",
            next.format("%H:%M:%SZ")
        ));
        // systemd's start timeout would otherwise kill a patient start-up.
        crate::notify::extend_start(wait + parts.config.instance.timeout * 3 + RETRY_SLACK);
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shutdown.wait() => return Err("stopped before the server answered".into()),
        }
        pause = (pause * 2).min(LAST_RETRY);
        attempt += 1;
    };
    if attempt > 1 {
        tracing::info!("the server answered after {attempt} attempts");
    }
    build(parts, store, instance, facts).await
}

/// Opens the store for the service; `None` on shutdown meanwhile. Under
/// systemd a state folder held by another chathost (a host's `collect` run
/// by hand, say) is waited for, not given up: an exit here would keep the
/// service down through tonight's chat. At a terminal it is refused (after
/// a second's patience for a lock being let go).
async fn open_store_waiting(parts: &Parts) -> Result<Option<Store>, String> {
    let dir = &parts.config.state_dir;
    create_state_dir(dir)?;
    let mut shutdown = parts.shutdown.clone();
    let mut waited = false;
    loop {
        let path = dir.join(DATABASE);
        // Off the runtime's one thread: opening may wait a moment for a
        // lock being let go, and SIGTERM must still be heard meanwhile.
        let opening = path.clone();
        let opened = tokio::task::spawn_blocking(move || Store::open(opening))
            .await
            .map_err(|e| format!("cannot open the state database: {e}"))?;
        match opened {
            Ok(store) => {
                if waited {
                    tracing::info!("the state folder {} is free: starting", dir.display());
                }
                return Ok(Some(store));
            }
            Err(e) if matches!(e.problem, Problem::InUse) && crate::notify::enabled() => {}
            Err(e) => return Err(e.to_string()),
        }
        // Once per wait, in the service's own words: InUse's text tells a
        // person at a terminal to stop the service, which is wrong here.
        if !waited {
            tracing::warn!(
                "another chathost run by hand holds {}; waiting for it to finish (trying again every {}s)",
                crate::store::lock_path(&path).display(),
                STATE_FOLDER_PAUSE.as_secs()
            );
            waited = true;
        }
        crate::notify::status(&format!(
            "waiting for the state folder: another chathost holds it; next try in {}s",
            STATE_FOLDER_PAUSE.as_secs()
        ));
        crate::notify::extend_start(STATE_FOLDER_PAUSE + RETRY_SLACK);
        tokio::select! {
            () = tokio::time::sleep(STATE_FOLDER_PAUSE) => {}
            () = shutdown.wait() => return Ok(None),
        }
    }
}

/// The pause between tries for a state folder another chathost holds: a
/// run by hand ends in seconds or minutes, and the service should start
/// soon after, not up to 5 minutes later.
const STATE_FOLDER_PAUSE: Duration = Duration::from_secs(5);

/// The first pause before trying an unreachable server again.
pub const FIRST_RETRY: Duration = Duration::from_secs(5);
/// The longest pause between tries: the pause doubles up to this.
pub const LAST_RETRY: Duration = Duration::from_secs(300);
/// Start-up time asked of systemd beyond each pause and its calls.
const RETRY_SLACK: Duration = Duration::from_secs(30);

/// One try: the server's software (when `auto`), its limits and the token.
async fn connect(config: &Config, token: &Secret) -> Result<(Instance, InstanceFacts), CallError> {
    let instance = Instance::connect(&config.instance, token).await?;
    let facts = instance.facts().await?;
    Ok((instance, facts))
}

/// The engine, once the server answered.
async fn build(
    parts: Parts,
    store: Store,
    instance: Instance,
    facts: InstanceFacts,
) -> Result<Started, String> {
    let config = parts.config;
    if !facts.bot {
        tracing::warn!(
            "the account @{} is not marked as a bot; tick \"This is an automated account\" in its profile settings",
            facts.acct
        );
    }
    tracing::info!(
        account = %facts.acct,
        instance = %config.instance.url,
        version = %facts.version,
        max_characters = facts.max_characters,
        "connected"
    );
    let waiter = if parts.use_scheduler {
        Waiter::with_scheduler(parts.clock.clone()).await?
    } else {
        Waiter::on_clock(parts.clock.clone())
    };
    let per_url = config.instance.characters_per_url;
    let (reload, config_rx) = watch::channel(Arc::new(config));
    Ok(Started {
        engine: Engine {
            config: config_rx,
            store,
            instance: Arc::new(instance),
            account_id: facts.account_id,
            acct: facts.acct,
            limit: crate::length::PostLimit {
                max: facts.max_characters,
                per_url: facts.characters_per_url.unwrap_or(per_url),
            },
            waiter,
            shutdown: parts.shutdown,
            events: parts.events,
            rate_limited: (0, None),
        },
        reload,
    })
}

/// The settings a reload cannot change in a running service, by section:
/// the connection (server and token) and the database are made once at
/// start. A reload that changes them says so instead of ignoring them.
pub fn restart_needed(old: &Config, new: &Config) -> Vec<&'static str> {
    let mut sections = Vec::new();
    let (a, b) = (&old.instance, &new.instance);
    if a.url != b.url || a.software != b.software || a.timeout != b.timeout {
        sections.push("[instance]");
    }
    let (a, b) = (&old.account, &new.account);
    let inline = |s: &Option<Secret>| s.as_ref().map(|t| t.expose().to_string());
    if a.credential != b.credential
        || a.token_file != b.token_file
        || a.token_env != b.token_env
        || inline(&a.inline_token) != inline(&b.inline_token)
    {
        sections.push("[account]");
    }
    if old.state_dir != new.state_dir {
        sections.push("[state]");
    }
    sections
}

/// A start-up error that names the server once.
fn naming(url: &str, message: &str) -> String {
    if message.contains(url) {
        message.to_string()
    } else {
        format!("{url}: {message}")
    }
}

/// Opens (creating) the database under the state directory.
pub fn open_store(state_dir: &Path) -> Result<Store, String> {
    create_state_dir(state_dir)?;
    Store::open(state_dir.join(DATABASE)).map_err(|e| e.to_string())
}

fn create_state_dir(state_dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(state_dir).map_err(|e| {
        format!(
            "cannot create the state directory {}: {e} (set [state] dir in bot.toml, or StateDirectory= under systemd)",
            state_dir.display()
        )
    })
}

/// Opens the database under the state directory to read only, beside a
/// running service; a missing database says where the service keeps it.
pub fn open_store_read_only(state_dir: &Path) -> Result<Store, String> {
    Store::open_read_only(state_dir.join(DATABASE)).map_err(|e| e.to_string())
}

/// Hosts every configured chat until shutdown; a chat added to bot.toml
/// (SIGHUP) gets its own task.
pub async fn run_all(started: &Started) {
    let mut tasks: BTreeMap<String, JoinHandle<()>> = BTreeMap::new();
    let mut config = started.engine.config.clone();
    let mut shutdown = started.engine.shutdown.clone();
    let mentions = spawn_mentions(&started.engine);
    loop {
        tasks.retain(|_, t| !t.is_finished());
        let names: Vec<String> = config
            .borrow()
            .chats
            .iter()
            .map(|c| c.name.clone())
            .collect();
        for name in names {
            if let std::collections::btree_map::Entry::Vacant(slot) = tasks.entry(name) {
                let name = slot.key().clone();
                let engine = started.engine.clone();
                slot.insert(tokio::spawn(async move {
                    // A chat's task that panics is a bug: stop the service
                    // so that systemd shows it and restarts it, rather than
                    // go on without that chat.
                    let shutdown = engine.shutdown.clone();
                    let task = tokio::spawn(engine.run_chat_forever(name.clone()));
                    if let Err(e) = task.await {
                        let reason = format!("the task of chat {name} ended abnormally: {e}");
                        tracing::error!("{reason}");
                        shutdown.fail(reason);
                    }
                }));
            }
        }
        tokio::select! {
            changed = config.changed() => if changed.is_err() { break },
            _ = shutdown.wait() => break,
        }
    }
    for (name, task) in tasks {
        if let Err(e) = task.await {
            tracing::error!(name = %name, "the chat's task ended abnormally: {e}");
        }
    }
    if let Err(e) = mentions.await {
        tracing::error!("the mentions task ended abnormally: {e}");
    }
}

/// The task answering the bot's mentions, beside the chats. One that
/// panics is a bug: the service stops, so that systemd shows it.
pub fn spawn_mentions(engine: &Engine) -> JoinHandle<()> {
    let engine = engine.clone();
    tokio::spawn(async move {
        let shutdown = engine.shutdown.clone();
        // It ends on shutdown; the service's shutdown waits for it.
        if let Err(e) = tokio::spawn(engine.run_mentions()).await
            && e.is_panic()
        {
            let reason = format!("the mentions task ended abnormally: {e}");
            tracing::error!("{reason}");
            shutdown.fail(reason);
        }
    })
}
