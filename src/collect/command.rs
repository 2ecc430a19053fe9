//! `chathost collect` and `chathost answers`: a past chat date's answers
//! read again from the timelines, and what the store holds, by question.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::report;
use crate::clock::SharedClock;
use crate::config::{Chat, Config};
use crate::engine::service;
use crate::engine::{Shutdown, ShutdownTrigger};
use crate::plan::{self, Occurrence};
use crate::secret::Secret;
use crate::store::{ChatState, NewChat, Store};

/// The chat named `name`, or an error listing the chats.
pub fn find_chat<'a>(config: &'a Config, name: &str) -> Result<&'a Chat, String> {
    config.chats.iter().find(|c| c.name == name).ok_or_else(|| {
        let names: Vec<&str> = config.chats.iter().map(|c| c.name.as_str()).collect();
        format!("no chat `{name}` in bot.toml (chats: {})", names.join(", "))
    })
}

/// The chat date `date`, or by default the latest one that has begun.
pub fn chat_date(
    chat: &Chat,
    date: Option<NaiveDate>,
    now: DateTime<Utc>,
) -> Result<Occurrence, String> {
    match date {
        Some(d) => {
            let from = d
                .and_hms_opt(0, 0, 0)
                .map(|t| t.and_utc() - Duration::days(2));
            from.and_then(|from| plan::occurrences(chat, from).take(2).find(|o| o.date == d))
                .ok_or_else(|| {
                    // The full name ("Wednesday"): Weekday shows "Wed".
                    let day = NaiveDate::from_isoywd_opt(2024, 1, chat.weekday)
                        .map_or(chat.weekday.to_string(), |d| d.format("%A").to_string());
                    format!(
                        "{d} is not a date of chat `{}` (it runs on {day}s)",
                        chat.name
                    )
                })
        }
        None => plan::occurrences(chat, now - Duration::days(8))
            .take_while(|o| o.start_utc() <= now)
            .last()
            .ok_or_else(|| format!("chat `{}` has no date before now", chat.name)),
    }
}

/// Reads the window of a past chat date again from every source and sweeps
/// it. Returns the answers report afterwards.
pub async fn recollect(
    config: Config,
    token: Secret,
    clock: SharedClock,
    name: &str,
    date: Option<NaiveDate>,
) -> Result<report::Report, String> {
    let chat = find_chat(&config, name)?.clone();
    let now = clock.now();
    let occ = chat_date(&chat, date, now)?;
    let window = super::window(&chat, &occ);
    if window.until > now {
        return Err(format!(
            "the {} chat of {} is not over until {} (answers count until then); the running service collects it",
            chat.name,
            occ.date,
            window.until.format("%Y-%m-%d %H:%MZ")
        ));
    }
    let (trigger, shutdown) = Shutdown::new();
    let started = service::start(service::Parts {
        config,
        token,
        clock: clock.clone(),
        use_scheduler: false,
        events: None,
        shutdown,
    })
    .await?;
    let engine = started.engine.clone();
    let id = record_for(
        &engine.store,
        &chat,
        &occ,
        &engine.instance.url,
        &engine.acct,
        now,
    )?;
    stop_on_ctrl_c(trigger);
    let collector = engine.collector(&chat, &occ, id).with_progress();
    let collected = collector.recollect().await;
    if let Some(reason) = engine.shutdown.fatal() {
        return Err(reason);
    }
    collected?;
    answers_report(&engine.store, &chat.name, occ.date)
}

/// The chat date's record; a date the bot never hosted gets one, marked
/// skipped (the bot posted nothing), so its answers have a home.
fn record_for(
    store: &Store,
    chat: &Chat,
    occ: &Occurrence,
    instance_url: &str,
    account: &str,
    now: DateTime<Utc>,
) -> Result<crate::store::ChatId, String> {
    if let Some(r) = store
        .chat(&chat.name, occ.date)
        .map_err(|e| e.to_string())?
    {
        return Ok(r.id);
    }
    let new = NewChat {
        name: chat.name.clone(),
        date: occ.date,
        start_utc: occ.start_utc(),
        instance_url: instance_url.to_string(),
        account: account.to_string(),
        questions_file: None,
    };
    let record = store.upsert_chat(&new, now).map_err(|e| e.to_string())?;
    store
        .set_chat_state(record.id, ChatState::Skipped, now)
        .map_err(|e| e.to_string())?;
    Ok(record.id)
}

pub fn stop_on_ctrl_c(trigger: ShutdownTrigger) {
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        trigger.trigger();
    });
}

/// What the store holds for a chat date, by question.
pub fn answers_report(
    store: &Store,
    name: &str,
    date: NaiveDate,
) -> Result<report::Report, String> {
    let Some(chat) = store.chat(name, date).map_err(|e| e.to_string())? else {
        return Err(format!(
            "nothing stored for the {name} chat of {date}: it was not hosted or collected (`chathost collect {name} --date {date}` reads it from the server)"
        ));
    };
    let steps = store.steps(chat.id).map_err(|e| e.to_string())?;
    let answers = store.answers(chat.id).map_err(|e| e.to_string())?;
    let sources = store.sources(chat.id).map_err(|e| e.to_string())?;
    Ok(report::build(&chat, &steps, &answers, &sources))
}
