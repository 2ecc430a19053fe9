//! Which answers a recap links under a question: visible ones (not
//! deleted) by people who may be quoted, the most engaging first
//! (favourites, boosts and replies, each counting one), ties to the
//! earlier answer.

use crate::store::AnswerRecord;

/// An answer's engagement, as the recap ranks it.
pub fn score(a: &AnswerRecord) -> u64 {
    let e = a.engagement;
    e.favourites
        .saturating_add(e.reblogs)
        .saturating_add(e.replies)
}

/// Up to `n` answers to `question` worth linking, best first. An answer
/// without a stored text or link (consent, a deletion) is never picked.
pub fn top_answers(answers: &[AnswerRecord], question: u32, n: usize) -> Vec<&AnswerRecord> {
    let mut picked: Vec<&AnswerRecord> = answers
        .iter()
        .filter(|a| a.question == Some(question) && a.deleted_at.is_none())
        .filter(|a| a.quotable && a.text.is_some() && a.url.is_some())
        .collect();
    picked.sort_by(|a, b| {
        score(b)
            .cmp(&score(a))
            .then(a.created_at.cmp(&b.created_at))
            .then(a.uri.cmp(&b.uri))
    });
    picked.truncate(n);
    picked
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::{AnswerId, ChatId, Engagement};

    pub(crate) fn answer(uri: &str, q: u32, minute: u32, favourites: u64) -> AnswerRecord {
        AnswerRecord {
            id: AnswerId(1),
            chat_id: ChatId(1),
            uri: uri.into(),
            acct: format!("{uri}@nurses.example"),
            display_name: Some(uri.to_uppercase()),
            account_url: None,
            quotable: true,
            first_chat_id: Some(ChatId(1)),
            source: "https://bot.example".into(),
            remote_id: Some(uri.into()),
            in_reply_to_id: None,
            question: Some(q),
            method: Some("prefix".into()),
            via_tag: true,
            via_reply: false,
            visibility: "public".into(),
            language: None,
            created_at: format!("2026-12-02T20:{minute:02}:00Z").parse().unwrap(),
            edited_at: None,
            deleted_at: None,
            text: Some(format!("A{q}: answer {uri}")),
            html: None,
            url: Some(format!("https://nurses.example/@x/{uri}")),
            engagement: Engagement {
                favourites,
                reblogs: 0,
                replies: 0,
            },
        }
    }

    #[test]
    fn most_engaging_first_ties_to_the_earlier_and_consent_respected() {
        let mut list = vec![
            answer("a", 1, 5, 2),
            answer("b", 1, 3, 2),
            answer("c", 1, 9, 7),
            answer("d", 2, 4, 50),
            answer("e", 1, 6, 40),
            answer("f", 1, 7, 30),
        ];
        list[4].quotable = false; // counted only: never linked, even with text
        list.push(answer("g", 1, 8, 60));
        list[6].url = None; // no link to give
        list[5].deleted_at = list[5].edited_at.or(Some(list[5].created_at));
        let top: Vec<&str> = top_answers(&list, 1, 3)
            .iter()
            .map(|a| a.uri.as_str())
            .collect();
        assert_eq!(top, ["c", "b", "a"]);
        assert!(top_answers(&list, 3, 3).is_empty());
        assert_eq!(top_answers(&list, 1, 0).len(), 0);
    }
}
