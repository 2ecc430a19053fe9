use super::*;
use crate::recap::rank::tests::answer;

const TAG: &str = "WeNurses";

/// A chat with a bit of everything: questions out of order, one without
/// answers, a counted-only answer and a deleted one that outrank the
/// others, mentions and foreign hashtags in answers and names, a giant
/// answer, six links.
struct Chat {
    questions: Vec<(u32, String)>,
    answers: Vec<AnswerRecord>,
    links: Vec<(String, usize)>,
}

fn chat() -> Chat {
    let mut answers = vec![
        answer("ann", 1, 3, 1),
        answer("bob", 1, 4, 9),
        answer("cat", 1, 5, 5),
        answer("carl", 1, 6, 50),
        answer("dora", 1, 7, 80),
        answer("fay", 2, 12, 2),
        answer("gus", 2, 13, 1),
        answer("hal", 2, 14, 0),
    ];
    answers[0].first_chat_id = Some(ChatId(0)); // ann came before
    answers[1].text = Some(
        "@chatbot A1: Tea and a kind word, says @jane@nurses.social (#Nursing) daily #WeNurses"
            .into(),
    );
    // Counted only: a store keeps no words, name or link for them; the
    // thread must not use them even if it did.
    answers[3].quotable = false;
    answers[3].display_name = Some("Counted Carl".into());
    answers[3].text = Some("A1: words of carl".into());
    answers[4].deleted_at = Some(answers[4].created_at);
    answers[4].display_name = Some("Deleted Dora".into());
    answers[4].text = Some("A1: words of dora".into());
    answers[5].text = Some(format!(
        "A2: {}",
        "Handover matters because tired people miss things. ".repeat(60)
    ));
    answers[6].text =
        Some("A2: Checklists (@victim@evil.example) “#OtherTag” ＃Wide #WeNurses".into());
    answers[7].display_name = Some("@mallory@evil.example #Spam\u{1b}[31m\nName".into());
    let links = (1..=6)
        .map(|i| {
            (
                format!(
                    "https://example.org/guides/winter/pressure/{i}/{}",
                    "x".repeat(80)
                ),
                10 - i,
            )
        })
        .collect();
    Chat {
        questions: vec![
            (
                2,
                "Which small change made the biggest difference last winter?".into(),
            ),
            (
                1,
                "What is the first sign that winter pressures have arrived?".into(),
            ),
            (3, "What will you try next week?".into()),
        ],
        answers,
        links,
    }
}

fn input(c: &Chat) -> ThreadInput<'_> {
    ThreadInput {
        chat_id: ChatId(1),
        hashtag: TAG,
        topic: "Winter pressures on the wards",
        day: "Wednesday 2 December".into(),
        questions: &c.questions,
        answers: &c.answers,
        answers_per_question: 2,
        links: &c.links,
        archive_url: Some("https://chat.example/archive/2026-12-02/"),
        next: Some(NextChat {
            day: "Wednesday 9 December".into(),
            time: "20:00 GMT".into(),
            topic: "Sleep after night shifts".into(),
        }),
    }
}

fn texts(posts: &[ThreadPost]) -> Vec<&str> {
    posts.iter().map(|p| p.text.as_str()).collect()
}

/// The mentions and hashtags a server would find in `text` (Mastodon's
/// rule: the sigil starts a word or follows punctuation; links aside).
fn sigils(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for word in text.split_whitespace().filter(|w| !w.contains("://")) {
        let chars: Vec<char> = word.chars().collect();
        for (i, c) in chars.iter().enumerate() {
            let starts = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
            if starts && matches!(c, '@' | '#' | '＠' | '＃') {
                let name: String = chars[i + 1..]
                    .iter()
                    .take_while(|c| c.is_alphanumeric() || **c == '_')
                    .collect();
                if !name.is_empty() {
                    found.push(format!("{c}{name}"));
                }
            }
        }
    }
    found
}

fn post_with<'p>(posts: &'p [ThreadPost], start: &str) -> &'p str {
    posts
        .iter()
        .find(|p| p.text.starts_with(start))
        .map(|p| p.text.as_str())
        .unwrap_or_else(|| panic!("no post starts with {start}: {posts:#?}"))
}

#[test]
fn every_post_fits_in_order_with_no_mention_and_no_other_tag_at_500_and_5000() {
    let c = chat();
    for max in [500, 5000] {
        let posts = compose(&input(&c), &Templates::builtin(), max, 23).unwrap();
        for p in &posts {
            assert!(post_length(&p.text, 23) <= max, "{max}: {}", p.text);
            let tags = sigils(&p.text);
            assert!(
                tags.iter().all(|t| t == "#WeNurses"),
                "{max}: {tags:?} in {}",
                p.text
            );
        }
        assert!(
            posts[0].head
                && posts[0]
                    .text
                    .starts_with("Thank you for the #WeNurses chat")
        );
        let heads = posts.iter().take_while(|p| p.head).count();
        assert!(posts[heads..].iter().all(|p| !p.head), "{posts:#?}");
        let all = texts(&posts);
        let unique: HashSet<&&str> = all.iter().collect();
        assert_eq!(unique.len(), all.len(), "{all:#?}");
        let at = |q: &str| all.iter().position(|t| t.starts_with(q)).unwrap();
        assert!(heads <= at("Q1:") && at("Q1:") < at("Q2:") && at("Q2:") < at("Q3:"));
        assert!(post_with(&posts, "Q3:").contains("No answers this time."));
        let end = all.last().unwrap();
        assert!(end.contains("Next #WeNurses chat: Wednesday 9 December at 20:00 GMT, on Sleep after night shifts."), "{end}");
        let joined = all.join("\n");
        for (i, (url, _)) in c.links.iter().enumerate() {
            assert_eq!(joined.contains(url.as_str()), i < MAX_LINKS, "{url}");
        }
        // Counted-only and deleted answers: never quoted, named or linked.
        for secret in ["carl", "Carl", "dora", "Dora"] {
            assert!(!joined.contains(secret), "{max}: {secret} in {joined}");
        }
        assert!(!joined.contains('\u{1b}'));
    }
}

#[test]
fn picks_are_the_most_engaging_quoted_briefly_with_names_that_mention_nobody() {
    let c = chat();
    let posts = compose(&input(&c), &Templates::builtin(), 5000, 23).unwrap();
    let q1 = post_with(&posts, "Q1:");
    // ann, bob, cat and counted-only carl; dora's deleted answer is not.
    assert!(q1.contains("\n\n4 answers, among them:\n"), "{q1}");
    let bob = q1.find("https://nurses.example/@x/bob").unwrap();
    let cat = q1.find("https://nurses.example/@x/cat").unwrap();
    assert!(bob < cat, "{q1}");
    assert!(!q1.contains("/ann"), "only two picks: {q1}");
    assert!(
        q1.contains("“Tea and a kind word, says (Nursing) daily” — BOB https://"),
        "{q1}"
    );
    let q2 = post_with(&posts, "Q2:");
    assert!(
        q2.contains("“Checklists (victim@evil.example) “OtherTag” Wide” — GUS"),
        "{q2}"
    );
    let head = &posts[0].text;
    assert!(head.contains("7 people shared 7 answers to 3 questions. 6 of you joined for the first time — welcome!"), "{head}");
    assert!(
        head.contains("\n\nThe whole chat: https://chat.example/archive/2026-12-02/\n\n"),
        "{head}"
    );
    // hal's name arrives as "@mallory@evil.example #Spam" with an escape.
    let mut one = input(&c);
    one.answers_per_question = 3;
    let posts = compose(&one, &Templates::builtin(), 5000, 23).unwrap();
    let q2 = post_with(&posts, "Q2:");
    assert!(
        q2.contains(" — mallory@evil.example Spam[31m Name https://nurses.example/@x/hal"),
        "{q2}"
    );
}

#[test]
fn a_giant_answer_is_shortened_rather_than_split() {
    let c = chat();
    for max in [500, 5000] {
        let posts = compose(&input(&c), &Templates::builtin(), max, 23).unwrap();
        let q2: Vec<&str> = texts(&posts)
            .into_iter()
            .filter(|t| t.contains("/@x/fay"))
            .collect();
        assert_eq!(q2.len(), 1, "{q2:#?}");
        assert!(
            q2[0].starts_with("Q2:") && !q2[0].contains("(1/"),
            "{}",
            q2[0]
        );
        let quote = q2[0].split('“').nth(1).unwrap().split('”').next().unwrap();
        assert!(
            quote.ends_with('…') && quote.starts_with("Handover matters"),
            "{quote}"
        );
        assert!(quote.chars().count() <= QUOTE_MAX, "{max}: {quote}");
    }
}

#[test]
fn quotes_shorten_to_keep_a_question_in_one_post_before_it_splits() {
    let mut c = chat();
    for a in c.answers.iter_mut().filter(|a| a.question == Some(1)) {
        a.text = Some(format!(
            "A1: {}",
            "Night shifts wear everyone down slowly. ".repeat(9)
        ));
    }
    let mut three = input(&c);
    three.answers_per_question = 3;
    let at_5000 = compose(&three, &Templates::builtin(), 5000, 23).unwrap();
    let long = post_with(&at_5000, "Q1:");
    assert!(
        post_length(long, 23) > 500,
        "the case needs shortening at 500"
    );
    let posts = compose(&three, &Templates::builtin(), 500, 23).unwrap();
    let q1: Vec<&str> = texts(&posts)
        .into_iter()
        .filter(|t| t.contains("/@x/"))
        .filter(|t| t.contains("Night"))
        .collect();
    assert_eq!(q1.len(), 1, "one post, not split: {q1:#?}");
    for who in ["ann", "bob", "cat"] {
        assert!(
            q1[0].contains(&format!("https://nurses.example/@x/{who}")),
            "{}",
            q1[0]
        );
    }
    assert_eq!(q1[0].matches("…”").count(), 3, "{}", q1[0]);
    // As long as the post allows: the room left is less than a step.
    assert!(post_length(q1[0], 23) > 450, "{}", q1[0]);
}

#[test]
fn long_posts_split_into_numbered_parts_without_losing_a_link() {
    let mut c = chat();
    for i in 0..15 {
        let mut a = answer(&format!("p{i:02}"), 1, 20 + i, 100);
        a.text = Some(format!(
            "A1: {}",
            "Sleep is the first thing to go on a run of nights. ".repeat(4)
        ));
        c.answers.push(a);
    }
    let mut many = input(&c);
    many.answers_per_question = 20;
    let topic = "Rest and recovery between shifts, ".repeat(20);
    many.next.as_mut().unwrap().topic = topic.clone();
    let posts = compose(&many, &Templates::builtin(), 500, 23).unwrap();
    assert!(posts.iter().all(|p| post_length(&p.text, 23) <= 500));
    let q1: Vec<&str> = texts(&posts)
        .into_iter()
        .skip_while(|t| !t.starts_with("Q1:"))
        .take_while(|t| !t.starts_with("Q2:"))
        .collect();
    let n = q1.len();
    assert!(n >= 3, "{q1:#?}");
    for (i, part) in q1.iter().enumerate() {
        assert!(part.ends_with(&format!(" ({}/{n})", i + 1)), "{part}");
    }
    let joined = q1.join("\n");
    for i in 0..15 {
        assert_eq!(
            joined
                .matches(&format!("https://nurses.example/@x/p{i:02}"))
                .count(),
            1
        );
    }
    // The closing post, with a topic longer than a post: every link whole.
    let end: Vec<&str> = texts(&posts)
        .into_iter()
        .skip_while(|t| !t.starts_with("The links"))
        .collect();
    assert!(
        end.len() >= 2 && end[0].ends_with(&format!(" (1/{})", end.len())),
        "{end:#?}"
    );
    let joined = end.join(" ");
    for (url, _) in &c.links[..MAX_LINKS] {
        assert_eq!(joined.matches(url.as_str()).count(), 1, "{url}");
    }
    assert!(joined.contains("Rest and recovery"));
}

#[test]
fn the_head_says_first_timers_archive_and_next_chat_only_when_there_are_some() {
    let mut c = chat();
    for a in &mut c.answers {
        a.first_chat_id = Some(ChatId(0));
    }
    let mut bare = input(&c);
    bare.archive_url = None;
    bare.next = None;
    bare.links = &[];
    let posts = compose(&bare, &Templates::builtin(), 500, 23).unwrap();
    let all = texts(&posts).join("\n");
    for absent in ["first time", "The whole chat", "Next #", "links you shared"] {
        assert!(!all.contains(absent), "{absent}: {all}");
    }
    assert_eq!(
        posts.last().unwrap().text,
        "Thank you again, and see you at the next #WeNurses chat!"
    );
    assert_eq!(posts.iter().filter(|p| p.head).count(), 1);
}

/// A prompts folder in the temp dir, removed when dropped.
struct Prompts(std::path::PathBuf);

impl Prompts {
    fn with(name: &str, files: &[(&str, &str)]) -> Prompts {
        let dir =
            std::env::temp_dir().join(format!("chathost-thread-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("templates")).unwrap();
        for (file, text) in files {
            std::fs::write(dir.join("templates").join(file), text).unwrap();
        }
        Prompts(dir)
    }

    fn load(&self) -> Result<Templates, Vec<Diagnostic>> {
        Templates::load(&self.0).map(|(t, warnings)| {
            assert!(warnings.is_empty(), "{warnings:?}");
            t
        })
    }
}

impl Drop for Prompts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_hosts_templates_are_used_and_a_broken_one_is_located() {
    let c = chat();
    let own = Prompts::with(
        "own",
        &[
            (
                "recap_question.j2",
                "Question {{ number }}: {{ answers }}{% for p in picks %} | {{ p.name }} {{ p.url }}{% endfor %}",
            ),
            (
                "recap_end.j2",
                "Bye from #{{ hashtag }}{% for l in links %} {{ l.count }}{% endfor %}",
            ),
        ],
    );
    let posts = compose(&input(&c), &own.load().unwrap(), 500, 23).unwrap();
    let all = texts(&posts);
    assert!(
        all.contains(
            &"Question 1: 4 | BOB https://nurses.example/@x/bob | CAT https://nurses.example/@x/cat"
        ),
        "{all:#?}"
    );
    assert_eq!(all.last(), Some(&"Bye from #WeNurses 9 8 7 6 5"));

    let misspelt = Prompts::with("misspelt", &[("recap_end.j2", "Bye\n{{ next_topc }}")]);
    let d = compose(&input(&c), &misspelt.load().unwrap(), 500, 23).unwrap_err();
    assert!(d.origin.ends_with("templates/recap_end.j2"), "{d}");
    assert_eq!(d.location.as_ref().map(|l| l.line), Some(2), "{d}");
    assert!(
        d.help.as_deref().unwrap_or_default().contains("next_topic"),
        "{d}"
    );

    let syntax = Prompts::with("syntax", &[("recap.j2", "Thanks {% if %}")]);
    let errors = syntax.load().unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].origin.ends_with("templates/recap.j2") && errors[0].location.is_some());

    let same = Prompts::with("same", &[("recap_question.j2", "Another question")]);
    let d = compose(&input(&c), &same.load().unwrap(), 500, 23).unwrap_err();
    assert!(
        d.message
            .contains("would read the same: \"Another question\""),
        "{d}"
    );
}
