//! The sandbox's data: accounts, statuses (deleted ones kept as tombstones so
//! tests can list everything an account ever posted), tag follows,
//! notifications and idempotency keys; and the operations on them that the
//! routes and the simulated participants share.
//!
//! Every change is announced on an [`Event`] channel while the lock is held,
//! so streams and participants see changes in the order they happened.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde_json::Value;
use tokio::sync::broadcast;

use super::content;
use super::error::ApiError;
use super::flavour::Flavour;
use super::ids::{Id, IdGen};
use super::notify::{Notification, NotificationKind};
use super::participants::Persona;
use super::render;
use crate::clock::SharedClock;

/// An access token. Its `Debug` hides the value so it never lands in a log.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Token(String);

impl Token {
    /// A fresh random token (not from the seed: tokens differ on every start).
    pub fn random() -> Self {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut rng = rand::thread_rng();
        Token(
            (0..43)
                .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
                .collect(),
        )
    }

    /// Wraps a value a client sent, to look it up.
    pub fn from_secret(value: &str) -> Self {
        Token(value.to_string())
    }

    /// The secret itself, for a client's `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Who may see a status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visibility {
    /// Everyone; listed in tag timelines.
    Public,
    /// Everyone, but left out of tag and public timelines.
    Unlisted,
    /// Followers and mentioned accounts (here: the mentioned ones).
    Private,
    /// Mentioned accounts only.
    Direct,
}

impl Visibility {
    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Unlisted => "unlisted",
            Visibility::Private => "private",
            Visibility::Direct => "direct",
        }
    }

    /// Parses an API name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "public" => Some(Visibility::Public),
            "unlisted" => Some(Visibility::Unlisted),
            "private" => Some(Visibility::Private),
            "direct" => Some(Visibility::Direct),
            _ => None,
        }
    }
}

/// An account of the sandbox: the bot or a participant.
#[derive(Clone, Debug)]
pub struct Account {
    /// Opaque id.
    pub id: Id,
    /// Local username, also its `acct`.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Profile note as plain text (may hold `#nobot`).
    pub note: String,
    /// Marked as automated.
    pub bot: bool,
    /// When the account was made (clock time).
    pub created_at: DateTime<Utc>,
    /// Its bearer token.
    pub token: Token,
    /// How a simulated participant behaves; `None` for the bot.
    pub persona: Option<Persona>,
    /// Live (not deleted) statuses, kept as a counter as servers do.
    pub statuses_count: usize,
    /// When it last posted (not reset by deletes, as on Mastodon).
    pub last_status_at: Option<DateTime<Utc>>,
    /// Mastodon's "exclude from search engines" (`noindex` in its JSON).
    pub noindex: bool,
    /// Listed in the directory and search (`discoverable`).
    pub discoverable: bool,
}

/// One version of a status, for the edit history.
#[derive(Clone, Debug)]
pub struct Version {
    /// Text as posted.
    pub text: String,
    /// Content warning.
    pub spoiler_text: String,
    /// Sensitive flag.
    pub sensitive: bool,
    /// Rendered HTML.
    pub content: String,
    /// When this version was made.
    pub at: DateTime<Utc>,
}

/// A status, current version plus history.
#[derive(Clone, Debug)]
pub struct Status {
    /// Opaque id.
    pub id: Id,
    /// Index of the author in [`State::accounts`].
    pub author: usize,
    /// The status this replies to.
    pub in_reply_to: Option<Id>,
    /// Author of that status.
    pub in_reply_to_account: Option<usize>,
    /// Who may see it.
    pub visibility: Visibility,
    /// Language code, if given.
    pub language: Option<String>,
    /// Creation time (clock).
    pub created_at: DateTime<Utc>,
    /// Time of the last edit.
    pub edited_at: Option<DateTime<Utc>>,
    /// Every version, oldest first; the last one is current.
    pub versions: Vec<Version>,
    /// Lower-cased hashtags of the current version.
    pub tags: Vec<String>,
    /// Indices of mentioned local accounts.
    pub mentions: Vec<usize>,
    /// When it was deleted; deleted statuses are kept as tombstones.
    pub deleted_at: Option<DateTime<Utc>>,
    /// Pinned to its author's profile.
    pub pinned: bool,
    /// For a boost: the status it boosts (a boost has no text of its own).
    pub reblog_of: Option<Id>,
    /// Accounts that favourited it, in order.
    pub favourited_by: Vec<usize>,
    /// Live boosts of it (their status ids), in order.
    pub boosts: Vec<Id>,
}

impl Status {
    /// The current version.
    pub fn current(&self) -> &Version {
        self.versions
            .last()
            .expect("a status has at least one version")
    }
}

/// An account following a hashtag.
#[derive(Clone, Debug)]
pub struct TagFollow {
    /// Opaque id, for paging `followed_tags`.
    pub id: Id,
    /// The follower.
    pub account: usize,
    /// Lower-cased tag name.
    pub tag: String,
}

/// What changed, for streams and participants. Payloads are rendered once,
/// when the change happens.
#[derive(Clone, Debug)]
pub enum Event {
    /// A new status.
    Created(Arc<StatusEvent>),
    /// An edited status.
    Edited(Arc<StatusEvent>),
    /// A deleted status.
    Deleted(Arc<StatusEvent>),
    /// A new notification for account `to`.
    Notified {
        /// Account notified.
        to: usize,
        /// Notification JSON.
        payload: Arc<str>,
    },
}

/// The facts about a status that decide who hears of it, and its JSON.
#[derive(Clone, Debug)]
pub struct StatusEvent {
    /// Status id.
    pub id: Id,
    /// Author index.
    pub author: usize,
    /// Visibility.
    pub visibility: Visibility,
    /// Lower-cased tags.
    pub tags: Vec<String>,
    /// Mentioned account indices.
    pub mentions: Vec<usize>,
    /// Current text.
    pub text: String,
    /// A boost (public streams leave boosts out).
    pub reblog: bool,
    /// Status JSON (for `update` / `status.update`).
    pub payload: String,
}

/// What a client asked to post or edit.
#[derive(Clone, Debug, Default)]
pub struct NewStatus {
    /// The text.
    pub text: String,
    /// Content warning.
    pub spoiler_text: String,
    /// Sensitive flag.
    pub sensitive: bool,
    /// Visibility; public when `None`.
    pub visibility: Option<Visibility>,
    /// Language code.
    pub language: Option<String>,
    /// Parent status id.
    pub in_reply_to_id: Option<String>,
    /// `Idempotency-Key` header.
    pub idempotency_key: Option<String>,
    /// `content_type` (`text/plain`, `text/markdown`), if sent.
    pub content_type: Option<String>,
}

/// How long Mastodon remembers an `Idempotency-Key`.
const IDEMPOTENCY_TTL: Duration = Duration::hours(1);

/// All data of one sandbox.
pub struct State {
    /// Which server we imitate.
    pub flavour: Flavour,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// `127.0.0.1:PORT`, the local domain.
    pub domain: String,
    /// Length limit for posts.
    pub max_characters: usize,
    /// Source of time for every timestamp.
    pub clock: SharedClock,
    /// Id generator.
    pub ids: IdGen,
    /// Accounts; index 0 is the bot.
    pub accounts: Vec<Account>,
    /// Token → account index.
    pub tokens: HashMap<Token, usize>,
    /// Statuses by id (creation order), tombstones included.
    pub statuses: BTreeMap<Id, Status>,
    /// Status id → ids of its replies, oldest first (tombstones included).
    pub children: HashMap<Id, Vec<Id>>,
    /// Every tag any status ever used (GoToSocial's 404 depends on it).
    pub tags_used: HashSet<String>,
    /// Tag follows.
    pub follows: Vec<TagFollow>,
    /// Notifications by id.
    pub notifications: BTreeMap<Id, Notification>,
    /// (account, key) → (status, when first used).
    pub idempotency: HashMap<(usize, String), (Id, DateTime<Utc>)>,
    /// Where changes are announced.
    pub events: broadcast::Sender<Event>,
    /// Whether accounts default to Markdown (GoToSocial only).
    pub markdown_default: bool,
    /// (question, status) of every answer a simulated participant, a burst
    /// or a test post made on purpose: the ground truth for collectors.
    pub answers: Vec<(u32, Id)>,
    /// Every command a simulated participant posted to the bot (see
    /// `commands`), in the order posted.
    pub commands: Vec<Id>,
    /// OAuth apps, codes, and the scopes of tokens made through them.
    pub oauth: super::oauth::OAuth,
}

impl State {
    /// The current time of the injected clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Adds an account and returns its index.
    pub fn add_account(
        &mut self,
        username: &str,
        display_name: &str,
        note: &str,
        bot: bool,
        persona: Option<Persona>,
    ) -> usize {
        let now = self.now();
        let account = Account {
            id: self.ids.next(now),
            username: username.to_string(),
            display_name: display_name.to_string(),
            note: note.to_string(),
            bot,
            created_at: now,
            token: Token::random(),
            persona,
            statuses_count: 0,
            last_status_at: None,
            noindex: false,
            discoverable: true,
        };
        self.tokens
            .insert(account.token.clone(), self.accounts.len());
        self.accounts.push(account);
        self.accounts.len() - 1
    }

    /// The account holding `token`.
    pub fn account_by_token(&self, token: &str) -> Option<usize> {
        self.tokens.get(&Token(token.to_string())).copied()
    }

    /// The account with id `id`.
    pub fn account_by_id(&self, id: &str) -> Option<usize> {
        self.accounts.iter().position(|a| a.id.as_str() == id)
    }

    /// The account named `acct` (case-insensitive; `@` prefix allowed).
    pub fn account_by_acct(&self, acct: &str) -> Option<usize> {
        let acct = acct.trim_start_matches('@');
        let local = acct
            .strip_suffix(&format!("@{}", self.domain))
            .unwrap_or(acct);
        self.accounts
            .iter()
            .position(|a| a.username.eq_ignore_ascii_case(local))
    }

    /// Whether `viewer` may see `status` (never a deleted one).
    pub fn visible_to(&self, status: &Status, viewer: Option<usize>) -> bool {
        if status.deleted_at.is_some() {
            return false;
        }
        match status.visibility {
            Visibility::Public | Visibility::Unlisted => true,
            Visibility::Private | Visibility::Direct => {
                viewer.is_some_and(|v| v == status.author || status.mentions.contains(&v))
            }
        }
    }

    /// A visible status by id, or the flavour's 404.
    pub fn visible_status(&self, id: &str, viewer: Option<usize>) -> Result<&Status, ApiError> {
        self.statuses
            .get(&Id(id.to_string()))
            .filter(|s| self.visible_to(s, viewer))
            .ok_or_else(|| self.not_found())
    }

    /// The flavour's 404.
    pub fn not_found(&self) -> ApiError {
        ApiError::new(404, self.flavour.not_found_error())
    }

    fn render_text(&self, new: &NewStatus) -> String {
        let html = content::render_html(self.flavour, &self.base_url, &new.text, |name| {
            self.account_by_acct(name)
                .map(|i| self.accounts[i].username.clone())
        });
        let markdown = match new.content_type.as_deref() {
            Some(t) => t == "text/markdown",
            None => self.markdown_default,
        };
        if markdown && self.flavour == Flavour::GoToSocial {
            content::emphasis(&html)
        } else {
            html
        }
    }

    fn check_text(&self, new: &NewStatus) -> Result<(), ApiError> {
        let status = self.flavour.too_long_status();
        if new.text.trim().is_empty() && new.spoiler_text.trim().is_empty() {
            return Err(ApiError::new(status, self.flavour.blank_error()));
        }
        if content::counted_length(self.flavour, &new.text, &new.spoiler_text) > self.max_characters
        {
            return Err(ApiError::new(
                status,
                self.flavour.too_long_error(self.max_characters),
            ));
        }
        Ok(())
    }

    /// Posts a status for `author`, honouring the flavour's length limit and
    /// (Mastodon only) `Idempotency-Key`. Returns the status id.
    pub fn post(&mut self, author: usize, new: NewStatus) -> Result<Id, ApiError> {
        let now = self.now();
        if let Some(key) = new
            .idempotency_key
            .as_ref()
            .filter(|_| self.flavour.honours_idempotency_key())
            && let Some((id, at)) = self.idempotency.get(&(author, key.clone()))
            && now - *at < IDEMPOTENCY_TTL
        {
            return Ok(id.clone());
        }
        self.check_text(&new)?;
        let (in_reply_to, in_reply_to_account) = match new.in_reply_to_id.as_deref() {
            Some(parent) if !parent.is_empty() => {
                let parent = self.visible_status(parent, Some(author))?;
                (Some(parent.id.clone()), Some(parent.author))
            }
            _ => (None, None),
        };
        let id = self.ids.next(now);
        let version = Version {
            content: self.render_text(&new),
            text: new.text.clone(),
            spoiler_text: new.spoiler_text.clone(),
            sensitive: new.sensitive,
            at: now,
        };
        let tags = content::tags(&new.text);
        let mentions = self.mentions_in(&new.text);
        self.tags_used.extend(tags.iter().cloned());
        let status = Status {
            id: id.clone(),
            author,
            in_reply_to,
            in_reply_to_account,
            visibility: new.visibility.unwrap_or(Visibility::Public),
            language: new.language.clone().filter(|l| !l.is_empty()),
            created_at: now,
            edited_at: None,
            versions: vec![version],
            tags,
            mentions: mentions.clone(),
            deleted_at: None,
            pinned: false,
            reblog_of: None,
            favourited_by: Vec::new(),
            boosts: Vec::new(),
        };
        if let Some(parent) = &status.in_reply_to {
            self.children
                .entry(parent.clone())
                .or_default()
                .push(id.clone());
        }
        self.statuses.insert(id.clone(), status);
        self.accounts[author].statuses_count += 1;
        self.accounts[author].last_status_at = Some(now);
        if let Some(key) = new.idempotency_key {
            self.idempotency.insert((author, key), (id.clone(), now));
        }
        let event = self.status_event(&id);
        let _ = self.events.send(Event::Created(event));
        for to in mentions {
            self.notify(NotificationKind::Mention, to, author, &id);
        }
        Ok(id)
    }

    fn mentions_in(&self, text: &str) -> Vec<usize> {
        let mut out = Vec::new();
        for name in content::local_mentions(text, &self.domain) {
            if let Some(i) = self.account_by_acct(&name)
                && !out.contains(&i)
            {
                out.push(i);
            }
        }
        out
    }

    pub(crate) fn status_event(&self, id: &Id) -> Arc<StatusEvent> {
        let status = &self.statuses[id];
        Arc::new(StatusEvent {
            id: id.clone(),
            author: status.author,
            visibility: status.visibility,
            tags: status.tags.clone(),
            mentions: status.mentions.clone(),
            text: status.current().text.clone(),
            reblog: status.reblog_of.is_some(),
            payload: render::status(self, status).to_string(),
        })
    }

    /// Edits `author`'s status `id`, keeping the old version in the history.
    pub fn edit(&mut self, author: usize, id: &str, new: NewStatus) -> Result<Id, ApiError> {
        let key = Id(id.to_string());
        match self.statuses.get(&key) {
            Some(s) if s.author == author && s.deleted_at.is_none() && s.reblog_of.is_none() => {}
            _ => return Err(self.not_found()),
        }
        self.check_text(&new)?;
        let now = self.now();
        let version = Version {
            content: self.render_text(&new),
            text: new.text.clone(),
            spoiler_text: new.spoiler_text.clone(),
            sensitive: new.sensitive,
            at: now,
        };
        let tags = content::tags(&new.text);
        self.tags_used.extend(tags.iter().cloned());
        let mentions = self.mentions_in(&new.text);
        let status = self.statuses.get_mut(&key).expect("checked above");
        // An edit notifies the accounts it newly mentions, as Mastodon does.
        let added: Vec<usize> = mentions
            .iter()
            .copied()
            .filter(|m| !status.mentions.contains(m))
            .collect();
        status.versions.push(version);
        status.edited_at = Some(now);
        status.tags = tags;
        status.mentions = mentions;
        if let Some(language) = new.language.filter(|l| !l.is_empty()) {
            status.language = Some(language);
        }
        let event = self.status_event(&key);
        let _ = self.events.send(Event::Edited(event));
        for to in added {
            self.notify(NotificationKind::Mention, to, author, &key);
        }
        Ok(key)
    }

    /// Deletes `author`'s status `id`; returns it as the API does (with `text`).
    pub fn delete(&mut self, author: usize, id: &str) -> Result<Value, ApiError> {
        let key = Id(id.to_string());
        match self.statuses.get(&key) {
            Some(s) if s.author == author && s.deleted_at.is_none() => {}
            _ => return Err(self.not_found()),
        }
        let mut answer = render::status(self, &self.statuses[&key]);
        answer["text"] = Value::String(self.statuses[&key].current().text.clone());
        let event = self.status_event(&key);
        let now = self.now();
        let status = self.statuses.get_mut(&key).expect("checked above");
        status.deleted_at = Some(now);
        let boosts = std::mem::take(&mut status.boosts);
        let boosted = status.reblog_of.clone();
        let _ = self.events.send(Event::Deleted(event));
        // A deleted status takes its boosts with it, as on the real servers.
        for boost in boosts {
            let event = self.status_event(&boost);
            if let Some(b) = self.statuses.get_mut(&boost) {
                b.deleted_at = Some(now);
            }
            let _ = self.events.send(Event::Deleted(event));
        }
        if let Some(original) = boosted.and_then(|o| self.statuses.get_mut(&o)) {
            original.boosts.retain(|b| *b != key);
        }
        Ok(answer)
    }

    /// Pins (or unpins) one of the author's own statuses to their profile.
    pub fn set_pinned(&mut self, author: usize, id: &str, pinned: bool) -> Result<Value, ApiError> {
        let key = Id(id.to_string());
        match self.statuses.get_mut(&key) {
            Some(s) if s.author == author && s.deleted_at.is_none() => s.pinned = pinned,
            _ => return Err(self.not_found()),
        }
        Ok(render::status(self, &self.statuses[&key]))
    }
}
