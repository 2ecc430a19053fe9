//! When to post a step, and whether to post it at all if its time has
//! passed — the catch-up policy a host would expect when chathost starts
//! late or was down during a chat. Pure: the host asks, this answers.
//!
//! - A step not yet due waits for its instant.
//! - A step due within the last minute is simply on time.
//! - A missed reminder is left out once it is more than the grace late, or
//!   once the chat has begun ("starts in 1 hour" must not appear at 20:10).
//! - Missed welcome and questions are posted late, in order, spaced out,
//!   while the chat lasts (`missed = "post"`), or left out (`"skip"`).
//! - The last call is left out once the wrap-up is due.
//! - The wrap-up goes out even late (a chat begun is finished), up to an
//!   hour after its moment.

use chrono::{DateTime, Duration, Utc};

use crate::config::{CatchUp, Missed};
use crate::plan::StepKind;

/// How late a step may be and still count as on time.
const ON_TIME: Duration = Duration::seconds(60);

/// How long after its moment a wrap-up still goes out.
pub const WRAP_UP_GRACE: Duration = Duration::hours(1);

/// The most a recap post can be late (a server down all evening): after
/// that the thread is left out, and `chathost recap --post` can still post
/// it on purpose.
pub const RECAP_LATEST: Duration = Duration::hours(12);

/// What to do with a step now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Wait until this instant, then ask again.
    WaitUntil(DateTime<Utc>),
    /// Post it now.
    PostNow,
    /// Leave it out, for this reason.
    Skip(String),
}

/// The moments of the chat a decision depends on.
#[derive(Debug, Clone, Copy)]
pub struct ChatTimes {
    /// When the chat starts.
    pub start: DateTime<Utc>,
    /// When the wrap-up is planned (the chat is over after it).
    pub wrap_up: DateTime<Utc>,
}

/// Decides about one step planned at `planned`, at `now`, given when the
/// chat's previous post went out (for spacing late posts).
pub fn decide(
    kind: StepKind,
    planned: DateTime<Utc>,
    now: DateTime<Utc>,
    times: ChatTimes,
    last_post: Option<DateTime<Utc>>,
    policy: &CatchUp,
) -> Decision {
    if planned > now {
        return Decision::WaitUntil(planned);
    }
    let late = now - planned;
    let spaced = || {
        let gap = Duration::seconds(i64::from(policy.spacing_seconds));
        match last_post {
            Some(prev) if prev + gap > now => Decision::WaitUntil(prev + gap),
            _ => Decision::PostNow,
        }
    };
    if late <= ON_TIME {
        return Decision::PostNow;
    }
    let minutes = late.num_minutes();
    match kind {
        StepKind::Reminder { .. } => {
            let grace = Duration::minutes(i64::from(policy.reminder_grace_minutes));
            if now >= times.start {
                Decision::Skip("the chat has already started".into())
            } else if late > grace {
                Decision::Skip(format!("{minutes} minutes late, past the reminder grace"))
            } else {
                Decision::PostNow
            }
        }
        // "That's a wrap" a day later would only confuse: an hour is the
        // most it can be late (as long as a failing one is retried).
        StepKind::WrapUp if now > times.wrap_up + WRAP_UP_GRACE => Decision::Skip(format!(
            "{minutes} minutes late, more than an hour after the chat"
        )),
        StepKind::WrapUp => spaced(),
        // A thread about the chat is still welcome the next morning; a
        // day later it would surprise.
        StepKind::Recap { .. } if late > RECAP_LATEST => Decision::Skip(format!(
            "{} hours late, more than {} hours after its time",
            late.num_hours(),
            RECAP_LATEST.num_hours()
        )),
        StepKind::Recap { .. } => Decision::PostNow,
        StepKind::LastCall if now >= times.wrap_up => Decision::Skip("the chat is over".into()),
        StepKind::LastCall | StepKind::Welcome | StepKind::Question { .. } => {
            if now >= times.wrap_up {
                Decision::Skip("the chat is over".into())
            } else if policy.missed == Missed::Skip {
                Decision::Skip(format!(
                    "missed by {minutes} minutes (catch_up.missed = \"skip\")"
                ))
            } else {
                spaced()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(hm: &str) -> DateTime<Utc> {
        format!("2026-12-02T{hm}:00Z").parse().unwrap()
    }

    fn times() -> ChatTimes {
        ChatTimes {
            start: t("20:00"),
            wrap_up: t("21:00"),
        }
    }

    const Q3: StepKind = StepKind::Question { number: 3 };

    #[test]
    fn a_future_step_waits_and_a_due_one_posts() {
        let p = CatchUp::default();
        assert_eq!(
            decide(Q3, t("20:25"), t("20:10"), times(), None, &p),
            Decision::WaitUntil(t("20:25"))
        );
        assert_eq!(
            decide(Q3, t("20:25"), t("20:25"), times(), None, &p),
            Decision::PostNow
        );
    }

    #[test]
    fn missed_questions_go_out_spaced_while_the_chat_lasts() {
        let p = CatchUp::default();
        assert_eq!(
            decide(Q3, t("20:25"), t("20:40"), times(), Some(t("20:30")), &p),
            Decision::PostNow
        );
        assert_eq!(
            decide(Q3, t("20:25"), t("20:40"), times(), Some(t("20:40")), &p),
            Decision::WaitUntil(t("20:41"))
        );
        assert!(matches!(
            decide(Q3, t("20:25"), t("21:05"), times(), None, &p),
            Decision::Skip(_)
        ));
    }

    #[test]
    fn a_wrap_up_goes_out_up_to_an_hour_late_and_not_after() {
        let p = CatchUp::default();
        assert_eq!(
            decide(StepKind::WrapUp, t("21:00"), t("21:59"), times(), None, &p),
            Decision::PostNow
        );
        assert!(matches!(
            decide(StepKind::WrapUp, t("21:00"), t("22:01"), times(), None, &p),
            Decision::Skip(_)
        ));
    }

    #[test]
    fn skip_policy_leaves_missed_questions_out_but_not_the_wrap_up() {
        let p = CatchUp {
            missed: Missed::Skip,
            ..CatchUp::default()
        };
        assert!(matches!(
            decide(Q3, t("20:25"), t("20:40"), times(), None, &p),
            Decision::Skip(_)
        ));
        assert_eq!(
            decide(StepKind::WrapUp, t("21:00"), t("21:40"), times(), None, &p),
            Decision::PostNow
        );
    }

    #[test]
    fn late_reminders_and_last_calls_are_left_out() {
        let p = CatchUp::default();
        let hour_before = StepKind::Reminder { lead_minutes: 60 };
        assert_eq!(
            decide(hour_before, t("19:00"), t("19:05"), times(), None, &p),
            Decision::PostNow
        );
        assert!(matches!(
            decide(hour_before, t("19:00"), t("19:30"), times(), None, &p),
            Decision::Skip(_)
        ));
        assert!(matches!(
            decide(hour_before, t("19:00"), t("20:01"), times(), None, &p),
            Decision::Skip(_)
        ));
        assert!(matches!(
            decide(
                StepKind::LastCall,
                t("20:55"),
                t("21:00"),
                times(),
                None,
                &p
            ),
            Decision::Skip(_)
        ));
    }
}
