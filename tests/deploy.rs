//! The shipped systemd unit, checked by systemd itself.

use std::path::{Path, PathBuf};
use std::process::Command;

const UNIT: &str = include_str!("../deploy/chathost.service");

/// The unit, with ExecStart= pointing at this build (verify checks that it
/// is executable), in a folder of its own.
fn unit_here(name: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("chathost-unit-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let unit = UNIT.replace("/usr/local/bin/chathost", env!("CARGO_BIN_EXE_chathost"));
    let path = dir.join("chathost.service");
    std::fs::write(&path, unit).unwrap();
    (dir, path)
}

fn analyze(args: &[&str], unit: &Path) -> (bool, String, String) {
    let out = Command::new("systemd-analyze")
        .args(args)
        .arg(unit)
        .output()
        .expect("systemd-analyze is needed for this test: apt-get install systemd (scripts/test.sh does it)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    let (dir, path) = unit_here("verify");
    // --man=no: Documentation=man:chathost(1) is installed with the package,
    // not on a build machine.
    let (ok, _, stderr) = analyze(&["verify", "--man=no"], &path);
    assert!(ok, "{stderr}");
    // Unknown keys and bad values are only warnings to systemd: none allowed.
    assert!(stderr.trim().is_empty(), "systemd-analyze warns:\n{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_systemd_unit_scores_at_most_2_on_the_security_analysis() {
    let (dir, path) = unit_here("security");
    let (_, stdout, stderr) = analyze(&["security", "--offline=yes", "--no-pager"], &path);
    let all = format!("{stdout}{stderr}");
    let score: f64 = all
        .split("Overall exposure level for chathost.service:")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{all}"));
    assert!(score <= 2.0, "exposure {score} > 2.0:\n{all}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_unit_talks_to_systemd() {
    for line in [
        "Type=notify",
        "NotifyAccess=main",
        "WatchdogSec=",
        "ConfigurationDirectory=chathost",
        "Documentation=man:chathost(1)",
    ] {
        assert!(
            UNIT.lines().any(|l| l.starts_with(line)),
            "the unit lacks {line}"
        );
    }
    assert!(!UNIT.contains("Type=exec"));
}

#[test]
fn the_unit_and_the_shipped_settings_agree_on_the_credential() {
    let settings = include_str!("../bot.toml");
    assert!(settings.contains("credential = \"mastodon-token\""));
    assert!(UNIT.contains("LoadCredential=mastodon-token:"));
    assert!(
        UNIT.contains("StateDirectory=chathost"),
        "the state dir comes from $STATE_DIRECTORY"
    );
    assert!(
        UNIT.contains("ExecReload=/bin/kill -HUP $MAINPID"),
        "reload is SIGHUP"
    );
}
