//! Engagement: favourites and boosts, their endpoints, and the simulated
//! participants' habit of favouring and boosting each other's answers.
//!
//! A boost is a status of the booster with `reblog_of` set and no text or
//! tags of its own, so tag timelines and hashtag streams never list it; the
//! booster's own user stream hears it. Deleting the original deletes its
//! boosts. Favouring or boosting a boost acts on the original, and repeating
//! either is harmless, as on the real servers.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State as AxState};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use super::error::ApiError;
use super::ids::Id;
use super::notify::NotificationKind;
use super::render;
use super::routes::Authed;
use super::server::Shared;
use super::state::{Event, State, Status, Version, Visibility};

impl State {
    /// The status `id` resolves to for engagement: the original of a boost.
    fn engagement_target(&self, account: usize, id: &str) -> Result<Id, ApiError> {
        let status = self.visible_status(id, Some(account))?;
        Ok(status
            .reblog_of
            .clone()
            .unwrap_or_else(|| status.id.clone()))
    }

    /// `account` favourites `id` (idempotent); returns the favourited id.
    pub fn favourite(&mut self, account: usize, id: &str) -> Result<Id, ApiError> {
        let target = self.engagement_target(account, id)?;
        let status = self.statuses.get_mut(&target).expect("resolved above");
        if !status.favourited_by.contains(&account) {
            status.favourited_by.push(account);
            let author = status.author;
            self.notify(NotificationKind::Favourite, author, account, &target);
        }
        Ok(target)
    }

    /// `account` takes its favourite of `id` back (harmless without one).
    pub fn unfavourite(&mut self, account: usize, id: &str) -> Result<Id, ApiError> {
        let target = self.engagement_target(account, id)?;
        let status = self.statuses.get_mut(&target).expect("resolved above");
        status.favourited_by.retain(|&a| a != account);
        Ok(target)
    }

    /// `account` boosts `id`; returns the boost's id (the existing one when
    /// boosted before). Only public and unlisted statuses can be boosted.
    pub fn reblog(&mut self, account: usize, id: &str) -> Result<Id, ApiError> {
        let target = self.engagement_target(account, id)?;
        let original = &self.statuses[&target];
        if matches!(
            original.visibility,
            Visibility::Private | Visibility::Direct
        ) {
            return Err(ApiError::new(403, self.flavour.not_allowed_error()));
        }
        if let Some(existing) = self.boost_by(account, &target) {
            return Ok(existing);
        }
        let now = self.now();
        let boost_id = self.ids.next(now);
        let boost = Status {
            id: boost_id.clone(),
            author: account,
            in_reply_to: None,
            in_reply_to_account: None,
            visibility: Visibility::Public,
            language: None,
            created_at: now,
            edited_at: None,
            versions: vec![Version {
                text: String::new(),
                spoiler_text: String::new(),
                sensitive: false,
                content: String::new(),
                at: now,
            }],
            tags: Vec::new(),
            mentions: Vec::new(),
            deleted_at: None,
            pinned: false,
            reblog_of: Some(target.clone()),
            favourited_by: Vec::new(),
            boosts: Vec::new(),
        };
        self.statuses.insert(boost_id.clone(), boost);
        self.statuses
            .get_mut(&target)
            .expect("resolved above")
            .boosts
            .push(boost_id.clone());
        self.accounts[account].statuses_count += 1;
        self.accounts[account].last_status_at = Some(now);
        let event = self.status_event(&boost_id);
        let _ = self.events.send(Event::Created(event));
        Ok(boost_id)
    }

    /// `account` undoes its boost of `id`; returns the original's id.
    pub fn unreblog(&mut self, account: usize, id: &str) -> Result<Id, ApiError> {
        let target = self.engagement_target(account, id)?;
        if let Some(boost) = self.boost_by(account, &target) {
            self.delete(account, boost.as_str())?;
        }
        Ok(target)
    }

    /// `account`'s live boost of `target`, if any.
    fn boost_by(&self, account: usize, target: &Id) -> Option<Id> {
        self.statuses[target]
            .boosts
            .iter()
            .find(|b| self.statuses.get(*b).is_some_and(|b| b.author == account))
            .cloned()
    }
}

type Shr = AxState<Arc<Shared>>;

/// Runs one engagement action and renders what the real servers answer.
fn engage_response(
    shared: &Shared,
    me: usize,
    id: &str,
    action: fn(&mut State, usize, &str) -> Result<Id, ApiError>,
) -> Result<Json<Value>, ApiError> {
    let mut state = shared.state.lock().expect("state lock");
    let shown = action(&mut state, me, id)?;
    Ok(Json(render::status_for(
        &state,
        &state.statuses[&shown],
        Some(me),
    )))
}

/// `POST /api/v1/statuses/:id/favourite`: the favourited status.
pub(crate) async fn favourite(
    AxState(shared): Shr,
    Authed(me): Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    engage_response(&shared, me, &id, State::favourite)
}

/// `POST /api/v1/statuses/:id/unfavourite`: the status.
pub(crate) async fn unfavourite(
    AxState(shared): Shr,
    Authed(me): Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    engage_response(&shared, me, &id, State::unfavourite)
}

/// `POST /api/v1/statuses/:id/reblog`: the boost, wrapping the original.
pub(crate) async fn reblog(
    AxState(shared): Shr,
    Authed(me): Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    engage_response(&shared, me, &id, State::reblog)
}

/// `POST /api/v1/statuses/:id/unreblog`: the original status.
pub(crate) async fn unreblog(
    AxState(shared): Shr,
    Authed(me): Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    engage_response(&shared, me, &id, State::unreblog)
}

/// The engagement randomness of participant `index` at question `q`: its own
/// stream, so answering stays exactly as it was without engagement.
fn engagement_rng(seed: u64, q: u32, index: usize) -> StdRng {
    StdRng::seed_from_u64(
        !seed ^ (u64::from(q) << 40) ^ (index as u64).wrapping_mul(0xD1B5_4A32_D192_ED03),
    )
}

/// After answering `q` with `own`, participant `index` favourites one or two
/// earlier answers of others to `q` and sometimes (one time in three) boosts
/// one, so answers end with different counts to rank.
pub(crate) fn after_answering(state: &mut State, seed: u64, q: u32, index: usize, own: &Id) {
    let mut rng = engagement_rng(seed, q, index);
    let favourites = rng.gen_range(1..=2usize);
    let boost = rng.gen_bool(1.0 / 3.0);
    let earlier: Vec<Id> = state
        .answers
        .iter()
        .filter(|(question, id)| *question == q && id != own)
        .filter(|(_, id)| {
            state.statuses.get(id).is_some_and(|s| {
                s.author != index
                    && s.deleted_at.is_none()
                    && matches!(s.visibility, Visibility::Public | Visibility::Unlisted)
            })
        })
        .map(|(_, id)| id.clone())
        .collect();
    if earlier.is_empty() {
        return;
    }
    let picks = rand::seq::index::sample(&mut rng, earlier.len(), favourites.min(earlier.len()));
    for i in picks {
        let _ = state.favourite(index, earlier[i].as_str());
    }
    if boost {
        let i = rng.gen_range(0..earlier.len());
        let _ = state.reblog(index, earlier[i].as_str());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::{Sandbox, SandboxConfig, TestPost};

    async fn sandbox() -> Sandbox {
        Sandbox::start(SandboxConfig {
            participants: 4,
            ..SandboxConfig::default()
        })
        .await
        .expect("sandbox starts")
    }

    fn counts(sandbox: &Sandbox, id: &str) -> (usize, usize) {
        let state = sandbox.shared.state.lock().unwrap();
        let s = &state.statuses[&Id(id.to_string())];
        (s.favourited_by.len(), s.boosts.len())
    }

    #[tokio::test]
    async fn favourites_and_boosts_count_once_and_act_on_the_original() {
        let sandbox = sandbox().await;
        let id = sandbox
            .post_as("alice", TestPost::public("A1: yes"))
            .unwrap();
        sandbox.favourite_as("bob", &id).unwrap();
        sandbox.favourite_as("bob", &id).unwrap();
        let boost = sandbox.reblog_as("carol", &id).unwrap();
        assert_eq!(
            sandbox.reblog_as("carol", &id).unwrap(),
            boost,
            "one boost each"
        );
        // Favouring or boosting the boost lands on the original.
        sandbox.favourite_as("dave", &boost).unwrap();
        let again = sandbox.reblog_as("dave", &boost).unwrap();
        assert_eq!(counts(&sandbox, &id), (2, 2));
        assert_eq!(counts(&sandbox, &boost), (0, 0));
        {
            let mut state = sandbox.shared.state.lock().unwrap();
            state.unfavourite(2, &id).unwrap(); // bob
            state.unreblog(4, &id).unwrap();
            assert!(state.statuses[&Id(again.clone())].deleted_at.is_some());
        }
        assert_eq!(counts(&sandbox, &id), (1, 1));
        sandbox.shutdown().await;
    }

    #[tokio::test]
    async fn private_statuses_cannot_be_boosted_and_a_delete_takes_the_boosts() {
        let sandbox = sandbox().await;
        let private = TestPost {
            visibility: Visibility::Private,
            ..TestPost::public("@bob just us")
        };
        let id = sandbox.post_as("alice", private).unwrap();
        let err = sandbox.reblog_as("bob", &id).unwrap_err();
        assert_eq!(err, "This action is not allowed");
        assert_eq!(counts(&sandbox, &id), (0, 0));

        let id = sandbox
            .post_as("alice", TestPost::public("A1: ok"))
            .unwrap();
        let boost = sandbox.reblog_as("bob", &id).unwrap();
        sandbox.delete_as("alice", &id).unwrap();
        {
            let state = sandbox.shared.state.lock().unwrap();
            assert!(state.statuses[&Id(boost)].deleted_at.is_some());
        }
        sandbox.shutdown().await;
    }

    #[tokio::test]
    async fn after_answering_engages_only_with_others_live_answers() {
        let sandbox = sandbox().await;
        let mine = sandbox
            .post_as("alice", TestPost::answer(1, "A1: mine"))
            .unwrap();
        let gone = sandbox
            .post_as("bob", TestPost::answer(1, "A1: gone"))
            .unwrap();
        let other_q = sandbox
            .post_as("carol", TestPost::answer(2, "A2: no"))
            .unwrap();
        let live = sandbox
            .post_as("dave", TestPost::answer(1, "A1: live"))
            .unwrap();
        sandbox.delete_as("bob", &gone).unwrap();
        {
            let mut state = sandbox.shared.state.lock().unwrap();
            after_answering(&mut state, 42, 1, 1, &Id(mine.clone()));
            let favs = |id: &str| state.statuses[&Id(id.to_string())].favourited_by.clone();
            assert_eq!(
                favs(&live),
                vec![1],
                "the only eligible answer is favourited"
            );
            assert!(favs(&mine).is_empty() && favs(&gone).is_empty() && favs(&other_q).is_empty());
        }
        sandbox.shutdown().await;
    }
}
