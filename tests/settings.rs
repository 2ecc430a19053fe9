//! `chathost check` on hostile or mistaken settings, run as a host would run
//! it (the binary): the token never shows, odd files end promptly with a
//! clear error, and values that would be "accepted but wrong" are refused
//! at their line with the allowed range.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A token-looking value the output must never contain.
const TOKEN: &str = "Zq8xW3kLmN0pR7sT2vYb4cD6eF9gH1jK5uA3oI";

const INSTANCE: &str = "[instance]\nurl = \"https://mastodon.example\"\n";

const CHAT: &str = r#"
[chats.wenurses]
hashtag = "WeNurses"
weekday = "Wednesday"
time = "20:00"
zone = "Europe/London"
"#;

/// A host's folder in a fresh temporary directory.
struct Setup {
    dir: PathBuf,
}

impl Setup {
    fn new(name: &str) -> Setup {
        let dir =
            std::env::temp_dir().join(format!("chathost-settings-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("prompts/templates")).unwrap();
        Setup { dir }
    }

    fn bot(&self, text: &str) -> &Self {
        self.write("bot.toml", text)
    }

    fn write(&self, rel: &str, text: &str) -> &Self {
        std::fs::write(self.dir.join(rel), text).unwrap();
        self
    }

    fn path(&self, rel: &str) -> String {
        self.dir.join(rel).display().to_string()
    }

    /// `chathost check --config bot.toml` with extra environment, killed
    /// after 20 s so that a hang fails the test instead of CI.
    fn check(&self, env: &[(&str, &str)]) -> Run {
        run(&["check", "--config", &self.path("bot.toml")], env)
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Run {
    code: Option<i32>,
    out: String,
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chathost"));
    cmd.args(args)
        .env_remove("CHATHOST_TOKEN")
        .env("RUST_LOG", "trace")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        status.is_some(),
        "chathost did not end within 20 s:\n{text}"
    );
    Run {
        code: status.and_then(|s| s.code()),
        out: text,
    }
}

/// Fails the check and the token appears nowhere in the output; the
/// message still names bot.toml and the line.
fn assert_hidden(r: &Run, line: usize) {
    assert_eq!(r.code, Some(1), "{}", r.out);
    assert!(!r.out.contains(TOKEN), "the token was printed:\n{}", r.out);
    for part in [&TOKEN[..12], &TOKEN[10..22], &TOKEN[TOKEN.len() - 12..]] {
        assert!(
            !r.out.contains(part),
            "part of the token was printed:\n{}",
            r.out
        );
    }
    assert!(
        r.out.contains(&format!("bot.toml:{line}:")),
        "no location at line {line}:\n{}",
        r.out
    );
}

fn bot_with_account(account: &str) -> String {
    format!("{INSTANCE}{account}\n{CHAT}")
}

// ---------------------------------------------------------------------------
// Item 6: the token in diagnostics.
// ---------------------------------------------------------------------------

#[test]
fn token_in_an_inline_table_with_a_wrong_key_is_hidden() {
    let s = Setup::new("inline-table");
    s.bot(&bot_with_account(&format!(
        "account = {{ token = \"{TOKEN}\", colour = \"x\" }}"
    )));
    assert_hidden(&s.check(&[]), 3);
}

#[test]
fn dotted_token_key_followed_by_junk_is_hidden() {
    let s = Setup::new("dotted");
    s.bot(&bot_with_account(&format!("account.token = \"{TOKEN}\" x")));
    assert_hidden(&s.check(&[]), 3);
}

#[test]
fn quoted_token_key_followed_by_junk_is_hidden() {
    let s = Setup::new("quoted-key");
    s.bot(&bot_with_account(&format!(
        "[account]\n'token' = \"{TOKEN}\" junk"
    )));
    assert_hidden(&s.check(&[]), 4);
}

#[test]
fn multi_line_token_with_a_bad_escape_is_hidden() {
    let s = Setup::new("multi-line");
    s.bot(&bot_with_account(&format!(
        "[account]\ntoken = \"\"\"\n{TOKEN}\\q\n\"\"\""
    )));
    let r = s.check(&[]);
    assert_eq!(r.code, Some(1), "{}", r.out);
    assert!(!r.out.contains(TOKEN), "the token was printed:\n{}", r.out);
    assert!(!r.out.contains(&TOKEN[..12]), "{}", r.out);
    assert!(r.out.contains("bot.toml:5:"), "{}", r.out);
}

#[test]
fn misspelt_token_keys_are_hidden() {
    for key in ["tokn", "TOKEN", "api_token"] {
        let s = Setup::new(&format!("misspelt-{key}"));
        s.bot(&bot_with_account(&format!(
            "[account]\n{key} = \"{TOKEN}\""
        )));
        let r = s.check(&[]);
        assert_hidden(&r, 4);
    }
}

#[test]
fn a_token_pasted_as_token_file_is_recognised_and_hidden() {
    let s = Setup::new("token-file");
    s.bot(&bot_with_account(&format!(
        "[account]\ntoken_file = \"{TOKEN}\""
    )));
    let r = s.check(&[]);
    assert_hidden(&r, 4);
    assert!(
        r.out.contains("this looks like a token, not a path"),
        "{}",
        r.out
    );
    assert!(
        r.out
            .contains("put the token in the file and name the file here"),
        "{}",
        r.out
    );
}

#[test]
fn a_real_token_file_path_is_still_accepted() {
    let s = Setup::new("token-file-ok");
    s.write("token", TOKEN);
    s.bot(&bot_with_account("[account]\ntoken_file = \"token\""));
    let r = s.check(&[]);
    assert!(!r.out.contains("looks like a token"), "{}", r.out);
    assert!(!r.out.contains(TOKEN), "{}", r.out);
}

// ---------------------------------------------------------------------------
// Item 7: files that are not regular files end promptly with a clear error.
// ---------------------------------------------------------------------------

fn mkfifo(path: &str) {
    let ok = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(ok.success(), "mkfifo {path}");
}

fn valid_bot() -> String {
    format!("{INSTANCE}{CHAT}")
}

/// The date of the next chat, as `check` names it when its file is missing.
fn next_chat_date(s: &Setup) -> String {
    let r = s.check(&[]);
    let at = r
        .out
        .find("no question file for the next chat (")
        .expect(&r.out);
    r.out[at + 36..at + 46].to_string()
}

fn assert_refused(r: &Run, what: &str) {
    assert_eq!(r.code, Some(1), "{}", r.out);
    assert!(r.out.contains(what), "expected {what:?}:\n{}", r.out);
    assert!(r.out.contains("name a plain text file here"), "{}", r.out);
}

#[test]
fn dev_zero_as_bot_toml_is_refused() {
    let r = run(&["check", "--config", "/dev/zero"], &[]);
    assert_refused(&r, "/dev/zero: error: cannot read this file: this is a");
}

#[test]
fn a_fifo_as_bot_toml_is_refused() {
    let s = Setup::new("fifo-bot");
    mkfifo(&s.path("bot.toml"));
    assert_refused(
        &s.check(&[]),
        "bot.toml: error: cannot read this file: this is a",
    );
}

#[test]
fn a_directory_as_bot_toml_is_refused() {
    let s = Setup::new("dir-bot");
    std::fs::create_dir(s.dir.join("bot.toml")).unwrap();
    assert_refused(&s.check(&[]), "bot.toml: error: cannot read this file");
}

#[test]
fn a_fifo_as_token_file_is_refused() {
    let s = Setup::new("fifo-token");
    mkfifo(&s.path("token"));
    s.bot(&bot_with_account("[account]\ntoken_file = \"token\""));
    assert_refused(
        &s.check(&[]),
        "cannot read the token file: this is a named pipe (FIFO), not a file",
    );
}

#[test]
fn a_fifo_as_question_file_is_refused() {
    let s = Setup::new("fifo-question");
    s.bot(&valid_bot());
    let date = next_chat_date(&s);
    mkfifo(&s.path(&format!("prompts/{date}.toml")));
    assert_refused(&s.check(&[]), &format!("{date}.toml"));
}

#[test]
fn a_fifo_as_template_is_refused() {
    let s = Setup::new("fifo-template");
    s.bot(&valid_bot());
    let date = next_chat_date(&s);
    s.write(
        &format!("prompts/{date}.toml"),
        "topic = \"Winter\"\n[[question]]\ntext = \"What helps?\"\n",
    );
    mkfifo(&s.path("prompts/templates/question.j2"));
    assert_refused(&s.check(&[]), "question.j2");
}

#[test]
fn a_token_pasted_as_token_env_is_recognised_and_hidden() {
    let s = Setup::new("token-env");
    s.bot(&bot_with_account(&format!(
        "[account]\ntoken_env = \"{TOKEN}\""
    )));
    let r = s.check(&[]);
    assert_hidden(&r, 4);
    assert!(
        r.out
            .contains("this looks like a token, not a variable name"),
        "{}",
        r.out
    );
}

#[test]
fn a_token_pasted_as_credential_is_recognised_and_hidden() {
    let s = Setup::new("token-credential");
    s.bot(&bot_with_account(&format!(
        "[account]\ncredential = \"{TOKEN}\""
    )));
    let r = s.check(&[]);
    assert_hidden(&r, 4);
    assert!(
        r.out
            .contains("this looks like a token, not a credential name"),
        "{}",
        r.out
    );
}

#[test]
fn a_token_with_an_invisible_character_is_refused() {
    let s = Setup::new("token-nbsp");
    s.write(
        "token",
        &format!("{}\u{200b}{}\n", &TOKEN[..19], &TOKEN[19..]),
    );
    s.bot(&bot_with_account("[account]\ntoken_file = \"token\""));
    let r = s.check(&[]);
    assert_eq!(r.code, Some(1), "{}", r.out);
    assert!(
        r.out.contains("invisible or non-ASCII character"),
        "{}",
        r.out
    );
    assert!(!r.out.contains(&TOKEN[..12]), "{}", r.out);
}

// ---------------------------------------------------------------------------
// Item 10: a token with a line break is refused at load, never echoed.
// ---------------------------------------------------------------------------

const LINE_BREAK: &str = "the token contains a line break: paste it on one line";

#[test]
fn a_token_file_with_a_line_break_is_refused() {
    let s = Setup::new("token-file-newline");
    s.write("token", &format!("{}\n{}\n", &TOKEN[..19], &TOKEN[19..]));
    s.bot(&bot_with_account("[account]\ntoken_file = \"token\""));
    let r = s.check(&[]);
    assert_eq!(r.code, Some(1), "{}", r.out);
    assert!(
        r.out.contains(&format!("token: error: {LINE_BREAK}")),
        "{}",
        r.out
    );
    assert!(
        !r.out.contains(&TOKEN[..19]) && !r.out.contains(&TOKEN[19..]),
        "{}",
        r.out
    );
}

#[test]
fn a_token_variable_with_a_line_break_is_refused() {
    let s = Setup::new("token-env-newline");
    s.bot(&valid_bot());
    let value = format!("{}\r\n{}", &TOKEN[..19], &TOKEN[19..]);
    let r = s.check(&[("CHATHOST_TOKEN", &value)]);
    assert_eq!(r.code, Some(1), "{}", r.out);
    assert!(
        r.out.contains(&format!(
            "environment variable CHATHOST_TOKEN: error: {LINE_BREAK}"
        )),
        "{}",
        r.out
    );
    assert!(
        !r.out.contains(&TOKEN[..19]) && !r.out.contains(&TOKEN[19..]),
        "{}",
        r.out
    );
}

#[test]
fn an_inline_token_with_a_line_break_is_refused_at_its_line() {
    let s = Setup::new("token-inline-newline");
    s.bot(&bot_with_account(&format!(
        "[account]\ntoken = \"{}\\n{}\"",
        &TOKEN[..19],
        &TOKEN[19..]
    )));
    let r = s.check(&[]);
    assert_eq!(r.code, Some(1), "{}", r.out);
    assert!(
        r.out
            .contains(&format!("bot.toml:4:9: error: {LINE_BREAK}")),
        "{}",
        r.out
    );
    assert!(
        !r.out.contains(&TOKEN[..19]) && !r.out.contains(&TOKEN[19..]),
        "{}",
        r.out
    );
}

// ---------------------------------------------------------------------------
// Items 8 and 10: numbers out of range are located errors naming the range.
// ---------------------------------------------------------------------------

/// The chat of `CHAT` with extra lines in its table (and sub-tables after).
fn bot_with_chat_lines(lines: &str) -> String {
    format!("{INSTANCE}{CHAT}{lines}\n")
}

/// `check` fails with `message` at `line` of bot.toml, and says nothing of
/// the misleading messages it used to give.
fn assert_error_at(r: &Run, line: usize, message: &str) {
    assert_eq!(r.code, Some(1), "{}", r.out);
    let at = format!("bot.toml:{line}:");
    assert!(
        r.out
            .lines()
            .any(|l| l.contains(&at) && l.contains(message)),
        "expected {at} … {message:?}:\n{}",
        r.out
    );
    assert!(!r.out.contains("not valid TOML"), "{}", r.out);
    assert!(!r.out.contains("bot.toml:1:1:"), "{}", r.out);
}

#[test]
fn an_overflowing_reminder_is_refused_not_wrapped() {
    let s = Setup::new("reminder-overflow");
    s.bot(&bot_with_chat_lines(
        "reminders = [\"4611686018427387964m\"]",
    ));
    let r = s.check(&[]);
    assert_error_at(&r, 9, "is not a lead time between 1 minute and 14 days");
    assert!(!r.out.contains("panicked"), "{}", r.out);
}

#[test]
fn a_negative_duration_names_the_range() {
    let s = Setup::new("duration-negative");
    s.bot(&bot_with_chat_lines("duration_minutes = -5"));
    assert_error_at(
        &s.check(&[]),
        9,
        "duration_minutes is -5; it must be between 15 and 240",
    );
}

#[test]
fn a_huge_welcome_minute_points_at_welcome_and_names_the_range() {
    let s = Setup::new("welcome-huge");
    s.bot(&bot_with_chat_lines(
        "\n[chats.wenurses.pacing]\nwelcome = 4294967295",
    ));
    let r = s.check(&[]);
    assert_error_at(&r, 11, "welcome is 4294967295; it must be between 0 and 60");
    assert!(!r.out.contains("first_question"), "{}", r.out);
}

#[test]
fn other_numbers_are_bounded_at_their_line() {
    let cases = [
        (
            "[instance]\nmax_characters = -1",
            2,
            "max_characters is -1; it must be between 100 and 100000",
        ),
        (
            "[instance]\ncharacters_per_url = 100000",
            2,
            "characters_per_url is 100000; it must be between 1 and 1000",
        ),
        (
            "[instance]\ntimeout_seconds = 0",
            2,
            "timeout_seconds is 0; it must be between 1 and 300",
        ),
    ];
    for (i, (instance, line, message)) in cases.iter().enumerate() {
        let s = Setup::new(&format!("instance-number-{i}"));
        s.bot(&format!(
            "{instance}\nurl = \"https://mastodon.example\"\n{CHAT}"
        ));
        assert_error_at(&s.check(&[]), *line, message);
    }
    let cases = [
        (
            "[chats.wenurses.catch_up]\nspacing_seconds = 99999999999",
            "spacing_seconds is 99999999999; it must be between 0 and 3600",
        ),
        (
            "[chats.wenurses.catch_up]\nreminder_grace_minutes = -1",
            "reminder_grace_minutes is -1; it must be between 0 and 1440",
        ),
        (
            "[chats.wenurses.recap]\ndelay_minutes = 100000",
            "delay_minutes is 100000; it must be between 0 and 1440",
        ),
        (
            "[chats.wenurses.recap]\nanswers_per_question = 4294967296",
            "answers_per_question is 4294967296; it must be between 0 and 20",
        ),
    ];
    for (i, (table, message)) in cases.iter().enumerate() {
        let s = Setup::new(&format!("chat-number-{i}"));
        s.bot(&bot_with_chat_lines(table));
        assert_error_at(&s.check(&[]), 10, message);
    }
}

#[test]
fn a_number_override_out_of_range_names_the_variable_and_range() {
    let s = Setup::new("env-duration");
    s.bot(&valid_bot());
    let var = "CHATHOST__CHATS__WENURSES__DURATION_MINUTES";
    let r = s.check(&[(var, "-5")]);
    assert_eq!(r.code, Some(1), "{}", r.out);
    assert!(
        r.out.contains(&format!(
            "environment variable {var}: error: duration_minutes is -5; it must be between 15 and 240"
        )),
        "{}",
        r.out
    );
}

#[test]
fn a_number_override_in_range_is_used() {
    let s = Setup::new("env-duration-ok");
    s.bot(&valid_bot());
    let r = s.check(&[("CHATHOST__CHATS__WENURSES__DURATION_MINUTES", "90")]);
    assert!(
        r.out.contains("20:00 Europe/London, 90 minutes"),
        "{}",
        r.out
    );
}

#[test]
fn a_string_override_stays_a_string() {
    let s = Setup::new("env-hashtag");
    s.bot(&valid_bot());
    let r = s.check(&[("CHATHOST__CHATS__WENURSES__HASHTAG", "True")]);
    assert!(r.out.contains("#True on Wednesdays"), "{}", r.out);
    assert!(!r.out.contains("#true"), "{}", r.out);
    let r = s.check(&[("CHATHOST__CHATS__WENURSES__LANGUAGE", "1")]);
    assert!(
        r.out.contains("`1` is not an ISO 639 language code"),
        "{}",
        r.out
    );
}

// ---------------------------------------------------------------------------
// Item 8: an instance URL that would fail online fails offline, at its line.
// ---------------------------------------------------------------------------

fn check_url(name: &str, url: &str) -> Run {
    let s = Setup::new(name);
    s.bot(&format!("[instance]\nurl = \"{url}\"\n{CHAT}"));
    s.check(&[])
}

/// Checks a bot.toml with this `url`: refused at its line with `message`,
/// and the help suggests the plain address.
fn url_refused(name: &str, url: &str, message: &str) -> Run {
    let r = check_url(name, url);
    assert_error_at(&r, 2, message);
    assert!(
        r.out.contains("url = \"https://mastodon.example\""),
        "{}",
        r.out
    );
    r
}

#[test]
fn a_url_with_a_fragment_is_refused() {
    url_refused(
        "url-fragment",
        "https://mastodon.example/#x",
        "the instance URL has a fragment",
    );
}

#[test]
fn a_url_with_spaces_is_refused() {
    url_refused(
        "url-spaces",
        " https://mastodon.example ",
        "the instance URL has spaces around it",
    );
}

#[test]
fn a_url_with_credentials_is_refused_without_echoing_the_password() {
    // No secret-looking word in it: the line must be masked because
    // of the URL, not by luck.
    let r = url_refused(
        "url-credentials",
        "https://bot:hunter2@mastodon.example",
        "the instance URL carries a user name or password",
    );
    assert!(!r.out.contains("hunter2"), "{}", r.out);
}

#[test]
fn a_url_with_a_query_is_refused() {
    url_refused(
        "url-query",
        "https://mastodon.example/?lang=en",
        "the instance URL has a query",
    );
}

#[test]
fn a_url_with_another_scheme_is_refused() {
    url_refused(
        "url-scheme",
        "ftp://mastodon.example",
        "`ftp` is not a web address",
    );
}
