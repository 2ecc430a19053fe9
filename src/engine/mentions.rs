//! The bot's mentions, always on beside the chats: participants ask it for
//! the next chat, to opt out or in, or for their participation record, and
//! each mention is answered exactly once.
//!
//! The notifications are the record, read forward from a stored cursor
//! (as the hashtag timeline is for answers); every mention is recorded
//! once, then decided: an unknown word, a bot, a mention older than
//! `max_age_hours` or over the per-account limit gets no reply (a log
//! line only). Otherwise the command's effect (opt-out, opt-in) and the
//! reply's text are stored in one transaction, and each reply post goes
//! out like a step: intent before the POST, and an unknown outcome settled
//! by reading the bot's replies to that mention before anything is posted
//! again. Replies are direct messages: they concern the sender only.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use super::{Engine, Woke};
use crate::config::{Chat, Visibility};
use crate::html;
use crate::instance::{CallError, FailureClass, NewStatus, SeenMention};
use crate::mentions::parse::{Command, Period, parse};
use crate::mentions::record::{RecordInput, build_record};
use crate::mentions::replies::{NextChat, Replies};
use crate::prompts::{self, Templates};
use crate::store::{Effect, MentionRecord, MentionState, NewMention, ReplyRecord, StepState};

/// How often the notifications are read.
const POLL: chrono::Duration = chrono::Duration::minutes(2);

/// The shortest pause after a reply whose outcome is unknown, before the
/// bot's replies are read to see whether it went out (as for steps).
const UNKNOWN_OUTCOME_FLOOR: Duration = Duration::from_secs(30);

/// POSTs of one reply before it is given up (as for steps).
const MAX_ATTEMPTS: u32 = 30;

/// Pages of notifications read per poll at most (40 each).
const MAX_PAGES: usize = 25;

/// Why a reply mentioning the bot, not a command, gets no reply.
const IN_CONVERSATION: &str = "a reply in a conversation, not a command";

/// A record longer than this many posts is cut short, asking for a
/// period: a year of weekly chats would otherwise be dozens of posts,
/// against the account's posting limit the chats need too.
const MAX_RECORD_PARTS: usize = 3;

/// The name of the notifications cursor in the store.
const CURSOR: &str = "notifications";

impl Engine {
    /// Reads and answers the bot's mentions until shutdown.
    pub async fn run_mentions(mut self) {
        loop {
            if self.shutdown.requested() {
                return;
            }
            let settings = self.config.borrow().mentions.clone();
            if settings.enabled {
                self.read_mentions().await;
                self.answer_mentions().await;
            }
            // A reload does not make the next read come sooner.
            let next = self.now() + POLL;
            loop {
                match self.wait_until(next).await {
                    Woke::Stop => return,
                    Woke::Time => break,
                    Woke::Reload => {}
                }
            }
        }
    }

    /// Records every mention newer than the cursor (the first time: the
    /// newest page only), then moves the cursor past them.
    async fn read_mentions(&mut self) {
        let cursor = match self.store.cursor(CURSOR) {
            Ok(c) => c,
            Err(e) => {
                self.store_failed("cannot read the notifications cursor", &e);
                return;
            }
        };
        let mut newest: Option<String> = None;
        let mut min_id = cursor.clone();
        for _ in 0..MAX_PAGES {
            let page = match self.instance.mentions(min_id.as_deref(), None).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!("cannot read the bot's mentions: {e}");
                    break;
                }
            };
            let Some(page_newest) = page.newest else {
                break;
            };
            for m in page.mentions.iter().rev() {
                if !self.note_mention(m) {
                    // Not recorded: read it again next time.
                    return;
                }
            }
            // Newest first: the page's first notification (of any kind) is
            // the newest read so far.
            newest = Some(page_newest);
            if cursor.is_none() {
                break;
            }
            min_id = newest.clone();
        }
        if let Some(id) = newest
            && let Err(e) = self.store.set_cursor(CURSOR, &id, self.now())
        {
            self.store_failed("cannot record the notifications read", &e);
        }
    }

    /// Records one mention; one that gets no reply is recorded settled, in
    /// the same write (no crash can leave it pending and answered). False
    /// when the store refused (the cursor then stays).
    fn note_mention(&self, m: &SeenMention) -> bool {
        let sender = full_acct(&m.status.account.acct, &self.instance.url);
        let text = crate::collect::text::clean(&m.status.content);
        let command = parse(&text);
        let now = self.now();
        let Some(why) = self.why_no_reply(m, &sender, &text, &command, now) else {
            return false;
        };
        let (word, argument) = command_words(&command);
        let new = NewMention {
            notification_id: &m.notification_id,
            status_id: &m.status.id,
            status_uri: &m.status.uri,
            acct: &sender,
            created_at: m.status.created_at,
            command: word,
            argument: argument.as_deref(),
        };
        match self.store.record_mention_as(&new, why.as_deref(), now) {
            Ok(Some(_)) => {}
            Ok(None) => return true,
            Err(e) => {
                self.store_failed("cannot record a mention", &e);
                return false;
            }
        }
        match why {
            // Answers in a conversation mention the bot by themselves.
            Some(why) if why == IN_CONVERSATION => {
                tracing::debug!(mention = %m.status.id, "{why}");
            }
            Some(why) => {
                tracing::info!(mention = %m.status.id, "no reply to a mention: {why}");
                self.emit(super::Event::Unanswered {
                    from: sender.clone(),
                    command: word.to_string(),
                    why,
                });
            }
            None => {}
        }
        true
    }

    /// Why a mention gets no reply (`Some(None)`: it gets one); `None` when
    /// the store could not be asked (decide again next time).
    fn why_no_reply(
        &self,
        m: &SeenMention,
        sender: &str,
        text: &str,
        command: &Command,
        now: DateTime<Utc>,
    ) -> Option<Option<String>> {
        let settings = self.config.borrow().mentions.clone();
        let max_age = chrono::Duration::hours(i64::from(settings.max_age_hours));
        let bot = full_acct(&self.acct, &self.instance.url);
        // A reply (an answer to a question mentions the bot by itself)
        // counts only as the bare command: "@bot help" yes, "@bot Help
        // with staffing…" no.
        let in_conversation = m.status.in_reply_to_id.is_some() && words_after_mentions(text) > 2;
        let why = if sender.eq_ignore_ascii_case(&bot) {
            Some("the bot's own post".to_string())
        } else if m.status.account.bot {
            Some("sent by an automated account".to_string())
        } else if matches!(command, Command::Unknown(_)) && m.status.in_reply_to_id.is_some()
            || in_conversation
        {
            Some(IN_CONVERSATION.to_string())
        } else if m.status.created_at + max_age < now {
            Some(format!(
                "older than {} hours when read ([mentions] max_age_hours)",
                settings.max_age_hours
            ))
        } else if let Command::Unknown(w) = command {
            Some(format!("not a command: {w:?}"))
        } else {
            let hour_ago = now - chrono::Duration::hours(1);
            match self.store.mentions_since(sender, hour_ago) {
                Ok(n) if n >= settings.per_hour as usize => Some(format!(
                    "more than {} commands from this account in an hour ([mentions] per_hour)",
                    settings.per_hour
                )),
                Ok(_) => None,
                Err(e) => {
                    self.store_failed("cannot count the account's commands", &e);
                    return None;
                }
            }
        };
        Some(why)
    }

    /// Plans and posts the replies of every open mention, oldest first.
    async fn answer_mentions(&mut self) {
        let open = match self.store.open_mentions() {
            Ok(o) => o,
            Err(e) => {
                self.store_failed("cannot read the open mentions", &e);
                return;
            }
        };
        for mention in open {
            if self.shutdown.requested() {
                return;
            }
            if mention.state == MentionState::Pending && !self.plan_mention(&mention) {
                continue;
            }
            self.post_replies(&mention).await;
        }
    }

    /// Decides a pending mention's reply and effect, stored together.
    /// False when nothing could be stored (tried again next poll).
    fn plan_mention(&self, mention: &MentionRecord) -> bool {
        let command = parse_stored(mention);
        let sender = handle(&mention.acct, &self.instance.url);
        let config = self.config.borrow().clone();
        let dir = config
            .chats
            .first()
            .map(|c| c.prompts_dir.clone())
            .unwrap_or_default();
        let host = Templates::load(&dir).map(|(t, _)| t).ok();
        let builtin = Templates::builtin();
        // A host's broken template never costs a reply: the built-in wording.
        let mut planned = Err(Plan::Store(String::new()));
        for templates in host.iter().chain(std::iter::once(&builtin)) {
            planned = self.reply_texts(&command, &sender, &mention.acct, templates);
            if !matches!(planned, Err(Plan::Render(_))) {
                break;
            }
        }
        let (effect, parts) = match planned {
            Ok(r) => r,
            Err(Plan::Store(why)) => {
                tracing::warn!(mention = %mention.status_id, "cannot write the reply yet: {why}");
                return false;
            }
            Err(Plan::Render(why)) => {
                tracing::error!(mention = %mention.status_id, "cannot write the reply: {why}");
                if let Err(e) = self.store.ignore_mention(mention.id, &why, self.now()) {
                    self.store_failed("cannot record a mention left unanswered", &e);
                }
                return false;
            }
        };
        let parts: Vec<(String, &str)> = parts.into_iter().map(|t| (t, "direct")).collect();
        match self
            .store
            .plan_reply(mention.id, effect, &parts, self.now())
        {
            Ok(_) => true,
            Err(e) => {
                self.store_failed("cannot store a reply", &e);
                false
            }
        }
    }

    /// The effect and the reply's parts for a command, with `templates`.
    fn reply_texts(
        &self,
        command: &Command,
        sender: &str,
        acct: &str,
        templates: &Templates,
    ) -> Result<(Effect, Vec<String>), Plan> {
        let config = self.config.borrow().clone();
        let replies = Replies {
            templates,
            max_characters: self.limit.max,
            url_length: self.limit.per_url,
            bot: &self.acct,
        };
        let render = |r: Result<Vec<String>, crate::diagnostic::Diagnostic>| {
            r.map_err(|d| Plan::Render(d.to_string()))
        };
        Ok(match command {
            Command::Next => {
                let chats: Vec<NextChat> = config
                    .chats
                    .iter()
                    .filter_map(|c| next_chat(c, self.now()))
                    .collect();
                (Effect::None, render(replies.next(sender, &chats))?)
            }
            Command::OptOut => (Effect::OptOut, render(replies.optout(sender))?),
            Command::OptIn => (Effect::OptIn, render(replies.optin(sender))?),
            Command::Help => (Effect::None, render(replies.help(sender))?),
            Command::Record { period } => {
                let data = self
                    .store
                    .participant(acct)
                    .map_err(|e| Plan::Store(e.to_string()))?;
                let info = |name: &str, date: NaiveDate| chat_info(&config.chats, name, date);
                let record = build_record(&record_input(data), *period, &info);
                let mut parts = render(replies.record(sender, &record))?;
                if parts.len() > MAX_RECORD_PARTS {
                    parts.truncate(MAX_RECORD_PARTS - 1);
                    parts.push(format!(
                        "{sender} That is not all: your record is longer than fits here. Ask for a year at a time, e.g. \"record {}\".",
                        self.now().format("%Y")
                    ));
                }
                (Effect::None, parts)
            }
            Command::Unknown(w) => return Err(Plan::Render(format!("not a command: {w:?}"))),
        })
    }

    /// Posts a mention's replies not yet posted, in order, each exactly
    /// once; then settles the mention.
    async fn post_replies(&mut self, mention: &MentionRecord) {
        let replies = match self.store.replies(mention.id) {
            Ok(r) => r,
            Err(e) => {
                self.store_failed("cannot read a mention's replies", &e);
                return;
            }
        };
        for reply in replies {
            if matches!(reply.state, StepState::Posted | StepState::Failed) {
                continue;
            }
            if !self.post_reply(mention, &reply).await {
                // Not settled yet (a pause, a stop): the next poll goes on.
                return;
            }
        }
        if let Err(e) = self.store.settle_mention(mention.id, self.now()) {
            self.store_failed("cannot record a mention answered", &e);
        }
    }

    /// One reply post, exactly once. True when it is settled (posted or
    /// given up); false to come back to it later.
    async fn post_reply(&mut self, mention: &MentionRecord, reply: &ReplyRecord) -> bool {
        // A reply begun before may be on the server: look first.
        if reply.state == StepState::Posting || reply.attempts > 0 {
            match self.find_reply(mention, reply).await {
                Ok(Some(id)) => {
                    tracing::info!(remote_id = %id, mention = %mention.status_id, "reply found on the server after an unknown outcome; not posting again");
                    return self.reply_done(reply, &id);
                }
                Ok(None) => {}
                // Never looked for forever: after the last attempt, given
                // up with the outcome unknown.
                Err(e) if reply.attempts >= MAX_ATTEMPTS => {
                    let why = format!("gave up; whether the last attempt went out is unknown: {e}");
                    return self.reply_given_up(reply, &why);
                }
                Err(e) => {
                    tracing::warn!("cannot check whether a reply went out: {e}");
                    return false;
                }
            }
        }
        if reply.attempts >= MAX_ATTEMPTS {
            let why = format!("gave up after {} attempts", reply.attempts);
            return self.reply_given_up(reply, &why);
        }
        let key = match self.store.begin_reply(reply.id, self.now()) {
            Ok(k) => k,
            Err(e) => {
                self.store_failed("cannot record a reply's attempt, so not posting", &e);
                return false;
            }
        };
        let language = self
            .config
            .borrow()
            .chats
            .first()
            .map_or_else(|| "en".to_string(), |c| c.language.clone());
        let visibility = match reply.visibility.as_str() {
            "public" => Visibility::Public,
            "unlisted" => Visibility::Unlisted,
            _ => Visibility::Direct,
        };
        let sent = self
            .instance
            .post_status(&NewStatus {
                text: &reply.text,
                visibility,
                language: &language,
                in_reply_to_id: Some(&mention.status_id),
                idempotency_key: &key,
            })
            .await;
        match sent {
            Ok(remote) => {
                tracing::info!(remote_id = %remote.id, mention = %mention.status_id, "replied to a mention");
                self.emit(super::Event::Replied {
                    from: mention.acct.clone(),
                    command: mention.command.clone(),
                    text: reply.text.clone(),
                });
                self.reply_done(reply, &remote.id)
            }
            Err(e) => self.reply_error(reply, e).await,
        }
    }

    /// After a failed POST: a refusal ends the reply; anything else waits
    /// and is looked for before the next attempt.
    async fn reply_error(&mut self, reply: &ReplyRecord, e: CallError) -> bool {
        match e.class {
            FailureClass::Permanent => self.reply_given_up(reply, &e.message),
            FailureClass::Wait(until) => {
                let until = until.max(self.now() + chrono::Duration::seconds(5));
                tracing::warn!(
                    "{}; replying again after {}",
                    e.message,
                    until.format("%H:%M:%SZ")
                );
                self.wait_until(until).await;
                false
            }
            FailureClass::WaitFor(d) => {
                let d = chrono::Duration::from_std(d.max(Duration::from_secs(5)))
                    .unwrap_or(chrono::Duration::minutes(1));
                tracing::warn!("{}; replying again later", e.message);
                self.wait_until(self.now() + d).await;
                false
            }
            FailureClass::Transient => {
                tracing::warn!("{}; will check and retry", e.message);
                let floor = chrono::Duration::from_std(UNKNOWN_OUTCOME_FLOOR)
                    .unwrap_or(chrono::Duration::seconds(30));
                self.wait_until(self.now() + floor).await;
                false
            }
        }
    }

    /// The bot's reply to the mention with this reply's text, if any.
    async fn find_reply(
        &self,
        mention: &MentionRecord,
        reply: &ReplyRecord,
    ) -> Result<Option<String>, CallError> {
        let Some(found) = self
            .instance
            .own_replies_to(&mention.status_id, &self.account_id)
            .await?
        else {
            return Ok(None);
        };
        Ok(found
            .into_iter()
            .find(|s| match &s.source_text {
                Some(text) => html::same_text(&reply.text, text),
                None => html::same_post(&reply.text, &s.content),
            })
            .map(|s| s.id))
    }

    fn reply_done(&self, reply: &ReplyRecord, remote_id: &str) -> bool {
        match self.store.reply_posted(reply.id, remote_id, self.now()) {
            Ok(()) => true,
            Err(e) => {
                self.store_failed("posted a reply, but cannot record it", &e);
                false
            }
        }
    }

    fn reply_given_up(&self, reply: &ReplyRecord, why: &str) -> bool {
        tracing::error!("a reply to a mention was not posted: {why}");
        match self.store.reply_failed(reply.id, why, self.now()) {
            Ok(()) => true,
            Err(e) => {
                self.store_failed("cannot record a reply given up", &e);
                false
            }
        }
    }
}

/// Why a reply could not be planned: a render error (the next template
/// set is tried, then it is given up) or a store error (tried again).
enum Plan {
    Render(String),
    Store(String),
}

/// The record's input from what the store holds about the sender. An
/// answer whose link was not kept (the sender opted out) still counts.
fn record_input(data: Option<crate::store::ParticipantData>) -> RecordInput {
    let chats = data.map(|d| d.chats).unwrap_or_default();
    RecordInput {
        chats: chats
            .into_iter()
            .map(|c| {
                let answers = c
                    .answers
                    .into_iter()
                    .map(|a| {
                        a.url.unwrap_or_else(|| {
                            format!(
                                "an answer at {} (no link kept)",
                                a.created_at.format("%H:%M")
                            )
                        })
                    })
                    .collect();
                (c.chat, c.date, c.start_utc, answers)
            })
            .collect(),
    }
}

/// Words in a mention's text after its leading @mentions.
fn words_after_mentions(text: &str) -> usize {
    text.split_whitespace()
        .skip_while(|w| w.starts_with(['@', '＠']))
        .count()
}

/// `user@host` for an account as the bot's instance names it.
fn full_acct(acct: &str, instance_url: &str) -> String {
    let acct = acct.trim_start_matches('@').to_lowercase();
    if acct.contains('@') {
        return acct;
    }
    let host = instance_url
        .split_once("://")
        .map_or(instance_url, |(_, r)| r)
        .split('/')
        .next()
        .unwrap_or_default()
        .to_lowercase();
    format!("{acct}@{host}")
}

/// How a reply addresses an account, as its server names it: `@user`
/// for one of the bot's own instance, `@user@host` for another's.
fn handle(acct: &str, instance_url: &str) -> String {
    // `full_acct` of an empty name is `@host`.
    let local = full_acct("", instance_url);
    match acct.strip_suffix(local.as_str()) {
        Some(user) if !user.is_empty() && !user.contains('@') => format!("@{user}"),
        _ => format!("@{acct}"),
    }
}

/// The stored words of a command.
fn command_words(command: &Command) -> (&'static str, Option<String>) {
    (command.name(), command.argument())
}

/// A stored mention's command again (its words are what was decided).
fn parse_stored(m: &MentionRecord) -> Command {
    match m.command.as_str() {
        "next" => Command::Next,
        "optout" => Command::OptOut,
        "optin" => Command::OptIn,
        "help" => Command::Help,
        "record" => Command::Record {
            period: m.argument.as_deref().and_then(Period::parse),
        },
        other => Command::Unknown(other.to_string()),
    }
}

/// The next date of a chat for `next`, with its topic and guest when its
/// own question file exists.
fn next_chat(chat: &Chat, now: DateTime<Utc>) -> Option<NextChat> {
    let occ = crate::plan::occurrences(chat, now).find(|o| o.start_utc() > now)?;
    let set = match prompts::question_file(chat, occ.date) {
        found @ prompts::QuestionFile::Found {
            fallback: false, ..
        } => found.load(chat).and_then(Result::ok),
        _ => None,
    };
    Some(NextChat {
        chat: chat.hashtag.clone(),
        local: occ.start.format("%A %-d %B, %H:%M %Z").to_string(),
        // With its own day: 20:00 in Los Angeles is the next day in UTC.
        utc: occ.start_utc().format("%a %-d %b %H:%M UTC").to_string(),
        topic: set.as_ref().map(|s| s.topic.clone()).unwrap_or_default(),
        guest: set.and_then(|s| s.guest).unwrap_or_default(),
    })
}

/// A chat date's hashtag, length and topic, for a record.
fn chat_info(chats: &[Chat], name: &str, date: NaiveDate) -> Option<(String, u32, String)> {
    let chat = chats.iter().find(|c| c.name == name)?;
    let topic = prompts::question_file(chat, date)
        .load(chat)
        .and_then(Result::ok)
        .map(|s| s.topic)
        .unwrap_or_default();
    Some((chat.hashtag.clone(), chat.duration_minutes, topic))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_addresses_the_sender_as_their_server_names_them() {
        let url = "https://nurses.example";
        assert_eq!(full_acct("Ann", url), "ann@nurses.example");
        assert_eq!(full_acct("@bob@other.example", url), "bob@other.example");
        assert_eq!(handle("ann@nurses.example", url), "@ann");
        assert_eq!(handle("bob@other.example", url), "@bob@other.example");
        assert_eq!(
            handle("ann@127.0.0.1:8080", "http://127.0.0.1:8080"),
            "@ann"
        );
    }
}
