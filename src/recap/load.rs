//! What the recap and the archive of a chat date are made from, read once
//! from the store and the host's files: the questions as posted, every
//! answer as collected, the recap thread's head.

use chrono::{DateTime, Duration, Utc};

use crate::archive::{ArchiveQuestion, ChatArchive};
use crate::config::Chat;
use crate::plan::{self, Occurrence, StepKind};
use crate::prompts;
use crate::store::{AnswerRecord, ChatRecord, StepState, Store, StoreError};

use super::thread::{NextChat, ThreadInput};

/// A chat date's questions and answers.
#[derive(Debug, Clone)]
pub struct ChatData {
    /// The date as stored.
    pub record: ChatRecord,
    /// The week's topic (from its question file), or empty.
    pub topic: String,
    /// The questions, by number.
    pub questions: Vec<ArchiveQuestion>,
    /// Every answer as stored (tombstones and counted-only included).
    pub answers: Vec<AnswerRecord>,
    /// The recap thread's first post, once posted.
    pub recap_url: Option<String>,
}

impl ChatData {
    /// Reads chat date `record` of `chat`.
    pub fn load(store: &Store, chat: &Chat, record: ChatRecord) -> Result<ChatData, StoreError> {
        let steps = store.steps(record.id)?;
        let answers = store.answers(record.id)?;
        // The host's words: the question file as it stands (a file edited
        // since only changes the wording shown, never what was posted).
        let set = prompts::question_file(chat, record.date)
            .load(chat)
            .and_then(Result::ok);
        let written = |n: usize| {
            set.as_ref()
                .and_then(|s| s.questions.get(n.checked_sub(1)?))
                .map(|q| q.text.clone())
        };
        let mut questions: Vec<ArchiveQuestion> = steps
            .iter()
            .filter_map(|s| match s.kind {
                StepKind::Question { number } if s.state != StepState::Cancelled => {
                    let posted = s.state == StepState::Posted;
                    Some(ArchiveQuestion {
                        number: u32::try_from(number).ok()?,
                        text: written(number).unwrap_or_else(|| first_line(&s.text)),
                        posted_at: s
                            .remote
                            .as_ref()
                            .map(|r| r.created_at)
                            .or(s.posted_at)
                            .filter(|_| posted),
                        url: s.remote.as_ref().and_then(|r| r.url.clone()),
                    })
                }
                _ => None,
            })
            .collect();
        if questions.is_empty()
            && let Some(set) = &set
        {
            // A date the bot never hosted (recollected): the file's questions.
            questions = (1..=set.questions.len())
                .filter_map(|n| {
                    Some(ArchiveQuestion {
                        number: u32::try_from(n).ok()?,
                        text: written(n)?,
                        posted_at: None,
                        url: None,
                    })
                })
                .collect();
        }
        questions.sort_by_key(|q| q.number);
        let mut thread: Vec<_> = steps
            .iter()
            .filter_map(|s| match s.kind {
                StepKind::Recap { part, .. } => Some((part, s)),
                _ => None,
            })
            .collect();
        thread.sort_by_key(|(part, _)| *part);
        let recap_url = thread
            .iter()
            .find(|(_, s)| s.state == StepState::Posted)
            .and_then(|(_, s)| s.remote.as_ref()?.url.clone());
        Ok(ChatData {
            topic: set.map(|s| s.topic).unwrap_or_default(),
            record,
            questions,
            answers,
            recap_url,
        })
    }

    /// Whether anyone answered (visible answers only).
    pub fn has_answers(&self) -> bool {
        self.answers.iter().any(|a| a.deleted_at.is_none())
    }

    /// The questions as the thread names them: number and text.
    pub fn numbered_questions(&self) -> Vec<(u32, String)> {
        self.questions
            .iter()
            .map(|q| (q.number, q.text.clone()))
            .collect()
    }

    /// The thread's input; `questions` and `links` are borrowed from the
    /// caller (see [`ChatData::numbered_questions`]).
    pub fn thread_input<'a>(
        &'a self,
        chat: &'a Chat,
        occ: &Occurrence,
        questions: &'a [(u32, String)],
        links: &'a [(String, usize)],
        archive_url: Option<&'a str>,
    ) -> ThreadInput<'a> {
        ThreadInput {
            chat_id: self.record.id,
            hashtag: &chat.hashtag,
            topic: &self.topic,
            day: occ.start.format("%A %-d %B").to_string(),
            questions,
            answers: &self.answers,
            answers_per_question: usize::try_from(chat.recap.answers_per_question).unwrap_or(3),
            links,
            archive_url,
            next: next_chat(chat, occ),
        }
    }

    /// The archive's input, as of `as_of`.
    pub fn archive_input(
        &self,
        chat: &Chat,
        occ: &Occurrence,
        bot_acct: &str,
        as_of: DateTime<Utc>,
    ) -> ChatArchive {
        let start = occ.start_utc();
        ChatArchive {
            chat_id: self.record.id,
            chat: chat.name.clone(),
            hashtag: chat.hashtag.clone(),
            topic: self.topic.clone(),
            date: occ.date,
            zone: chat.zone,
            start,
            end: start + Duration::minutes(i64::from(chat.pacing.wrap_up)),
            instance_url: self.record.instance_url.clone(),
            bot_acct: bot_acct.to_string(),
            questions: self.questions.clone(),
            answers: self.answers.clone(),
            recap_url: self.recap_url.clone(),
            archive_url: published_at(chat, occ),
            as_of,
        }
    }
}

/// Where a chat date's archive folder is published, when the host
/// publishes the archive (`[chats.X.archive] url`).
pub fn published_at(chat: &Chat, occ: &Occurrence) -> Option<String> {
    let base = chat.archive.url.as_ref().filter(|_| chat.archive.enabled)?;
    Some(format!(
        "{}/{}/{}/",
        base.trim_end_matches('/'),
        chat.name,
        occ.date
    ))
}

/// The chat after `occ`, named in the thread's last post, with its topic
/// when its own question file exists (a fallback's topic is not news).
fn next_chat(chat: &Chat, occ: &Occurrence) -> Option<NextChat> {
    let next = plan::next_after(chat, occ)?;
    let topic = match prompts::question_file(chat, next.date) {
        found @ prompts::QuestionFile::Found {
            fallback: false, ..
        } => found
            .load(chat)
            .and_then(Result::ok)
            .map(|s| s.topic)
            .unwrap_or_default(),
        _ => String::new(),
    };
    Some(NextChat {
        day: next.start.format("%A %-d %B").to_string(),
        time: next.start.format("%H:%M %Z").to_string(),
        topic,
    })
}

/// A posted question's first line without its "Q3: " label.
fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    match line.split_once(": ") {
        Some((label, rest))
            if label.len() > 1
                && label.starts_with('Q')
                && label[1..].chars().all(|c| c.is_ascii_digit()) =>
        {
            rest.to_string()
        }
        _ => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_posted_question_is_named_without_its_label() {
        assert_eq!(
            first_line("Q12: What helps?\n\nAnswer with A12"),
            "What helps?"
        );
        assert_eq!(first_line("Quick: one thing"), "Quick: one thing");
    }
}
