//! One-off chats: `chathost chat --now` (on the real account) and
//! `chathost rehearse` (a whole chat from the host's files against the
//! built-in sandbox, with simulated participants, on a fast clock).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Duration, DurationRound, NaiveDate, Utc};
use tokio::sync::mpsc;

use crate::clock::{ScaledClock, SharedClock};
use crate::config::{self, Config, Software};
use crate::diagnostic::Diagnostic;
use crate::engine::service;
use crate::engine::{Event, Shutdown};
use crate::plan::{self, Occurrence};
use crate::prompts::{self, QuestionFile, Templates};
use crate::sandbox::{Flavour, Sandbox, SandboxConfig};
use crate::secret::Secret;

/// Settings for a chat starting about a minute after `now`, with the
/// questions of the chat's next date and no reminders; returns the
/// settings, the chat date and the one-off chat's name (distinct from the
/// weekly chat's, so the weekly record is not touched).
pub fn one_off(
    config: &Config,
    name: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(Config, Occurrence, String), String> {
    let chat = match name {
        Some(n) => crate::collect::command::find_chat(config, n)?,
        None if config.chats.len() == 1 => &config.chats[0],
        None => {
            let names: Vec<&str> = config.chats.iter().map(|c| c.name.as_str()).collect();
            return Err(format!(
                "bot.toml has several chats; pick one with --chat ({})",
                names.join(", ")
            ));
        }
    };
    let next = plan::occurrences(chat, now)
        .next()
        .ok_or("no upcoming chat date")?;
    let questions = match prompts::question_file(chat, next.date) {
        QuestionFile::Found { path, .. } => path,
        QuestionFile::Missing { expected } => {
            return Err(format!(
                "no question file for the next chat ({}) and no fallback: add {}",
                next.date,
                expected.display()
            ));
        }
        QuestionFile::Unusable { problem, .. } => return Err(problems(next.date, &[problem])),
    };
    let start = now.duration_trunc(Duration::minutes(1)).unwrap_or(now) + Duration::minutes(2);
    let local = start.with_timezone(&chat.zone);
    let mut one = chat.clone();
    one.name = format!("{}_now_{}", chat.name, now.format("%Y%m%d%H%M%S"));
    one.reminders.clear();
    // The next date's questions, whatever today's date is.
    one.fallback = Some(questions.clone());
    // Dated as the next chat, so that the engine reads the same questions
    // as were checked here (today's file, if any, already went out).
    let occ = Occurrence {
        date: next.date,
        start: local,
        start_note: None,
    };
    // Every post is rendered now: a broken file or template ends the
    // one-off chat here, with the error, instead of a chat that waits for
    // questions that never come.
    let steps = prompts::load_questions(&questions, true, &one).and_then(|qs| {
        let templates = Templates::load(&one.prompts_dir)?.0;
        plan::build_steps(&one, &occ, &qs, &templates, None).map_err(|d| vec![d])
    });
    if let Err(diags) = steps {
        return Err(problems(next.date, &diags));
    }
    let mut settings = config.clone();
    settings.chats = vec![one.clone()];
    Ok((settings, occ, one.name))
}

/// The errors that stop a one-off chat, as `chathost check` shows them.
fn problems(date: NaiveDate, diags: &[Diagnostic]) -> String {
    let shown: String = diags.iter().map(ToString::to_string).collect();
    format!(
        "the posts of the next chat ({date}) cannot be prepared:\n{}\nfix them (`chathost check` lists every problem) and try again",
        shown.trim_end()
    )
}

/// How much faster than real time a rehearsal may run: slower than real
/// time is pointless, faster than an hour a second leaves the sandbox's
/// participants no time to answer.
pub const SPEEDS: std::ops::RangeInclusive<f64> = 1.0..=3600.0;

/// The most simulated participants a rehearsal runs (each is a task with
/// its own timeline reader).
pub const MAX_PARTICIPANTS: usize = 500;

/// Reads `--speed`: a finite number within [`SPEEDS`].
pub fn parse_speed(s: &str) -> Result<f64, String> {
    let range = || {
        format!(
            "the speed must be a number from {} to {} (times faster than real time; 60 runs the hour in a minute)",
            SPEEDS.start(),
            SPEEDS.end()
        )
    };
    match s.trim().parse::<f64>() {
        Ok(v) if SPEEDS.contains(&v) => Ok(v),
        _ => Err(range()),
    }
}

/// Runs a whole chat from the host's files against an in-process sandbox,
/// `speed` times faster than real time, printing each post as it goes.
pub async fn rehearse(
    path: &Path,
    speed: f64,
    participants: usize,
    keep: Option<&Path>,
    out: &mut dyn Write,
) -> Result<(), String> {
    parse_speed(&speed.to_string())?;
    if participants > MAX_PARTICIPANTS {
        return Err(format!(
            "--participants must be from 0 to {MAX_PARTICIPANTS}"
        ));
    }
    let loaded =
        config::load(path).map_err(|d| d.iter().map(ToString::to_string).collect::<String>())?;
    let clock: SharedClock = Arc::new(ScaledClock::new(Utc::now(), speed));
    let (mut settings, occ, name) = one_off(&loaded.config, None, clock.now())?;
    // `one_off` returns settings with exactly the one-off chat. A rehearsal
    // reads no real server: other instances are left out.
    settings.chats[0].collect.extra_sources.clear();
    let chat = settings.chats[0].clone();

    let sandbox = Sandbox::start(SandboxConfig {
        flavour: Flavour::Mastodon,
        participants,
        hashtag: chat.hashtag.clone(),
        clock: clock.clone(),
        max_characters: Some(settings.instance.max_characters),
        // Some participants send the bot commands (next, optout, …).
        commands: true,
        ..SandboxConfig::default()
    })
    .await
    .map_err(|e| format!("cannot start the sandbox: {e}"))?;
    let state = match keep {
        Some(dir) => kept_dir(dir)?,
        None => std::env::temp_dir().join(format!("chathost-rehearsal-{}", std::process::id())),
    };
    // The archive goes with the rehearsal's state, never to the real one;
    // its links would point at the sandbox, not the published archive.
    settings.chats[0].archive.dir = state.join("archive");
    settings.chats[0].archive.url = None;
    settings.instance.url = sandbox.base_url().to_string();
    settings.instance.software = Software::Mastodon;
    settings.state_dir = state.clone();
    let _ = writeln!(
        out,
        "Rehearsing #{} at {speed}x against the sandbox at {} with {participants} simulated participants.\nQuestions: {}\n",
        chat.hashtag,
        sandbox.base_url(),
        chat.fallback
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    );

    let (events_tx, mut events) = mpsc::unbounded_channel();
    let (trigger, shutdown) = Shutdown::new();
    let fatal = shutdown.clone();
    let started = service::start(service::Parts {
        config: settings,
        token: Secret::new(sandbox.bot().token.expose()),
        clock: clock.clone(),
        use_scheduler: false,
        events: Some(events_tx),
        shutdown,
    })
    .await;
    let started = match started {
        Ok(s) => s,
        Err(e) => {
            sandbox.shutdown().await;
            let _ = std::fs::remove_dir_all(&state);
            return Err(e);
        }
    };
    let mut engine = started.engine.clone();
    let store = engine.store.clone();
    let (chat_name, chat_date) = (name.clone(), occ.date);
    // Participants' commands are answered beside the chat, as in the service.
    let mentions = service::spawn_mentions(&engine);
    let mut run = tokio::spawn(async move { engine.run_occurrence(&name, &occ).await });

    let zone = chat.zone;
    let mut posted = 0;
    let mut failure = None;
    let mut finished = false;
    // Whether the engine finished the chat date (false: stopped, or a
    // part failed); `None` until its task has ended.
    let mut completed = None;
    let mut archived = None;
    loop {
        // The chat can also end without a ChatDone (skipped): stop when
        // the engine's task does, never wait on a quiet channel.
        let event = if finished {
            events.try_recv().ok()
        } else {
            tokio::select! {
                e = events.recv() => e,
                ended = &mut run => {
                    finished = true;
                    completed = Some(ended.unwrap_or(false));
                    events.try_recv().ok()
                }
            }
        };
        let Some(event) = event else { break };
        match event {
            Event::Posted {
                planned, at, text, ..
            } => {
                posted += 1;
                let late = (at - planned).num_milliseconds() as f64 / 1000.0;
                let _ = writeln!(
                    out,
                    "{}  (+{late:.1}s)  {}",
                    planned.with_timezone(&zone).format("%H:%M"),
                    prompts::escape_controls(&text).replace('\n', "\n                ")
                );
            }
            Event::Skipped { key, reason, .. } => {
                let _ = writeln!(out, "       left out {key}: {reason}");
            }
            Event::Failed { key, reason, .. } => {
                let _ = writeln!(out, "       FAILED {key}: {reason}");
            }
            // Checked before the start, so only an edit during the
            // rehearsal gets here.
            Event::BrokenQuestions {
                kept_last_good: false,
                problem,
                ..
            } => {
                failure = Some(problem);
                break;
            }
            Event::BrokenQuestions { .. } | Event::NoQuestions { .. } => {}
            Event::ChatDone { .. } => {
                let _ = writeln!(
                    out,
                    "\n--- the chat is over; the recap follows after the sweep ---\n"
                );
            }
            Event::Replied {
                from,
                command,
                text,
                ..
            } => {
                let _ = writeln!(
                    out,
                    "       @{from} asked `{command}`; the bot replied (direct):\n                {}",
                    prompts::escape_controls(&text).replace('\n', "\n                ")
                );
            }
            Event::Unanswered { from, why, .. } => {
                let _ = writeln!(out, "       @{from}: no reply ({why})");
            }
            Event::Archived { dir, .. } => {
                let _ = writeln!(out, "\nArchive written to {}", dir.display());
                archived = Some(dir);
            }
        }
        let _ = out.flush();
    }
    if failure.is_some() {
        run.abort();
    }
    if !finished {
        completed = Some(run.await.unwrap_or(false));
    }
    let made = sandbox.answers_made();
    let answers: Vec<_> = made.iter().filter(|a| a.deleted_at.is_none()).collect();
    let people: std::collections::BTreeSet<_> = answers.iter().map(|a| a.acct.clone()).collect();
    let _ = writeln!(
        out,
        "\nDone: {posted} posts by the bot; {} answers from {} participants reached the sandbox.",
        answers.len(),
        people.len()
    );
    if chat.collect.enabled {
        let collected = collected_by_question(&store, &chat_name, chat_date);
        let _ = write!(out, "{}", collection_table(&made, &collected));
    }
    // Stop the mentions task (it holds the store) before the sandbox goes.
    trigger.trigger();
    let _ = mentions.await;
    sandbox.shutdown().await;
    match keep {
        Some(_) => {
            let _ = write!(
                out,
                "\nKept the rehearsal's state and archive in {}",
                state.display()
            );
            let _ = match archived {
                Some(dir) => writeln!(out, ": open {}", dir.join("index.html").display()),
                None => writeln!(out, " (no archive was written)"),
            };
        }
        None => {
            let _ = std::fs::remove_dir_all(&state);
        }
    }
    match (failure, fatal.fatal(), completed) {
        (Some(problem), _, _) => Err(format!(
            "the question file broke during the rehearsal:\n{}",
            problem.trim_end()
        )),
        (None, Some(reason), _) => Err(format!("the chat stopped: {reason}")),
        (None, None, Some(false)) => Err("the chat did not finish (see the log above)".into()),
        (None, None, _) => Ok(()),
    }
}

/// Visible answers the store holds per question (`None`: before the first),
/// as `chathost answers` counts them.
fn collected_by_question(
    store: &crate::store::Store,
    name: &str,
    date: NaiveDate,
) -> std::collections::BTreeMap<Option<u32>, usize> {
    crate::collect::command::answers_report(store, name, date)
        .map(|r| {
            let counted = r.questions.iter().filter(|q| !q.answers.is_empty());
            counted.map(|q| (q.number, q.answers.len())).collect()
        })
        .unwrap_or_default()
}

/// Per question: what the sandbox's participants posted (still there, and
/// not by the automated account, which is no participant) next to what
/// was collected.
fn collection_table(
    made: &[crate::sandbox::AnswerMade],
    collected: &std::collections::BTreeMap<Option<u32>, usize>,
) -> String {
    use std::fmt::Write as _;
    let mut posted = std::collections::BTreeMap::new();
    let mut automated = 0;
    for a in made.iter().filter(|a| a.deleted_at.is_none()) {
        if a.bot {
            automated += 1;
        } else {
            *posted.entry(Some(a.question)).or_insert(0usize) += 1;
        }
    }
    let mut keys: std::collections::BTreeSet<Option<u32>> = posted.keys().copied().collect();
    keys.extend(collected.keys().copied());
    let mut out =
        String::from("\nAnswers collected per question (posted by participants = collected):\n");
    let mut all_match = true;
    for key in keys {
        let p = posted.get(&key).copied().unwrap_or(0);
        let c = collected.get(&key).copied().unwrap_or(0);
        all_match &= p == c;
        let label = key.map_or_else(|| "before Q1".to_string(), |n| format!("Q{n}"));
        let mark = if p == c { "" } else { "  <- differs" };
        let _ = writeln!(out, "  {label:>9}: posted {p:>4} = collected {c:>4}{mark}");
    }
    if automated > 0 {
        let _ = writeln!(
            out,
            "  ({automated} answer{} by an automated account, not a participant, not collected)",
            if automated == 1 { "" } else { "s" }
        );
    }
    if !all_match {
        out.push_str("  Some counts differ: see above.\n");
    }
    out
}

/// The folder `rehearse --keep` writes into: new or empty, so that an
/// earlier rehearsal's store cannot make this one post nothing.
fn kept_dir(dir: &Path) -> Result<PathBuf, String> {
    let not_empty = std::fs::read_dir(dir).map(|mut d| d.next().is_some());
    match not_empty {
        Ok(true) => Err(format!(
            "{} is not empty: keep the rehearsal in a new or empty folder",
            dir.display()
        )),
        Ok(false) => Ok(dir.to_path_buf()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir_all(dir)
            .map(|()| dir.to_path_buf())
            .map_err(|e| format!("cannot create {}: {e}", dir.display())),
        Err(e) => Err(format!("cannot read {}: {e}", dir.display())),
    }
}
