//! Mentions, replies, cursors, a participant's data and erasure, on a real
//! (in-memory) SQLite store.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::*;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn now() -> DateTime<Utc> {
    at("2026-12-03T09:00:00Z")
}

const ANN: &str = "ann@social.example";
const BOB: &str = "bob@other.example";

fn mention<'a>(n: &'a str, uri: &'a str, acct: &'a str, command: &'a str) -> NewMention<'a> {
    NewMention {
        notification_id: n,
        status_id: n,
        status_uri: uri,
        acct,
        created_at: now() - Duration::minutes(1),
        command,
        argument: None,
    }
}

/// A recorded pending mention from `acct`.
fn pending(store: &Store, n: &str, acct: &str, command: &str) -> MentionRecord {
    let uri = format!("https://x.example/s/{n}");
    store
        .record_mention(&mention(n, &uri, acct, command), now())
        .unwrap()
        .unwrap()
}

/// A store with chats on 2 and 9 December and answers by Ann (one deleted)
/// and Bob.
fn with_answers() -> (Store, ChatId, ChatId) {
    let store = Store::open_in_memory().unwrap();
    let chat = |day: u32| NewChat {
        name: "wenurses".into(),
        date: NaiveDate::from_ymd_opt(2026, 12, day).unwrap(),
        start_utc: at(&format!("2026-12-{day:02}T20:00:00Z")),
        instance_url: "https://mastodon.example".into(),
        account: "chatbot@mastodon.example".into(),
        questions_file: None,
    };
    let a = store.upsert_chat(&chat(2), now()).unwrap().id;
    let b = store.upsert_chat(&chat(9), now()).unwrap().id;
    store
        .record_answers(a, &[answer("a1", ANN, 2, 5)], now())
        .unwrap();
    let batch = [
        answer("b1", ANN, 9, 10),
        answer("b2", ANN, 9, 5),
        answer("b3", ANN, 9, 20),
        answer("b4", BOB, 9, 6),
    ];
    store.record_answers(b, &batch, now()).unwrap();
    assert!(store.record_deleted_uri(&uri("b3"), now()).unwrap());
    (store, a, b)
}

fn uri(id: &str) -> String {
    format!("https://social.example/s/{id}")
}

fn answer(id: &'static str, acct: &'static str, day: u32, minute: i64) -> SeenAnswer<'static> {
    let uri: &'static str = Box::leak(uri(id).into_boxed_str());
    SeenAnswer {
        uri,
        account: SeenAccount {
            acct,
            display_name: "Ann Nurse",
            url: Some("https://social.example/@ann"),
            quotable: true,
            why_not: None,
        },
        source: "https://mastodon.example",
        remote_id: Some(id),
        in_reply_to_id: None,
        via_tag: true,
        via_reply: false,
        visibility: "public",
        language: Some("en"),
        created_at: at(&format!("2026-12-{day:02}T20:00:00Z")) + Duration::minutes(minute),
        edited_at: None,
        text: "My answer",
        html: "<p>My answer</p>",
        url: Some(uri),
        engagement: None,
    }
}

#[test]
fn a_mention_is_recorded_once_by_notification_or_by_status() {
    let store = Store::open_in_memory().unwrap();
    let m = mention("n1", "https://x.example/s/1", "Ann@Social.Example", "next");
    let first = store.record_mention(&m, now()).unwrap().unwrap();
    assert_eq!(first.state, MentionState::Pending);
    assert_eq!(first.acct, ANN, "stored lower-case");
    assert_eq!(first.received_at, now());
    assert_eq!(store.record_mention(&m, now()).unwrap(), None);
    // The same status as a second notification (an edit): still known.
    let again = NewMention {
        notification_id: "n2",
        ..m
    };
    assert_eq!(store.record_mention(&again, now()).unwrap(), None);
    let open = store.open_mentions().unwrap();
    assert_eq!(open, [first]);
}

#[test]
fn open_mentions_are_pending_or_replying_oldest_first() {
    let store = Store::open_in_memory().unwrap();
    let late = NewMention {
        created_at: now(),
        ..mention("n1", "u1", ANN, "next")
    };
    let late = store.record_mention(&late, now()).unwrap().unwrap();
    let early = pending(&store, "n2", ANN, "help");
    let gone = pending(&store, "n3", ANN, "dance");
    store
        .ignore_mention(gone.id, "unknown command", now())
        .unwrap();
    store
        .plan_reply(
            late.id,
            Effect::None,
            &[("@ann hi".into(), "public")],
            now(),
        )
        .unwrap();
    let open: Vec<_> = store.open_mentions().unwrap();
    let ids: Vec<_> = open.iter().map(|m| (m.id, m.state)).collect();
    assert_eq!(
        ids,
        [
            (early.id, MentionState::Pending),
            (late.id, MentionState::Replying)
        ]
    );
    let ignored = store.mention(gone.id).unwrap();
    assert_eq!(ignored.state, MentionState::Ignored);
    assert_eq!(ignored.reason.as_deref(), Some("unknown command"));
}

#[test]
fn a_mention_replied_to_cannot_be_ignored_nor_planned_twice() {
    let store = Store::open_in_memory().unwrap();
    let m = pending(&store, "n1", ANN, "help");
    let parts = [("@ann part 1".to_string(), "public")];
    assert!(store.plan_reply(m.id, Effect::None, &parts, now()).unwrap());
    assert!(!store.plan_reply(m.id, Effect::None, &parts, now()).unwrap());
    assert_eq!(store.replies(m.id).unwrap().len(), 1, "not stored twice");
    let e = store.ignore_mention(m.id, "too old", now()).unwrap_err();
    assert!(e.is_refusal(), "{e}");
    // Ignored first: planning is left alone, ignoring again keeps the reason.
    let other = pending(&store, "n2", ANN, "dance");
    store
        .ignore_mention(other.id, "unknown command", now())
        .unwrap();
    store.ignore_mention(other.id, "again", now()).unwrap();
    assert!(
        !store
            .plan_reply(other.id, Effect::OptOut, &parts, now())
            .unwrap()
    );
    assert_eq!(store.replies(other.id).unwrap(), []);
    let other = store.mention(other.id).unwrap();
    assert_eq!(other.reason.as_deref(), Some("unknown command"));
}

#[test]
fn a_reply_is_posted_exactly_once_with_one_key() {
    let store = Store::open_in_memory().unwrap();
    let m = pending(&store, "n1", ANN, "record");
    let parts = [
        ("@ann 1/2".to_string(), "direct"),
        ("@ann 2/2".to_string(), "direct"),
    ];
    store.plan_reply(m.id, Effect::None, &parts, now()).unwrap();
    let replies = store.replies(m.id).unwrap();
    assert_eq!(replies.iter().map(|r| r.part).collect::<Vec<_>>(), [1, 2]);
    assert!(replies.iter().all(|r| r.state == StepState::Pending
        && r.visibility == "direct"
        && r.attempts == 0
        && r.idempotency_key.is_none()));
    let (one, two) = (replies[0].id, replies[1].id);

    let key = store.begin_reply(one, now()).unwrap();
    // Committed before the POST: a restart reads it back.
    let stored = &store.replies(m.id).unwrap()[0];
    assert_eq!(
        (
            stored.state,
            stored.attempts,
            stored.idempotency_key.as_deref()
        ),
        (StepState::Posting, 1, Some(key.as_str()))
    );
    // A retry (after looking on the server) reuses the key.
    assert_eq!(store.begin_reply(one, now()).unwrap(), key);
    assert_eq!(store.replies(m.id).unwrap()[0].attempts, 2);
    // Posted only from posting.
    let e = store.reply_posted(two, "r2", now()).unwrap_err();
    assert!(e.is_refusal(), "{e}");
    store.reply_posted(one, "r1", now()).unwrap();
    store.reply_posted(one, "r1", now()).unwrap();
    let e = store.reply_posted(one, "r9", now()).unwrap_err();
    assert!(e.to_string().contains("double post"), "{e}");
    let e = store.begin_reply(one, now()).unwrap_err();
    assert!(e.is_refusal(), "a posted reply never begins again: {e}");
    let e = store.reply_failed(one, "nope", now()).unwrap_err();
    assert!(e.is_refusal(), "{e}");

    // Not settled while part 2 is open.
    store.settle_mention(m.id, now()).unwrap();
    assert_eq!(store.mention(m.id).unwrap().state, MentionState::Replying);
    store.reply_failed(two, "422 too long", now()).unwrap();
    assert!(store.begin_reply(two, now()).unwrap_err().is_refusal());
    store.settle_mention(m.id, now()).unwrap();
    assert_eq!(store.mention(m.id).unwrap().state, MentionState::Replied);
    assert_eq!(store.open_mentions().unwrap(), []);
    let replies = store.replies(m.id).unwrap();
    assert_eq!(replies[0].remote_id.as_deref(), Some("r1"));
    assert_eq!(replies[1].state, StepState::Failed);
    assert_eq!(replies[1].last_error.as_deref(), Some("422 too long"));
}

#[test]
fn a_reply_with_an_unknown_visibility_is_not_stored_at_all() {
    let store = Store::open_in_memory().unwrap();
    let m = pending(&store, "n1", ANN, "help");
    let parts = [
        ("@ann a".to_string(), "public"),
        ("@ann b".to_string(), "secret"),
    ];
    assert!(store.plan_reply(m.id, Effect::None, &parts, now()).is_err());
    assert_eq!(store.replies(m.id).unwrap(), []);
    assert_eq!(store.mention(m.id).unwrap().state, MentionState::Pending);
}

#[test]
fn optout_erases_the_senders_words_and_nobody_elses_and_optin_undoes_it() {
    let (store, _, b) = with_answers();
    let m = pending(&store, "n1", ANN, "optout");
    let parts = [("@ann you are out".to_string(), "public")];
    assert!(
        store
            .plan_reply(m.id, Effect::OptOut, &parts, now())
            .unwrap()
    );
    let ann = store.participant(ANN).unwrap().unwrap();
    assert!(!ann.quotable);
    assert_eq!(ann.display_name, None);
    assert_eq!(ann.opted_out_at, Some(now()));
    let answers = store.answers(b).unwrap();
    for a in answers.iter().filter(|a| a.acct == ANN) {
        assert_eq!(
            (&a.text, &a.html, &a.url, &a.account_url),
            (&None, &None, &None, &None)
        );
    }
    let bob: Vec<_> = answers.iter().filter(|a| a.acct == BOB).collect();
    assert_eq!(bob[0].text.as_deref(), Some("My answer"), "only the sender");

    // Collected again with a quotable profile: still counted only.
    store
        .record_answers(b, &[answer("b5", ANN, 9, 30)], now())
        .unwrap();
    let b5 = store
        .answers(b)
        .unwrap()
        .into_iter()
        .find(|a| a.uri == uri("b5"))
        .unwrap();
    assert_eq!((b5.text, b5.display_name), (None, None));

    let m = pending(&store, "n2", ANN, "optin");
    assert!(
        store
            .plan_reply(m.id, Effect::OptIn, &parts, now())
            .unwrap()
    );
    let ann = store.participant(ANN).unwrap().unwrap();
    assert!(ann.quotable && ann.opted_out_at.is_none() && ann.why_not.is_none());
    // Erased words stay erased; new ones are kept again.
    let b1 = store
        .answers(b)
        .unwrap()
        .into_iter()
        .find(|a| a.uri == uri("b1"))
        .unwrap();
    assert_eq!(b1.text, None);
    store
        .record_answers(b, &[answer("b6", ANN, 9, 40)], now())
        .unwrap();
    let b6 = store
        .answers(b)
        .unwrap()
        .into_iter()
        .find(|a| a.uri == uri("b6"))
        .unwrap();
    assert_eq!(b6.text.as_deref(), Some("My answer"));
}

#[test]
fn optin_clears_a_sticky_profile_optout() {
    let (store, _, b) = with_answers();
    let mut nobot = answer("b7", ANN, 9, 50);
    nobot.account.quotable = false;
    nobot.account.why_not = Some("#nobot in profile");
    store.record_answers(b, &[nobot], now()).unwrap();
    // Sticky: a quotable copy read later does not undo it.
    store
        .record_answers(b, &[answer("b8", ANN, 9, 51)], now())
        .unwrap();
    assert!(!store.participant(ANN).unwrap().unwrap().quotable);
    let m = pending(&store, "n1", ANN, "optin");
    store.plan_reply(m.id, Effect::OptIn, &[], now()).unwrap();
    assert!(store.participant(ANN).unwrap().unwrap().quotable);
}

#[test]
fn an_optout_before_any_answer_holds_when_the_first_answer_comes() {
    let (store, a, _) = with_answers();
    let carol = "carol@new.example";
    let m = pending(&store, "n1", carol, "optout");
    store.plan_reply(m.id, Effect::OptOut, &[], now()).unwrap();
    let data = store.participant(carol).unwrap().unwrap();
    assert!(!data.quotable && data.opted_out_at.is_some() && data.chats.is_empty());
    store
        .record_answers(a, &[answer("c1", carol, 2, 7)], now())
        .unwrap();
    let c1 = store
        .answers(a)
        .unwrap()
        .into_iter()
        .find(|x| x.acct == carol)
        .unwrap();
    assert_eq!((c1.text, c1.display_name), (None, None));
    assert_eq!(
        c1.first_chat_id,
        Some(a),
        "the first answer is still her first chat"
    );
}

#[test]
fn the_rate_limit_counts_one_accounts_mentions_since_an_instant() {
    let store = Store::open_in_memory().unwrap();
    for n in ["n1", "n2", "n3"] {
        pending(&store, n, ANN, "next");
    }
    pending(&store, "n4", BOB, "next");
    let later = mention("n5", "u5", ANN, "help");
    store
        .record_mention(&later, now() + Duration::hours(2))
        .unwrap();
    assert_eq!(store.mentions_since(ANN, now()).unwrap(), 4);
    assert_eq!(
        store.mentions_since("Ann@Social.Example", now()).unwrap(),
        4
    );
    assert_eq!(
        store
            .mentions_since(ANN, now() + Duration::hours(1))
            .unwrap(),
        1
    );
    assert_eq!(store.mentions_since(BOB, now()).unwrap(), 1);
}

#[test]
fn a_cursor_is_kept_and_moved() {
    let store = Store::open_in_memory().unwrap();
    assert_eq!(store.cursor("notifications").unwrap(), None);
    store.set_cursor("notifications", "01A", now()).unwrap();
    store.set_cursor("notifications", "01B", now()).unwrap();
    assert_eq!(
        store.cursor("notifications").unwrap().as_deref(),
        Some("01B")
    );
    assert_eq!(store.cursor("other").unwrap(), None);
}

#[test]
fn a_participants_data_is_their_visible_answers_by_chat_newest_first() {
    let (store, a, b) = with_answers();
    assert_eq!(store.participant("nobody@x.example").unwrap(), None);
    let ann = store.participant("ANN@social.example").unwrap().unwrap();
    assert_eq!(ann.acct, ANN);
    assert_eq!(ann.display_name.as_deref(), Some("Ann Nurse"));
    let chats: Vec<_> = ann
        .chats
        .iter()
        .map(|c| (c.chat.as_str(), c.date.to_string()))
        .collect();
    assert_eq!(
        chats,
        [
            ("wenurses", "2026-12-09".into()),
            ("wenurses", "2026-12-02".into())
        ]
    );
    assert_eq!(ann.chats[0].start_utc, at("2026-12-09T20:00:00Z"));
    let uris: Vec<_> = ann.chats[0].answers.iter().map(|x| x.uri.clone()).collect();
    // By time; the deleted b3 and Bob's b4 are not there.
    assert_eq!(uris, [uri("b2"), uri("b1")]);
    assert!(ann.chats[0].answers.iter().all(|x| x.chat_id == b));
    assert_eq!(ann.chats[1].answers[0].chat_id, a);
}

#[test]
fn forget_erases_everything_and_later_collection_counts_only() {
    let (store, _, b) = with_answers();
    let m = pending(&store, "n1", ANN, "record");
    store
        .plan_reply(
            m.id,
            Effect::None,
            &[("@ann yours".into(), "direct")],
            now(),
        )
        .unwrap();
    pending(&store, "n2", BOB, "next");
    let gone = store.forget(ANN, now()).unwrap();
    assert_eq!(
        gone,
        Forgotten {
            answers: 4,
            mentions: 1
        }
    );
    assert_eq!(store.participant(ANN).unwrap(), None);
    assert_eq!(
        store.replies(m.id).unwrap(),
        [],
        "replies go with the mention"
    );
    assert!(store.answers(b).unwrap().iter().all(|x| x.acct == BOB));
    assert_eq!(store.mentions_since(BOB, now()).unwrap(), 1, "others stay");

    // Her posts read later (a late sweep, a stale copy): counted only.
    store
        .record_answers(b, &[answer("b1", ANN, 9, 10)], now())
        .unwrap();
    let b1 = store
        .answers(b)
        .unwrap()
        .into_iter()
        .find(|x| x.acct == ANN)
        .unwrap();
    assert_eq!((b1.text, b1.html, b1.url), (None, None, None));
    assert_eq!(
        (b1.display_name, b1.account_url, b1.quotable),
        (None, None, false)
    );
    // Forgetting again is fine.
    assert_eq!(store.forget(ANN, now()).unwrap().mentions, 0);
}
