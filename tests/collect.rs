//! Collection against the sandbox, as a host would judge it: after the
//! chat, the store holds exactly the answers the sandbox's participants
//! made in the window, still visible, each under the question it was meant
//! for, with consent respected; a deleted answer is a tombstone; nothing by
//! the bot or an automated account. Then again through a restart and a
//! dropped stream, with a burst of 2,000 answers within a third of the rate
//! limit, with the stream read while a long catch-up waits, a dropped
//! stream's gap read at its pace at once, and with
//! another instance read for posts that never reached ours.
//!
//! Time is a scaled clock (the collector and the poster wait side by side);
//! the rig is in `collect/rig.rs`.

#[path = "collect/rig.rs"]
mod rig;

use std::collections::BTreeMap;
use std::time::Duration;

use chathost::sandbox::{
    AnswerMade, Fault, FaultKind, Flavour, Method, Sandbox, SandboxConfig, TestPost,
};
use chathost::secret::Secret;
use chathost::store::AnswerRecord;
use chrono::{DateTime, Utc};
use rig::*;

async fn collects_everything(flavour: Flavour) {
    let rig = Rig::new("all", flavour, 8).await;
    let (started, _trigger) = rig.engine().await;
    let store = started.engine.store.clone();
    let host = rig.spawn(&started);
    // Just before the window closes, before the final sweep: what the hour
    // itself gathered (stream, timeline, replies), not what the sweep mends.
    rig.clock.sleep_until(t("2027-03-24T20:18:45Z")).await;
    let chat = store
        .chat("wenurses", DATE.parse().unwrap())
        .unwrap()
        .unwrap();
    assert!(
        chat.swept_at.is_none(),
        "the snapshot is taken before the sweep"
    );
    let live = store.answers(chat.id).unwrap();
    let settled = t("2027-03-24T20:17:00Z");
    let truth = rig.truth();
    assert!(
        truth.iter().any(|a| a.edited_at.is_some()),
        "someone edited"
    );
    assert!(
        truth.iter().any(|a| a.deleted_at.is_some()),
        "someone deleted"
    );
    for made in truth
        .iter()
        .filter(|a| a.deleted_at.is_none() && a.created_at < settled)
    {
        let got = live
            .iter()
            .find(|a| a.uri == made.uri)
            .unwrap_or_else(|| panic!("not collected during the hour: {made:#?}"));
        assert_eq!(got.question, Some(made.question), "{got:#?}");
        if made.edited_at.is_some_and(|e| e < settled) && got.quotable {
            assert!(
                got.text.as_deref().is_some_and(|t| t.contains("(edited")),
                "an edit during the hour not heard: {got:#?}"
            );
        }
    }
    assert!(
        tokio::time::timeout(Duration::from_secs(60), host)
            .await
            .unwrap()
            .unwrap()
    );
    // The stream delivered (the hashtag stream, or on GoToSocial the
    // followed tag on the user stream), not only the polls.
    let sources = store.sources(chat.id).unwrap();
    let streamed = sources
        .iter()
        .find(|s| s.source == "stream")
        .map_or(0, |s| s.posts);
    assert!(
        streamed >= 6,
        "the stream delivered {streamed} posts: {sources:#?}"
    );
    let answers = stored(&store);
    assert_matches_truth(&rig.truth(), &answers, &rig.sandbox);
    assert_nobot_counted_not_quoted(&answers, &rig.sandbox);
    // Some answers drew favourites; the sweep read them.
    assert!(
        answers.iter().any(|a| a.engagement.favourites > 0),
        "engagement read"
    );
    drop(store);
    drop(started);
    assert_answers_command_respects_consent(&rig);
    let _ = std::fs::remove_dir_all(&rig.dir);
}

/// `chathost answers`, text and JSON: everyone's answers by question, but
/// nothing a `#nobot` participant wrote, nor their name or a link.
fn assert_answers_command_respects_consent(rig: &Rig) {
    let nobot = rig
        .sandbox
        .accounts()
        .into_iter()
        .find(|a| a.note.contains("#nobot"))
        .unwrap();
    let theirs: Vec<AnswerMade> = rig
        .truth()
        .into_iter()
        .filter(|a| a.acct == nobot.acct)
        .collect();
    assert!(!theirs.is_empty());
    let quoted = rig
        .truth()
        .into_iter()
        .find(|a| a.acct != nobot.acct && a.deleted_at.is_none() && a.tagged)
        .unwrap();
    for format in ["text", "json"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_chathost"))
            .args([
                "answers", "wenurses", "--date", DATE, "--format", format, "--config",
            ])
            .arg(rig.dir.join("bot.toml"))
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{format}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Others are quoted (the phrase before the hashtag).
        let phrase = quoted.text.split(" #").next().unwrap();
        assert!(
            stdout.contains(phrase),
            "{format}: {phrase:?} missing:\n{stdout}"
        );
        let lower = stdout.to_lowercase();
        assert!(
            !lower.contains(&nobot.acct.to_lowercase()),
            "{format}: the #nobot account named:\n{stdout}"
        );
        for a in &theirs {
            // The words after `A1:`; phrases are shared between
            // participants, so also the exact text.
            assert!(
                !stdout.contains(&a.text),
                "{format}: #nobot words shown:\n{stdout}"
            );
            assert!(
                !stdout.contains(&a.status_id),
                "{format}: a link to #nobot's post:\n{stdout}"
            );
        }
        if format == "text" {
            assert!(stdout.contains("asked not to be quoted"), "{stdout}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mastodon_every_answer_is_collected_once_under_its_question() {
    collects_everything(Flavour::Mastodon).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gotosocial_every_answer_is_collected_once_under_its_question() {
    collects_everything(Flavour::GoToSocial).await;
}

/// A dropped stream and a stop in the middle of the chat (the store is
/// closed and opened again, as after a crash): the next run catches up
/// from where the first stopped, and the store ends the same.
async fn survives_a_restart_and_a_lost_stream(flavour: Flavour) {
    let rig = Rig::new("restart", flavour, 8).await;
    {
        let (started, trigger) = rig.engine().await;
        let run = {
            let started_engine = started.engine.clone();
            let chat = started_engine.config.borrow().chats[0].clone();
            let occ = chathost::plan::resolve_start(chat.zone, DATE.parse().unwrap(), chat.time);
            let mut engine = started_engine;
            tokio::spawn(async move { engine.run_occurrence("wenurses", &occ).await })
        };
        rig.clock.sleep_until(t("2027-03-24T20:04:30Z")).await;
        rig.sandbox.faults().inject(
            Fault::new(
                Method::GET,
                "/api/v1/streaming",
                FaultKind::StreamDisconnect,
            )
            .times(1),
        );
        rig.clock.sleep_until(t("2027-03-24T20:07:00Z")).await;
        // Cut off mid-flight, as a crash would: no orderly stop.
        run.abort();
        assert!(run.await.unwrap_err().is_cancelled());
        drop(trigger);
        drop(started);
    }
    // Answers keep coming while nobody listens.
    rig.clock.sleep_until(t("2027-03-24T20:08:30Z")).await;
    let store = rig.host().await;
    let answers = stored(&store);
    assert_matches_truth(&rig.truth(), &answers, &rig.sandbox);
    let _ = std::fs::remove_dir_all(&rig.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mastodon_collection_survives_a_restart_and_a_lost_stream() {
    survives_a_restart_and_a_lost_stream(Flavour::Mastodon).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gotosocial_collection_survives_a_restart_and_a_lost_stream() {
    survives_a_restart_and_a_lost_stream(Flavour::GoToSocial).await;
}

/// Another instance's public tag timeline gives the answers that never
/// reached the bot's instance; no token goes there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_on_another_instance_are_collected() {
    let rig = Rig::new("extra", Flavour::Mastodon, 0).await;
    let other = Sandbox::start(SandboxConfig {
        flavour: Flavour::Mastodon,
        participants: 2,
        clock: rig.clock.clone(),
        hashtag: "WeNurses".into(),
        seed: 7,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    rig.settings(&format!("extra_sources = [\"{}\"]", other.base_url()));
    let (started, _trigger) = rig.engine().await;
    let host = {
        let chat = started.engine.config.borrow().chats[0].clone();
        let occ = chathost::plan::resolve_start(chat.zone, DATE.parse().unwrap(), chat.time);
        let mut engine = started.engine.clone();
        tokio::spawn(async move { engine.run_occurrence("wenurses", &occ).await })
    };
    let someone = other
        .accounts()
        .into_iter()
        .find(|a| !a.bot && a.acct != "chatbot")
        .unwrap();
    rig.clock.sleep_until(t("2027-03-24T20:05:00Z")).await;
    let id = other
        .post_as(
            &someone.acct,
            TestPost::answer(1, "A1: from my own server #WeNurses"),
        )
        .unwrap();
    let uri = other.status_uri(&id).unwrap();
    // Not an answer: before the window, and another hashtag.
    other
        .post_as(&someone.acct, TestPost::public("unrelated #SomethingElse"))
        .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_secs(90), host)
            .await
            .unwrap()
            .unwrap()
    );
    let answers = stored(&started.engine.store);
    let got: Vec<&AnswerRecord> = answers.iter().filter(|a| a.uri == uri).collect();
    assert_eq!(got.len(), 1, "{answers:#?}");
    assert_eq!(got[0].source, other.base_url());
    assert_eq!(
        got[0].remote_id, None,
        "ids of another instance are not ours"
    );
    assert_eq!(got[0].question, Some(1));
    assert_eq!(answers.len(), 1, "{answers:#?}");
    let tokens: Vec<_> = other
        .log()
        .records()
        .into_iter()
        .filter_map(|r| r.account)
        .collect();
    assert!(
        tokens.is_empty(),
        "the bot's token went to another instance: {tokens:?}"
    );
    other.shutdown().await;
    let _ = std::fs::remove_dir_all(&rig.dir);
}

/// 2,000 answers in ten minutes: all collected, and the collector's
/// requests in any five minutes stay within a third of the 300 allowed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_2000_answers_is_collected_within_a_third_of_the_rate_limit() {
    let rig = Rig::new("burst", Flavour::Mastodon, 4).await;
    let (started, _trigger) = rig.engine().await;
    let host = {
        let chat = started.engine.config.borrow().chats[0].clone();
        let occ = chathost::plan::resolve_start(chat.zone, DATE.parse().unwrap(), chat.time);
        let mut engine = started.engine.clone();
        tokio::spawn(async move { engine.run_occurrence("wenurses", &occ).await })
    };
    // 100 answers every 30 s from 20:02:30 to 20:12.
    let mut at = t("2027-03-24T20:02:30Z");
    for _ in 0..20 {
        rig.clock.sleep_until(at).await;
        assert_eq!(rig.sandbox.burst(1, 100).await.len(), 100);
        at += chrono::Duration::seconds(30);
    }
    assert!(
        tokio::time::timeout(Duration::from_secs(120), host)
            .await
            .unwrap()
            .unwrap()
    );
    let answers = stored(&started.engine.store);
    let truth = rig.truth();
    assert!(truth.len() >= 2000);
    assert_matches_truth(&truth, &answers, &rig.sandbox);
    // The bot's reads, in every five-minute window (posting excluded).
    let reads: Vec<DateTime<Utc>> = rig
        .sandbox
        .log()
        .records()
        .into_iter()
        .filter(|r| r.account.as_deref() == Some("chatbot") && r.method == "GET")
        .map(|r| r.at)
        .collect();
    let peak = reads
        .iter()
        .map(|&from| {
            reads
                .iter()
                .filter(|&&r| r >= from && r < from + chrono::Duration::minutes(5))
                .count()
        })
        .max()
        .unwrap_or(0);
    eprintln!(
        "burst: {} answers collected with {} reads in all, at most {peak} in five minutes",
        answers.len(),
        reads.len()
    );
    // The store's count of requests per chat is the collector's share of
    // those reads (the rest: start-up and stream handshakes).
    let chat = started
        .engine
        .store
        .chat("wenurses", DATE.parse().unwrap())
        .unwrap()
        .unwrap();
    let counted: u64 = started
        .engine
        .store
        .sources(chat.id)
        .unwrap()
        .iter()
        .map(|s| s.requests)
        .sum();
    assert!(
        counted as usize <= reads.len() && reads.len() - counted as usize <= 8,
        "{counted} requests counted, {} reads seen",
        reads.len()
    );
    assert!(
        peak <= 100,
        "{peak} reads in five minutes: more than a third of 300"
    );
    let _ = std::fs::remove_dir_all(&rig.dir);
}

/// `chathost collect` on a chat already hosted: the same answers again
/// (idempotent); and against a server that keeps failing, an error after
/// its patience, never "done" with half the window read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collecting_again_is_idempotent_and_a_failing_server_is_an_error() {
    let rig = Rig::new("again", Flavour::Mastodon, 8).await;
    let store = rig.host().await;
    let before = stored(&store);
    drop(store);
    let config = || {
        chathost::config::load_with_env(&rig.dir.join("bot.toml"), &BTreeMap::new())
            .unwrap()
            .config
    };
    let token = || Secret::new(rig.sandbox.bot().token.expose());
    let date = Some(DATE.parse().unwrap());
    let report = chathost::collect::command::recollect(
        config(),
        token(),
        rig.clock.clone(),
        "wenurses",
        date,
    )
    .await
    .expect("collecting again succeeds");
    assert_eq!(
        report.answers,
        before.iter().filter(|a| a.deleted_at.is_none()).count()
    );
    // Every read of the hashtag timeline fails from now on.
    rig.sandbox.faults().inject(
        Fault::new(Method::GET, "/api/v1/timelines/tag", FaultKind::Status(502)).times(100_000),
    );
    let failed = chathost::collect::command::recollect(
        config(),
        token(),
        rig.clock.clone(),
        "wenurses",
        date,
    )
    .await
    .expect_err("a server that keeps failing is an error");
    assert!(failed.contains("could not finish"), "{failed}");
    // `chathost chats`: the date with its outcome.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chathost"))
        .args(["chats", "--config"])
        .arg(rig.dir.join("bot.toml"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let visible = before.iter().filter(|a| a.deleted_at.is_none()).count();
    let line = text
        .lines()
        .find(|l| l.starts_with(DATE))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains("wenurses") && line.contains("done") && line.contains(" 6/6 posted"),
        "{text}"
    );
    assert!(
        line.contains(&format!(" {visible} (+")),
        "{visible} answers: {text}"
    );
    let (started, _trigger) = rig.engine().await;
    let after = stored(&started.engine.store);
    assert_eq!(after, before, "a failed collection changes nothing stored");
    let _ = std::fs::remove_dir_all(&rig.dir);
}

/// A slow server: an answer the stream delivers is stored while a hashtag
/// timeline read is still waiting for its answer, not after it (a busy
/// chat's stream was left unread for as long as a catch-up took).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_is_stored_while_a_slow_timeline_read_waits() {
    let rig = Rig::new("slowread", Flavour::Mastodon, 4).await;
    let (started, _trigger) = rig.engine().await;
    let store = started.engine.store.clone();
    let host = rig.spawn(&started);
    // Q1 went out at 20:02 and the stream is up.
    rig.clock.sleep_until(t("2027-03-24T20:02:20Z")).await;
    // Below the rig's 2 s timeout: the read is answered, late.
    let hang = Duration::from_millis(1500);
    rig.sandbox.faults().inject(
        Fault::new(
            Method::GET,
            "/api/v1/timelines/tag",
            FaultKind::Latency(hang),
        )
        .times(1),
    );
    // The next hashtag timeline read is the one held back.
    let held = || {
        rig.sandbox.log().records().iter().any(|r| {
            r.endpoint.starts_with("/api/v1/timelines/tag")
                && matches!(r.fault, Some(FaultKind::Latency(_)))
                && r.status.is_none()
        })
    };
    let waited = std::time::Instant::now();
    while !held() {
        assert!(
            waited.elapsed() < Duration::from_secs(30),
            "no hashtag timeline read came"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The read now hangs; meanwhile someone answers.
    let acct = rig
        .sandbox
        .accounts()
        .into_iter()
        .find(|a| {
            !a.bot
                && !a.noindex
                && a.discoverable
                && !a.note.to_lowercase().contains("#nobot")
                && a.persona
                    .as_ref()
                    .is_some_and(|p| p.visibility == chathost::sandbox::Visibility::Public)
        })
        .expect("an ordinary participant")
        .acct;
    let id = rig
        .sandbox
        .post_as(
            &acct,
            TestPost::answer(1, "A1: said while the server is slow #WeNurses"),
        )
        .unwrap();
    let chat = store
        .chat("wenurses", DATE.parse().unwrap())
        .unwrap()
        .unwrap();
    loop {
        // In this order: the answer stored while the read is still held
        // can only have come by the stream.
        let stored = store
            .answers(chat.id)
            .unwrap()
            .iter()
            .any(|a| a.remote_id.as_deref() == Some(id.as_str()));
        let still_held = held();
        assert!(
            still_held,
            "the streamed answer was not stored while the timeline read waited"
        );
        if stored {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The hanging read still ends and the chat date finishes as usual.
    assert!(
        tokio::time::timeout(Duration::from_secs(120), host)
            .await
            .unwrap()
            .unwrap()
    );
    let _ = std::fs::remove_dir_all(&rig.dir);
}

/// A dropped stream that stays down: the hashtag timeline is read within
/// its 15 s pace of the drop, not at the next read that happened to be due
/// (here the replies', about 33 s later, which then waited 15 s more).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_stream_brings_the_timeline_read_forward_at_once() {
    let rig = Rig::new("dropped", Flavour::Mastodon, 4).await;
    let (started, _trigger) = rig.engine().await;
    let host = rig.spawn(&started);
    rig.clock.sleep_until(t("2027-03-24T20:03:00Z")).await;
    // The next stream event cuts the socket, and it cannot come back.
    let faults = rig.sandbox.faults();
    faults
        .inject(Fault::new(Method::GET, "/api/v1/streaming", FaultKind::Status(502)).times(10_000));
    faults.inject(
        Fault::new(
            Method::GET,
            "/api/v1/streaming",
            FaultKind::StreamDisconnect,
        )
        .times(1),
    );
    let acct = rig
        .sandbox
        .accounts()
        .into_iter()
        .find(|a| !a.bot && a.acct != "chatbot")
        .expect("a participant")
        .acct;
    let dropped = rig.clock.now();
    rig.sandbox
        .post_as(
            &acct,
            TestPost::answer(1, "A1: the last one streamed #WeNurses"),
        )
        .unwrap();
    rig.clock
        .sleep_until(dropped + chrono::Duration::seconds(60))
        .await;
    let first_read = rig
        .sandbox
        .log()
        .records()
        .into_iter()
        .filter(|r| r.endpoint.starts_with("/api/v1/timelines/tag") && r.at > dropped)
        .map(|r| r.at - dropped)
        .min()
        .expect("the timeline was read after the drop");
    assert!(
        first_read <= chrono::Duration::seconds(30),
        "the first timeline read came {} s after the stream dropped",
        first_read.num_seconds()
    );
    host.abort();
    let _ = std::fs::remove_dir_all(&rig.dir);
}
