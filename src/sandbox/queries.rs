//! Reading the sandbox's data as the timelines, threads and tag follows
//! of the API see it: what is tagged, an account's statuses, a status's
//! context, reply counts, followed tags. Split from [`super::state`],
//! which keeps the data and its changes.

use super::error::ApiError;
use super::ids::Id;
use super::state::{State, TagFollow, Visibility};

impl State {
    /// Ids of the public statuses tagged `tag`.
    pub fn tagged(&self, tag: &str) -> Result<Vec<Id>, ApiError> {
        let tag = tag.to_lowercase();
        if self.flavour.unknown_tag_is_404() && !self.tags_used.contains(&tag) {
            return Err(self.not_found());
        }
        Ok(self
            .statuses
            .values()
            .filter(|s| s.deleted_at.is_none() && s.visibility == Visibility::Public)
            .filter(|s| s.tags.contains(&tag))
            .map(|s| s.id.clone())
            .collect())
    }

    /// Ids of `account`'s statuses that `viewer` may see.
    pub fn statuses_by(
        &self,
        account: usize,
        viewer: Option<usize>,
        exclude_replies: bool,
    ) -> Vec<Id> {
        self.statuses
            .values()
            .filter(|s| s.author == account && self.visible_to(s, viewer))
            .filter(|s| !exclude_replies || s.in_reply_to.is_none())
            .filter(|s| viewer == Some(account) || s.visibility != Visibility::Direct)
            .map(|s| s.id.clone())
            .collect()
    }

    /// Ancestors (oldest first) and descendants (depth-first) of `id`.
    pub fn context(&self, id: &str, viewer: Option<usize>) -> Result<(Vec<Id>, Vec<Id>), ApiError> {
        let status = self.visible_status(id, viewer)?;
        let mut ancestors = Vec::new();
        let mut parent = status.in_reply_to.clone();
        while let Some(p) = parent {
            match self.statuses.get(&p).filter(|s| self.visible_to(s, viewer)) {
                Some(s) => {
                    ancestors.push(s.id.clone());
                    parent = s.in_reply_to.clone();
                }
                None => break,
            }
        }
        ancestors.reverse();
        let mut descendants = Vec::new();
        self.collect_replies(&status.id, viewer, &mut descendants);
        Ok((ancestors, descendants))
    }

    fn collect_replies(&self, id: &Id, viewer: Option<usize>, out: &mut Vec<Id>) {
        for child in self.children.get(id).into_iter().flatten() {
            if self.visible_to(&self.statuses[child], viewer) {
                out.push(child.clone());
                self.collect_replies(child, viewer, out);
            }
        }
    }

    /// Number of live direct replies to `id` (for `replies_count`).
    pub fn replies_count(&self, id: &Id) -> usize {
        self.children
            .get(id)
            .into_iter()
            .flatten()
            .filter(|c| self.statuses[*c].deleted_at.is_none())
            .count()
    }

    /// Follows `tag` for `account` (idempotent).
    pub fn follow_tag(&mut self, account: usize, tag: &str) {
        let tag = tag.to_lowercase();
        if !self
            .follows
            .iter()
            .any(|f| f.account == account && f.tag == tag)
        {
            let id = self.ids.next(self.now());
            self.follows.push(TagFollow { id, account, tag });
        }
    }

    /// Unfollows `tag` for `account`.
    pub fn unfollow_tag(&mut self, account: usize, tag: &str) {
        let tag = tag.to_lowercase();
        self.follows
            .retain(|f| !(f.account == account && f.tag == tag));
    }

    /// Whether `account` follows `tag`.
    pub fn follows_tag(&self, account: usize, tag: &str) -> bool {
        let tag = tag.to_lowercase();
        self.follows
            .iter()
            .any(|f| f.account == account && f.tag == tag)
    }
}
