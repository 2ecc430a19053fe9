//! Waiting for the next moment that matters.
//!
//! Far-off moments (the next chat, days away) are handed to
//! tokio-cron-scheduler as one-shot jobs. We never give it a recurring,
//! time-zoned cron line: its offset is frozen when the job is made, so a
//! "20:00 London" job drifts by an hour after a DST change. Instead each
//! chat's instant is computed in the real zone by [`crate::plan`] and the
//! scheduler is asked for exactly that instant. The last stretch (and every
//! step inside a chat) is waited for precisely with the [`Clock`], which is
//! also how tests run a week on an injected clock.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;
use tokio_cron_scheduler::{Job, JobScheduler};

use crate::clock::SharedClock;

/// Hands waits longer than this to the scheduler.
const HAND_OVER: Duration = Duration::from_secs(120);

/// Waits for instants: through the scheduler for long waits on the real
/// clock, through the clock alone on an injected one.
#[derive(Clone)]
pub struct Waiter {
    clock: SharedClock,
    scheduler: Option<Arc<JobScheduler>>,
    hand_over: Duration,
}

impl Waiter {
    /// A waiter on the real clock, backed by a running tokio-cron-scheduler.
    pub async fn with_scheduler(clock: SharedClock) -> Result<Waiter, String> {
        let scheduler = JobScheduler::new()
            .await
            .map_err(|e| format!("cannot start the scheduler: {e}"))?;
        scheduler
            .start()
            .await
            .map_err(|e| format!("cannot start the scheduler: {e}"))?;
        Ok(Waiter {
            clock,
            scheduler: Some(Arc::new(scheduler)),
            hand_over: HAND_OVER,
        })
    }

    /// A waiter on the clock alone (injected clocks: tests, rehearsals).
    pub fn on_clock(clock: SharedClock) -> Waiter {
        Waiter {
            clock,
            scheduler: None,
            hand_over: HAND_OVER,
        }
    }

    /// The clock this waiter reads.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// Completes at `deadline` (at once if it has passed).
    pub async fn wait_until(&self, deadline: DateTime<Utc>) {
        let left = (deadline - self.clock.now()).to_std().unwrap_or_default();
        if let Some(scheduler) = &self.scheduler
            && left > self.hand_over
        {
            // Wake a little early through the scheduler, then finish on the
            // clock: the scheduler ticks only twice a second.
            let (tx, rx) = oneshot::channel::<()>();
            let tx = std::sync::Mutex::new(Some(tx));
            let job = Job::new_one_shot(left - self.hand_over / 2, move |_, _| {
                if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
                    let _ = tx.send(());
                }
            });
            match job {
                Ok(job) => match scheduler.add(job).await {
                    Ok(id) => {
                        // This wait may be cancelled (a reload, a stop):
                        // the job must not outlive it.
                        let scheduler = scheduler.clone();
                        let _remove = OnDrop(Some(move || {
                            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                                runtime.spawn(async move {
                                    if let Err(e) = scheduler.remove(&id).await {
                                        tracing::debug!("could not remove a scheduler job: {e}");
                                    }
                                });
                            }
                        }));
                        if rx.await.is_err() {
                            tracing::warn!("the scheduler dropped a wake-up; waiting on the clock");
                        }
                    }
                    Err(e) => tracing::warn!("scheduler refused a job ({e}); waiting on the clock"),
                },
                Err(e) => tracing::warn!("cannot make a scheduler job ({e}); waiting on the clock"),
            }
        }
        self.clock.sleep_until(deadline).await;
    }
}

/// Runs its closure when dropped: clean-up that must happen whether a wait
/// completes or is cancelled.
struct OnDrop<F: FnOnce()>(Option<F>);

impl<F: FnOnce()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;

    #[tokio::test]
    async fn a_clock_waiter_waits_for_the_instant() {
        let clock: SharedClock = Arc::new(SystemClock);
        let waiter = Waiter::on_clock(clock.clone());
        let target = clock.now() + chrono::Duration::milliseconds(200);
        waiter.wait_until(target).await;
        assert!(clock.now() >= target);
    }

    #[tokio::test]
    async fn a_cancelled_wait_leaves_no_job_behind() {
        let clock: SharedClock = Arc::new(SystemClock);
        let waiter = Waiter::with_scheduler(clock.clone()).await.unwrap();
        let scheduler = waiter.scheduler.clone().unwrap();
        for _ in 0..3 {
            // A reload or a stop cancels the wait for the next chat.
            let far = clock.now() + chrono::Duration::days(3);
            let cancelled =
                tokio::time::timeout(Duration::from_millis(200), waiter.wait_until(far)).await;
            assert!(cancelled.is_err(), "a wait of three days ended");
        }
        // The removal runs on a task of its own: give it a moment.
        let mut left = Some(Duration::ZERO);
        for _ in 0..50 {
            left = (*scheduler).clone().time_till_next_job().await.unwrap();
            if left.is_none() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(left, None, "a cancelled wait left its job in the scheduler");
    }

    #[tokio::test]
    async fn a_long_wait_goes_through_the_scheduler() {
        let clock: SharedClock = Arc::new(SystemClock);
        let mut waiter = Waiter::with_scheduler(clock.clone()).await.unwrap();
        waiter.hand_over = Duration::from_millis(1500);
        let target = clock.now() + chrono::Duration::milliseconds(2500);
        waiter.wait_until(target).await;
        let now = clock.now();
        assert!(now >= target, "woke early");
        // Generous: this checks the hand-over works, not punctuality (a benchmark
        // measures that).
        assert!(
            now - target < chrono::Duration::seconds(5),
            "woke {} late",
            now - target
        );
    }
}
