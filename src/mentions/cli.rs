//! `chathost participant @user@host [--forget]`: what the store holds
//! about one account, for a host answering a person's request; `--forget`
//! erases it (a data-protection request) and writes the archives it
//! appeared in again without it.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::engine::service;

/// The account as the store keys it: `user@host`, lower-case; a bare
/// `user` is an account of the bot's own instance.
pub fn normalise(acct: &str, config: &Config) -> Result<String, String> {
    let acct = acct.trim().trim_start_matches('@').to_lowercase();
    let valid = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-'))
    };
    let (user, host) = match acct.split_once('@') {
        Some((u, h)) => (u.to_string(), h.to_string()),
        None => {
            let host = config
                .instance
                .url
                .split_once("://")
                .map_or(config.instance.url.as_str(), |(_, r)| r)
                .split('/')
                .next()
                .unwrap_or_default()
                .to_lowercase();
            (acct.clone(), host)
        }
    };
    if !valid(&user) || !valid(&host.replace(':', "")) {
        return Err(format!(
            "{acct:?} is not an account: write it as @user@host, e.g. @ann@nurses.example"
        ));
    }
    Ok(format!("{user}@{host}"))
}

/// What the store holds about `acct`, as text; with `forget`, erases it
/// first and says what went.
pub fn run(
    config: &Config,
    acct: &str,
    forget: bool,
    now: DateTime<Utc>,
) -> Result<String, String> {
    let acct = normalise(acct, config)?;
    // Looking is read only (beside the running service); forgetting writes.
    let store = if forget {
        service::open_store(&config.state_dir)?
    } else {
        service::open_store_read_only(&config.state_dir)?
    };
    let data = store.participant(&acct).map_err(|e| e.to_string())?;
    let mut out = String::new();
    let Some(data) = data else {
        // No answer: at most the commands it sent the bot.
        let sent = store
            .mentions_since(&acct, DateTime::<Utc>::MIN_UTC)
            .map_err(|e| e.to_string())?;
        if sent == 0 {
            let _ = writeln!(out, "The store holds nothing about {acct}.");
        } else {
            let _ = writeln!(out, "{acct}\n  no answers; {sent} commands sent to the bot");
        }
        // Forgetting someone not yet seen still keeps them out for good.
        if forget {
            let gone = store.forget(&acct, now).map_err(|e| e.to_string())?;
            let _ = writeln!(
                out,
                "\nErased: {} mentions of {acct}; later collection only counts its posts (no name, words or links kept).",
                gone.mentions
            );
        }
        return Ok(out);
    };
    let _ = writeln!(out, "{acct}");
    if let Some(name) = &data.display_name {
        let _ = writeln!(out, "  name: {name}");
    }
    let consent = match (&data.opted_out_at, data.quotable, &data.why_not) {
        (Some(at), _, _) => format!("opted out with `optout` on {}", at.format("%Y-%m-%d")),
        (None, true, _) => "may be quoted, named and linked".to_string(),
        (None, false, why) => format!(
            "counted only ({})",
            why.as_deref().unwrap_or("asked not to be quoted")
        ),
    };
    let _ = writeln!(out, "  consent: {consent}");
    let answers: usize = data.chats.iter().map(|c| c.answers.len()).sum();
    let _ = writeln!(
        out,
        "  {answers} answer{} in {} chat{}",
        if answers == 1 { "" } else { "s" },
        data.chats.len(),
        if data.chats.len() == 1 { "" } else { "s" }
    );
    for chat in &data.chats {
        let _ = writeln!(
            out,
            "  {} {}: {} answers",
            chat.date,
            chat.chat,
            chat.answers.len()
        );
        for a in &chat.answers {
            let link = a.url.as_deref().unwrap_or("(no link stored)");
            let _ = writeln!(out, "    {} {link}", a.created_at.format("%H:%M"));
        }
    }
    if !forget {
        return Ok(out);
    }
    let gone = store.forget(&acct, now).map_err(|e| e.to_string())?;
    drop(store);
    let _ = writeln!(
        out,
        "\nErased: {} answers and {} mentions of {acct}; later collection only counts its posts (no name, words or links kept).",
        gone.answers, gone.mentions
    );
    for chat in &data.chats {
        if let Some(note) =
            crate::recap::command::refresh_archive(config, &chat.chat, chat.date, now)
        {
            let _ = writeln!(out, "{}: {note}", chat.date);
        }
    }
    Ok(out)
}
