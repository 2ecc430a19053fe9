//! Stopping: one trigger (SIGTERM, Ctrl-C, or a fatal error inside the
//! engine) that every task waits on.
//!
//! Waits are interrupted, never a post in flight: each task checks
//! [`Shutdown::requested`] between steps and finishes recording what it
//! started. A fatal error (a damaged database) stops the whole service
//! the same way, and leaves its reason for `main` to print and turn into a
//! failing exit code, so systemd shows the unit as failed instead of a
//! running service that silently does nothing.

use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// Ends waits when the service is asked to stop; can also stop it, with a
/// reason, when something inside fails beyond repair.
#[derive(Clone)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
    tx: Arc<watch::Sender<bool>>,
    fatal: Arc<Mutex<Option<String>>>,
}

/// Asks every task holding a [`Shutdown`] to stop.
pub struct ShutdownTrigger {
    tx: Arc<watch::Sender<bool>>,
}

impl Shutdown {
    /// A pair: the trigger and the first receiver.
    pub fn new() -> (ShutdownTrigger, Shutdown) {
        let (tx, rx) = watch::channel(false);
        let tx = Arc::new(tx);
        (
            ShutdownTrigger { tx: tx.clone() },
            Shutdown {
                rx,
                tx,
                fatal: Arc::default(),
            },
        )
    }

    /// True once stopping was asked for.
    pub fn requested(&self) -> bool {
        *self.rx.borrow()
    }

    /// Completes when stopping is asked for. (The sender lives as long as
    /// any `Shutdown`, so this never returns early on a closed channel.)
    pub async fn wait(&mut self) {
        let _ = self.rx.wait_for(|stop| *stop).await;
    }

    /// Stops everything because of `reason`; the first reason is kept.
    pub fn fail(&self, reason: impl Into<String>) {
        let mut fatal = self.fatal.lock().unwrap_or_else(|p| p.into_inner());
        if fatal.is_none() {
            *fatal = Some(reason.into());
        }
        self.tx.send_replace(true);
    }

    /// Why the service stopped, when it stopped on a fatal error.
    pub fn fatal(&self) -> Option<String> {
        self.fatal.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl ShutdownTrigger {
    /// Stop, everyone.
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_fatal_error_stops_every_waiter_and_keeps_the_first_reason() {
        let (_trigger, shutdown) = Shutdown::new();
        let mut other = shutdown.clone();
        let waiting = tokio::spawn(async move { other.wait().await });
        shutdown.fail("the database is damaged");
        shutdown.fail("something later");
        waiting.await.unwrap();
        assert!(shutdown.requested());
        assert_eq!(shutdown.fatal().as_deref(), Some("the database is damaged"));
    }

    #[tokio::test]
    async fn a_trigger_stops_without_a_fatal_reason() {
        let (trigger, mut shutdown) = Shutdown::new();
        trigger.trigger();
        shutdown.wait().await;
        assert_eq!(shutdown.fatal(), None);
    }
}
