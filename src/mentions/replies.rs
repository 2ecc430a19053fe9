//! The bot's replies to participants' commands, from the templates
//! `mention_next.j2`, `mention_optout.j2`, `mention_optin.j2`,
//! `mention_record.j2` and `mention_help.j2` (built in, overridable in the
//! chat's `prompts/templates/`).
//!
//! Every part starts with `@sender` (a direct message reaches only the
//! accounts it mentions) and mentions nobody else: whatever the template
//! and the texts it shows say, every other `@` or `#` where a server would
//! see a mention or a hashtag is dropped — a record carrying a topic like
//! "with @guest@host" would otherwise be delivered to that guest too. A
//! long reply is split into several posts, each within the limit as the
//! server counts it.
//!
//! Variables, present in every reply template (empty or 0 where they do
//! not apply): `bot` (the bot's handle), `period` ("2026", "March 2026",
//! or empty), `answers`, `minutes`, `hours` (e.g. "1.5"), and `chats`,
//! each with `hashtag` and `topic`, plus for `next` `local` ("Wednesday 2
//! December, 20:00 GMT"), `utc` ("20:00 UTC") and `guest`, and for
//! `record` `date` ("Wednesday 2 December 2026"), `answers` (a count),
//! `links` (the participant's own answers) and `minutes`.

use serde::Serialize;

use crate::diagnostic::Diagnostic;
use crate::length::post_length;
use crate::prompts::{TemplateKind, Templates};
use crate::recap::quote::defuse;
use crate::recap::split::split;

use super::record::Record;

/// A coming chat, as the reply to `next` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NextChat {
    /// The chat's hashtag, without `#`.
    pub chat: String,
    /// Its start in the chat's zone: "Wednesday 2 December, 20:00 GMT".
    pub local: String,
    /// Its start in UTC: "20:00 UTC".
    pub utc: String,
    /// The topic, or empty when its question file does not exist yet.
    pub topic: String,
    /// The guest host, or empty.
    pub guest: String,
}

/// Renders the replies for one instance and one chat's templates.
#[derive(Debug, Clone, Copy)]
pub struct Replies<'a> {
    /// The templates (the chat's prompts folder, or built in).
    pub templates: &'a Templates,
    /// The instance's `max_characters`.
    pub max_characters: usize,
    /// What a link counts on the instance.
    pub url_length: usize,
    /// The bot's handle (`chatbot` or `chatbot@host`), for the templates.
    pub bot: &'a str,
}

/// What a reply template can use (see the module doc).
#[derive(Debug, Default, Serialize)]
struct Context {
    bot: String,
    period: String,
    answers: usize,
    minutes: u32,
    hours: String,
    chats: Vec<ChatContext>,
}

/// One chat in a reply: the fields of `next` and of `record` in one shape,
/// so that every name exists in every template.
#[derive(Debug, Default, Serialize)]
struct ChatContext {
    hashtag: String,
    topic: String,
    local: String,
    utc: String,
    guest: String,
    date: String,
    answers: usize,
    links: Vec<String>,
    minutes: u32,
}

impl Replies<'_> {
    /// The reply to `next`: the coming chats (a line saying none is
    /// planned when `chats` is empty).
    pub fn next(&self, sender: &str, chats: &[NextChat]) -> Result<Vec<String>, Diagnostic> {
        let chats = chats
            .iter()
            .map(|c| ChatContext {
                hashtag: c.chat.clone(),
                topic: c.topic.clone(),
                local: c.local.clone(),
                utc: c.utc.clone(),
                guest: c.guest.clone(),
                ..ChatContext::default()
            })
            .collect();
        self.reply(TemplateKind::MentionNext, sender, self.context(chats))
    }

    /// The reply to `optout`: confirms, says how to undo.
    pub fn optout(&self, sender: &str) -> Result<Vec<String>, Diagnostic> {
        self.reply(
            TemplateKind::MentionOptout,
            sender,
            self.context(Vec::new()),
        )
    }

    /// The reply to `optin`: confirms.
    pub fn optin(&self, sender: &str) -> Result<Vec<String>, Diagnostic> {
        self.reply(TemplateKind::MentionOptin, sender, self.context(Vec::new()))
    }

    /// The reply to `help`: the commands.
    pub fn help(&self, sender: &str) -> Result<Vec<String>, Diagnostic> {
        self.reply(TemplateKind::MentionHelp, sender, self.context(Vec::new()))
    }

    /// The participation record, in as many parts as it needs (to be sent
    /// by direct message, each part to the sender alone).
    pub fn record(&self, sender: &str, record: &Record) -> Result<Vec<String>, Diagnostic> {
        let chats = record
            .chats
            .iter()
            .map(|c| ChatContext {
                hashtag: c.hashtag.clone(),
                topic: c.topic.clone(),
                date: c.date.format("%A %-d %B %Y").to_string(),
                answers: c.answers.len(),
                links: c.answers.clone(),
                minutes: c.minutes,
                ..ChatContext::default()
            })
            .collect();
        let ctx = Context {
            period: record.period.map(|p| p.label()).unwrap_or_default(),
            answers: record.answers(),
            minutes: record.minutes(),
            hours: hours(record.hours),
            ..self.context(chats)
        };
        self.reply(TemplateKind::MentionRecord, sender, ctx)
    }

    fn context(&self, chats: Vec<ChatContext>) -> Context {
        Context {
            bot: self.bot.trim_start_matches('@').to_string(),
            hours: "0".into(),
            chats,
            ..Context::default()
        }
    }

    /// Renders `kind`, drops every mention and hashtag, splits to fit
    /// after the `@sender ` each part starts with.
    fn reply(
        &self,
        kind: TemplateKind,
        sender: &str,
        ctx: Context,
    ) -> Result<Vec<String>, Diagnostic> {
        let handle: String = sender
            .trim_start_matches('@')
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '@'))
            .collect();
        if handle.is_empty() {
            return Err(Diagnostic::error(
                kind.file_name(),
                format!("no account to reply to ({sender:?})"),
            ));
        }
        let prefix = format!("@{handle}");
        let body = defuse(&self.templates.render_reply(kind, &ctx)?);
        // The prefix and one space come before every part.
        let budget = self
            .max_characters
            .saturating_sub(post_length(&prefix, self.url_length) + 1)
            .max(1);
        let parts = split(&body, budget, self.url_length);
        if parts.is_empty() {
            return Err(Diagnostic::error(
                self.templates.origin(kind),
                format!(
                    "the template {} renders no text once mentions and hashtags are removed",
                    kind.file_name()
                ),
            )
            .with_help("a reply mentions only the person it answers: write the reply's words"));
        }
        Ok(parts.into_iter().map(|p| format!("{prefix} {p}")).collect())
    }
}

/// Hours as a person writes them: "3", "1.5", "0.33".
fn hours(h: f64) -> String {
    let s = format!("{:.2}", h.max(0.0));
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
#[path = "replies_tests.rs"]
mod tests;
