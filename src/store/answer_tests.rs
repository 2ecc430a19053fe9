//! Collected answers on a real (in-memory) SQLite store: one row per uri,
//! tombstones, edits, engagement, consent, first-timers, sources.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::*;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn start() -> DateTime<Utc> {
    at("2026-12-02T20:00:00Z")
}

/// A store with two weekly chat dates of one chat: 2 and 9 December.
fn two_chats() -> (Store, ChatId, ChatId) {
    let store = Store::open_in_memory().unwrap();
    let chat = |day: u32, start_utc| NewChat {
        name: "wenurses".into(),
        date: NaiveDate::from_ymd_opt(2026, 12, day).unwrap(),
        start_utc,
        instance_url: "https://mastodon.example".into(),
        account: "chatbot@mastodon.example".into(),
        questions_file: None,
    };
    let a = store.upsert_chat(&chat(2, start()), start()).unwrap().id;
    let b = store
        .upsert_chat(&chat(9, start() + Duration::days(7)), start())
        .unwrap()
        .id;
    (store, a, b)
}

const HOME: &str = "https://mastodon.example";

fn account(acct: &str) -> SeenAccount<'_> {
    SeenAccount {
        acct,
        display_name: "Ann Nurse",
        url: Some("https://social.example/@ann"),
        quotable: true,
        why_not: None,
    }
}

/// A post by `acct` read from the bot's hashtag timeline, five minutes in.
fn seen<'a>(uri: &'a str, acct: &'a str, text: &'a str) -> SeenAnswer<'a> {
    SeenAnswer {
        uri,
        account: account(acct),
        source: HOME,
        remote_id: None,
        in_reply_to_id: None,
        via_tag: true,
        via_reply: false,
        visibility: "public",
        language: Some("en"),
        created_at: start() + Duration::minutes(5),
        edited_at: None,
        text,
        html: text,
        url: Some("https://social.example/@ann/web"),
        engagement: None,
    }
}

fn only(store: &Store, chat: ChatId) -> AnswerRecord {
    let mut all = store.answers(chat).unwrap();
    assert_eq!(all.len(), 1, "{all:#?}");
    all.remove(0)
}

const URI: &str = "https://social.example/users/ann/statuses/1";

#[test]
fn one_post_seen_on_every_path_is_one_row_that_keeps_its_chat() {
    let (store, a, b) = two_chats();
    // First from another instance: no id on ours yet.
    let elsewhere = SeenAnswer {
        source: "https://other.example",
        ..seen(URI, "ann@social.example", "A1: rest")
    };
    let context = SeenAnswer {
        remote_id: Some("109"),
        in_reply_to_id: Some("100"),
        via_tag: false,
        via_reply: true,
        ..seen(URI, "ann@social.example", "A1: rest")
    };
    let stream = SeenAnswer {
        remote_id: None,
        in_reply_to_id: None,
        via_tag: false,
        ..seen(URI, "ann@social.example", "A1: rest")
    };
    let got = store
        .record_answers(a, &[elsewhere, context, stream], start())
        .unwrap();
    assert_eq!(got, [Upserted::New, Upserted::Changed, Upserted::Same]);
    // Another chat date that collects the same post (two chats held at
    // once, the post carrying both hashtags) counts it too; the first
    // keeps its row.
    let got = store.record_answers(b, &[stream], start()).unwrap();
    assert_eq!(got, [Upserted::New]);
    assert_eq!(store.answers(b).unwrap().len(), 1);

    let row = only(&store, a);
    assert_eq!(row.uri, URI);
    assert_eq!(row.source, "https://other.example");
    assert_eq!(row.remote_id.as_deref(), Some("109"));
    assert_eq!(row.in_reply_to_id.as_deref(), Some("100"));
    assert!(row.via_tag && row.via_reply);
    assert_eq!(row.text.as_deref(), Some("A1: rest"));
    // An id seen later never replaces the first one.
    let other_id = SeenAnswer {
        remote_id: Some("999"),
        ..stream
    };
    assert_eq!(
        store.record_answers(a, &[other_id], start()).unwrap(),
        [Upserted::Same]
    );
    assert_eq!(only(&store, a).remote_id.as_deref(), Some("109"));
}

#[test]
fn a_deleted_post_stays_a_tombstone() {
    let (store, a, _) = two_chats();
    let post = SeenAnswer {
        remote_id: Some("109"),
        ..seen(URI, "ann@social.example", "A1: secret")
    };
    store.record_answers(a, &[post], start()).unwrap();
    let gone = start() + Duration::minutes(7);
    assert!(store.record_deleted("109", gone).unwrap());
    assert!(!store.record_deleted("110", gone).unwrap());
    assert!(!store.record_deleted_uri("https://nowhere/1", gone).unwrap());
    // A second delete (stream and sweep) keeps the first instant, and
    // says nothing changed.
    assert!(
        !store
            .record_deleted_uri(URI, gone + Duration::minutes(1))
            .unwrap()
    );

    // A stream update that arrives after the delete, even a newer edit.
    let late = SeenAnswer {
        edited_at: Some(start() + Duration::minutes(6)),
        engagement: Some(Engagement {
            favourites: 3,
            ..Engagement::default()
        }),
        ..post
    };
    assert_eq!(
        store.record_answers(a, &[late], gone).unwrap(),
        [Upserted::Same]
    );
    let row = only(&store, a);
    assert_eq!(row.deleted_at, Some(gone));
    assert_eq!((row.text, row.html, row.url), (None, None, None));
    assert_eq!(row.edited_at, None);
    assert_eq!(row.engagement, Engagement::default());
}

#[test]
fn an_edit_replaces_the_words_and_an_older_version_never_does() {
    let (store, a, _) = two_chats();
    let first = seen(URI, "ann@social.example", "A1: first");
    let edited = SeenAnswer {
        edited_at: Some(start() + Duration::minutes(8)),
        text: "A1: second",
        html: "<p>A1: second</p>",
        language: Some("fr"),
        ..first
    };
    assert_eq!(
        store.record_answers(a, &[first, edited], start()).unwrap(),
        [Upserted::New, Upserted::Changed]
    );
    // The original, delivered late by the stream, with fresh counts.
    let counts = Engagement {
        favourites: 4,
        reblogs: 2,
        replies: 1,
    };
    let stale = SeenAnswer {
        engagement: Some(counts),
        ..first
    };
    assert_eq!(
        store.record_answers(a, &[stale], start()).unwrap(),
        [Upserted::Same]
    );
    // The same version again: nothing to do.
    assert_eq!(
        store.record_answers(a, &[edited], start()).unwrap(),
        [Upserted::Same]
    );
    let row = only(&store, a);
    assert_eq!(row.text.as_deref(), Some("A1: second"));
    assert_eq!(row.html.as_deref(), Some("<p>A1: second</p>"));
    assert_eq!(row.language.as_deref(), Some("fr"));
    assert_eq!(row.edited_at, Some(start() + Duration::minutes(8)));
    // Counts are taken even from the older version.
    assert_eq!(row.engagement, counts);
}

#[test]
fn engagement_replaces_the_counts_and_none_keeps_them() {
    let (store, a, _) = two_chats();
    let counts = |favourites, reblogs, replies| Engagement {
        favourites,
        reblogs,
        replies,
    };
    let post = seen(URI, "ann@social.example", "A1: x");
    store
        .record_answers(
            a,
            &[SeenAnswer {
                engagement: Some(counts(5, 1, 2)),
                ..post
            }],
            start(),
        )
        .unwrap();
    assert_eq!(only(&store, a).engagement, counts(5, 1, 2));
    store.record_answers(a, &[post], start()).unwrap();
    assert_eq!(only(&store, a).engagement, counts(5, 1, 2));
    // Replaced, not added; and down is allowed (an unfavourite).
    let got = store
        .record_answers(
            a,
            &[SeenAnswer {
                engagement: Some(counts(3, 0, 2)),
                ..post
            }],
            start(),
        )
        .unwrap();
    assert_eq!(got, [Upserted::Same]);
    assert_eq!(only(&store, a).engagement, counts(3, 0, 2));
}

/// Every text value anywhere in the database.
fn every_stored_text(store: &Store) -> Vec<String> {
    let conn = store.lock();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut texts = Vec::new();
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM {table}")).unwrap();
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..columns {
                if let rusqlite::types::ValueRef::Text(t) = row.get_ref(i).unwrap() {
                    texts.push(String::from_utf8_lossy(t).into_owned());
                }
            }
        }
    }
    texts
}

#[test]
fn a_nobot_account_is_counted_but_its_words_names_and_links_are_never_kept() {
    let (store, a, b) = two_chats();
    let uri2 = "https://social.example/users/ann/statuses/2";
    let uri3 = "https://social.example/users/ann/statuses/3";
    let uri4 = "https://social.example/users/ann/statuses/4";
    let week1 = seen(URI, "ann@social.example", "A1: WORDS-ONE");
    let gone = SeenAnswer {
        remote_id: Some("109"),
        created_at: start() + Duration::minutes(9),
        ..seen(uri4, "ann@social.example", "A2: WORDS-GONE")
    };
    let week2 = SeenAnswer {
        created_at: start() + Duration::days(7),
        ..seen(uri2, "ann@social.example", "A2: WORDS-TWO")
    };
    store.record_answers(a, &[week1, gone], start()).unwrap();
    store.record_answers(b, &[week2], start()).unwrap();
    store.record_deleted("109", start()).unwrap();

    // Ann adds #nobot to her profile; the posts read next say so.
    let nobot = SeenAccount {
        quotable: false,
        why_not: Some("#nobot in profile"),
        ..account("ann@social.example")
    };
    let week2_again = SeenAnswer {
        account: nobot,
        ..week2
    };
    let new_one = SeenAnswer {
        account: nobot,
        created_at: start() + Duration::days(7) + Duration::minutes(3),
        ..seen(uri3, "ann@social.example", "A3: WORDS-THREE")
    };
    let got = store
        .record_answers(b, &[week2_again, new_one], start())
        .unwrap();
    assert_eq!(got, [Upserted::Changed, Upserted::New]);

    // Counted: every answer keeps its row, in both weeks; the week-1 one,
    // not read again, lost its words too.
    let rows_a = store.answers(a).unwrap();
    let rows_b = store.answers(b).unwrap();
    assert_eq!((rows_a.len(), rows_b.len()), (2, 2));
    for row in rows_a.iter().chain(&rows_b) {
        assert!(!row.quotable);
        assert_eq!((&row.display_name, &row.account_url), (&None, &None));
        assert_eq!((&row.text, &row.html, &row.url), (&None, &None, &None));
    }
    // Nowhere in the file: not the words, not the name, not a link.
    let stored = every_stored_text(&store);
    for secret in ["WORDS", "Ann Nurse", "@ann"] {
        assert!(
            !stored.iter().any(|t| t.contains(secret)),
            "{secret:?} is stored"
        );
    }
    // The uri stays: it is the dedupe key, not something shown.
    assert!(stored.iter().any(|t| t == URI));
    let why: Option<String> = store
        .lock()
        .query_row("SELECT why_not FROM accounts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(why.as_deref(), Some("#nobot in profile"));

    // A later read without #nobot (a stale copy of her profile on some
    // server, or her change of mind) does not undo the opt-out: nothing
    // comes back, old or new, until she opts in herself.
    let later = start() + Duration::days(8);
    assert_eq!(
        store.record_answers(b, &[week2], later).unwrap(),
        [Upserted::Same]
    );
    for row in store
        .answers(a)
        .unwrap()
        .iter()
        .chain(&store.answers(b).unwrap())
    {
        assert!(!row.quotable);
        assert_eq!((&row.text, &row.display_name), (&None, &None));
    }
    let stored = every_stored_text(&store);
    assert!(
        !stored
            .iter()
            .any(|t| t.contains("WORDS") || t.contains("Ann Nurse"))
    );
}

#[test]
fn an_account_is_a_first_timer_in_the_chat_of_its_earliest_answer() {
    let (store, a, b) = two_chats();
    let week2 = SeenAnswer {
        created_at: start() + Duration::days(7),
        ..seen("https://s/2", "bo@s.example", "A1: hi")
    };
    store.record_answers(b, &[week2], start()).unwrap();
    let first = |store: &Store| {
        store
            .lock()
            .query_row(
                "SELECT first_chat_id, first_seen_at FROM accounts WHERE acct = 'bo@s.example'",
                [],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
            )
            .unwrap()
    };
    assert_eq!(first(&store), (b.0, "2026-12-09T20:00:00.000Z".into()));
    // A later answer changes nothing.
    let week2_more = SeenAnswer {
        created_at: start() + Duration::days(7) + Duration::minutes(20),
        ..seen("https://s/3", "bo@s.example", "A2: more")
    };
    store.record_answers(b, &[week2_more], start()).unwrap();
    assert_eq!(first(&store).0, b.0);
    // The week before, collected afterwards (`chathost collect`): that is
    // where Bo first took part.
    store
        .record_answers(a, &[seen("https://s/1", "bo@s.example", "A1: x")], start())
        .unwrap();
    assert_eq!(first(&store), (a.0, "2026-12-02T20:05:00.000Z".into()));
    assert!(
        store
            .answers(b)
            .unwrap()
            .iter()
            .all(|r| r.first_chat_id == Some(a))
    );
}

#[test]
fn hostile_text_is_stored_exactly_as_given() {
    let (store, a, _) = two_chats();
    let nasty = "A1: '); DROP TABLE answers; -- \u{0} \"?1\" %s \u{202e}ʇxǝʇ 😀";
    store
        .record_answers(a, &[seen(URI, "x'y@h.example", nasty)], start())
        .unwrap();
    let row = only(&store, a);
    assert_eq!(row.text.as_deref(), Some(nasty));
    assert_eq!(row.acct, "x'y@h.example");
}

#[test]
fn two_thousand_answers_in_pages_of_forty_are_all_recorded_once() {
    let (store, a, _) = two_chats();
    let uris: Vec<String> = (0..2000)
        .map(|i| format!("https://h{}.example/s/{i}", i % 7))
        .collect();
    let accts: Vec<String> = (0..2000)
        .map(|i| format!("p{}@h.example", i % 300))
        .collect();
    let texts: Vec<String> = (0..2000)
        .map(|i| format!("A{}: answer {i}", 1 + i % 6))
        .collect();
    let batch: Vec<SeenAnswer<'_>> = (0..2000)
        .map(|i| SeenAnswer {
            // Pages arrive newest first, as a timeline gives them.
            created_at: start() + Duration::seconds(2000 - i as i64),
            ..seen(&uris[i], &accts[i], &texts[i])
        })
        .collect();
    let mut calls = 0;
    for page in batch.chunks(40) {
        let got = store.record_answers(a, page, start()).unwrap();
        assert_eq!(got, vec![Upserted::New; page.len()]);
        calls += 1;
    }
    assert_eq!(calls, 50);
    // A catch-up reading them all again changes nothing.
    for page in batch.chunks(40) {
        assert!(
            store
                .record_answers(a, page, start())
                .unwrap()
                .iter()
                .all(|u| *u == Upserted::Same)
        );
    }
    let rows = store.answers(a).unwrap();
    assert_eq!(rows.len(), 2000);
    assert!(rows.windows(2).all(|w| w[0].created_at <= w[1].created_at));
    assert_eq!(rows[0].text.as_deref(), Some("A2: answer 1999"));
    let accounts: i64 = store
        .lock()
        .query_row("SELECT count(*) FROM accounts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(accounts, 300);

    let list: Vec<(AnswerId, Option<u32>, Option<&str>)> =
        rows.iter().map(|r| (r.id, Some(3), Some("time"))).collect();
    store.set_attributions(&list).unwrap();
    assert!(
        store
            .answers(a)
            .unwrap()
            .iter()
            .all(|r| r.question == Some(3) && r.method.as_deref() == Some("time"))
    );
}

#[test]
fn a_batch_is_one_transaction_and_an_unknown_chat_records_nothing() {
    let (store, a, _) = two_chats();
    let err = store
        .record_answers(ChatId(99), &[seen(URI, "ann@social.example", "x")], start())
        .unwrap_err();
    assert!(matches!(err.problem, Problem::NoSuchChat(_)), "{err:?}");
    assert!(
        every_stored_text(&store)
            .iter()
            .all(|t| !t.contains("ann@"))
    );

    store
        .record_answers(a, &[seen(URI, "ann@social.example", "x")], start())
        .unwrap();
    let id = only(&store, a).id;
    // One unknown id fails the whole list: nothing of it is stored.
    let err = store
        .set_attributions(&[
            (id, Some(1), Some("reply")),
            (AnswerId(id.0 + 1), None, None),
        ])
        .unwrap_err();
    assert!(matches!(err.problem, Problem::NoSuchAnswer(_)), "{err:?}");
    assert_eq!(only(&store, a).question, None);
    store.set_attributions(&[(id, None, Some("time"))]).unwrap();
    let row = only(&store, a);
    assert_eq!((row.question, row.method.as_deref()), (None, Some("time")));
}

#[test]
fn a_source_adds_up_its_requests_and_keeps_its_cursor() {
    let (store, a, b) = two_chats();
    assert_eq!(store.source(a, "tag").unwrap(), None);
    let t1 = start();
    let t2 = start() + Duration::seconds(30);
    store.note_source(a, "tag", Some("110"), 1, 40, t1).unwrap();
    store.note_source(a, "tag", None, 2, 3, t2).unwrap();
    store
        .note_source(a, "extra:https://other.example", Some("9"), 1, 0, t1)
        .unwrap();
    let tag = store.source(a, "tag").unwrap().unwrap();
    assert_eq!(
        tag,
        SourceRecord {
            source: "tag".into(),
            cursor: Some("110".into()),
            requests: 3,
            posts: 43,
            last_read_at: Some(t2),
        }
    );
    store.note_source(a, "tag", Some("120"), 0, 0, t2).unwrap();
    assert_eq!(
        store.source(a, "tag").unwrap().unwrap().cursor.as_deref(),
        Some("120")
    );
    let names: Vec<String> = store
        .sources(a)
        .unwrap()
        .into_iter()
        .map(|s| s.source)
        .collect();
    assert_eq!(names, ["extra:https://other.example", "tag"]);
    assert!(store.sources(b).unwrap().is_empty());
    let err = store
        .note_source(ChatId(99), "tag", None, 1, 1, t1)
        .unwrap_err();
    assert!(matches!(err.problem, Problem::NoSuchChat(_)), "{err:?}");
}

#[test]
fn a_swept_chat_says_when() {
    let (store, a, b) = two_chats();
    assert_eq!(store.chat_by_id(a).unwrap().swept_at, None);
    let t = start() + Duration::minutes(75);
    store.mark_swept(a, t).unwrap();
    assert_eq!(store.chat_by_id(a).unwrap().swept_at, Some(t));
    assert_eq!(store.chat_by_id(b).unwrap().swept_at, None);
    let err = store.mark_swept(ChatId(99), t).unwrap_err();
    assert!(matches!(err.problem, Problem::NoSuchChat(_)), "{err:?}");
}
