//! Recap and archive of one big chat date (issue 12, item 4): a real
//! SQLite store in a temporary folder holds one chat date with 10,000
//! answers from 1,000 accounts across 8 questions (links, hashtags,
//! mentions, edits, deletions, every tenth account counted only), then
//! the service's after-chat work is timed step by step, as
//! `engine/after.rs` does it: read the chat date, compose the recap
//! thread, store it, read again, write the archive folder (four files),
//! write the chat's index and feed. Target: at most 1 s in all.
//!
//! Run: `cargo bench --bench recap_archive` (release build). Figures of
//! the first run and the median of 5 (the thread is stored once: later
//! runs find it composed, as a restart would, so its first figure is the
//! one that counts); peak resident memory is of that work alone (the peak
//! is reset after filling the store).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration as StdDuration, Instant};

use chathost::archive;
use chathost::config::{self, Chat};
use chathost::length::PostLimit;
use chathost::plan::{self, Occurrence};
use chathost::recap::{self, ChatData};
use chathost::store::{
    AnswerId, ChatRecord, Engagement, NewChat, SeenAccount, SeenAnswer, Store, ThreadStep,
};
use chrono::{DateTime, Duration, NaiveDate, Utc};

const ANSWERS: usize = 10_000;
const ACCOUNTS: usize = 1_000;
const QUESTIONS: usize = 8;
const RUNS: usize = 5;
const DATE: &str = "2026-12-02";
const STEPS: usize = 6;
/// The steps timed, as the service does them after a chat.
const NAMES: [&str; STEPS] = [
    "read the chat date (store, files)",
    "compose the recap thread",
    "store the thread (1 commit)",
    "read the chat date again",
    "archive folder (4 files)",
    "chat index and feed",
];
const HOME: &str = "https://mastodon.example";

fn main() {
    let dir = std::env::temp_dir().join(format!("chathost-bench-recap-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let chat = setup(&dir);
    let date: NaiveDate = DATE.parse().expect("date");
    let occ = plan::resolve_start(chat.zone, date, chat.time);
    let store = Store::open(dir.join("state/chathost.db")).expect("store");
    let fill_started = Instant::now();
    let record = fill(&store, &chat, &occ);
    let fill_took = fill_started.elapsed();
    reset_peak_rss();

    let runs: Vec<[StdDuration; STEPS]> = (0..RUNS)
        .map(|_| one_run(&store, &chat, &occ, &record))
        .collect();
    println!("recap and archive: {ANSWERS} answers, {ACCOUNTS} accounts, {QUESTIONS} questions");
    println!(
        "{:<36} {:>9} {:>12}",
        "",
        "first run",
        format!("median of {RUNS}")
    );
    let (mut first_total, mut median_total) = (0.0, 0.0);
    for (i, name) in NAMES.iter().enumerate() {
        let first = ms(runs[0][i]);
        let mut all: Vec<StdDuration> = runs.iter().map(|r| r[i]).collect();
        all.sort();
        let median = ms(all[RUNS / 2]);
        first_total += first;
        median_total += median;
        println!("{name:<36} {first:>6.1} ms {median:>9.1} ms");
    }
    println!(
        "{:<36} {first_total:>6.1} ms {median_total:>9.1} ms  (target 1000 ms)",
        "total"
    );
    let render_started = Instant::now();
    let data = ChatData::load(&store, &chat, record.clone()).expect("load");
    let input = data.archive_input(&chat, &occ, "chatbot@mastodon.example", occ.start_utc());
    let rendered = archive::render(&input);
    println!(
        "{:<36} {:>6.1} ms (reading included, nothing written)",
        "the four files rendered in memory",
        ms(render_started.elapsed())
    );
    drop(rendered);
    println!("{:<36} {:>9} MiB", "peak resident memory", peak_rss_mib());
    let folder = recap::archive_dir(&chat, date);
    for f in ["index.html", "transcript.md", "chat.json", "activity.svg"] {
        let size = std::fs::metadata(folder.join(f)).map_or(0, |m| m.len());
        println!("{f:<36} {:>9.0} KiB", size as f64 / 1024.0);
    }
    println!(
        "(filling the store: {:.1} s, {:.0} answers/s in pages of 40)",
        fill_took.as_secs_f64(),
        ANSWERS as f64 / fill_took.as_secs_f64()
    );
    println!("rerun: cargo bench --bench recap_archive");
    let _ = std::fs::remove_dir_all(dir);
}

fn ms(d: StdDuration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The after-chat work once, each step timed.
fn one_run(
    store: &Store,
    chat: &Chat,
    occ: &Occurrence,
    record: &ChatRecord,
) -> [StdDuration; STEPS] {
    let mut took = [StdDuration::ZERO; STEPS];
    let mut lap = {
        let mut last = Instant::now();
        move || {
            let now = Instant::now();
            let d = now - last;
            last = now;
            d
        }
    };
    let data = ChatData::load(store, chat, record.clone()).expect("load");
    took[0] = lap();
    let limit = PostLimit {
        max: 500,
        per_url: 23,
    };
    let (posts, _) = recap::compose_thread(chat, occ, &data, limit).expect("thread");
    // The service composes and archives in separate steps: nothing shared.
    drop(data);
    took[1] = lap();
    let steps: Vec<ThreadStep> = posts
        .into_iter()
        .map(|p| ThreadStep {
            text: p.text,
            head: p.head,
        })
        .collect();
    assert!(steps.len() > QUESTIONS, "a post per question at least");
    let due = occ.start_utc() + Duration::minutes(75);
    store
        .compose_recap(record.id, &steps, due, due)
        .expect("store thread");
    took[2] = lap();
    let data = ChatData::load(store, chat, record.clone()).expect("load");
    let input = data.archive_input(chat, occ, "chatbot@mastodon.example", due);
    took[3] = lap();
    let folder = recap::archive_dir(chat, occ.date);
    recap::write_folder(&folder, &input).expect("archive folder");
    took[4] = lap();
    let chat_dir = chat.archive.dir.join(&chat.name);
    let base = chat
        .archive
        .url
        .as_ref()
        .map(|u| format!("{u}/{}/", chat.name));
    let index = archive::write_chat_index(&chat_dir, base.as_deref()).expect("index");
    assert!(
        index.skipped.is_empty(),
        "index skipped {:?}",
        index.skipped
    );
    took[5] = lap();
    took
}

/// A host's folder: bot.toml and the week's question file with 8 questions.
fn setup(dir: &Path) -> Chat {
    std::fs::create_dir_all(dir.join("prompts")).expect("folder");
    std::fs::create_dir_all(dir.join("state")).expect("folder");
    let toml = r#"[instance]
url = "https://mastodon.example"

[account]
token_env = "CHATHOST_TOKEN"

[state]
dir = "state"

[chats.wenurses]
hashtag = "WeNurses"
weekday = "Wednesday"
time = "20:00"
zone = "Europe/London"
duration_minutes = 60

[chats.wenurses.recap]
answers_per_question = 3

[chats.wenurses.archive]
url = "https://wenurses.example/archive"
"#;
    std::fs::write(dir.join("bot.toml"), toml).expect("bot.toml");
    let mut questions = String::from("topic = \"Winter pressures on the wards\"\n");
    for q in 1..=QUESTIONS {
        questions.push_str(&format!(
            "\n[[question]]\ntext = \"Question {q}: what helps your team most when the ward is full?\"\n"
        ));
    }
    std::fs::write(dir.join(format!("prompts/{DATE}.toml")), questions).expect("questions");
    let loaded = config::load_with_env(&dir.join("bot.toml"), &BTreeMap::new())
        .unwrap_or_else(|d| panic!("bot.toml: {d:?}"));
    loaded.config.chats.into_iter().next().expect("a chat")
}

/// The 10,000 answers, recorded in pages of 40 as collection does; then
/// edits, deletions and which question each answers.
fn fill(store: &Store, chat: &Chat, occ: &Occurrence) -> ChatRecord {
    let start = occ.start_utc();
    let record = store
        .upsert_chat(
            &NewChat {
                name: chat.name.clone(),
                date: occ.date,
                start_utc: start,
                instance_url: HOME.into(),
                account: "chatbot@mastodon.example".into(),
                questions_file: None,
            },
            start,
        )
        .expect("chat");
    let posts: Vec<Post> = (0..ANSWERS).map(|n| Post::new(n, start, 0)).collect();
    for page in posts.chunks(40) {
        let seen: Vec<SeenAnswer<'_>> = page.iter().map(Post::seen).collect();
        store
            .record_answers(record.id, &seen, start)
            .expect("record");
    }
    // One in twenty edited later (a newer version replaces the text).
    let edits: Vec<Post> = (0..ANSWERS)
        .step_by(20)
        .map(|n| Post::new(n, start, 1))
        .collect();
    for page in edits.chunks(40) {
        let seen: Vec<SeenAnswer<'_>> = page.iter().map(Post::seen).collect();
        store.record_answers(record.id, &seen, start).expect("edit");
    }
    // One in fifty deleted.
    for n in (7..ANSWERS).step_by(50) {
        store
            .record_deleted_in(record.id, &posts[n].uri, start + Duration::minutes(70))
            .expect("delete");
    }
    let answers = store.answers(record.id).expect("answers");
    let attributed: Vec<(AnswerId, Option<u32>, Option<&str>)> = answers
        .iter()
        .map(|a| {
            let q = a.text.as_deref().and_then(question_of);
            (a.id, q, q.map(|_| "prefix"))
        })
        .collect();
    store.set_attributions(&attributed).expect("attributions");
    store
        .chat(&chat.name, occ.date)
        .expect("read")
        .expect("the chat")
}

/// "A3: …" → 3.
fn question_of(text: &str) -> Option<u32> {
    let label = text.strip_prefix('A')?.split(':').next()?;
    label.parse().ok()
}

/// One answer as a server would give it.
struct Post {
    uri: String,
    acct: String,
    name: String,
    profile: String,
    url: String,
    text: String,
    html: String,
    quotable: bool,
    created_at: DateTime<Utc>,
    edited_at: Option<DateTime<Utc>>,
    engagement: Engagement,
}

impl Post {
    /// Answer `n`, or its `version`th edit.
    fn new(n: usize, start: DateTime<Utc>, version: u32) -> Post {
        let user = n % ACCOUNTS;
        let host = [
            "nurses.example",
            "mastodon.example",
            "gts.example",
            "social.example",
        ][user % 4];
        let q = n * QUESTIONS / ANSWERS + 1;
        let minute = 5 + (n * 50 / ANSWERS) as i64;
        let link = n
            .is_multiple_of(5)
            .then(|| format!("https://guidelines{}.example/handover/{}", n % 13, n % 7));
        let mut text = format!(
            "A{q}: answer {n} from user {user}: we keep a short huddle at the start of each shift and share the load{} #WeNurses #sleep",
            if version > 0 { " (edited)" } else { "" }
        );
        let mut html = format!(
            "<p>A{q}: answer {n} from user {user}: we keep a short huddle at the start of each shift &amp; share the load{} ",
            if version > 0 { " (edited)" } else { "" }
        );
        if let Some(l) = &link {
            text.push_str(&format!(" {l}"));
            html.push_str(&format!(
                "<a href=\"{l}\" rel=\"nofollow noopener noreferrer\" target=\"_blank\"><span class=\"invisible\">https://</span><span class=\"ellipsis\">{}</span></a> ",
                &l[8..]
            ));
        }
        if n.is_multiple_of(9) {
            html.push_str("<span class=\"h-card\"><a href=\"https://nurses.example/@sam\" class=\"u-url mention\">@<span>sam</span></a></span> ");
        }
        html.push_str(&format!(
            "<a href=\"{HOME}/tags/WeNurses\" class=\"mention hashtag\" rel=\"tag\">#<span>WeNurses</span></a> <a href=\"{HOME}/tags/sleep\" class=\"mention hashtag\" rel=\"tag\">#<span>sleep</span></a></p>"
        ));
        Post {
            uri: format!("https://{host}/users/u{user}/statuses/{n}"),
            acct: format!("u{user}@{host}"),
            name: format!("Nurse {user}"),
            profile: format!("https://{host}/@u{user}"),
            url: format!("https://{host}/@u{user}/{n}"),
            text,
            html,
            // Every tenth account asked not to be quoted: counted only.
            quotable: user % 10 != 3,
            created_at: start + Duration::minutes(minute) + Duration::seconds((n % 60) as i64),
            edited_at: (version > 0).then(|| start + Duration::minutes(65)),
            engagement: Engagement {
                favourites: (n * 7 % 23) as u64,
                reblogs: (n * 3 % 5) as u64,
                replies: (n % 4) as u64,
            },
        }
    }

    fn seen(&self) -> SeenAnswer<'_> {
        SeenAnswer {
            uri: &self.uri,
            account: SeenAccount {
                acct: &self.acct,
                display_name: &self.name,
                url: Some(&self.profile),
                quotable: self.quotable,
                why_not: (!self.quotable).then_some("#nobot in the profile"),
            },
            source: HOME,
            remote_id: None,
            in_reply_to_id: None,
            via_tag: true,
            via_reply: false,
            visibility: "public",
            language: Some("en"),
            created_at: self.created_at,
            edited_at: self.edited_at,
            text: &self.text,
            html: &self.html,
            url: Some(&self.url),
            engagement: Some(self.engagement),
        }
    }
}

/// The peak so far starts again from the current resident size (Linux:
/// writing 5 to clear_refs), so the figure is the recap's and archive's.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_mib() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or("?".into(), |kb| format!("{:.1}", kb / 1024.0))
}
