//! Participants talk to the bot (issue 10): they mention it with `next`,
//! `optout`, `optin`, `record` (or `cpd`) [period] or `help`; anything
//! else gets no reply.
//!
//! - Pure: [`parse`] finds the command in a mention's text; [`record`]
//!   builds a participant's record of the chats they attended from what
//!   the store holds about them alone; [`replies`] renders the reply texts
//!   from the `mention_*.j2` templates, each part addressed to the sender
//!   and mentioning nobody else, split to fit the instance's limit.
//! - `run` (the always-on task: poll, decide, reply exactly once) and
//!   `cli` (`chathost participant`) drive them.

pub mod cli;
pub mod parse;
pub mod record;
pub mod replies;

pub use parse::{Command, Period, parse};
pub use record::{ChatInfo, Record, RecordChat, RecordInput, build_record};
pub use replies::{NextChat, Replies};
