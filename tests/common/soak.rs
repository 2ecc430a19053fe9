//! The fault soak's judge (`tests/fault_soak.rs`): what a chat evening
//! under faults left on the sandbox and in the store, against what was
//! planned and what the participants did, as a printed report of counts
//! that must be zero.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chathost::plan::{Step, StepKind};
use chathost::sandbox::{COMMAND_SEATS, FaultKind, Sandbox, StatusRecord};
use chathost::store::{ChatId, ChatRecord, RecapState, StepRecord, StepState, Store};
use chrono::NaiveDate;

/// What a soak is judged against.
pub struct Chat<'a> {
    /// The sandbox the chat ran on (its record is the truth).
    pub sandbox: &'a Sandbox,
    /// The engine's store.
    pub store: &'a Store,
    /// The chat's name.
    pub name: &'a str,
    /// Its local date.
    pub date: NaiveDate,
    /// The steps as planned (`chathost plan`).
    pub planned: &'a [Step],
    /// The chat's archive folder (`state/archive/NAME`).
    pub archive: PathBuf,
    /// The fault kinds that should all have fired.
    pub kinds: &'a [FaultKind],
}

/// The bot's replies to status `id`.
pub fn replies_to(sandbox: &Sandbox, id: &str) -> Vec<StatusRecord> {
    (sandbox.replies_by_bot().into_iter())
        .filter(|s| s.in_reply_to_id.as_deref() == Some(id))
        .collect()
}

/// Command mentions as (sender, status id, replies due): one reply for a
/// known word, none for the unknown `dance`.
pub fn commands(sandbox: &Sandbox) -> Vec<(String, String, usize)> {
    let unknown = COMMAND_SEATS.last().map(|c| c.1).unwrap_or_default();
    (sandbox.mentions_made().into_iter())
        .filter(|m| m.command)
        .map(|m| {
            let due = usize::from(!m.text.ends_with(unknown));
            (m.acct, m.status_id, due)
        })
        .collect()
}

/// What a soak found: the figures of the report. Every count but the
/// fault figures must be zero.
#[derive(Debug, Default)]
pub struct Report {
    /// Which soak: flavour, seed, mix.
    pub what: String,
    /// Requests seen, and those a fault hit, by route.
    pub routes: BTreeMap<String, (usize, usize)>,
    /// Faults fired, by kind (stream ones included).
    pub fired: BTreeMap<String, usize>,
    /// Kinds of [`Chat::kinds`] that never fired.
    pub kinds_not_fired: Vec<String>,
    /// Steps in the plan (recap apart).
    pub steps_planned: usize,
    /// On the server more than once, or a bot post nobody planned.
    pub steps_doubled: Vec<String>,
    /// Not on the server.
    pub steps_missed: Vec<String>,
    /// Left out as the catch-up policy allows (a reminder or last call
    /// whose moment passed while the server asked for a pause): reported,
    /// not a broken promise.
    pub steps_left_out: Vec<String>,
    /// On the server, but the store does not record it posted.
    pub steps_unsettled: Vec<String>,
    /// Answers the participants made and kept.
    pub answers_made: usize,
    /// Made and kept but not stored under their question.
    pub answers_lost: Vec<String>,
    /// Shown in the store but not made (deleted, or twice).
    pub answers_extra: usize,
    /// Posts of the stored recap thread.
    pub recap_posts: usize,
    /// Recap posts on the server more than once.
    pub recap_doubled: Vec<String>,
    /// Recap posts not posted, not on the server or off the thread; a
    /// recap not done.
    pub recap_missing: Vec<String>,
    /// Archive files not written.
    pub archive_missing: Vec<String>,
    /// Commands the participants sent.
    pub commands: usize,
    /// Commands answered more than once (or `dance` answered).
    pub replies_doubled: Vec<String>,
    /// Known commands not answered.
    pub replies_missing: Vec<String>,
    /// Real time the soak took.
    pub real_seconds: f64,
}

impl Report {
    /// Whether every promise held.
    pub fn is_zero(&self) -> bool {
        self.steps_doubled.is_empty()
            && self.steps_missed.is_empty()
            && self.steps_unsettled.is_empty()
            && self.answers_lost.is_empty()
            && self.answers_extra == 0
            && self.recap_doubled.is_empty()
            && self.recap_missing.is_empty()
            && self.archive_missing.is_empty()
            && self.replies_doubled.is_empty()
            && self.replies_missing.is_empty()
    }

    /// The share of HTTP requests that failed.
    pub fn failed_share(&self) -> f64 {
        let (total, hit) = (self.routes.values()).fold((0, 0), |(t, h), r| (t + r.0, h + r.1));
        hit as f64 / total.max(1) as f64
    }

    /// Everything wrong with this soak: a broken promise, or a soak too
    /// mild to show anything.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !self.is_zero() {
            problems.push("a promise broken (see the report)".to_string());
        }
        let share = self.failed_share();
        if share < 0.10 {
            problems.push(format!("only {:.1} % of requests failed", share * 100.0));
        }
        // The soak soaked: faults hit the routes that matter.
        for route in ["POST /api/v1/statuses", "GET /api/v1/timelines/tag/{tag}"] {
            if self.routes.get(route).map_or(0, |r| r.1) == 0 {
                problems.push(format!("no fault hit {route}"));
            }
        }
        if self.commands == 0 || self.answers_made == 0 {
            problems.push("no command or no answer was made".to_string());
        }
        if !self.kinds_not_fired.is_empty() {
            problems.push(format!("never fired: {:?}", self.kinds_not_fired));
        }
        problems
    }

    /// Fails the test on any [`Report::problems`].
    pub fn assert_zero(&self) {
        let problems = self.problems();
        assert!(
            problems.is_empty(),
            "{}: {problems:?}\n{self:#?}",
            self.what
        );
    }

    /// Prints the report (with `--nocapture`, or on failure).
    pub fn print(&self) {
        let total: usize = self.routes.values().map(|r| r.0).sum();
        let mut out = format!(
            "== fault soak {}: {:.1} % of {total} requests failed, {:.1} s real\n",
            self.what,
            100.0 * self.failed_share(),
            self.real_seconds
        );
        for (route, (t, h)) in &self.routes {
            out += &format!("   {h:>4} of {t:>5}  {route}\n");
        }
        out += "   faults fired by kind:";
        for (kind, n) in &self.fired {
            out += &format!(" {kind} ×{n};");
        }
        out += &format!("\n   kinds never fired: {:?}\n", self.kinds_not_fired);
        let n = |v: &Vec<String>| format!("{} {v:?}", v.len());
        out += &format!(
            "   steps {}: doubled {}, missed {}, left out by the catch-up policy {}, \
             on the server but not recorded posted {}\n   answers {}: lost {}, extra {}\n   \
             recap posts {}: doubled {}, missing {}; archive missing {}\n   \
             commands {}: replies doubled {}, missing {}\n",
            self.steps_planned,
            n(&self.steps_doubled),
            n(&self.steps_missed),
            n(&self.steps_left_out),
            n(&self.steps_unsettled),
            self.answers_made,
            n(&self.answers_lost),
            self.answers_extra,
            self.recap_posts,
            n(&self.recap_doubled),
            n(&self.recap_missing),
            n(&self.archive_missing),
            self.commands,
            n(&self.replies_doubled),
            n(&self.replies_missing),
        );
        eprint!("{out}");
    }
}

/// Checks everything against the sandbox's record.
pub fn judge(chat: &Chat, what: String) -> Report {
    let mut report = Report {
        what,
        ..Report::default()
    };
    for r in chat.sandbox.log().records() {
        let route = report.routes.entry(r.key()).or_default();
        route.0 += 1;
        route.1 += usize::from(r.fault.is_some());
    }
    let fired = chat.sandbox.faults().fired();
    for kind in &fired {
        *report.fired.entry(format!("{kind:?}")).or_default() += 1;
    }
    report.kinds_not_fired = (chat.kinds.iter())
        .filter(|k| !fired.contains(k))
        .map(|k| format!("{k:?}"))
        .collect();
    let record = (chat.store)
        .chat(chat.name, chat.date)
        .unwrap()
        .expect("the chat is stored");
    let steps = chat.store.steps(record.id).unwrap();
    let bot: Vec<StatusRecord> = (chat.sandbox.statuses_of("chatbot").into_iter())
        .filter(|s| s.deleted_at.is_none())
        .collect();
    judge_steps(chat, &steps, &bot, &mut report);
    judge_recap(chat, &record, &steps, &bot, &mut report);
    judge_answers(chat, record.id, &mut report);
    for (acct, id, due) in commands(chat.sandbox) {
        report.commands += 1;
        let got = replies_to(chat.sandbox, &id).len();
        if got > due {
            report.replies_doubled.push(format!("{acct}: {got}"));
        } else if got < due {
            report.replies_missing.push(acct);
        }
    }
    report
}

/// Whether the catch-up policy may leave a step of `kind` out for `why`:
/// a reminder once the chat began, a last call once the wrap-up is due —
/// for instance when the server asked for a pause past that moment (a 429
/// with `X-RateLimit-Remaining: 0` and its reset 5 minutes ahead). Welcome,
/// questions and wrap-up are never left out here (`missed = "post"`).
fn may_leave_out(kind: &StepKind, why: &str) -> bool {
    matches!(kind, StepKind::Reminder { .. } | StepKind::LastCall)
        && (why.contains("moment for it has passed") || why.contains("Skipped"))
}

fn copies(bot: &[StatusRecord], text: &str) -> usize {
    bot.iter().filter(|s| s.text == text).count()
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

/// Every planned step once on the server and posted in the store; no bot
/// post that is neither a step, the recap nor a reply to someone.
fn judge_steps(chat: &Chat, steps: &[StepRecord], bot: &[StatusRecord], report: &mut Report) {
    let planned = chat.planned;
    report.steps_planned = planned.len();
    for step in planned {
        let name = first_line(&step.text);
        let stored = match steps.iter().find(|s| s.text == step.text) {
            Some(s) if s.state == StepState::Posted => None,
            Some(s) => Some(format!("{name}: {:?} ({:?})", s.state, s.reason)),
            None => Some(format!("{name}: not stored")),
        };
        match (copies(bot, &step.text), stored) {
            (0, None) => report
                .steps_missed
                .push(format!("{name}: not on the server")),
            (0, Some(why)) if may_leave_out(&step.kind, &why) => report.steps_left_out.push(why),
            (0, Some(why)) => report.steps_missed.push(why),
            (_, Some(why)) => report.steps_unsettled.push(why),
            (1, None) => {}
            (n, None) => report.steps_doubled.push(format!("{name}: {n} times")),
        }
    }
    let replies: Vec<String> = chat
        .sandbox
        .replies_by_bot()
        .into_iter()
        .map(|s| s.id)
        .collect();
    for status in bot {
        let known = planned.iter().any(|s| s.text == status.text)
            || steps
                .iter()
                .any(|s| s.kind.is_recap() && s.text == status.text)
            || replies.contains(&status.id);
        if !known {
            let name = first_line(&status.text);
            report.steps_doubled.push(format!("not planned: {name}"));
        }
    }
}

/// The recap thread: done, each stored post once on the server, chained;
/// the archive's files written.
fn judge_recap(
    chat: &Chat,
    record: &ChatRecord,
    steps: &[StepRecord],
    bot: &[StatusRecord],
    report: &mut Report,
) {
    if record.recap != Some(RecapState::Done) {
        let state = format!("recap {:?}: {:?}", record.recap, record.recap_note);
        report.recap_missing.push(state);
    }
    let thread: Vec<_> = steps.iter().filter(|s| s.kind.is_recap()).collect();
    report.recap_posts = thread.len();
    if thread.len() < 5 {
        let n = thread.len();
        report
            .recap_missing
            .push(format!("{n} posts: head, 3 questions, end"));
    }
    let mut previous: Option<&str> = None;
    for step in &thread {
        let on_server = (step.remote.as_ref()).and_then(|r| bot.iter().find(|s| s.id == r.id));
        match (step.state, on_server) {
            (StepState::Posted, Some(status)) => {
                if status.in_reply_to_id.as_deref() != previous {
                    report
                        .recap_missing
                        .push(format!("{}: off the thread", step.key));
                }
                previous = Some(&status.id);
            }
            (state, _) => {
                (report.recap_missing).push(format!("{}: {state:?} ({:?})", step.key, step.reason))
            }
        }
        let n = copies(bot, &step.text);
        if n > 1 {
            report
                .recap_doubled
                .push(format!("{}: {n} times", step.key));
        }
    }
    let root = &chat.archive;
    let date = chat.date.to_string();
    let files = ["index.html", "transcript.md", "chat.json", "activity.svg"];
    let files = files.iter().map(|f| root.join(&date).join(f));
    for path in files.chain([root.join("index.html"), root.join("feed.xml")]) {
        if !path.is_file() {
            report.archive_missing.push(path.display().to_string());
        }
    }
}

/// Every answer made and not deleted is stored once under its question;
/// nothing else is shown.
fn judge_answers(chat: &Chat, id: ChatId, report: &mut Report) {
    let stored = chat.store.answers(id).unwrap();
    let visible: Vec<_> = (chat.sandbox.answers_made().into_iter())
        .filter(|a| !a.bot && a.deleted_at.is_none())
        .collect();
    report.answers_made = visible.len();
    for a in &visible {
        let got = stored.iter().find(|s| s.uri == a.uri);
        match got {
            Some(s) if s.deleted_at.is_none() && s.question == Some(a.question) => {}
            Some(s) => (report.answers_lost).push(format!(
                "{} (Q{}): stored as Q{:?}, deleted {:?}",
                a.uri, a.question, s.question, s.deleted_at
            )),
            None => report
                .answers_lost
                .push(format!("{} (Q{})", a.uri, a.question)),
        }
    }
    report.answers_extra = (stored.iter())
        .filter(|s| s.deleted_at.is_none() && !visible.iter().any(|a| a.uri == s.uri))
        .count();
}
