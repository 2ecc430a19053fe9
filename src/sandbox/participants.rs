//! Simulated chat participants. When the bot posts a public question — a
//! line `Q<n>: …` (case-insensitive, leading hashtags allowed) in a status
//! with the chat hashtag — each participant answers at a random moment of the
//! answer window, waiting on the injected clock, so a ScaledClock compresses
//! a chat into seconds.
//!
//! The personas repeat every eight accounts and give the mix real chats have:
//! replies with and without the hashtag, top-level answers, one unlisted
//! answer, an account that edits and one that deletes its answers, one with
//! `#nobot` in its profile and one automated (`bot: true`) account; from ten
//! participants on, seat 9 ("judy") has `noindex: true` and
//! `discoverable: false` with an ordinary note. After answering, each one
//! favourites and sometimes boosts earlier answers (see `engage`).
//! With `SandboxConfig::commands`, seats 1 to 4 then send the bot a command
//! (see `commands`). Everything random comes from the seed, per question and
//! participant, so a run is reproducible whatever order tasks happen to run
//! in.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::broadcast;
use tokio::task::JoinSet;

use super::commands;
use super::engage;
use super::ids::Id;
use super::server::Shared;
use super::state::{Event, NewStatus, StatusEvent, Visibility};

/// How a participant answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerStyle {
    /// Replies to the question, with the hashtag.
    ReplyWithTag,
    /// Posts a new status with the hashtag, not a reply.
    TopLevel,
    /// Replies to the question mentioning the bot, and forgets the hashtag.
    ReplyWithoutTag,
}

/// What a participant does to its answer afterwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Afterwards {
    /// Leaves it alone.
    Nothing,
    /// Edits it a little later.
    Edit,
    /// Deletes it a little later.
    Delete,
}

/// A participant's behaviour.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Persona {
    /// How it answers.
    pub style: AnswerStyle,
    /// Visibility of its answers.
    pub visibility: Visibility,
    /// What it does to an answer afterwards.
    pub afterwards: Afterwards,
}

/// An account to create for a participant.
#[derive(Clone, Debug)]
pub struct Seat {
    /// Username.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Profile note (plain text).
    pub note: String,
    /// `bot: true`?
    pub bot: bool,
    /// Behaviour.
    pub persona: Persona,
    /// Mastodon's "exclude from search engines".
    pub noindex: bool,
    /// Listed in directory and search.
    pub discoverable: bool,
}

const NAMES: [&str; 16] = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil",
];

const PHRASES: [&str; 24] = [
    "Short feedback loops, every time",
    "Pair programming taught me the most",
    "Honestly, reading other people's code",
    "Asking questions early, even silly ones",
    "Writing things down before I forget them",
    "Small steps and frequent commits",
    "I'd say it depends on the team",
    "Coffee, and a quiet morning",
    "Tests first, then the fun part",
    "A mentor who said no kindly",
    "Learning in public helped me a lot",
    "Breaking the problem into tiny pieces",
    "Checklists. Boring but they work",
    "Talking to users, not guessing",
    "Taking a walk when I am stuck",
    "Reading the error message twice",
    "Keeping a work journal",
    "Saying it out loud to a rubber duck",
    "Good defaults beat clever options",
    "Sleep. Underrated every single time",
    "Retrospectives that change something",
    "Sketching on paper before coding",
    "Knowing when to stop polishing",
    "Great question! Still thinking about it",
];

/// The seat (0-based) whose account has `noindex: true` and
/// `discoverable: false` with an ordinary note: "judy", present from ten
/// participants on, so the default eight are unchanged.
pub const NOINDEX_SEAT: usize = 9;

/// The accounts of `n` participants, the same for every run.
pub fn seats(n: usize) -> Vec<Seat> {
    (0..n)
        .map(|i| {
            let username = match NAMES.get(i) {
                Some(name) => name.to_string(),
                None => format!("participant{}", i + 1),
            };
            let mut display_name = username.clone();
            display_name[..1].make_ascii_uppercase();
            let (style, afterwards) = match i % 8 {
                0 | 5 | 6 => (AnswerStyle::ReplyWithTag, Afterwards::Nothing),
                1 | 7 => (AnswerStyle::TopLevel, Afterwards::Nothing),
                2 => (AnswerStyle::ReplyWithoutTag, Afterwards::Nothing),
                3 => (AnswerStyle::ReplyWithTag, Afterwards::Edit),
                _ => (AnswerStyle::TopLevel, Afterwards::Delete),
            };
            // The one-off traits belong to the first eight accounts only.
            let visibility = if i == 5 {
                Visibility::Unlisted
            } else {
                Visibility::Public
            };
            let note = match i {
                6 => "Teacher and weekly chat regular. Please do not archive my posts. #nobot",
                7 => "Automated account: answers chats with canned tips.",
                _ => "Weekly chat regular.",
            };
            Seat {
                username,
                display_name,
                note: note.to_string(),
                bot: i == 7,
                persona: Persona {
                    style,
                    visibility,
                    afterwards,
                },
                // Seat 9 opted out of indexing in settings, not in its note.
                noindex: i == NOINDEX_SEAT,
                discoverable: i != NOINDEX_SEAT,
            }
        })
        .collect()
}

/// The question number of a bot post, if it is a question: a line whose first
/// word after any hashtags is `Q<n>:`.
pub fn question_number(text: &str) -> Option<u32> {
    text.lines().find_map(|line| {
        let word = line.split_whitespace().find(|w| !w.starts_with('#'))?;
        let rest = word.strip_prefix(['Q', 'q'])?;
        let digits = rest.strip_suffix(':')?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    })
}

/// Watches the bot's posts and schedules answers until the task is dropped.
pub(crate) async fn run(shared: Arc<Shared>, mut events: broadcast::Receiver<Event>) {
    let mut answers = JoinSet::new();
    loop {
        match events.recv().await {
            Ok(Event::Created(status)) => {
                if let Some(q) = is_question(&shared, &status) {
                    let participants = shared.state.lock().expect("state lock").accounts.len();
                    for index in 1..participants {
                        answers.spawn(answer(shared.clone(), status.clone(), q, index));
                    }
                }
            }
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => break,
        }
        // Reap finished answer tasks so the set does not grow.
        while answers.try_join_next().is_some() {}
    }
}

fn is_question(shared: &Shared, status: &StatusEvent) -> Option<u32> {
    let tagged = status.tags.contains(&shared.hashtag.to_lowercase());
    if status.author == 0 && status.visibility == Visibility::Public && tagged {
        question_number(&status.text)
    } else {
        None
    }
}

/// A reproducible random source for participant `index` and question `q`.
fn rng_for(seed: u64, q: u32, index: usize) -> StdRng {
    StdRng::seed_from_u64(
        seed ^ (u64::from(q) << 32) ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
    )
}

/// The answer text of `persona` to question `q`.
fn answer_text(persona: &Persona, q: u32, phrase: &str, hashtag: &str, bot: &str) -> String {
    match persona.style {
        AnswerStyle::ReplyWithTag | AnswerStyle::TopLevel => format!("A{q}: {phrase} #{hashtag}"),
        AnswerStyle::ReplyWithoutTag => format!("@{bot} A{q}: {phrase}"),
    }
}

async fn answer(shared: Arc<Shared>, question: Arc<StatusEvent>, q: u32, index: usize) {
    let (persona, bot, asked_at) = {
        let state = shared.state.lock().expect("state lock");
        let Some(persona) = state.accounts[index].persona.clone() else {
            return;
        };
        let asked_at = state.statuses.get(&question.id).map(|s| s.created_at);
        (persona, state.accounts[0].username.clone(), asked_at)
    };
    let Some(asked_at) = asked_at else { return };
    let mut rng = rng_for(shared.seed, q, index);
    let window = shared.answer_window.max(Duration::from_secs(1));
    let earliest = Duration::from_secs(10).min(window / 2);
    let delay = rng.gen_range(earliest..=window);
    let phrase = PHRASES[rng.gen_range(0..PHRASES.len())];
    let later = Duration::from_secs(rng.gen_range(30..=150));

    let clock = shared.clock.clone();
    let answer_at = asked_at + chrono::Duration::from_std(delay).unwrap_or_default();
    clock.sleep_until(answer_at).await;
    let text = answer_text(&persona, q, phrase, &shared.hashtag, &bot);
    let reply = persona.style != AnswerStyle::TopLevel;
    let posted = {
        let mut state = shared.state.lock().expect("state lock");
        let posted = state.post(
            index,
            NewStatus {
                text,
                visibility: Some(persona.visibility),
                in_reply_to_id: reply.then(|| question.id.as_str().to_string()),
                language: Some("en".into()),
                ..NewStatus::default()
            },
        );
        if let Ok(id) = &posted {
            state.answers.push((q, id.clone()));
            engage::after_answering(&mut state, shared.seed, q, index, id);
        }
        posted
    };
    let id = match posted {
        Ok(id) => id,
        // The question may be gone by now; real people would shrug too.
        Err(e) => {
            tracing::debug!("participant {index} could not answer Q{q}: {}", e.message);
            return;
        }
    };
    let changed_at = answer_at + chrono::Duration::from_std(later).unwrap_or_default();
    // Both wait on the clock; neither may hold the other up.
    tokio::join!(
        change_answer(&shared, &persona, index, q, phrase, &id, changed_at),
        commands::after_answering(&shared, q, index, answer_at),
    );
}

/// Edits or deletes answer `id` at `at`, as the persona does.
async fn change_answer(
    shared: &Shared,
    persona: &Persona,
    index: usize,
    q: u32,
    phrase: &str,
    id: &Id,
    at: chrono::DateTime<chrono::Utc>,
) {
    if persona.afterwards == Afterwards::Nothing {
        return;
    }
    shared.clock.sleep_until(at).await;
    let mut state = shared.state.lock().expect("state lock");
    let result = match persona.afterwards {
        Afterwards::Edit => {
            let text = format!("A{q}: {phrase} (edited: and practice!) #{}", shared.hashtag);
            state
                .edit(
                    index,
                    id.as_str(),
                    NewStatus {
                        text,
                        ..NewStatus::default()
                    },
                )
                .map(|_| ())
        }
        Afterwards::Delete => state.delete(index, id.as_str()).map(|_| ()),
        Afterwards::Nothing => Ok(()),
    };
    if let Err(e) = result {
        tracing::debug!(
            "participant {index} could not change its answer: {}",
            e.message
        );
    }
}

/// Posts `posts` tagged answers to question `q` as fast as possible, round
/// robin over the participants (for load tests). Returns the ids in order.
pub(crate) async fn burst(shared: &Shared, q: u32, posts: usize) -> Vec<String> {
    let participants = shared.state.lock().expect("state lock").accounts.len() - 1;
    let mut ids = Vec::with_capacity(posts);
    if participants == 0 {
        return ids;
    }
    for k in 0..posts {
        let index = 1 + k % participants;
        let text = format!(
            "A{q}: {} (#{k}) #{}",
            PHRASES[k % PHRASES.len()],
            shared.hashtag
        );
        {
            let mut state = shared.state.lock().expect("state lock");
            let posted = state.post(
                index,
                NewStatus {
                    text,
                    ..NewStatus::default()
                },
            );
            if let Ok(id) = posted {
                ids.push(id.as_str().to_string());
                state.answers.push((q, id));
            }
        }
        // Let streams and the server breathe between posts.
        tokio::task::yield_now().await;
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_are_found_after_leading_hashtags_and_in_any_case() {
        assert_eq!(
            question_number("#testchat Q1: What is it? [run 2fe2ee]"),
            Some(1)
        );
        assert_eq!(question_number("Welcome!\nq12: and you?"), Some(12));
        assert_eq!(question_number("A1: Paris #testchat"), None);
        assert_eq!(question_number("Q: no number"), None);
        assert_eq!(question_number("Quick: not a question"), None);
    }

    #[test]
    fn the_first_eight_seats_hold_every_trait_once() {
        let s = seats(8);
        assert_eq!(s.iter().filter(|s| s.bot).count(), 1);
        assert_eq!(s.iter().filter(|s| s.note.contains("#nobot")).count(), 1);
        assert_eq!(
            s.iter()
                .filter(|s| s.persona.visibility == Visibility::Unlisted)
                .count(),
            1
        );
        for style in [
            AnswerStyle::ReplyWithTag,
            AnswerStyle::TopLevel,
            AnswerStyle::ReplyWithoutTag,
        ] {
            assert!(s.iter().any(|s| s.persona.style == style));
        }
        for after in [Afterwards::Edit, Afterwards::Delete] {
            assert!(s.iter().any(|s| s.persona.afterwards == after));
        }
        assert!(s.iter().all(|s| !s.noindex && s.discoverable));
        let more = seats(20);
        assert_eq!(more.iter().filter(|s| s.bot).count(), 1);
        let opted_out: Vec<&str> = more
            .iter()
            .filter(|s| s.noindex || !s.discoverable)
            .map(|s| s.username.as_str())
            .collect();
        assert_eq!(opted_out, vec!["judy"]);
        assert!(!more[NOINDEX_SEAT].note.contains("#no"), "an ordinary note");
        assert_eq!(more[17].username, "participant18");
    }
}
