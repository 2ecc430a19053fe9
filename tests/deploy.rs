//! The shipped systemd unit, checked by systemd itself.

use std::process::Command;

const UNIT: &str = include_str!("../deploy/chathost.service");

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    let dir = std::env::temp_dir().join(format!("chathost-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // verify checks that ExecStart= is executable: point it at this build.
    let unit = UNIT.replace("/usr/local/bin/chathost", env!("CARGO_BIN_EXE_chathost"));
    let path = dir.join("chathost.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze is needed for this test: apt-get install systemd (scripts/test.sh does it)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // Unknown keys and bad values are only warnings to systemd: none allowed.
    assert!(stderr.trim().is_empty(), "systemd-analyze warns:\n{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
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
