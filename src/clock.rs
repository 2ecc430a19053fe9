//! Time, injected: every part of chathost that asks "what time is it?" or
//! waits for an instant does so through a [`Clock`], so a test or a rehearsal
//! can run an hour-long chat in seconds and replay DST days.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// A boxed future, as returned by [`Clock::sleep_until`].
pub type Sleep<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// A source of the current instant and a way to wait for a later one.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
    /// Completes once [`Clock::now`] has reached `deadline`.
    fn sleep_until(&self, deadline: DateTime<Utc>) -> Sleep<'_>;
    /// As [`Clock::sleep_until`], but as close after `deadline` as the
    /// machine allows: the moment a post is sent. Only for short waits.
    fn sleep_until_exact(&self, deadline: DateTime<Utc>) -> Sleep<'_> {
        self.sleep_until(deadline)
    }
}

/// tokio's timer rounds a wait up to its next millisecond tick; the last
/// stretch before a post's instant is covered by yielding instead.
const TIMER_TICK: chrono::Duration = chrono::Duration::milliseconds(2);
const YIELD_AT_MOST: Duration = Duration::from_millis(5);

/// A shared clock handle.
pub type SharedClock = Arc<dyn Clock>;

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, deadline: DateTime<Utc>) -> Sleep<'_> {
        Box::pin(async move {
            // Sleep in bounded slices and look at the wall clock again: a
            // suspended laptop or an NTP step must not make us post late.
            loop {
                let left = deadline - Utc::now();
                let Ok(left) = left.to_std() else { return };
                if left.is_zero() {
                    return;
                }
                tokio::time::sleep(left.min(Duration::from_secs(30))).await;
            }
        })
    }

    fn sleep_until_exact(&self, deadline: DateTime<Utc>) -> Sleep<'_> {
        Box::pin(async move {
            self.sleep_until(deadline - TIMER_TICK).await;
            // About TIMER_TICK of yielding (other tasks still run), once per
            // post; bounded by the monotonic clock too, so a wall clock
            // stepped back meanwhile is slept through, never spun through.
            let yielding = std::time::Instant::now();
            while Utc::now() < deadline {
                if yielding.elapsed() > YIELD_AT_MOST {
                    return self.sleep_until(deadline).await;
                }
                tokio::task::yield_now().await;
            }
        })
    }
}

/// A clock that starts at a chosen instant and runs `speed` times faster than
/// real time: `chathost rehearse` and the tests use it to compress a chat.
#[derive(Debug, Clone)]
pub struct ScaledClock {
    origin: DateTime<Utc>,
    started: tokio::time::Instant,
    speed: f64,
}

impl ScaledClock {
    /// A clock reading `origin` now and advancing `speed` virtual seconds per
    /// real second. `speed` must be positive.
    pub fn new(origin: DateTime<Utc>, speed: f64) -> Self {
        assert!(speed > 0.0, "clock speed must be positive");
        ScaledClock {
            origin,
            started: tokio::time::Instant::now(),
            speed,
        }
    }

    /// A clock that read `origin` at the wall-clock instant `anchor`: two
    /// processes given the same anchor agree on the time (the crash tests
    /// run the engine in a child process against a sandbox in the test).
    pub fn anchored(origin: DateTime<Utc>, anchor: std::time::SystemTime, speed: f64) -> Self {
        let mut clock = ScaledClock::new(origin, speed);
        let elapsed = anchor.elapsed().unwrap_or_default();
        clock.started = tokio::time::Instant::now()
            .checked_sub(elapsed)
            .unwrap_or(clock.started);
        clock
    }

    /// How many virtual seconds pass per real second.
    pub fn speed(&self) -> f64 {
        self.speed
    }

    fn real_until(&self, deadline: DateTime<Utc>) -> Duration {
        let virtual_left = (deadline - self.now()).to_std().unwrap_or_default();
        virtual_left.div_f64(self.speed)
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> DateTime<Utc> {
        let real = self.started.elapsed();
        let virt = real.mul_f64(self.speed);
        self.origin + chrono::Duration::from_std(virt).unwrap_or(chrono::Duration::MAX)
    }

    fn sleep_until(&self, deadline: DateTime<Utc>) -> Sleep<'_> {
        Box::pin(async move {
            loop {
                let left = self.real_until(deadline);
                if left.is_zero() {
                    return;
                }
                tokio::time::sleep(left).await;
            }
        })
    }
}

/// A clock for tests that jumps straight to each instant waited for, so a
/// whole season of chats runs in moments and every post lands at exactly
/// its planned instant. Only one party may wait on it at a time (with
/// several, whoever waits first would move the time for all).
#[derive(Debug)]
pub struct JumpClock {
    now: std::sync::Mutex<DateTime<Utc>>,
}

impl JumpClock {
    /// A clock reading `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        JumpClock {
            now: std::sync::Mutex::new(start),
        }
    }

    /// Moves the time forward (never back).
    pub fn advance_to(&self, t: DateTime<Utc>) {
        let mut now = self.now.lock().expect("clock lock");
        if t > *now {
            *now = t;
        }
    }
}

impl Clock for JumpClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().expect("clock lock")
    }

    fn sleep_until(&self, deadline: DateTime<Utc>) -> Sleep<'_> {
        self.advance_to(deadline);
        // Yield, so that a waiter in a loop lets other tasks run.
        Box::pin(tokio::task::yield_now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn scaled_clock_runs_an_hour_in_six_seconds_at_600x() {
        let start = DateTime::parse_from_rfc3339("2027-03-24T20:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = ScaledClock::new(start, 600.0);
        let real = tokio::time::Instant::now();
        clock
            .sleep_until(start + chrono::Duration::minutes(60))
            .await;
        assert!(clock.now() >= start + chrono::Duration::minutes(60));
        assert_eq!(real.elapsed().as_secs(), 6);
    }

    /// A post's send never leaves before its instant, whatever the timer's
    /// rounding (the last stretch is yielded through, not slept).
    #[tokio::test(flavor = "current_thread")]
    async fn the_exact_wait_of_the_wall_clock_never_ends_early() {
        for ms in [0, 1, 3, 17, 40] {
            let deadline = Utc::now() + chrono::Duration::milliseconds(ms);
            SystemClock.sleep_until_exact(deadline).await;
            let now = Utc::now();
            assert!(now >= deadline, "{ms} ms: woke {} early", deadline - now);
        }
        // A deadline already past returns at once.
        let past = Utc::now() - chrono::Duration::seconds(1);
        SystemClock.sleep_until_exact(past).await;
    }
}
