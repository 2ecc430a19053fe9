//! The profile offers after authorising: mark the account as a bot, and
//! give it a note that explains the bot and `#nobot`. A non-empty note is
//! only replaced on an explicit yes.

use std::io::{BufRead, Write};

use super::{Choice, Console};
use crate::instance::Instance;

/// The note `chathost auth --note yes` sets (shown in `--help`).
pub const DEFAULT_NOTE: &str = "I am a bot: I host a weekly hashtag chat (chathost) — I post the questions and collect the answers for a recap. Put #nobot in your profile and I will count your answers but never quote you.";

/// Offers to set `bot: true` and the note, as the flags say.
pub async fn offer<R: BufRead, W: Write, E: Write>(
    instance: &Instance,
    bot: Choice,
    note: Choice,
    console: &mut Console<R, W, E>,
) -> Result<(), String> {
    let profile = instance
        .profile()
        .await
        .map_err(|e| format!("cannot read the account's profile: {e}"))?;
    let set_bot = !profile.bot
        && console.decide(
            bot,
            "Mark the account as a bot (\"This is an automated account\")?",
        )?;
    let current = profile.note.trim();
    let set_note = if current == DEFAULT_NOTE {
        false
    } else {
        console.say(&if current.is_empty() {
            "The profile note is empty.".to_string()
        } else {
            format!("The profile note now reads:\n  {current}")
        })?;
        console.say(&format!("chathost's note:\n  {DEFAULT_NOTE}"))?;
        // `--note yes` is the explicit yes; `ask` on a terminal asks; a
        // script without a flag, or a non-terminal `ask`, gets no.
        console.decide(
            note,
            if current.is_empty() {
                "Set this note?"
            } else {
                "Replace the current note with it?"
            },
        )?
    };
    if !set_bot && !set_note {
        if profile.bot {
            console.out_line("The account is already marked as a bot.")?;
        }
        return Ok(());
    }
    instance
        .update_profile(set_bot.then_some(true), set_note.then_some(DEFAULT_NOTE))
        .await
        .map_err(|e| format!("cannot update the profile: {e}"))?;
    if set_bot {
        console.out_line("The account is now marked as a bot.")?;
    }
    if set_note {
        console.out_line("The profile note is set.")?;
    }
    Ok(())
}
