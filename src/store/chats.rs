//! Chat dates: recorded once, then moved through their states.

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{OptionalExtension, params};

use super::codec::*;
use super::error::Problem;
use super::records::*;
use super::{Store, StoreError};

impl Store {
    /// The chat date `new.name` on `new.date`, created `planned` if the store
    /// does not know it yet. An existing one is returned unchanged: it keeps
    /// the instance and account its steps went to, which a reconcile must
    /// look at; comparing them with the settings is the caller's business.
    pub fn upsert_chat(&self, new: &NewChat, now: DateTime<Utc>) -> Result<ChatRecord, StoreError> {
        self.write("record the chat", |tx| {
            tx.execute(
                "INSERT INTO chats (name, local_date, start_utc, instance_url, account, state, \
                 questions_file, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) \
                 ON CONFLICT (name, local_date) DO NOTHING",
                params![
                    new.name,
                    Day(new.date),
                    Ts(new.start_utc),
                    new.instance_url,
                    new.account,
                    ChatState::Planned,
                    new.questions_file,
                    Ts(now),
                ],
            )?;
            Ok(tx.query_row(
                &format!("SELECT {CHAT_COLUMNS} FROM chats WHERE name = ?1 AND local_date = ?2"),
                params![new.name, Day(new.date)],
                chat_from_row,
            )?)
        })
    }

    /// The chat `name` on local date `date`, if the store knows it.
    pub fn chat(&self, name: &str, date: NaiveDate) -> Result<Option<ChatRecord>, StoreError> {
        self.read("read a chat", |conn| {
            Ok(conn
                .query_row(
                    &format!(
                        "SELECT {CHAT_COLUMNS} FROM chats WHERE name = ?1 AND local_date = ?2"
                    ),
                    params![name, Day(date)],
                    chat_from_row,
                )
                .optional()?)
        })
    }

    /// The chat with this id.
    pub fn chat_by_id(&self, id: ChatId) -> Result<ChatRecord, StoreError> {
        self.read("read a chat", |conn| {
            conn.query_row(
                &format!("SELECT {CHAT_COLUMNS} FROM chats WHERE id = ?1"),
                [id.0],
                chat_from_row,
            )
            .optional()?
            .ok_or(Problem::NoSuchChat(id))
        })
    }

    /// Every chat date the store knows, newest first; of one chat when
    /// `name` is given.
    pub fn chats(&self, name: Option<&str>) -> Result<Vec<ChatRecord>, StoreError> {
        self.read("list the chats", |conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {CHAT_COLUMNS} FROM chats WHERE ?1 IS NULL OR name = ?1 \
                 ORDER BY start_utc DESC, name"
            ))?;
            let rows = stmt.query_map([name], chat_from_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Sets where a chat date stands.
    pub fn set_chat_state(
        &self,
        id: ChatId,
        state: ChatState,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write("set the chat's state", |tx| {
            let changed = tx.execute(
                "UPDATE chats SET state = ?2, updated_at = ?3 WHERE id = ?1",
                params![id.0, state, Ts(now)],
            )?;
            if changed == 0 {
                return Err(Problem::NoSuchChat(id));
            }
            Ok(())
        })
    }
}
