//! Property tests (fuzzing with proptest; cargo-fuzz needs a nightly
//! toolchain) of what people and servers feed chathost (issue 12, item 3):
//!
//! - `bot.toml`: mutations of the shipped file and arbitrary text or
//!   bytes, read by `config::load` from a file: never a panic; either
//!   settings or diagnostics that name the file, point inside it (a syntax
//!   error always has a line), print no control character and never print
//!   the inline token;
//! - question files (`prompts/*.toml`): the same for the loader and check;
//! - host templates (`prompts/templates/*.j2`): loading and rendering every
//!   kind returns (fuel ends runaway loops, the output cap long text), and
//!   what renders fits the cap;
//! - status HTML back to text: never a panic, no markup left;
//! - the archive's sanitiser: hostile HTML (script, style, `on…` handlers,
//!   `javascript:`/`data:` links, svg, iframe, entity and case tricks)
//!   comes out as the allowed tags and attributes only, links to web pages
//!   only, checked by scanning the output's tags.
//!
//! CI-sized: 256 cases a property (the whole file takes seconds). A long
//! run: `PROPTEST_CASES=100000 cargo test --release --test fuzz`. A
//! failing case is kept in `proptest-regressions/fuzz.txt` and replayed
//! first on every run: commit it with the fix.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chathost::config::{self, Pacing};
use chathost::diagnostic::{Diagnostic, SourceFile};
use chathost::html;
use chathost::prompts::{PostContext, TemplateKind, Templates, parse_questions};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

const BOT_TOML: &str = include_str!("../bot.toml");
const QUESTIONS: &str = include_str!("../prompts/2026-12-02.toml");

/// 256 cases a property unless `PROPTEST_CASES` says otherwise.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/fuzz.txt",
        ))),
        ..ProptestConfig::default()
    }
}

/// A folder of this process with the shipped prompts, for bot.toml's
/// `prompts = "prompts"` and `fallback`.
fn workdir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("chathost-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("prompts")).expect("temp folder");
        for f in ["2026-12-02.toml", "2026-12-09.toml", "evergreen.toml"] {
            std::fs::copy(Path::new("prompts").join(f), dir.join("prompts").join(f))
                .expect("copy prompts");
        }
        dir
    })
}

/// A file of its own for each case (tests run in parallel threads).
fn case_file(name: &str, bytes: &[u8]) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let path = workdir().join(format!("{n}-{name}"));
    std::fs::write(&path, bytes).expect("write case file");
    path
}

/// What a diagnostic about `text` read from `path` must be: it names the
/// file, points inside it, and prints no control character.
fn check_diagnostic(d: &Diagnostic, path: &Path, text: &str) -> Result<(), TestCaseError> {
    prop_assert!(!d.message.trim().is_empty(), "empty message: {d:?}");
    prop_assert!(
        d.origin.contains(&path.display().to_string()) || d.origin.contains("prompts"),
        "origin {:?} does not name {}",
        d.origin,
        path.display()
    );
    if let Some(l) = &d.location {
        let lines = text.split('\n').count();
        prop_assert!(
            l.line >= 1 && l.line <= lines.max(1),
            "line {} of {lines}",
            l.line
        );
        prop_assert!(l.column >= 1, "column {}", l.column);
    }
    let shown = d.to_string();
    let control = shown
        .chars()
        .find(|c| c.is_control() && *c != '\n' && *c != '\t');
    prop_assert!(control.is_none(), "control {control:?} printed: {shown:?}");
    Ok(())
}

/// One edit of a TOML file.
#[derive(Debug, Clone)]
enum Edit {
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    /// The value after `=` on a line replaced.
    Value(usize, String),
    /// Text inserted at a byte offset (moved to a char boundary).
    Insert(usize, String),
    Truncate(usize),
}

/// Values a host might type, right or wrong.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("99999999999999999999".to_string()),
        Just("1e400".to_string()),
        Just("nan".to_string()),
        Just("true".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just("[\"24h\", \"0m\", \"-1h\", \"99999d\"]".to_string()),
        Just("{ a = 1 }".to_string()),
        Just("1979-05-27T07:32:00Z".to_string()),
        Just("\"25:61\"".to_string()),
        Just("\"Mars/Olympus\"".to_string()),
        Just("\"\\u001b[31m\"".to_string()),
        Just("\"\"\"\nmulti\n\"\"\"".to_string()),
        Just("'/dev/zero'".to_string()),
        Just("\"../../../../etc/passwd\"".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<String>().prop_map(|s| format!("{s:?}")),
        "[ -~]{0,12}",
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    let text = prop_oneof![
        any::<String>(),
        "[\\[\\]={}\"'#.,\n a-z0-9]{0,16}",
        Just("\n[chats.x]\n".to_string()),
        Just("\n[[chats]]\n".to_string()),
        Just("\u{0}\u{1b}\u{feff}\r".to_string()),
    ];
    prop_oneof![
        any::<usize>().prop_map(Edit::DeleteLine),
        any::<usize>().prop_map(Edit::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        (any::<usize>(), toml_value()).prop_map(|(i, v)| Edit::Value(i, v)),
        (any::<usize>(), text).prop_map(|(i, s)| Edit::Insert(i, s)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

/// `text` with `edits` applied; `keep` (a line's prefix) is never edited.
fn mutate(text: &str, edits: &[Edit], keep: Option<&str>) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let kept = |l: &String| keep.is_some_and(|k| l.starts_with(k));
    for e in edits {
        let n = lines.len().max(1);
        match e {
            Edit::DeleteLine(i) if !lines.is_empty() && !kept(&lines[i % n]) => {
                lines.remove(i % n);
            }
            Edit::DuplicateLine(i) if !lines.is_empty() => {
                lines.insert(i % n, lines[i % n].clone())
            }
            Edit::SwapLines(a, b) if !lines.is_empty() => lines.swap(a % n, b % n),
            Edit::Value(i, v) if !lines.is_empty() && !kept(&lines[i % n]) => {
                if let Some((key, _)) = lines[i % n].split_once('=') {
                    lines[i % n] = format!("{key}= {v}");
                }
            }
            Edit::Insert(i, s) if !lines.is_empty() && !kept(&lines[i % n]) => {
                let line = &mut lines[i % n];
                let mut at = i % (line.len() + 1);
                while !line.is_char_boundary(at) {
                    at -= 1;
                }
                line.insert_str(at, s);
            }
            Edit::Truncate(i) => {
                let keep_to = lines.iter().position(kept).map_or(0, |p| p + 1);
                lines.truncate((i % (n + 1)).max(keep_to));
            }
            _ => {}
        }
    }
    lines.join("\n")
}

/// Loads bot.toml text from a file; checks the outcome as the module doc
/// says. Returns the diagnostics as printed.
fn load_bot_toml(bytes: &[u8]) -> Result<String, TestCaseError> {
    let path = case_file("bot.toml", bytes);
    let text = String::from_utf8_lossy(bytes).into_owned();
    let result = config::load_with_env(&path, &BTreeMap::new());
    let _ = std::fs::remove_file(&path);
    let mut shown = String::new();
    match result {
        Ok(loaded) => {
            prop_assert!(!loaded.config.chats.is_empty(), "settings without a chat");
            for w in &loaded.warnings {
                check_diagnostic(w, &path, &text)?;
                shown.push_str(&w.to_string());
            }
        }
        Err(diags) => {
            prop_assert!(!diags.is_empty(), "an error without a diagnostic");
            prop_assert!(diags.iter().any(Diagnostic::is_error));
            for d in &diags {
                check_diagnostic(d, &path, &text)?;
                shown.push_str(&d.to_string());
            }
            let valid_utf8 = std::str::from_utf8(bytes).is_ok();
            if valid_utf8 && toml::from_str::<toml::Table>(&text).is_err() {
                prop_assert!(
                    diags.iter().any(|d| d.location.is_some()),
                    "a syntax error without a line: {diags:#?}"
                );
            }
        }
    }
    Ok(shown)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn bot_toml_mutations_load_or_say_where(edits in prop::collection::vec(edit(), 1..6)) {
        load_bot_toml(mutate(BOT_TOML, &edits, None).as_bytes())?;
    }

    #[test]
    fn bot_toml_arbitrary_text_or_bytes(
        text in any::<String>(),
        bytes in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        load_bot_toml(text.as_bytes())?;
        load_bot_toml(&bytes)?;
    }

    /// The token written inline is never printed, whatever else is wrong.
    #[test]
    fn inline_token_never_printed(
        token in "[A-Za-z0-9_-]{24,43}",
        edits in prop::collection::vec(edit(), 0..6),
    ) {
        let text = BOT_TOML.replace("# token = \"…\"", &format!("token = \"{token}\""));
        let shown = load_bot_toml(mutate(&text, &edits, Some("token = ")).as_bytes())?;
        prop_assert!(!shown.contains(&token), "token printed: {shown}");
    }
}

/// The shipped bot.toml's pacing.
fn pacing() -> Pacing {
    Pacing {
        welcome: 0,
        first_question: 5,
        last_call: Some(55),
        wrap_up: 60,
    }
}

/// Parses a question file's text and checks the outcome.
fn questions(text: &str) -> Result<(), TestCaseError> {
    let path = PathBuf::from("prompts/2026-12-02.toml");
    let source = SourceFile::from_text(&path, text);
    match parse_questions(&source, false, &pacing()) {
        Ok(set) => {
            prop_assert!(!set.topic.trim().is_empty());
            prop_assert!(!set.questions.is_empty());
            prop_assert!(set.questions.iter().all(|q| !q.text.trim().is_empty()));
        }
        Err(diags) => {
            prop_assert!(!diags.is_empty());
            for d in &diags {
                check_diagnostic(d, &path, text)?;
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn question_file_mutations_load_or_say_where(
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        questions(&mutate(QUESTIONS, &edits, None))?;
    }

    #[test]
    fn question_file_arbitrary_text(text in any::<String>()) {
        questions(&text)?;
    }

    /// Through the file loader too: arbitrary bytes (not UTF-8) included.
    #[test]
    fn question_file_bytes_from_disk(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let path = case_file("questions.toml", &bytes);
        let chat = shipped_chat();
        let _ = chathost::prompts::load_questions(&path, false, chat);
        let _ = std::fs::remove_file(&path);
    }
}

/// The chat of the shipped bot.toml, read once.
fn shipped_chat() -> &'static config::Chat {
    static CHAT: OnceLock<config::Chat> = OnceLock::new();
    CHAT.get_or_init(|| {
        let path = workdir().join("shipped-bot.toml");
        std::fs::write(&path, BOT_TOML).expect("write bot.toml");
        let loaded = config::load_with_env(&path, &BTreeMap::new()).expect("shipped bot.toml");
        loaded.config.chats.into_iter().next().expect("a chat")
    })
}

/// Pieces a host's template is made of: text, every context field, the
/// `plural` filter, loops (nested, they would run for hours without fuel),
/// recursion, and mistakes.
fn template_piece() -> impl Strategy<Value = String> {
    let field = prop::sample::select(vec![
        "hashtag",
        "topic",
        "guest",
        "intro",
        "day",
        "start",
        "end",
        "zone",
        "questions",
        "number",
        "text",
        "before",
        "minutes_left",
        "next_day",
        "next_time",
        "participants",
        "answers",
        "first_timers",
        "archive_url",
        "picks",
        "links",
        "next_topic",
        "nosuch",
    ]);
    prop_oneof![
        "[ -~\n]{0,20}",
        any::<String>(),
        field.clone().prop_map(|f| format!("{{{{ {f} }}}}")),
        field
            .clone()
            .prop_map(|f| format!("{{{{ {f}|plural(\"x\") }}}}")),
        field.prop_map(|f| format!("{{% if {f} %}}yes{{% else %}}no{{% endif %}}")),
        (1u32..100_000, 1usize..4).prop_map(|(n, depth)| {
            let open = format!("{{% for i in range({n}) %}}").repeat(depth);
            format!("{open}{{{{ i }}}}{}", "{% endfor %}".repeat(depth))
        }),
        Just("{% for p in picks %}{{ p.quote }} {{ p.url }} {{ p.name }}{% endfor %}".into()),
        Just("{% for l in links %}{{ l.url }} ({{ l.count }}){% endfor %}".into()),
        Just("{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}".into()),
        Just(
            "{% macro m(n) %}{% if n %}{{ m(n - 1) }}{% endif %}{% endmacro %}{{ m(400) }}".into()
        ),
        Just("{{ \"x\" * 100000000 }}".into()),
        Just("{{ topic ~ topic ~ topic }}".into()),
        Just("{% set x = range(100000)|list %}{{ x|length }}".into()),
        Just("{{ range(100000)|join(\",\") }}".into()),
        Just("{% include 'welcome.j2' %}".into()),
        Just("{% extends 'question.j2' %}".into()),
        Just("{{ self }}{{ loop }}{{ undefined.x.y }}".into()),
        Just("{% for %}{{ }}{% endif %}{#".into()),
        Just("{{ 1 / 0 }}{{ 1 // 0 }}{{ 1 % 0 }}".into()),
        Just("{{ 9223372036854775807 + 1 }}{{ -9223372036854775808 - 1 }}".into()),
        Just("{{ topic[1000000000000:] }}{{ topic[::-1] }}{{ \"é\"[0:1] }}".into()),
        Just("{{ \"%s %s\"|format(topic) }}{{ topic|replace(\"\", \"-\")|truncate(5) }}".into()),
    ]
}

/// Every kind rendered with a full context; each call returns.
fn render_all(templates: &Templates) -> Result<(), TestCaseError> {
    let ctx = PostContext {
        hashtag: "WeNurses".into(),
        topic: "Winter <b>pressures</b> & {{ tricks }}".into(),
        questions: 5,
        number: 2,
        picks: vec![chathost::prompts::Pick {
            quote: "{% raw %}".into(),
            url: "https://a.example/1".into(),
            name: "Ann".into(),
        }],
        ..PostContext::default()
    };
    for kind in TemplateKind::ALL {
        let rendered = if kind.is_mention_reply() {
            templates.render_reply(kind, &ctx)
        } else {
            templates.render(kind, &ctx)
        };
        if let Ok(text) = rendered {
            // The cap, 64 KiB, holds after tidying too.
            prop_assert!(text.len() <= 64 * 1024, "{kind:?}: {} bytes", text.len());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// A host's template loads (or fails with a diagnostic) and renders
    /// (or fails) for every kind; none runs away.
    #[test]
    fn host_templates_end(
        pieces in prop::collection::vec(template_piece(), 1..6),
        kind in prop::sample::select(TemplateKind::ALL.to_vec()),
    ) {
        let dir = case_file("prompts", b"");
        std::fs::remove_file(&dir).expect("placeholder");
        std::fs::create_dir_all(dir.join("templates")).expect("templates folder");
        std::fs::write(dir.join("templates").join(kind.file_name()), pieces.concat())
            .expect("write template");
        match Templates::load(&dir) {
            Ok((templates, _)) => render_all(&templates)?,
            Err(diags) => prop_assert!(!diags.is_empty()),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Text without markup characters, as a server writes between tags.
fn plain() -> impl Strategy<Value = String> {
    "[^<>&]{0,12}"
}

/// Tags and entities a server's status HTML has (and some it should not).
fn status_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        plain(),
        prop::sample::select(vec![
            "<p>",
            "</p>",
            "<br>",
            "<br/>",
            "<br />",
            "<BR>",
            "<span class=\"invisible\">",
            "</span>",
            "<a href=\"https://a.example/x?a=1&amp;b=2\" rel=\"tag\">",
            "</a>",
            "<ul>",
            "<li>",
            "</li>",
            "</ul>",
            "<ol start=\"3\">",
            "<blockquote>",
            "<pre>",
            "<h1>",
            "<strong>",
            "<em>",
            "<code>",
            "<p class=\"x>y\">",
            "<a title='1 > 0'>",
            "&amp;",
            "&lt;",
            "&gt;",
            "&quot;",
            "&#39;",
            "&#x1F600;",
            "&#X41;",
            "&#0;",
            "&#xD800;",
            "&#x110000;",
            "&#99999999999;",
            "&nbsp;",
            "&bogus;",
            "&;",
            "&#;",
            "&#x;",
            "&amp",
            "&#x1F600",
            "&verylongentityname;",
        ])
        .prop_map(str::to_string),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn status_html_to_text_never_panics(s in any::<String>()) {
        let _ = html::to_text(&s);
        let _ = html::same_post(&s, &s);
    }

    /// Markup made of whole tags leaves no tag behind: every `<` and `>`
    /// in the text comes from an entity (`&lt;`, `&gt;`, `&#60;`…).
    #[test]
    fn status_html_to_text_leaves_no_markup(pieces in prop::collection::vec(status_piece(), 0..24)) {
        let input = pieces.concat();
        let text = html::to_text(&input);
        let from_entities = |c: char| {
            let named = if c == '<' { "&lt;" } else { "&gt;" };
            input.matches(named).count()
        };
        for c in ['<', '>'] {
            prop_assert!(
                text.matches(c).count() <= from_entities(c),
                "{c} in {text:?} from {input:?}"
            );
        }
    }
}

// Beside this file: tests/ itself would make it a test target of its own.
#[path = "fuzz/sanitiser.rs"]
mod sanitiser;
