//! `chathost auth` against the sandbox's OAuth, both flavours: the real
//! binary registers an app, the test approves like a browser and pastes
//! the code on stdin; the token lands in a 0600 file, belongs to the bot,
//! carries exactly the least scopes — and those are enough for what
//! chathost does, while a token without `write:statuses` is refused with
//! the permission named.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use chathost::auth::DEFAULT_NOTE;
use chathost::config::{InstanceSettings, Software, Visibility};
use chathost::instance::oauth::scopes_for;
use chathost::instance::{Instance, NewStatus};
use chathost::sandbox::{Flavour, Sandbox};
use chathost::secret::Secret;
use serde_json::json;

/// How the test answers the code prompt.
enum Code {
    /// Open the URL like a browser and paste the code the page shows.
    Browser,
    /// Paste this.
    Paste(&'static str),
    /// Paste nothing (stdin closed).
    Nothing,
}

struct Outcome {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn binary() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chathost"));
    cmd.env("NO_COLOR", "1")
        .env_remove("CHATHOST_TOKEN")
        .env_remove("CREDENTIALS_DIRECTORY")
        .env_remove("JOURNAL_STREAM");
    cmd
}

/// The code on either server's out-of-band page.
fn code_in(page: &str) -> String {
    let after = page
        .split_once("value=\"")
        .or_else(|| page.split_once("<code>"))
        .expect("the page shows a code")
        .1;
    after.split(['"', '<']).next().unwrap().to_string()
}

/// Runs `chathost auth --instance URL ARGS`, answering the prompt as `code` says.
async fn auth(sb: &Sandbox, args: &[&str], code: Code) -> Outcome {
    let mut child = binary()
        .args(["auth", "--instance", sb.base_url()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chathost auth");
    let mut stdin = child.stdin.take();
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut lines = Vec::new();
    let pasted = match code {
        Code::Nothing => None,
        Code::Paste(c) => Some(c.to_string()),
        Code::Browser => {
            // The URL is the first line that starts with the server's address.
            let base = sb.base_url().to_string();
            let url = loop {
                let line = tokio::task::block_in_place(|| rx.recv_timeout(Duration::from_secs(30)));
                let Ok(line) = line else { break None };
                lines.push(line.clone());
                if line.trim().starts_with(&base) {
                    break Some(line.trim().to_string());
                }
            };
            match url {
                Some(url) => {
                    let page = reqwest::get(&url).await.unwrap();
                    assert_eq!(page.status().as_u16(), 200, "the authorisation page opens");
                    Some(code_in(&page.text().await.unwrap()))
                }
                None => None,
            }
        }
    };
    if let (Some(code), Some(input)) = (pasted, stdin.as_mut()) {
        let _ = writeln!(input, "{code}");
    }
    drop(stdin);
    let status = tokio::task::block_in_place(|| child.wait()).unwrap();
    reader.join().unwrap();
    lines.extend(rx.try_iter());
    Outcome {
        ok: status.success(),
        stdout: lines.join("\n"),
        stderr: errors.join().unwrap(),
    }
}

fn fresh(name: &str, flavour: Flavour) -> std::path::PathBuf {
    common::fresh_dir(&format!("chathost-auth-{name}-{flavour}"))
}

async fn patch_profile(sb: &Sandbox, body: serde_json::Value) {
    let answer = reqwest::Client::new()
        .patch(format!(
            "{}/api/v1/accounts/update_credentials",
            sb.base_url()
        ))
        .bearer_auth(sb.bot().token.expose())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
}

async fn connect(sb: &Sandbox, token: &str) -> Instance {
    let settings = InstanceSettings {
        url: sb.base_url().to_string(),
        max_characters: 500,
        characters_per_url: 23,
        software: match sb.flavour() {
            Flavour::Mastodon => Software::Mastodon,
            Flavour::GoToSocial => Software::Gotosocial,
        },
        timeout: Duration::from_secs(5),
    };
    Instance::connect(&settings, &Secret::new(token))
        .await
        .unwrap()
}

fn post<'a>(text: &'a str, key: &'a str) -> NewStatus<'a> {
    NewStatus {
        text,
        visibility: Visibility::Public,
        language: "en",
        in_reply_to_id: None,
        idempotency_key: key,
    }
}

/// Every kind of call chathost makes, with `token`: posting, pinning,
/// reading its own statuses, replies, the tag, mentions, following the tag.
async fn chathost_calls_work(sb: &Sandbox, token: &str) {
    let instance = connect(sb, token).await;
    let facts = instance.facts().await.expect("verify_credentials");
    let posted = instance
        .post_status(&post("Q1: what helps? #testchat", "k1"))
        .await
        .expect("post");
    instance.pin(&posted.id).await.expect("pin");
    instance.unpin(&posted.id).await.expect("unpin");
    let own = instance.own_recent_statuses(&facts.account_id).await;
    assert!(own.expect("own statuses").iter().any(|s| s.id == posted.id));
    instance.replies(&posted.id).await.expect("context");
    instance.status(&posted.id).await.expect("a status");
    instance
        .tag_timeline("testchat", None, None)
        .await
        .expect("tag timeline");
    instance.mentions(None, None).await.expect("mentions");
    if sb.flavour() == Flavour::GoToSocial {
        instance
            .follow_tag("testchat")
            .await
            .expect("follow the tag");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_makes_a_0600_token_with_the_least_scopes_that_suffice() {
    for flavour in [Flavour::Mastodon, Flavour::GoToSocial] {
        let sb = common::sandbox(flavour).await;
        patch_profile(&sb, json!({ "bot": false, "note": "" })).await;
        let dir = fresh("ok", flavour);
        let file = dir.join("token");
        let file_arg = file.to_str().unwrap();
        let run = auth(
            &sb,
            &["--token-file", file_arg, "--bot", "yes", "--note", "yes"],
            Code::Browser,
        )
        .await;
        assert!(run.ok, "{flavour}: {}\n{}", run.stdout, run.stderr);
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{flavour}");
        let token = std::fs::read_to_string(&file).unwrap().trim().to_string();
        assert!(!token.is_empty());
        // The app asked for exactly the least scopes, and the token has them.
        let apps = sb.apps();
        assert_eq!(apps.len(), 1);
        let expected: Vec<String> = scopes_for(&flavour.to_string())
            .split(' ')
            .map(String::from)
            .collect();
        assert_eq!(apps[0].scopes, expected, "{flavour}");
        assert_eq!(apps[0].name, "chathost");
        assert_eq!(sb.scopes_of(&token), Some(expected.clone()));
        // Never shown: not the token, not the client secret.
        for text in [&run.stdout, &run.stderr] {
            assert!(!text.contains(&token), "{flavour}: the token was shown");
            assert!(!text.contains(apps[0].client_secret.expose()));
        }
        let host = sb.base_url().trim_start_matches("http://");
        assert!(
            run.stdout.contains(&format!(
                "@chatbot@{host} authorised (scopes {})",
                expected.join(" ")
            )),
            "{}",
            run.stdout
        );
        assert!(run.stdout.contains(&format!("token_file = \"{file_arg}\"")));
        assert!(run.stdout.contains(&format!(
            "systemd-creds encrypt --name=mastodon-token {file_arg} /etc/credstore.encrypted/mastodon-token"
        )));
        assert!(
            run.stdout
                .contains("LoadCredentialEncrypted=mastodon-token:")
        );
        let bot = sb.bot();
        assert!(bot.bot, "{flavour}: marked as a bot");
        assert_eq!(bot.note, DEFAULT_NOTE);
        // The token belongs to the bot and is enough for all chathost does.
        chathost_calls_work(&sb, &token).await;
        check_online(&sb, &dir, true).await;
        sb.shutdown().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// `chathost check --online` with `token_file = "token"`; `can_post`
/// says what it must say about posting.
async fn check_online(sb: &Sandbox, dir: &Path, can_post: bool) {
    let toml = format!(
        "[instance]\nurl = \"{}\"\nsoftware = \"{}\"\n\n[account]\ntoken_file = \"token\"\n\n\
         [chats.testchat]\nhashtag = \"testchat\"\nweekday = \"Wednesday\"\ntime = \"20:00\"\nzone = \"Europe/London\"\n",
        sb.base_url(),
        common::software(sb.flavour())
    );
    std::fs::write(dir.join("bot.toml"), toml).unwrap();
    let out = tokio::task::block_in_place(|| {
        binary()
            .args(["check", "--online", "--config", "bot.toml"])
            .current_dir(dir)
            .output()
            .unwrap()
    });
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("token verified"), "{text}");
    if can_post {
        assert!(text.contains("— can post"), "{text}");
    } else {
        assert!(
            text.contains("CANNOT post (needs write or write:statuses)"),
            "{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_write_statuses_is_refused_naming_the_permission() {
    for flavour in [Flavour::Mastodon, Flavour::GoToSocial] {
        let sb = common::sandbox(flavour).await;
        let fewer: Vec<&str> = scopes_for(&flavour.to_string())
            .leak()
            .split(' ')
            .filter(|s| *s != "write:statuses")
            .collect();
        let token = sb.token_with_scopes(&fewer);
        let instance = connect(&sb, token.expose()).await;
        let e = instance
            .post_status(&post("Q1: hello #testchat", "k"))
            .await
            .expect_err("refused");
        assert_eq!(e.status, Some(403), "{flavour}");
        assert!(
            e.message.contains("`write:statuses` permission"),
            "{}",
            e.message
        );
        assert!(e.message.contains("chathost auth"), "{}", e.message);
        assert!(!e.message.contains(token.expose()));
        assert!(
            sb.statuses_of("chatbot").is_empty(),
            "{flavour}: nothing posted"
        );
        // A reading call names its granular permission too.
        let unread = sb.token_with_scopes(&["read:accounts", "write:statuses"]);
        let e = connect(&sb, unread.expose())
            .await
            .mentions(None, None)
            .await
            .expect_err("refused");
        assert!(e.message.contains("`read:notifications`"), "{}", e.message);
        let dir = fresh("fewer", flavour);
        std::fs::write(dir.join("token"), token.expose()).unwrap();
        std::fs::set_permissions(dir.join("token"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
        check_online(&sb, &dir, false).await;
        sb.shutdown().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_code_leaves_no_file_and_an_existing_file_is_kept() {
    for flavour in [Flavour::Mastodon, Flavour::GoToSocial] {
        let sb = common::sandbox(flavour).await;
        let dir = fresh("refused", flavour);
        let file = dir.join("token");
        let file_arg = file.to_str().unwrap();
        let wrong = auth(
            &sb,
            &["--token-file", file_arg, "--bot", "no", "--note", "no"],
            Code::Paste("not-a-code"),
        )
        .await;
        assert!(!wrong.ok, "{flavour}");
        assert!(
            wrong.stderr.contains("did not accept the code"),
            "{}",
            wrong.stderr
        );
        assert!(
            !file.exists(),
            "{flavour}: no token file after a wrong code"
        );
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "only prompts/ is there"
        );
        let none = auth(&sb, &["--token-file", file_arg], Code::Nothing).await;
        assert!(!none.ok);
        assert!(none.stderr.contains("no code given"), "{}", none.stderr);
        assert!(!file.exists());
        // An existing file without --force: refused before the server is asked.
        std::fs::write(&file, "old-token\n").unwrap();
        let apps_before = sb.apps().len();
        let kept = auth(&sb, &["--token-file", file_arg], Code::Browser).await;
        assert!(!kept.ok);
        assert!(
            kept.stderr.contains("already exists: pass --force"),
            "{}",
            kept.stderr
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "old-token\n");
        assert_eq!(
            sb.apps().len(),
            apps_before,
            "no app registered for nothing"
        );
        // With --force it is replaced.
        let forced = auth(
            &sb,
            &[
                "--token-file",
                file_arg,
                "--force",
                "--bot",
                "no",
                "--note",
                "no",
            ],
            Code::Browser,
        )
        .await;
        assert!(forced.ok, "{}", forced.stderr);
        assert_ne!(std::fs::read_to_string(&file).unwrap(), "old-token\n");
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        sb.shutdown().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_note_is_not_replaced_without_an_explicit_yes() {
    let sb = common::sandbox(Flavour::Mastodon).await;
    let mine = "Nurses' weekly chat account, run by Sam.";
    patch_profile(&sb, json!({ "bot": false, "note": mine })).await;
    let dir = fresh("note", Flavour::Mastodon);
    let file = dir.join("token");
    // No flags and stdin is not a terminal: both offers default to no.
    let run = auth(
        &sb,
        &["--token-file", file.to_str().unwrap()],
        Code::Browser,
    )
    .await;
    assert!(run.ok, "{}", run.stderr);
    assert!(
        run.stderr.contains(mine),
        "the current note is shown: {}",
        run.stderr
    );
    let bot = sb.bot();
    assert_eq!(bot.note, mine);
    assert!(!bot.bot);
    sb.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn help_shows_the_note_it_would_set() {
    let out = binary().args(["auth", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains(DEFAULT_NOTE), "{help}");
}
