//! Simulated participants talking to the bot. With
//! [`SandboxConfig::commands`](super::SandboxConfig::commands) on, the
//! participants in seats 1 to 4 (0-based, as [`super::NOINDEX_SEAT`]: bob,
//! carol, dave and erin), when present, each post one command to the bot a
//! little after answering Q1: a public status mentioning it, replying to
//! nothing, without the chat hashtag — `next`, `optout`, `record` and an
//! unknown `dance` ([`COMMAND_SEATS`]). The delay comes from the seed, so a
//! run is reproducible; [`super::Sandbox::mentions_made`] lists what was sent.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::server::Shared;
use super::state::{NewStatus, Visibility};

/// (seat, command word) of the participants that send the bot a command.
pub const COMMAND_SEATS: [(usize, &str); 4] =
    [(1, "next"), (2, "optout"), (3, "record"), (4, "dance")];

/// The command word of the participant at account `index` (seat `index - 1`).
pub fn command_of(index: usize) -> Option<&'static str> {
    let seat = index.checked_sub(1)?;
    COMMAND_SEATS
        .iter()
        .find(|(s, _)| *s == seat)
        .map(|(_, word)| *word)
}

/// After participant `index` answered question `q` at `answered_at`: when
/// commands are on, `q` is 1 and the seat has one, waits a seeded 20 to 90
/// seconds of clock time and posts the command.
pub(crate) async fn after_answering(
    shared: &Shared,
    q: u32,
    index: usize,
    answered_at: DateTime<Utc>,
) {
    if !shared.commands || q != 1 {
        return;
    }
    let Some(word) = command_of(index) else {
        return;
    };
    // Its own stream of randomness: turning commands on changes no answer.
    let mut rng = StdRng::seed_from_u64(
        shared.seed ^ 0xC0DE_C0DE ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
    );
    let delay = Duration::from_secs(rng.gen_range(20..=90));
    let at = answered_at + chrono::Duration::from_std(delay).unwrap_or_default();
    shared.clock.sleep_until(at).await;
    let mut state = shared.state.lock().expect("state lock");
    let bot = state.accounts[0].username.clone();
    let posted = state.post(
        index,
        NewStatus {
            text: format!("@{bot} {word}"),
            visibility: Some(Visibility::Public),
            language: Some("en".into()),
            ..NewStatus::default()
        },
    );
    match posted {
        Ok(id) => state.commands.push(id),
        Err(e) => tracing::debug!("participant {index} could not send `{word}`: {}", e.message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seats_one_to_four_have_one_command_each() {
        assert_eq!(command_of(0), None, "the bot");
        assert_eq!(command_of(1), None, "seat 0, alice");
        assert_eq!(command_of(2), Some("next"));
        assert_eq!(command_of(3), Some("optout"));
        assert_eq!(command_of(4), Some("record"));
        assert_eq!(command_of(5), Some("dance"));
        assert_eq!(command_of(6), None);
    }
}
