//! How values are stored: instants, dates, step kinds, and rows back into
//! records.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{Row, ToSql};

use super::records::*;
use crate::plan::StepKind;

/// An instant as stored: UTC RFC 3339 text to the millisecond.
pub(super) struct Ts(pub(super) DateTime<Utc>);

impl ToSql for Ts {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(
            self.0.to_rfc3339_opts(SecondsFormat::Millis, true),
        ))
    }
}

impl FromSql for Ts {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let s = value.as_str()?;
        DateTime::parse_from_rfc3339(s)
            .map(|t| Ts(t.with_timezone(&Utc)))
            .map_err(|e| FromSqlError::Other(format!("instant {s:?}: {e}").into()))
    }
}

/// A local date as stored: `YYYY-MM-DD`.
pub(super) struct Day(pub(super) NaiveDate);

impl ToSql for Day {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.0.format("%Y-%m-%d").to_string()))
    }
}

impl FromSql for Day {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let s = value.as_str()?;
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Day)
            .map_err(|e| FromSqlError::Other(format!("date {s:?}: {e}").into()))
    }
}

/// The stored form of a step kind: a word, and a number for the kinds that
/// have one.
pub(super) fn kind_parts(kind: &StepKind) -> (&'static str, Option<i64>) {
    match *kind {
        StepKind::Reminder { lead_minutes } => ("reminder", Some(i64::from(lead_minutes))),
        StepKind::Welcome => ("welcome", None),
        StepKind::Question { number } => ("question", i64::try_from(number).ok()),
        StepKind::LastCall => ("last_call", None),
        StepKind::WrapUp => ("wrap_up", None),
        StepKind::Recap { part, head: true } => ("recap_head", i64::try_from(part).ok()),
        StepKind::Recap { part, head: false } => ("recap", i64::try_from(part).ok()),
    }
}

/// The step kind for its stored form.
pub(super) fn kind_from_parts(word: &str, number: Option<i64>) -> Option<StepKind> {
    Some(match (word, number) {
        ("reminder", Some(n)) => StepKind::Reminder {
            lead_minutes: u32::try_from(n).ok()?,
        },
        ("welcome", None) => StepKind::Welcome,
        ("question", Some(n)) => StepKind::Question {
            number: usize::try_from(n).ok()?,
        },
        ("last_call", None) => StepKind::LastCall,
        ("wrap_up", None) => StepKind::WrapUp,
        ("recap_head" | "recap", Some(n)) => StepKind::Recap {
            part: usize::try_from(n).ok()?,
            head: word == "recap_head",
        },
        _ => return None,
    })
}

/// A row error for a value that is stored but cannot be turned back into
/// its Rust type.
pub(super) fn corrupt(column: usize, what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, what.into())
}

pub(super) const CHAT_COLUMNS: &str = "id, name, local_date, start_utc, instance_url, account, state, \
     questions_file, created_at, updated_at, swept_at, recap_state, recap_note, archived_at, \
     archive_error";

pub(super) fn chat_from_row(row: &Row<'_>) -> rusqlite::Result<ChatRecord> {
    Ok(ChatRecord {
        id: ChatId(row.get(0)?),
        name: row.get(1)?,
        date: row.get::<_, Day>(2)?.0,
        start_utc: row.get::<_, Ts>(3)?.0,
        instance_url: row.get(4)?,
        account: row.get(5)?,
        state: row.get(6)?,
        questions_file: row.get(7)?,
        created_at: row.get::<_, Ts>(8)?.0,
        updated_at: row.get::<_, Ts>(9)?.0,
        swept_at: row.get::<_, Option<Ts>>(10)?.map(|t| t.0),
        recap: row.get(11)?,
        recap_note: row.get(12)?,
        archived_at: row.get::<_, Option<Ts>>(13)?.map(|t| t.0),
        archive_error: row.get(14)?,
    })
}

pub(super) const STEP_COLUMNS: &str = "id, chat_id, key, kind, kind_number, planned_at, text, state, \
     idempotency_key, attempts, remote_id, remote_uri, remote_url, remote_created_at, \
     posted_at, last_error, reason, updated_at, outcome_unknown";

pub(super) fn step_from_row(row: &Row<'_>) -> rusqlite::Result<StepRecord> {
    let word: String = row.get(3)?;
    let number: Option<i64> = row.get(4)?;
    let kind = kind_from_parts(&word, number)
        .ok_or_else(|| corrupt(3, format!("unknown step kind {word:?} {number:?}")))?;
    let remote = match (row.get::<_, Option<String>>(10)?, row.get(11)?) {
        (Some(id), Some(uri)) => Some(RemotePost {
            id,
            uri,
            url: row.get(12)?,
            created_at: row
                .get::<_, Option<Ts>>(13)?
                .ok_or_else(|| corrupt(13, "a posted step without created_at".into()))?
                .0,
        }),
        _ => None,
    };
    Ok(StepRecord {
        id: StepId(row.get(0)?),
        chat_id: ChatId(row.get(1)?),
        key: row.get(2)?,
        kind,
        planned_at: row.get::<_, Ts>(5)?.0,
        text: row.get(6)?,
        state: row.get(7)?,
        idempotency_key: row.get(8)?,
        attempts: row.get(9)?,
        remote,
        posted_at: row.get::<_, Option<Ts>>(14)?.map(|t| t.0),
        last_error: row.get(15)?,
        reason: row.get(16)?,
        updated_at: row.get::<_, Ts>(17)?.0,
        outcome_unknown: row.get(18)?,
    })
}
