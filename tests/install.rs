//! The install story: `deploy/install.sh` into a temporary root, as on a
//! fresh machine and as an upgrade, and the README's install commands run
//! as written (the release build apart: this test's build stands in for it).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chathost::sandbox::{Flavour, Sandbox, SandboxConfig};

const BIN: &str = env!("CARGO_BIN_EXE_chathost");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A fresh, empty folder standing for a machine's `/`.
fn fresh_root(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("chathost-install-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the install script into `root` with this build as the binary.
fn install(root: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(repo().join("deploy/install.sh"));
    cmd.current_dir(repo())
        .env("DESTDIR", root)
        .env("CHATHOST_BIN", BIN)
        .env_remove("PREFIX");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run deploy/install.sh")
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What a real machine has that `systemd-analyze verify --root` needs: the
/// distribution's units (sysinit.target, network-online.target …) and
/// `/bin/kill` for ExecReload=.
fn provide_systemd(root: &Path) {
    let units = ["/usr/lib/systemd/system", "/lib/systemd/system"]
        .into_iter()
        .find(|d| Path::new(d).join("sysinit.target").exists())
        .expect("systemd's units are needed: apt-get install systemd (scripts/test.sh does it)");
    fs::create_dir_all(root.join("usr/lib/systemd")).unwrap();
    fs::create_dir_all(root.join("usr/bin")).unwrap();
    let cp = Command::new("cp")
        .arg("-a")
        .arg(units)
        .arg(root.join("usr/lib/systemd/system"))
        .output()
        .unwrap();
    assert!(cp.status.success(), "{}", text(&cp));
    fs::copy(
        fs::canonicalize("/bin/kill").unwrap(),
        root.join("usr/bin/kill"),
    )
    .unwrap();
    std::os::unix::fs::symlink("usr/bin", root.join("bin")).unwrap();
}

/// `systemd-analyze verify` on the unit installed in `root`, every path in
/// it resolved inside `root`.
fn verify(root: &Path) -> (bool, String) {
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg("--man=no")
        .arg(format!("--root={}", root.display()))
        .arg(root.join("etc/systemd/system/chathost.service"))
        .output()
        .expect("systemd-analyze is needed: apt-get install systemd (scripts/test.sh does it)");
    (out.status.success(), text(&out))
}

/// The fenced `sh` block of README.md between `<!-- install.rs: NAME -->`
/// and `<!-- /install.rs -->`, one command a line, comments dropped.
fn readme_block(name: &str) -> Vec<String> {
    let readme = read(&repo().join("README.md"));
    let start = format!("<!-- install.rs: {name} -->");
    let block = readme
        .split_once(&start)
        .and_then(|(_, rest)| rest.split_once("<!-- /install.rs -->"))
        .unwrap_or_else(|| {
            panic!("README.md has no block between {start} and <!-- /install.rs -->")
        })
        .0;
    let body = block
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .unwrap_or_else(|| panic!("the README block {name} is not a ```sh block"))
        .0;
    body.lines()
        .map(|l| {
            l.split_once(" #")
                .map_or(l, |(cmd, _)| cmd)
                .trim()
                .to_string()
        })
        .filter(|l| !l.is_empty())
        .collect()
}

/// Stand-ins for what needs a real machine: `sudo` runs its command (the
/// test is root of its own folder), `systemctl` records what it is asked,
/// `cargo` accepts only the documented release build (this test's build
/// is the binary), `sudoedit` makes the host's edit: the server's address.
fn shims(dir: &Path, server: &str) -> PathBuf {
    let bin = dir.join("shims");
    fs::create_dir_all(&bin).unwrap();
    let log = dir.join("systemctl.log");
    let scripts = [
        ("sudo", "exec \"$@\"".to_string()),
        ("systemctl", format!("echo \"$*\" >> '{}'", log.display())),
        (
            "cargo",
            "[ \"$*\" = 'build --release --locked' ] || { echo \"cargo $*?\" >&2; exit 1; }".into(),
        ),
        (
            "sudoedit",
            format!("sed -i 's#^url = .*#url = \"{server}\"#' \"$1\""),
        ),
    ];
    for (name, body) in scripts {
        let path = bin.join(name);
        fs::write(&path, format!("#!/bin/sh\nset -eu\n{body}\n")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

/// One README line run by `sh` in the repository, with `/etc/chathost` moved
/// into `root` and the installed binary first on PATH.
fn run_line(line: &str, root: &Path, shims: &Path) -> Output {
    let etc = root.join("etc/chathost");
    let line = line.replace("/etc/chathost", &etc.display().to_string());
    let path = format!(
        "{}:{}:{}",
        shims.display(),
        root.join("usr/local/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("sh")
        .arg("-c")
        .arg(&line)
        .current_dir(repo())
        .env("PATH", path)
        .env("DESTDIR", root)
        .env("CHATHOST_BIN", BIN)
        .env("NO_COLOR", "1")
        .env_remove("PREFIX")
        .env_remove("CHATHOST_TOKEN")
        .env_remove("CREDENTIALS_DIRECTORY")
        .env_remove("STATE_DIRECTORY")
        .output()
        .unwrap_or_else(|e| panic!("{line}: {e}"))
}

fn run_ok(line: &str, root: &Path, shims: &Path) -> String {
    let out = run_line(line, root, shims);
    assert!(out.status.success(), "`{line}` failed:\n{}", text(&out));
    text(&out)
}

/// Every file in its place with its mode, the example settings and
/// questions as shipped, the documents generated by the installed binary.
fn assert_installed(root: &Path) {
    let bin = root.join("usr/local/bin/chathost");
    assert_eq!(mode(&bin), 0o755);
    assert_eq!(fs::read(&bin).unwrap(), fs::read(BIN).unwrap());
    let unit = root.join("etc/systemd/system/chathost.service");
    assert_eq!(mode(&unit), 0o644);
    assert_eq!(
        read(&unit),
        read(&repo().join("deploy/chathost.service")),
        "at PREFIX=/usr/local the shipped unit is installed as it is"
    );
    let etc = root.join("etc/chathost");
    assert_eq!(
        mode(&etc.join("bot.toml")),
        0o644,
        "the dynamic user reads it"
    );
    assert_eq!(read(&etc.join("bot.toml")), read(&repo().join("bot.toml")));
    assert!(
        !etc.join("bot.toml.example").exists(),
        "no .example on a first install"
    );
    for q in ["2026-12-02.toml", "evergreen.toml", "README.md"] {
        let installed = etc.join("prompts").join(q);
        assert_eq!(mode(&installed), 0o644);
        assert_eq!(read(&installed), read(&repo().join("prompts").join(q)));
    }
    let share = root.join("usr/local/share");
    let man = share.join("man/man1/chathost.1");
    assert!(read(&man).starts_with(".TH"), "a man page starts with .TH");
    for (file, needle) in [
        ("bash-completion/completions/chathost", "rehearse"),
        ("zsh/site-functions/_chathost", "#compdef chathost"),
        ("fish/vendor_completions.d/chathost.fish", "rehearse"),
    ] {
        let path = share.join(file);
        assert_eq!(mode(&path), 0o644, "{file}");
        assert!(read(&path).contains(needle), "{file} lacks {needle}");
    }
    assert!(!root.join("usr/local/bin/chathost.new").exists());
}

/// The README's set-up block: each line run as written but `chathost
/// auth`, which needs a person at the server's web page; what it leaves
/// behind (the token in the unit's credential file, 0600) is made here.
fn run_setup_block(root: &Path, shims: &Path, token: &str) {
    let setup = readme_block("setup");
    for step in [
        "sudoedit ",
        "sudo chathost auth ",
        "chathost check --online ",
    ] {
        assert!(
            setup.iter().any(|l| l.contains(step)),
            "the README's set-up lacks `{step}`: {setup:#?}"
        );
    }
    for line in &setup {
        if line.starts_with("sudo chathost auth ") {
            assert!(line.contains("--token-file /etc/chathost/token"), "{line}");
            let unit = read(&root.join("etc/systemd/system/chathost.service"));
            assert!(unit.contains("LoadCredential=mastodon-token:/etc/chathost/token"));
            let file = root.join("etc/chathost/token");
            fs::write(&file, format!("{token}\n")).unwrap();
            fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
            continue;
        }
        let out = run_ok(line, root, shims);
        if line.contains("check --online") {
            assert!(out.contains("token verified"), "{out}");
            assert!(out.contains("all is well"), "{out}");
            assert!(!out.contains(token), "the token is never shown");
        }
    }
}

/// A fresh machine following the README alone: the install block, then the
/// set-up block (edit the server, the token, `check --online` against a
/// real HTTP server, enable); the installed unit verifies against the
/// installed binary, and fails to once that binary is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_machine_installs_by_the_readme_and_the_unit_verifies() {
    let sandbox = Sandbox::start(SandboxConfig {
        flavour: Flavour::Mastodon,
        participants: 0,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let root = fresh_root("readme");
    let work = fresh_root("readme-work");
    let shims = shims(&work, sandbox.base_url());

    let install = readme_block("install");
    assert_eq!(
        install,
        ["cargo build --release --locked", "sudo deploy/install.sh"]
    );
    let mut said = String::new();
    for line in &install {
        said += &run_ok(line, &root, &shims);
    }
    assert_installed(&root);
    for step in [
        "chathost auth --instance",
        "check --online",
        "systemctl daemon-reload && systemctl enable --now chathost",
    ] {
        assert!(
            said.contains(step),
            "the script's next steps lack `{step}`:\n{said}"
        );
    }
    assert!(
        !work.join("systemctl.log").exists(),
        "no systemctl with DESTDIR"
    );

    let token = sandbox.bot().token.expose().to_string();
    run_setup_block(&root, &shims, &token);
    assert!(read(&root.join("etc/chathost/bot.toml")).contains(sandbox.base_url()));
    assert_eq!(
        read(&work.join("systemctl.log")),
        "daemon-reload\nenable --now chathost\n"
    );

    provide_systemd(&root);
    let (ok, said) = verify(&root);
    assert!(ok, "{said}");
    assert!(said.trim().is_empty(), "systemd-analyze warns:\n{said}");
    // Proof that verify looks at the installed binary (inside the root).
    fs::remove_file(root.join("usr/local/bin/chathost")).unwrap();
    let (ok, said) = verify(&root);
    assert!(!ok, "a unit without its binary must fail verify");
    assert!(
        said.contains("/usr/local/bin/chathost is not executable"),
        "{said}"
    );

    fs::remove_dir_all(root).unwrap();
    fs::remove_dir_all(work).unwrap();
}

/// The installed binary checks the installed default settings and example
/// questions offline: all is well, the missing token only a warning.
#[test]
fn the_installed_binary_checks_the_installed_settings() {
    let root = fresh_root("check");
    let out = install(&root, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let check = Command::new(root.join("usr/local/bin/chathost"))
        .arg("check")
        .arg("--config")
        .arg(root.join("etc/chathost/bot.toml"))
        .env_remove("CHATHOST_TOKEN")
        .env_remove("CREDENTIALS_DIRECTORY")
        .env_remove("STATE_DIRECTORY")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", text(&check));
    assert!(text(&check).contains("all is well"), "{}", text(&check));
    assert!(
        text(&check).contains("question files checked"),
        "{}",
        text(&check)
    );
    fs::remove_dir_all(root).unwrap();
}

/// A second run after the host edited bot.toml and a question file: both
/// edits kept byte for byte, the binary (and the unit) replaced, the new
/// default settings beside the host's as bot.toml.example.
#[test]
fn an_upgrade_keeps_the_hosts_files_and_replaces_the_binary() {
    let root = fresh_root("upgrade");
    let out = install(&root, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let etc = root.join("etc/chathost");
    let settings = read(&etc.join("bot.toml")).replace("20:00", "19:30") + "# mine\n";
    fs::write(etc.join("bot.toml"), &settings).unwrap();
    let question = "topic = \"Ours\"\n\n[[question]]\ntext = \"What did we learn?\"\n";
    fs::write(etc.join("prompts/2026-12-02.toml"), question).unwrap();
    fs::write(etc.join("prompts/2026-12-16.toml"), question).unwrap();
    fs::remove_file(etc.join("prompts/2026-12-09.toml")).unwrap();
    // Stand-ins for an old binary and a unit someone edited in place.
    let bin = root.join("usr/local/bin/chathost");
    fs::write(&bin, "#!/bin/sh\necho old\n").unwrap();
    let unit = root.join("etc/systemd/system/chathost.service");
    fs::write(&unit, "[Service]\nExecStart=/old\n").unwrap();

    let out = install(&root, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("Upgraded"), "{said}");
    assert!(said.contains("systemctl restart chathost"), "{said}");
    assert!(!said.contains("enable --now"), "{said}");

    assert_eq!(read(&etc.join("bot.toml")), settings);
    assert_eq!(read(&etc.join("prompts/2026-12-02.toml")), question);
    assert_eq!(read(&etc.join("prompts/2026-12-16.toml")), question);
    assert!(
        !etc.join("prompts/2026-12-09.toml").exists(),
        "a question file the host removed stays removed"
    );
    assert_eq!(
        read(&etc.join("bot.toml.example")),
        read(&repo().join("bot.toml"))
    );
    assert_eq!(
        fs::read(&bin).unwrap(),
        fs::read(BIN).unwrap(),
        "binary replaced"
    );
    assert_eq!(mode(&bin), 0o755);
    assert_eq!(read(&unit), read(&repo().join("deploy/chathost.service")));
    fs::remove_dir_all(root).unwrap();
}

/// Another PREFIX moves the binary, the documents and ExecStart= together,
/// and the unit still verifies; a relative PREFIX is refused untouched.
#[test]
fn a_prefix_moves_exec_start_with_the_binary() {
    let root = fresh_root("prefix");
    let out = install(&root, &[("PREFIX", "/opt/chathost")]);
    assert!(out.status.success(), "{}", text(&out));
    let bin = root.join("opt/chathost/bin/chathost");
    assert_eq!(mode(&bin), 0o755);
    assert!(!root.join("usr/local").exists());
    assert!(root.join("opt/chathost/share/man/man1/chathost.1").exists());
    let unit = read(&root.join("etc/systemd/system/chathost.service"));
    let exec: Vec<_> = unit
        .lines()
        .filter(|l| l.starts_with("ExecStart="))
        .collect();
    assert_eq!(
        exec,
        ["ExecStart=/opt/chathost/bin/chathost run --config /etc/chathost/bot.toml"]
    );
    provide_systemd(&root);
    let (ok, said) = verify(&root);
    assert!(ok, "{said}");
    fs::remove_file(&bin).unwrap();
    let (ok, said) = verify(&root);
    assert!(
        !ok && said.contains("/opt/chathost/bin/chathost is not executable"),
        "{said}"
    );

    let other = fresh_root("prefix-bad");
    let out = install(&other, &[("PREFIX", "opt")]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("PREFIX must be an absolute path"),
        "{}",
        text(&out)
    );
    assert_eq!(fs::read_dir(&other).unwrap().count(), 0, "nothing written");
    fs::remove_dir_all(root).unwrap();
    fs::remove_dir_all(other).unwrap();
}

/// A missing binary is named with the command that builds it.
#[test]
fn without_a_built_binary_the_script_says_how_to_build_it() {
    let root = fresh_root("nobin");
    let out = install(&root, &[("CHATHOST_BIN", "/nonexistent/chathost")]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("cargo build --release --locked"),
        "{}",
        text(&out)
    );
    assert_eq!(fs::read_dir(&root).unwrap().count(), 0, "nothing written");
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn the_install_script_is_shellcheck_clean() {
    let out = Command::new("shellcheck")
        .arg(repo().join("deploy/install.sh"))
        .output()
        .expect("shellcheck is needed: apt-get install shellcheck (scripts/test.sh does it)");
    assert!(out.status.success(), "{}", text(&out));
}
