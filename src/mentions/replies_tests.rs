use chrono::NaiveDate;

use super::*;
use crate::mentions::parse::Period;
use crate::mentions::record::RecordChat;

const SENDER: &str = "jane@nurses.social";

fn replies(templates: &Templates, max: usize) -> Replies<'_> {
    Replies {
        templates,
        max_characters: max,
        url_length: 23,
        bot: "chatbot@chat.example",
    }
}

/// Whom a post mentions, as a server sees it: `@` starting a word or
/// after punctuation (not after a word character, `/` or `=`).
fn mentioned(post: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<char> = post.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        let after_word =
            i > 0 && (chars[i - 1].is_alphanumeric() || matches!(chars[i - 1], '_' | '/' | '='));
        if matches!(c, '@' | '＠') && !after_word {
            let name: String = chars[i + 1..]
                .iter()
                .take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '@' | '.' | '-'))
                .collect();
            out.push(name.trim_end_matches('.').to_string());
        }
    }
    out
}

/// Every part starts with the sender, mentions no one else, has no
/// hashtag, and fits the limit as the server counts it.
fn assert_parts(parts: &[String], max: usize) {
    assert!(!parts.is_empty());
    for p in parts {
        assert!(p.starts_with("@jane@nurses.social "), "{p}");
        assert_eq!(mentioned(p), [SENDER], "{p}");
        assert!(
            !p.split_whitespace().any(|w| w.starts_with('#')),
            "a hashtag in {p}"
        );
        assert!(
            post_length(p, 23) <= max,
            "{} > {max}: {p}",
            post_length(p, 23)
        );
    }
}

fn hostile_next() -> NextChat {
    NextChat {
        chat: "WeNurses".into(),
        local: "Wednesday 2 December, 20:00 GMT".into(),
        utc: "20:00 UTC".into(),
        topic: "Winter with @victim@evil.social and #othertag".into(),
        guest: "@charge_nurse_sam@nurses.example".into(),
    }
}

#[test]
fn next_gives_time_in_both_zones_topic_and_guest_without_mentioning_them() {
    let t = Templates::builtin();
    for max in [500, 5000] {
        let parts = replies(&t, max)
            .next("@jane@nurses.social", &[hostile_next()])
            .unwrap();
        assert_parts(&parts, max);
        assert_eq!(parts.len(), 1);
        assert_eq!(
            parts[0],
            "@jane@nurses.social Next WeNurses chat: Wednesday 2 December, 20:00 GMT \
             (20:00 UTC), on Winter with victim@evil.social and othertag. \
             Guest host: charge_nurse_sam@nurses.example."
        );
        let none = replies(&t, max).next(SENDER, &[]).unwrap();
        assert_parts(&none, max);
        assert!(none[0].contains("No chat is planned"), "{none:?}");
    }
    // No topic yet: said without a dangling "on".
    let bare = NextChat {
        topic: String::new(),
        guest: String::new(),
        ..hostile_next()
    };
    let parts = replies(&t, 500).next(SENDER, &[bare]).unwrap();
    assert!(parts[0].ends_with("(20:00 UTC)."), "{parts:?}");
}

#[test]
fn optout_confirms_and_says_how_to_undo_optin_confirms() {
    let t = Templates::builtin();
    for max in [500, 5000] {
        let out = replies(&t, max).optout(SENDER).unwrap();
        assert_parts(&out, max);
        assert_eq!(out.len(), 1);
        assert!(out[0].contains("optin"), "{out:?}");
        assert!(out[0].contains("past archives drop your words when they are rewritten"));
        let back = replies(&t, max).optin(SENDER).unwrap();
        assert_parts(&back, max);
        assert_eq!(back.len(), 1);
        assert!(
            back[0].contains("optout") && back[0].contains("stay erased"),
            "{back:?}"
        );
    }
}

#[test]
fn help_lists_every_command_in_one_post() {
    let t = Templates::builtin();
    for max in [500, 5000] {
        let help = replies(&t, max).help(SENDER).unwrap();
        assert_parts(&help, max);
        assert_eq!(help.len(), 1, "{help:?}");
        for word in [
            "next",
            "optout",
            "optin",
            "record",
            "cpd",
            "help",
            "2026-01..2026-06",
        ] {
            assert!(help[0].contains(word), "{word}: {}", help[0]);
        }
    }
}

fn twenty_chats() -> Record {
    let first = NaiveDate::from_ymd_opt(2026, 1, 7).unwrap();
    let chats = (0..20u32)
        .map(|i| RecordChat {
            hashtag: "WeNurses".into(),
            date: first + chrono::Days::new(7 * u64::from(i)),
            topic: format!("Topic {i} about @someone@else.social and #things"),
            answers: (0..=i % 4)
                .map(|a| format!("https://nurses.social/@jane/1135363738394{i:02}{a}"))
                .collect(),
            minutes: 60 + 30 * (i % 2),
        })
        .collect();
    Record {
        period: Period::parse("2026"),
        chats,
        hours: 25.0,
    }
}

#[test]
fn a_long_record_is_split_and_every_part_is_addressed_to_the_sender_alone() {
    let t = Templates::builtin();
    let record = twenty_chats();
    let links: Vec<&String> = record.chats.iter().flat_map(|c| &c.answers).collect();
    for max in [500, 5000] {
        let parts = replies(&t, max).record(SENDER, &record).unwrap();
        assert_parts(&parts, max);
        if max == 500 {
            assert!(parts.len() >= 4, "{}", parts.len());
        } else {
            assert!(parts.len() <= 2, "{}", parts.len());
        }
        let all = parts.join("\n");
        assert!(
            parts[0].starts_with(
                "@jane@nurses.social Your participation record for 2026: 20 chats, 25 hours, 50 answers."
            ),
            "{}",
            parts[0]
        );
        // Every own answer linked exactly once, every chat with date and topic.
        for l in &links {
            assert_eq!(all.matches(l.as_str()).count(), 1, "{l}");
        }
        assert!(all.contains("Wednesday 7 January 2026, WeNurses chat: Topic 0 about someone@else.social and things (60 minutes, 1 answer)"), "{all}");
        assert!(all.contains("(90 minutes, 2 answers)"), "{all}");
        // Nothing but the sender's own links.
        let urls = all.split_whitespace().filter(|w| w.starts_with("https://"));
        assert!(
            urls.clone()
                .all(|u| u.starts_with("https://nurses.social/@jane/"))
        );
        assert_eq!(urls.count(), links.len());
    }
}

#[test]
fn an_empty_record_says_so() {
    let t = Templates::builtin();
    let empty = Record {
        period: Period::parse("2024-03"),
        chats: Vec::new(),
        hours: 0.0,
    };
    let parts = replies(&t, 500).record(SENDER, &empty).unwrap();
    assert_eq!(
        parts,
        [
            "@jane@nurses.social Your participation record for March 2024: 0 chats, 0 hours, 0 answers.\n\nNo chats attended in this period."
        ]
    );
    let all = Record {
        period: None,
        ..empty
    };
    let parts = replies(&t, 500).record(SENDER, &all).unwrap();
    assert!(
        parts[0].contains("record: 0 chats") && parts[0].ends_with("No chats attended."),
        "{parts:?}"
    );
    let one = Record {
        period: None,
        chats: vec![RecordChat {
            minutes: 60,
            answers: vec!["https://nurses.social/@jane/1".into()],
            ..twenty_chats().chats[0].clone()
        }],
        hours: 1.0,
    };
    let parts = replies(&t, 500).record(SENDER, &one).unwrap();
    assert!(
        parts[0].contains("record: 1 chat, 1 hour, 1 answer."),
        "{parts:?}"
    );
    assert_eq!(hours(1.5), "1.5");
    assert_eq!(hours(1.0 / 3.0), "0.33");
    assert_eq!(hours(25.0), "25");
}

#[test]
fn a_hosts_template_cannot_mention_anyone_and_its_errors_are_located() {
    let dir = std::env::temp_dir().join(format!("chathost-mentions-{}", std::process::id()));
    let templates = dir.join("templates");
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::write(
        templates.join("mention_help.j2"),
        "Ask @admin@chat.example or #help. I am @{{ bot }}.",
    )
    .unwrap();
    std::fs::write(
        templates.join("mention_record.j2"),
        "Hello\n{% for c in chats %}{{ c.dat }}{% endfor %}",
    )
    .unwrap();
    std::fs::write(templates.join("mention_optin.j2"), "@ # ＠").unwrap();
    let (t, warnings) = Templates::load(&dir).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let r = replies(&t, 500);
    let help = r.help(SENDER).unwrap();
    assert_eq!(
        help,
        ["@jane@nurses.social Ask admin@chat.example or help. I am chatbot@chat.example."]
    );
    let e = r.record(SENDER, &twenty_chats()).unwrap_err();
    assert!(e.to_string().contains("mention_record.j2"), "{e}");
    assert!(e.help.as_deref().unwrap_or("").contains("links"), "{e:?}");
    let e = r.optin(SENDER).unwrap_err();
    assert!(e.message.contains("no text once mentions"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
