//! The recap of a chat date (issue 9), built from the collected answers.
//! Built so far, pure and tested: the numbers of the head post
//! ([`summary`]), the answers that drew most engagement under each
//! question with consent respected ([`rank`]), brief quotes ([`quote`]),
//! posts split to fit the instance's limit as it counts them
//! ([`split`]), and the thread composed from them with the recap
//! templates ([`thread`]). To come: the thread posted exactly once as a
//! part after the sweep, and the archive.

pub mod listing;
pub mod quote;
pub mod rank;
pub mod split;
pub mod summary;
pub mod thread;
