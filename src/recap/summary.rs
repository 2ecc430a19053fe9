//! The numbers of a chat date for the recap's head post: answers,
//! participants, first-timers (accounts whose earliest collected answer is
//! in this chat), and answers per question. Counted-only accounts are
//! counted; deleted answers are not.

use std::collections::{BTreeMap, HashSet};

use crate::store::{AnswerRecord, ChatId};

/// What the head post says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    /// Visible answers.
    pub answers: usize,
    /// Accounts that answered.
    pub participants: usize,
    /// Of those, the ones whose first chat this is.
    pub first_timers: usize,
    /// Visible answers per question.
    pub per_question: BTreeMap<u32, usize>,
}

/// The summary of chat date `chat` from its answers.
pub fn summary(chat: ChatId, answers: &[AnswerRecord]) -> Summary {
    let visible: Vec<&AnswerRecord> = answers.iter().filter(|a| a.deleted_at.is_none()).collect();
    let people: HashSet<&str> = visible.iter().map(|a| a.acct.as_str()).collect();
    let first: HashSet<&str> = visible
        .iter()
        .filter(|a| a.first_chat_id == Some(chat))
        .map(|a| a.acct.as_str())
        .collect();
    let mut per_question = BTreeMap::new();
    for a in &visible {
        if let Some(q) = a.question {
            *per_question.entry(q).or_insert(0) += 1;
        }
    }
    Summary {
        answers: visible.len(),
        participants: people.len(),
        first_timers: first.len(),
        per_question,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recap::rank::tests::answer;

    #[test]
    fn counts_people_once_first_timers_and_no_deleted_answers() {
        let mut list = vec![
            answer("ann", 1, 3, 0),
            answer("ann", 2, 13, 0),
            answer("bob", 1, 4, 0),
            answer("cat", 2, 14, 0),
            answer("dan", 2, 15, 0),
        ];
        list[1].uri = "ann-2".into();
        list[2].first_chat_id = Some(ChatId(0)); // bob answered an earlier chat
        list[3].deleted_at = Some(list[3].created_at);
        // dan asked not to be quoted: counted all the same.
        list[4].quotable = false;
        list[4].text = None;
        let s = summary(ChatId(1), &list);
        assert_eq!(
            s,
            Summary {
                answers: 4,
                participants: 3,
                first_timers: 2,
                per_question: BTreeMap::from([(1, 2), (2, 2)]),
            }
        );
    }
}
