//! `chathost run` (the service, with its signals) and `chathost chat --now`.

use std::path::PathBuf;
use std::sync::Arc;

use chathost::engine::Shutdown;
use chathost::engine::service;
use chathost::{config, diagnostic, notify};

use super::{Failure, Outcome, prepare};

pub async fn run_service(path: PathBuf) -> Outcome {
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

pub async fn run_chat_now(path: PathBuf, name: Option<String>) -> Outcome {
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
