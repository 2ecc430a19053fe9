//! The commands that look and report (`check`, `plan`, `answers`, `chats`,
//! `status`, `backup`, `recap`) and `collect`.

use std::path::PathBuf;

use chrono::{NaiveDate, TimeZone, Utc};

use chathost::engine::service;
use chathost::{check, collect, config, diagnostic, preview};

use super::{Failure, Outcome, clock_from_env, load, prepare};
use crate::args::Format;

pub async fn run_check(path: PathBuf, online: bool) -> Outcome {
    let env = std::env::vars().collect();
    let report = check::check(&path, online, &env, Utc::now()).await;
    for note in &report.notes {
        println!("{note}");
    }
    diagnostic::print_all(&report.diagnostics);
    let (errors, warnings) = (report.errors(), report.warnings());
    if errors == 0 {
        println!(
            "all is well{}",
            match warnings {
                0 => String::new(),
                1 => " (1 warning)".into(),
                n => format!(" ({n} warnings)"),
            }
        );
        Ok(())
    } else {
        eprintln!(
            "{errors} error(s), {warnings} warning(s): fix the errors above and run `chathost check` again"
        );
        Err(Failure::Shown)
    }
}

pub fn run_plan(path: PathBuf, count: usize, from: Option<NaiveDate>, format: Format) -> Outcome {
    let loaded = load(&path)?;
    let start = match from {
        Some(d) => match plan_start(&loaded.config, d) {
            Some(t) => t,
            None => {
                return Err(Failure::Usage(format!(
                    "--from {d}: plan shows chats between 0001-01-01 and {}; give a date in that range",
                    chathost::plan::LAST_DAY
                )));
            }
        },
        None => Utc::now(),
    };
    let chats = preview::upcoming(&loaded.config, start, count);
    let note = preview::calendar_end_note(chats.len(), count);
    match format {
        Format::Text => {
            print!("{}", preview::render_text(&chats));
            if let Some(note) = &note {
                println!("{note}");
            }
            // Once a chat has answers: its recap thread, before it is posted.
            print!(
                "{}",
                chathost::recap::command::preview_for_plan(&loaded.config)
            );
        }
        Format::Json => {
            let json = serde_json::json!({ "chats": chats, "note": note });
            let text = serde_json::to_string_pretty(&json)
                .map_err(|e| Failure::Error(format!("cannot write the plan as JSON: {e}")))?;
            println!("{text}");
        }
    }
    // A broken or unusable question file or template is an error, as in
    // `check`; a week without a file (skipped) is not.
    if chats.iter().any(|c| c.broken) {
        Err(Failure::Shown)
    } else {
        Ok(())
    }
}

/// The first instant of `date` for `plan --from`: that day's first instant
/// in each chat's own zone, the earliest across chats, so a chat on that
/// date is included. `None` outside the years plan can show.
fn plan_start(config: &config::Config, date: NaiveDate) -> Option<chrono::DateTime<Utc>> {
    if !(1..=9999).contains(&chrono::Datelike::year(&date)) {
        return None;
    }
    let midnight = date.and_hms_opt(0, 0, 0)?;
    config
        .chats
        .iter()
        .filter_map(|c| c.zone.from_local_datetime(&midnight).earliest())
        .map(|t| t.with_timezone(&Utc))
        .min()
        .or_else(|| Some(midnight.and_utc()))
}

pub async fn run_collect(path: PathBuf, chat: String, date: Option<NaiveDate>) -> Outcome {
    let (loaded, token, clock, _) = prepare(&path)?;
    let config = loaded.config.clone();
    let report = collect::command::recollect(loaded.config, token, clock, &chat, date)
        .await
        .map_err(Failure::Error)?;
    print!("{}", collect::report::render_text(&report));
    // Deletions and opt-outs read now reach the published archive too.
    if let Some(note) =
        chathost::recap::command::refresh_archive(&config, &chat, report.date, Utc::now())
    {
        println!("{note}");
    }
    Ok(())
}

pub fn run_answers(
    path: PathBuf,
    chat: String,
    date: Option<NaiveDate>,
    format: Format,
) -> Outcome {
    let loaded = load(&path)?;
    let found = collect::command::find_chat(&loaded.config, &chat).map_err(Failure::Usage)?;
    let occ = collect::command::chat_date(found, date, Utc::now()).map_err(Failure::Usage)?;
    let store = service::open_store_read_only(&loaded.config.state_dir).map_err(Failure::Error)?;
    let report =
        collect::command::answers_report(&store, &chat, occ.date).map_err(Failure::Error)?;
    match format {
        Format::Text => print!("{}", collect::report::render_text(&report)),
        Format::Json => {
            let text = serde_json::to_string_pretty(&report)
                .map_err(|e| Failure::Error(format!("cannot write the answers as JSON: {e}")))?;
            println!("{text}");
        }
    }
    Ok(())
}

pub fn run_chats(path: PathBuf, chat: Option<String>, format: Format) -> Outcome {
    let loaded = load(&path)?;
    let store = service::open_store_read_only(&loaded.config.state_dir).map_err(Failure::Error)?;
    let list = chathost::recap::listing::list(&store, chat.as_deref()).map_err(Failure::Error)?;
    match format {
        Format::Text => print!("{}", chathost::recap::listing::render_text(&list)),
        Format::Json => {
            let text = serde_json::to_string_pretty(&list)
                .map_err(|e| Failure::Error(format!("cannot write the list as JSON: {e}")))?;
            println!("{text}");
        }
    }
    Ok(())
}

pub fn run_status(path: PathBuf, format: Format) -> Outcome {
    let loaded = load(&path)?;
    // The service's clock (a test's fast one too), so "next" and "last" agree with it.
    let (clock, _) = clock_from_env().map_err(Failure::Error)?;
    let json = matches!(format, Format::Json);
    let (text, ok) =
        chathost::status::report(&loaded.config, clock.now(), json).map_err(Failure::Error)?;
    print!("{text}");
    if ok { Ok(()) } else { Err(Failure::Shown) }
}

pub fn run_backup(path: PathBuf, out: PathBuf) -> Outcome {
    let loaded = load(&path)?;
    let copied =
        chathost::status::backup::backup(&loaded.config.state_dir, &out).map_err(Failure::Error)?;
    println!(
        "backup written to {} ({} bytes, {} chat dates, checked)",
        copied.path.display(),
        copied.size_bytes,
        copied.chats
    );
    Ok(())
}

pub async fn run_recap(
    path: PathBuf,
    chat: String,
    date: Option<NaiveDate>,
    post: bool,
) -> Outcome {
    use chathost::recap::command;
    let text = if post {
        let (loaded, token, clock, _) = prepare(&path)?;
        command::post(loaded.config, token, clock, &chat, date).await
    } else {
        let loaded = load(&path)?;
        command::show(&loaded.config, &chat, date, Utc::now())
    };
    print!("{}", text.map_err(Failure::Error)?);
    Ok(())
}
