#!/usr/bin/env bash
# Every check and test of chathost, the same on a fresh machine, a
# developer's and CI: formatting, lints, then the whole test suite.
# Installs what the tests need that cargo does not (Chromium for the
# browser test; mastodon-mock, a third-party Mastodon API server used by
# the contract tests, installs itself).
set -euo pipefail
cd "$(dirname "$0")/.."

# systemd-analyze checks the shipped unit (tests/deploy.rs); python3 with
# venv runs mastodon-mock (tests/common/mock.rs installs it from PyPI itself);
# chromium renders the chat archive headless (tests/browser.rs); shellcheck
# lints deploy/install.sh (tests/install.rs).
missing=()
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
python3 -m venv --help >/dev/null 2>&1 || missing+=(python3-venv)
[ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing ${missing[*]}"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${missing[@]}"
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq "${missing[@]}"
  fi
fi

echo "== cargo fmt --check"
cargo fmt --check

echo "== cargo clippy"
cargo clippy --locked --all-targets -- -D warnings

echo "== cargo test"
cargo test --locked
