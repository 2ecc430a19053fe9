//! After the chat (issue 9): the recap thread and the archive of a chat
//! date, made from the answers collected.
//!
//! - Pure: the numbers of the head post ([`summary`]), the answers that
//!   drew most engagement under each question with consent respected
//!   ([`rank`]), brief quotes that mention nobody ([`quote`]), posts split
//!   to fit the instance's limit as it counts them ([`split`]), and the
//!   thread composed from them with the recap templates ([`thread`]).
//! - [`load`] reads a date's questions and answers from the store and the
//!   host's files; [`make`] turns them into the thread and the archive
//!   folder (rendered by [`crate::archive`]).
//! - The engine posts the thread exactly once (`engine::after`);
//!   [`command`] is `chathost recap` and `chathost archive`, [`listing`]
//!   is `chathost chats`.

pub mod command;
pub mod listing;
pub mod load;
pub mod make;
pub mod quote;
pub mod rank;
pub mod split;
pub mod summary;
pub mod thread;

pub use load::ChatData;
pub use make::{archive_dir, compose_thread, write_archive, write_folder};
