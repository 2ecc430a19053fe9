//! Ground truth and test hands: what the simulated participants (and tests)
//! actually answered, for checking a collector against, and direct actions
//! as any account without going through HTTP.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::ids::Id;
use super::render;
use super::state::{NewStatus, State, Visibility};
use super::{Sandbox, StatusRecord};

/// One answer made to a question, as it stands now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnswerMade {
    /// The question number it was meant for.
    pub question: u32,
    /// Its id on this sandbox.
    pub status_id: String,
    /// Its `uri`, unique across sandboxes (the dedupe key).
    pub uri: String,
    /// Author.
    pub acct: String,
    /// Whether the author is marked `bot: true`.
    pub bot: bool,
    /// Visibility.
    pub visibility: Visibility,
    /// Whether it carries the chat hashtag now.
    pub tagged: bool,
    /// Whether it replies to something.
    pub reply: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last edit.
    pub edited_at: Option<DateTime<Utc>>,
    /// Deletion time.
    pub deleted_at: Option<DateTime<Utc>>,
    /// Current text (the last version also for a deleted one).
    pub text: String,
    /// Favourites now.
    pub favourites: usize,
    /// Live boosts now.
    pub reblogs: usize,
}

/// A status that mentions the bot, made by anyone else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MentionMade {
    /// Its id on this sandbox.
    pub status_id: String,
    /// Author.
    pub acct: String,
    /// Current text (the last version also for a deleted one).
    pub text: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Visibility.
    pub visibility: Visibility,
    /// Sent by a simulated participant as a command (see
    /// [`SandboxConfig::commands`](super::SandboxConfig::commands)); answers
    /// that mention the bot are `false`.
    pub command: bool,
    /// Deleted since.
    pub deleted: bool,
}

/// A status a test posts as some account with [`Sandbox::post_as`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestPost {
    /// The text.
    pub text: String,
    /// Visibility.
    pub visibility: Visibility,
    /// Parent status id.
    pub in_reply_to_id: Option<String>,
    /// When `Some`, the post is recorded in [`Sandbox::answers_made`] as an
    /// answer to that question.
    pub question: Option<u32>,
}

impl TestPost {
    /// A public, top-level post that is no answer.
    pub fn public(text: impl Into<String>) -> Self {
        TestPost {
            text: text.into(),
            visibility: Visibility::Public,
            in_reply_to_id: None,
            question: None,
        }
    }

    /// A public, top-level answer to `question`.
    pub fn answer(question: u32, text: impl Into<String>) -> Self {
        TestPost {
            question: Some(question),
            ..TestPost::public(text)
        }
    }
}

/// The answer record for `(question, id)`, if the status still exists.
fn answer_made(state: &State, hashtag: &str, question: u32, id: &Id) -> Option<AnswerMade> {
    let s = state.statuses.get(id)?;
    let author = &state.accounts[s.author];
    Some(AnswerMade {
        question,
        status_id: id.as_str().to_string(),
        uri: render::status_uri(state, s),
        acct: author.username.clone(),
        bot: author.bot,
        visibility: s.visibility,
        tagged: s.tags.iter().any(|t| t.eq_ignore_ascii_case(hashtag)),
        reply: s.in_reply_to.is_some(),
        created_at: s.created_at,
        edited_at: s.edited_at,
        deleted_at: s.deleted_at,
        text: s.current().text.clone(),
        favourites: s.favourited_by.len(),
        reblogs: s.boosts.len(),
    })
}

impl Sandbox {
    /// Every answer a simulated participant, a [`Sandbox::burst`] or a
    /// [`Sandbox::post_as`] with a question made, in the order made, with
    /// the question it was meant for; deleted and edited ones included.
    pub fn answers_made(&self) -> Vec<AnswerMade> {
        let state = self.shared.state.lock().expect("state lock");
        state
            .answers
            .iter()
            .filter_map(|(q, id)| answer_made(&state, &self.shared.hashtag, *q, id))
            .collect()
    }

    /// Every status mentioning the bot made by another account (commands,
    /// answers addressed to it, tests' posts), oldest first, deleted ones
    /// included.
    pub fn mentions_made(&self) -> Vec<MentionMade> {
        let state = self.shared.state.lock().expect("state lock");
        state
            .statuses
            .values()
            .filter(|s| s.author != 0 && s.reblog_of.is_none() && s.mentions.contains(&0))
            .map(|s| MentionMade {
                status_id: s.id.as_str().to_string(),
                acct: state.accounts[s.author].username.clone(),
                text: s.current().text.clone(),
                created_at: s.created_at,
                visibility: s.visibility,
                command: state.commands.contains(&s.id),
                deleted: s.deleted_at.is_some(),
            })
            .collect()
    }

    /// The bot's replies to other accounts' statuses (its answers to
    /// mentions; replies within its own thread of questions are left out),
    /// oldest first, deleted ones included.
    pub fn replies_by_bot(&self) -> Vec<StatusRecord> {
        let bot = self.bot().acct;
        let others: HashSet<String> = {
            let state = self.shared.state.lock().expect("state lock");
            state
                .statuses
                .values()
                .filter(|s| s.author != 0)
                .map(|s| s.id.as_str().to_string())
                .collect()
        };
        self.statuses_of(&bot)
            .into_iter()
            .filter(|s| {
                s.in_reply_to_id
                    .as_ref()
                    .is_some_and(|p| others.contains(p))
            })
            .collect()
    }

    /// Runs `action` as the account `acct`.
    fn as_account<T>(
        &self,
        acct: &str,
        action: impl FnOnce(&mut State, usize) -> Result<T, super::error::ApiError>,
    ) -> Result<T, String> {
        let mut state = self.shared.state.lock().expect("state lock");
        let account = state
            .account_by_acct(acct)
            .ok_or_else(|| format!("no account `{acct}` in the sandbox"))?;
        action(&mut state, account).map_err(|e| e.message)
    }

    /// Posts `post` as `acct` (no HTTP, no rate limit); returns the id.
    pub fn post_as(&self, acct: &str, post: TestPost) -> Result<String, String> {
        self.as_account(acct, |state, account| {
            let id = state.post(
                account,
                NewStatus {
                    text: post.text,
                    visibility: Some(post.visibility),
                    in_reply_to_id: post.in_reply_to_id,
                    ..NewStatus::default()
                },
            )?;
            if let Some(q) = post.question {
                state.answers.push((q, id.clone()));
            }
            Ok(id.as_str().to_string())
        })
    }

    /// Replaces the text of `acct`'s status `id` (sets `edited_at`).
    pub fn edit_as(&self, acct: &str, id: &str, text: &str) -> Result<(), String> {
        self.as_account(acct, |state, account| {
            let new = NewStatus {
                text: text.to_string(),
                ..NewStatus::default()
            };
            state.edit(account, id, new).map(|_| ())
        })
    }

    /// Deletes `acct`'s status `id` (and its boosts).
    pub fn delete_as(&self, acct: &str, id: &str) -> Result<(), String> {
        self.as_account(acct, |state, account| state.delete(account, id).map(|_| ()))
    }

    /// `acct` favourites status `id`.
    pub fn favourite_as(&self, acct: &str, id: &str) -> Result<(), String> {
        self.as_account(acct, |state, account| {
            state.favourite(account, id).map(|_| ())
        })
    }

    /// `acct` boosts status `id`; returns the boost's own id.
    pub fn reblog_as(&self, acct: &str, id: &str) -> Result<String, String> {
        self.as_account(acct, |state, account| {
            state.reblog(account, id).map(|b| b.as_str().to_string())
        })
    }

    /// The `uri` of status `id` (deleted ones too), `None` if unknown.
    pub fn status_uri(&self, id: &str) -> Option<String> {
        let state = self.shared.state.lock().expect("state lock");
        let status = state.statuses.get(&Id(id.to_string()))?;
        Some(render::status_uri(&state, status))
    }
}
