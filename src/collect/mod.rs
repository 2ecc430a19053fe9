//! Collecting the answers of a chat (issue 8). Built so far, pure and
//! tested: attribution of a post to its question ([`attribute`]) and a
//! status as safe plain text ([`text`]). To come, as
//! a part of each chat date beside posting (`engine/occurrence.rs`): the
//! hashtag timeline, the questions' contexts, a stream, other instances,
//! all into the store through one idempotent path keyed on the status uri.

pub mod attribute;
pub mod text;
