//! A participant's record of the chats they took part in (evidence for
//! continuing professional development): built from what the store holds
//! about that one account, never about anyone else.

use chrono::{DateTime, NaiveDate, Utc};

use super::parse::Period;

/// What the store holds about one account's answers, by chat date (the
/// shape of the store's `ParticipantData.chats`): chat name, chat date,
/// its start, and the links of the account's own visible answers.
#[derive(Debug, Clone, Default)]
pub struct RecordInput {
    /// `(chat name, chat date, start, answer links)`, in any order.
    pub chats: Vec<(String, NaiveDate, DateTime<Utc>, Vec<String>)>,
}

/// A chat's hashtag (without `#`), length in minutes and a date's topic.
pub type ChatInfo = (String, u32, String);

/// A participation record, ready to reply with.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The period asked for; `None` for everything.
    pub period: Option<Period>,
    /// The chats attended, oldest first.
    pub chats: Vec<RecordChat>,
    /// Hours of chats attended: the sum of their lengths.
    pub hours: f64,
}

/// One chat attended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordChat {
    /// The chat's hashtag, without `#` (the chat's name when it is no
    /// longer configured).
    pub hashtag: String,
    /// The chat date.
    pub date: NaiveDate,
    /// That date's topic, or empty when unknown.
    pub topic: String,
    /// Links to the participant's own answers, oldest first.
    pub answers: Vec<String>,
    /// The chat's length in minutes (0 when the chat is no longer
    /// configured: its length is unknown).
    pub minutes: u32,
}

impl Record {
    /// The sum of the chats' minutes.
    pub fn minutes(&self) -> u32 {
        self.chats.iter().map(|c| c.minutes).sum()
    }

    /// How many answers in all.
    pub fn answers(&self) -> usize {
        self.chats.iter().map(|c| c.answers.len()).sum()
    }
}

/// Builds the record of one participant from what the store holds about
/// them, the chats' settings and topics (`chat_info` gives a chat name and
/// date's hashtag, length in minutes and topic, `None` for a chat no
/// longer configured), for a period. A chat date without a visible answer
/// was not attended and is left out.
pub fn build_record(
    data: &RecordInput,
    period: Option<Period>,
    chat_info: &dyn Fn(&str, NaiveDate) -> Option<ChatInfo>,
) -> Record {
    let mut chats: Vec<(DateTime<Utc>, RecordChat)> = data
        .chats
        .iter()
        .filter(|(_, date, _, answers)| {
            !answers.is_empty() && period.is_none_or(|p| p.contains(*date))
        })
        .map(|(name, date, start, answers)| {
            let (hashtag, minutes, topic) =
                chat_info(name, *date).unwrap_or_else(|| (name.clone(), 0, String::new()));
            let chat = RecordChat {
                hashtag,
                date: *date,
                topic,
                answers: answers.clone(),
                minutes,
            };
            (*start, chat)
        })
        .collect();
    chats.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.hashtag.cmp(&b.1.hashtag)));
    let chats: Vec<RecordChat> = chats.into_iter().map(|(_, c)| c).collect();
    let minutes: u32 = chats.iter().map(|c| c.minutes).sum();
    Record {
        period,
        chats,
        hours: f64::from(minutes) / 60.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn at(d: NaiveDate, h: u32) -> DateTime<Utc> {
        Utc.from_utc_datetime(&d.and_hms_opt(h, 0, 0).unwrap())
    }

    #[test]
    fn a_record_lists_attended_chats_in_the_period_oldest_first() {
        let (d1, d2, d3) = (ymd(2025, 12, 3), ymd(2026, 1, 7), ymd(2026, 2, 4));
        let input = RecordInput {
            chats: vec![
                (
                    "nurses".into(),
                    d2,
                    at(d2, 20),
                    vec!["https://x/@me/2".into()],
                ),
                (
                    "nurses".into(),
                    d1,
                    at(d1, 20),
                    vec!["https://x/@me/1".into()],
                ),
                (
                    "gone".into(),
                    d3,
                    at(d3, 19),
                    vec!["https://x/@me/3".into(), "https://x/@me/4".into()],
                ),
                // Only hidden answers: not attended.
                ("nurses".into(), d3, at(d3, 20), vec![]),
            ],
        };
        let info = |name: &str, date: NaiveDate| {
            (name == "nurses").then(|| ("WeNurses".to_string(), 90, format!("Topic of {date}")))
        };
        let all = build_record(&input, None, &info);
        let dates: Vec<_> = all.chats.iter().map(|c| c.date).collect();
        assert_eq!(dates, [d1, d2, d3]);
        assert_eq!(all.chats[0].topic, "Topic of 2025-12-03");
        // A chat no longer configured keeps its name, with no length.
        assert_eq!(
            (all.chats[2].hashtag.as_str(), all.chats[2].minutes),
            ("gone", 0)
        );
        assert_eq!(all.hours, 3.0);
        assert_eq!((all.minutes(), all.answers()), (180, 4));

        let p = Period::parse("2026").unwrap();
        let y2026 = build_record(&input, Some(p), &info);
        assert_eq!(y2026.chats.len(), 2);
        assert!(
            y2026
                .chats
                .iter()
                .all(|c| c.date.format("%Y").to_string() == "2026")
        );
        assert_eq!(y2026.hours, 1.5);
        assert_eq!(y2026.period, Some(p));
        let none = build_record(&input, Period::parse("2024-05"), &info);
        assert!(none.chats.is_empty());
        assert_eq!(none.hours, 0.0);
    }
}
