//! Waiting for the next moment that matters.
//!
//! Far-off moments (the next chat, days away) are kept by
//! tokio-cron-scheduler as one-shot jobs. We never give it a recurring,
//! time-zoned cron line: its offset is frozen when the job is made, so a
//! "20:00 London" job drifts by an hour after a DST change. Instead each
//! chat's instant is computed in the real zone by [`crate::plan`] and the
//! scheduler is given exactly that instant.
//!
//! The scheduler is not *started*: a started one wakes twice a second for
//! as long as the process lives, which is most of what an idle chathost
//! would cost (and each started scheduler leaks its actor tasks when
//! dropped, so one per wait is no way out). We ask it instead, as its
//! documentation suggests for sleeping "without waking up at a fixed
//! interval", when our job is next due (`next_tick_for_job`), and sleep
//! until then in stretches of at most [`STRETCH`], asking again after
//! each against the wall clock, so that a clock set by NTP or a suspended
//! machine is noticed. The last stretch (and every step inside a chat) is
//! waited for precisely with the [`Clock`], which is also how tests run a
//! week on an injected clock.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_cron_scheduler::{Job, JobScheduler};

use crate::clock::SharedClock;

/// Hands waits longer than this to the scheduler.
const HAND_OVER: Duration = Duration::from_secs(120);

/// The longest sleep between two looks at the wall clock during a long
/// wait. Sleeps run on the monotonic clock, which stands still while the
/// machine is suspended: after a resume a wait is at most this late. A
/// wake-up every five minutes costs nothing measurable.
const STRETCH: Duration = Duration::from_secs(300);

/// Waits for instants: through the scheduler for long waits on the real
/// clock, through the clock alone on an injected one.
#[derive(Clone)]
pub struct Waiter {
    clock: SharedClock,
    scheduler: Option<Arc<JobScheduler>>,
    hand_over: Duration,
    stretch: Duration,
}

impl Waiter {
    /// A waiter on the real clock, backed by tokio-cron-scheduler.
    pub async fn with_scheduler(clock: SharedClock) -> Result<Waiter, String> {
        let mut scheduler = JobScheduler::new()
            .await
            .map_err(|e| format!("cannot set up the scheduler: {e}"))?;
        scheduler
            .init()
            .await
            .map_err(|e| format!("cannot set up the scheduler: {e}"))?;
        Ok(Waiter {
            clock,
            scheduler: Some(Arc::new(scheduler)),
            hand_over: HAND_OVER,
            stretch: STRETCH,
        })
    }

    /// A waiter on the clock alone (injected clocks: tests, rehearsals).
    pub fn on_clock(clock: SharedClock) -> Waiter {
        Waiter {
            clock,
            scheduler: None,
            hand_over: HAND_OVER,
            stretch: STRETCH,
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
            // Come back a little early, then finish on the clock.
            if let Err(e) = self
                .sleep_on_scheduler(scheduler, left - self.hand_over / 2)
                .await
            {
                tracing::warn!("{e}; waiting on the clock instead");
            }
        }
        self.clock.sleep_until(deadline).await;
    }

    /// Sleeps until the one-shot job made for `after` from now is due, as
    /// the scheduler reckons it against the wall clock.
    async fn sleep_on_scheduler(
        &self,
        scheduler: &Arc<JobScheduler>,
        after: Duration,
    ) -> Result<(), String> {
        let job = Job::new_one_shot(after, |_, _| {})
            .map_err(|e| format!("cannot make a scheduler job ({e})"))?;
        let id = scheduler
            .add(job)
            .await
            .map_err(|e| format!("the scheduler refused a job ({e})"))?;
        // This wait may be cancelled (a reload, a stop): the job must not
        // outlive it.
        let owner = scheduler.clone();
        let _remove = OnDrop(Some(move || {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    if let Err(e) = owner.remove(&id).await {
                        tracing::debug!("could not remove a scheduler job: {e}");
                    }
                });
            }
        }));
        loop {
            let due = (**scheduler)
                .clone()
                .next_tick_for_job(id)
                .await
                .map_err(|e| format!("the scheduler lost a job ({e})"))?;
            let Some(due) = due else { return Ok(()) };
            match (due - Utc::now()).to_std() {
                Ok(left) if !left.is_zero() => tokio::time::sleep(left.min(self.stretch)).await,
                _ => return Ok(()),
            }
        }
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
        // Short stretches: the scheduler's instant is looked up again.
        waiter.stretch = Duration::from_millis(300);
        let scheduler = waiter.scheduler.clone().unwrap();
        // The scheduler counts whole seconds: leave it a few.
        let target = clock.now() + chrono::Duration::milliseconds(3500);
        let wait = tokio::spawn(async move { waiter.wait_until(target).await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        // The scheduler holds the instant while we wait (a wait on the
        // clock alone would leave it empty).
        let held = (*scheduler).clone().time_till_next_job().await.unwrap();
        assert!(
            held.is_some_and(|d| d <= Duration::from_secs(4)),
            "the scheduler holds {held:?}"
        );
        wait.await.unwrap();
        let now = clock.now();
        assert!(now >= target, "woke early");
        // Generous: this checks the hand-over works, not punctuality (a
        // benchmark measures that).
        assert!(
            now - target < chrono::Duration::seconds(5),
            "woke {} late",
            now - target
        );
    }
}
