//! `chathost check` on broken input: each mistake a host can make is
//! reported at its file, line and column, with a caret and a help line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chathost::check::{CheckReport, check};
use chathost::diagnostic::{Diagnostic, Severity};
use chrono::{DateTime, Utc};

/// A host's folder: bot.toml and prompts/, in a fresh temporary directory.
struct Setup {
    dir: PathBuf,
}

const BOT: &str = r#"[instance]
url = "https://mastodon.example"
max_characters = 500

[account]
token_env = "TEST_TOKEN"

[chats.wenurses]
hashtag = "WeNurses"
weekday = "Wednesday"
time = "20:00"
zone = "Europe/London"
"#;

const QUESTIONS: &str = r#"topic = "Winter pressures"

[[question]]
text = "What helps?"

[[question]]
text = "What hinders?"
"#;

impl Setup {
    fn new(name: &str) -> Setup {
        let dir =
            std::env::temp_dir().join(format!("chathost-check-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("prompts/templates")).unwrap();
        let s = Setup { dir };
        s.write("bot.toml", BOT);
        s.write("prompts/2026-12-02.toml", QUESTIONS);
        s
    }

    fn write(&self, rel: &str, text: &str) -> &Self {
        std::fs::write(self.dir.join(rel), text).unwrap();
        self
    }

    fn path(&self, rel: &str) -> String {
        self.dir.join(rel).display().to_string()
    }

    async fn check_with(&self, online: bool, env: &[(&str, &str)]) -> CheckReport {
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        check(&self.dir.join("bot.toml"), online, &env, now()).await
    }

    async fn check(&self) -> CheckReport {
        self.check_with(false, &[("TEST_TOKEN", "t0k3n")]).await
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn now() -> DateTime<Utc> {
    "2026-11-27T12:00:00Z".parse().unwrap()
}

/// The one diagnostic whose message contains `needle`, or a panic listing
/// all of them.
fn find<'a>(report: &'a CheckReport, needle: &str) -> &'a Diagnostic {
    report
        .diagnostics
        .iter()
        .find(|d| d.message.contains(needle))
        .unwrap_or_else(|| {
            panic!(
                "no diagnostic mentions {needle:?}; got:\n{}",
                report
                    .diagnostics
                    .iter()
                    .map(ToString::to_string)
                    .collect::<String>()
            )
        })
}

/// Asserts an error at `file:line:col` whose rendering has a caret and help.
fn assert_error_at(d: &Diagnostic, file: &str, line: usize, col: usize) {
    assert_eq!(d.severity, Severity::Error, "{d}");
    assert_eq!(d.position(), format!("{file}:{line}:{col}"), "{d}");
    let shown = d.to_string();
    assert!(
        shown.contains(&format!("{file}:{line}:{col}: error: ")),
        "{shown}"
    );
    assert!(
        shown
            .lines()
            .any(|l| l.trim_start().starts_with('|') && l.contains('^')),
        "no caret:\n{shown}"
    );
    assert!(shown.contains("help: "), "no help:\n{shown}");
}

#[tokio::test]
async fn the_minimal_setup_is_well() {
    let s = Setup::new("ok");
    let r = s.check().await;
    assert_eq!(r.errors(), 0, "{:#?}", r.diagnostics);
}

#[tokio::test]
async fn toml_syntax_error() {
    let s = Setup::new("syntax");
    s.write(
        "bot.toml",
        &BOT.replace("hashtag = \"WeNurses\"", "hashtag = \"WeNurses"),
    );
    let r = s.check().await;
    assert_eq!(r.errors(), 1);
    assert_error_at(&r.diagnostics[0], &s.path("bot.toml"), 9, 20);
}

#[tokio::test]
async fn wrong_type() {
    let s = Setup::new("type");
    s.write(
        "bot.toml",
        &BOT.replace("max_characters = 500", "max_characters = \"500\""),
    );
    let r = s.check().await;
    let d = find(&r, "invalid type");
    assert_error_at(d, &s.path("bot.toml"), 3, 18);
}

#[tokio::test]
async fn a_time_written_as_a_toml_time_is_explained() {
    let s = Setup::new("tomltime");
    s.write(
        "bot.toml",
        &BOT.replace("time = \"20:00\"", "time = 20:00:00"),
    );
    let r = s.check().await;
    let d = find(&r, "invalid type");
    assert_error_at(d, &s.path("bot.toml"), 11, 8);
    assert!(d.help.as_ref().unwrap().contains("double quotes"), "{d}");
}

#[tokio::test]
async fn unknown_key_with_a_suggestion() {
    let s = Setup::new("unknown");
    s.write("bot.toml", &BOT.replace("hashtag =", "hashtga ="));
    let r = s.check().await;
    let d = find(&r, "unknown field `hashtga`");
    assert_error_at(d, &s.path("bot.toml"), 9, 1);
    assert!(
        d.help
            .as_ref()
            .unwrap()
            .starts_with("did you mean `hashtag`?"),
        "{d}"
    );
}

#[tokio::test]
async fn unknown_time_zone_with_a_suggestion() {
    let s = Setup::new("zone");
    s.write("bot.toml", &BOT.replace("Europe/London", "Europe/Londn"));
    let r = s.check().await;
    let d = find(&r, "unknown time zone");
    assert_error_at(d, &s.path("bot.toml"), 12, 8);
    assert!(
        d.help.as_ref().unwrap().contains("\"Europe/London\""),
        "{d}"
    );
}

#[tokio::test]
async fn unparsable_weekday_and_time() {
    let s = Setup::new("weekday");
    s.write(
        "bot.toml",
        &BOT.replace("\"Wednesday\"", "\"Wensday\"")
            .replace("\"20:00\"", "\"8pm\""),
    );
    let r = s.check().await;
    assert_error_at(
        find(&r, "not a day of the week"),
        &s.path("bot.toml"),
        10,
        11,
    );
    assert_error_at(find(&r, "not a time of day"), &s.path("bot.toml"), 11, 8);
}

#[tokio::test]
async fn a_start_time_that_the_clocks_skip_or_repeat_is_explained() {
    let s = Setup::new("dst");
    let sunday = BOT.replace("\"Wednesday\"", "\"Sunday\"");
    s.write("bot.toml", &sunday.replace("\"20:00\"", "\"01:30\""));
    std::fs::remove_file(s.dir.join("prompts/2026-12-02.toml")).unwrap();
    let r = s.check().await;
    // In the year from 27 Nov 2026 the first such date is 28 March 2027.
    let d = find(&r, "does not exist on 2027-03-28");
    assert_eq!(d.severity, Severity::Warning);
    assert_eq!(d.position(), format!("{}:11:8", s.path("bot.toml")));
    assert!(d.message.contains("starts at 02:30 BST"), "{d}");

    // Starting the search after March, the October repeat is found.
    let env = BTreeMap::from([("TEST_TOKEN".to_string(), "x".to_string())]);
    let later = "2027-04-01T00:00:00Z".parse().unwrap();
    let r = check(&s.dir.join("bot.toml"), false, &env, later).await;
    let d = find(&r, "happens twice on 2027-10-31");
    assert!(d.message.contains("01:30 BST"), "{d}");
    assert_eq!(d.position(), format!("{}:11:8", s.path("bot.toml")));
}

#[tokio::test]
async fn hashtags_mastodon_would_not_link() {
    for (tag, needle) in [
        ("#WeNurses", "starts with `#`"),
        ("We Nurses", "contains a space"),
        ("we-nurses", "contains `-`"),
    ] {
        let s = Setup::new("tag");
        s.write(
            "bot.toml",
            &BOT.replace("\"WeNurses\"", &format!("\"{tag}\"")),
        );
        let r = s.check().await;
        assert_error_at(find(&r, needle), &s.path("bot.toml"), 9, 11);
    }
}

#[tokio::test]
async fn an_empty_question_list() {
    let s = Setup::new("empty");
    s.write(
        "prompts/2026-12-02.toml",
        "topic = \"Nothing yet\"\n\n# questions to come\n",
    );
    let r = s.check().await;
    let d = find(&r, "no questions");
    assert_error_at(d, &s.path("prompts/2026-12-02.toml"), 3, 3);
}

#[tokio::test]
async fn a_question_over_the_limit_after_templating() {
    let s = Setup::new("long");
    // 480 characters of question fit the limit alone, not with "Q2: " and the
    // template's answer line.
    let long = "x".repeat(480);
    s.write(
        "prompts/2026-12-02.toml",
        &QUESTIONS.replace("What hinders?", &long),
    );
    let r = s.check().await;
    let d = find(&r, "the Q2 post of 2026-12-02");
    assert_error_at(d, &s.path("prompts/2026-12-02.toml"), 7, 8);
    assert!(d.message.contains("limit (bot.toml) is 500"), "{d}");
    assert!(
        d.help
            .as_ref()
            .unwrap()
            .contains("shorten this question by at least"),
        "{d}"
    );
}

#[tokio::test]
async fn offsets_outside_the_chat_or_out_of_order() {
    let s = Setup::new("offsets");
    s.write(
        "prompts/2026-12-02.toml",
        "topic = \"T\"\n\n[[question]]\ntext = \"a\"\nat = 20\n\n[[question]]\ntext = \"b\"\nat = 10\n\n[[question]]\ntext = \"c\"\nat = 58\n",
    );
    let r = s.check().await;
    let file = s.path("prompts/2026-12-02.toml");
    assert_error_at(
        find(&r, "question 2 at minute 10 is not after"),
        &file,
        9,
        6,
    );
    let d = find(&r, "question 3 at minute 58 is outside");
    assert_error_at(d, &file, 13, 6);
    assert!(
        d.help.as_ref().unwrap().contains("last call (minute 55)"),
        "{d}"
    );
}

#[tokio::test]
async fn a_template_syntax_error_names_the_template_line() {
    let s = Setup::new("template");
    s.write(
        "prompts/templates/welcome.j2",
        "Welcome to #{{ hashtag }}!\n\nTonight: {{ topic }\n",
    );
    let r = s.check().await;
    let d = find(&r, "template:");
    assert_error_at(d, &s.path("prompts/templates/welcome.j2"), 3, 19);
}

#[tokio::test]
async fn an_unknown_template_variable_is_an_error() {
    let s = Setup::new("templatevar");
    s.write(
        "prompts/templates/question.j2",
        "Q{{ number }}: {{ text }}\n#{{ hashtg }}\n",
    );
    let r = s.check().await;
    let d = find(&r, "template:");
    assert_eq!(
        d.position().split(':').next().unwrap(),
        s.path("prompts/templates/question.j2")
    );
    assert_eq!(d.location.as_ref().unwrap().line, 2, "{d}");
}

#[tokio::test]
async fn recap_templates_are_rendered_and_a_long_recap_is_no_error() {
    let s = Setup::new("recaptemplates");
    // Long, but the recap splits it: fine.
    s.write(
        "prompts/templates/recap.j2",
        &format!("#{{{{ hashtag }}}} {}", "thanks ".repeat(200)),
    );
    s.write(
        "prompts/templates/recap_question.j2",
        "Q{{ number }}\n{% for p in picks %}{{ p.quote }} {{ p.url }}\n{% endfor %}",
    );
    s.write(
        "prompts/templates/recap_end.j2",
        "Links:\n{% for l in links %}{{ l.url }} {{ l.shares }}{% endfor %}",
    );
    let r = s.check().await;
    assert_eq!(r.errors(), 1, "{:?}", r.diagnostics);
    let d = find(&r, "template:");
    assert_eq!(
        d.position().split(':').next().unwrap(),
        s.path("prompts/templates/recap_end.j2")
    );
    assert_eq!(d.location.as_ref().unwrap().line, 2, "{d}");
}

#[tokio::test]
async fn a_missing_token_warns_offline_and_fails_online() {
    let s = Setup::new("token");
    let r = s.check_with(false, &[]).await;
    let d = find(&r, "no access token found");
    assert_eq!(d.severity, Severity::Warning);
    assert_eq!(r.errors(), 0);
    assert!(d.message.contains("TEST_TOKEN"), "{d}");

    let r = s.check_with(true, &[]).await;
    let d = find(&r, "no access token found");
    assert_eq!(d.severity, Severity::Error);
    assert!(
        d.help.as_ref().unwrap().contains("export TEST_TOKEN"),
        "{d}"
    );
}

#[tokio::test]
async fn an_inline_token_is_warned_about_and_never_shown() {
    let s = Setup::new("inline");
    s.write(
        "bot.toml",
        &BOT.replace(
            "token_env = \"TEST_TOKEN\"",
            "token_env = \"TEST_TOKEN\"\ntoken = \"sup3r-s3cret\"",
        ),
    );
    let r = s.check_with(false, &[]).await;
    let d = find(&r, "written in bot.toml");
    assert_eq!(d.severity, Severity::Warning);
    assert_eq!(d.position(), format!("{}:7:9", s.path("bot.toml")));
    let everything: String = r
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<String>()
        + &r.notes.join("\n");
    assert!(!everything.contains("sup3r-s3cret"), "{everything}");
}

#[tokio::test]
async fn environment_overrides_apply_and_are_named_when_wrong() {
    let s = Setup::new("env");
    let r = s
        .check_with(
            false,
            &[
                ("TEST_TOKEN", "x"),
                ("CHATHOST__CHATS__WENURSES__ZONE", "Mars/Olympus"),
            ],
        )
        .await;
    let d = find(&r, "unknown time zone `Mars/Olympus`");
    assert_eq!(
        d.position(),
        "environment variable CHATHOST__CHATS__WENURSES__ZONE"
    );

    let r = s
        .check_with(
            false,
            &[
                ("TEST_TOKEN", "x"),
                ("CHATHOST__INSTANCE__MAX_CHARACTERS", "5000"),
            ],
        )
        .await;
    assert_eq!(r.errors(), 0, "{:#?}", r.diagnostics);
}

#[test]
fn a_missing_config_file_says_so() {
    let env = BTreeMap::new();
    let err =
        chathost::config::load_with_env(Path::new("/nonexistent/bot.toml"), &env).unwrap_err();
    assert!(
        err[0]
            .to_string()
            .contains("/nonexistent/bot.toml: error: cannot read this file")
    );
    assert!(err[0].help.as_ref().unwrap().contains("--config"));
}

/// `check --online` against a real HTTP server (the sandbox, as GoToSocial).
#[tokio::test]
async fn online_check_reads_the_limit_and_verifies_the_token() {
    use chathost::sandbox::{Flavour, Sandbox, SandboxConfig};
    let sandbox = Sandbox::start(SandboxConfig {
        flavour: Flavour::GoToSocial,
        participants: 0,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let s = Setup::new("online");
    s.write(
        "bot.toml",
        &BOT.replace("https://mastodon.example", sandbox.base_url()),
    );
    let token = sandbox.bot().token.expose().to_string();
    let r = s.check_with(true, &[("TEST_TOKEN", &token)]).await;
    assert_eq!(r.errors(), 0, "{:#?}", r.diagnostics);
    let notes = r.notes.join("\n");
    assert!(notes.contains("posts up to 5000 characters"), "{notes}");
    assert!(
        notes.contains("account: @chatbot — token verified, marked as a bot"),
        "{notes}"
    );
    assert!(!notes.contains(&token), "the token is never shown");

    // A question that fits GoToSocial's 5000 but not the offline 500 passes
    // online: the instance's own limit counts.
    s.write(
        "prompts/2026-12-02.toml",
        &QUESTIONS.replace("What hinders?", &"x".repeat(600)),
    );
    let r = s.check_with(true, &[("TEST_TOKEN", &token)]).await;
    assert_eq!(r.errors(), 0, "{:#?}", r.diagnostics);
    let r = s.check_with(false, &[("TEST_TOKEN", &token)]).await;
    assert_eq!(r.errors(), 1);

    // A wrong token is an error that says so, without echoing it.
    let r = s.check_with(true, &[("TEST_TOKEN", "not-the-token")]).await;
    let d = find(&r, "rejected the access token");
    assert_eq!(d.severity, Severity::Error);
    assert!(!d.to_string().contains("not-the-token"));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn several_chats_in_one_file_each_with_its_own_schedule_and_prompts() {
    let s = Setup::new("two");
    std::fs::create_dir_all(s.dir.join("prompts-ahp")).unwrap();
    s.write(
        "bot.toml",
        &format!(
            "{BOT}\n[chats.ahpchat]\nhashtag = \"AHPchat\"\nweekday = \"Thursday\"\ntime = \"19:30\"\nzone = \"Europe/London\"\nprompts = \"prompts-ahp\"\n"
        ),
    );
    s.write("prompts-ahp/2026-12-03.toml", QUESTIONS);
    let r = s.check().await;
    assert_eq!(r.errors(), 0, "{:#?}", r.diagnostics);
    let loaded =
        chathost::config::load_with_env(&s.dir.join("bot.toml"), &BTreeMap::new()).unwrap();
    let chats = chathost::preview::upcoming(&loaded.config, now(), 4);
    let order: Vec<(String, String)> = chats
        .iter()
        .map(|c| (c.chat.clone(), c.date.clone()))
        .collect();
    assert_eq!(
        order,
        [
            ("wenurses".to_string(), "2026-12-02".to_string()),
            ("ahpchat".to_string(), "2026-12-03".to_string()),
            ("wenurses".to_string(), "2026-12-09".to_string()),
            ("ahpchat".to_string(), "2026-12-10".to_string()),
        ]
    );
    assert!(
        !chats[1].skipped && chats[1].posts[2].utc == "2026-12-03T19:30:00Z",
        "{:#?}",
        chats[1]
    );
    // The two chats' weeks without a question file are reported separately.
    assert!(chats[2].skipped && chats[3].skipped);
}

#[tokio::test]
async fn a_malformed_inline_token_is_located_but_never_echoed() {
    let s = Setup::new("badtoken");
    s.write(
        "bot.toml",
        &BOT.replace(
            "token_env = \"TEST_TOKEN\"",
            "token_env = \"TEST_TOKEN\"\ntoken = 98765432",
        ),
    );
    let r = s.check().await;
    let d = find(&r, "secret on this line");
    assert_error_at(d, &s.path("bot.toml"), 7, 9);
    let shown: String = r.diagnostics.iter().map(ToString::to_string).collect();
    assert!(!shown.contains("98765432"), "{shown}");
}
