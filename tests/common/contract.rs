//! The plumbing of the contract suites (`tests/contract.rs`,
//! `tests/contract_collection.rs`): the servers under test, and checks that
//! expect real Mastodon's behaviour unless told otherwise.
//!
//! [`Expect::GoToSocial`] marks a documented GoToSocial difference,
//! [`Expect::KnownDifference`] a place where mastodon-mock departs from real
//! servers (asserted, so a change in the mock shows up, and listed).

use std::collections::HashMap;
use std::fmt::Debug;

use chathost::sandbox::{Flavour, Sandbox, SandboxConfig};
use serde_json::Value;

use super::Api;
use super::mock::MockProcess;

/// The server under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    SandboxMastodon,
    SandboxGoToSocial,
    MastodonMock,
}

/// What a target should do at one check, when it is not what real Mastodon does.
pub enum Expect<T> {
    /// Real Mastodon's behaviour.
    Mastodon,
    /// Real GoToSocial's behaviour (recorded or documented).
    GoToSocial(T),
    /// mastodon-mock departs from real servers: why, and what it does.
    KnownDifference(&'static str, T),
}

/// Runs checks against one target and collects the known differences met.
pub struct Contract {
    /// The server the checks run against.
    pub target: Target,
    /// The known differences met so far, as `what: why`.
    pub known: Vec<String>,
}

impl Contract {
    /// Checks against `target`, no known differences met yet.
    pub fn new(target: Target) -> Self {
        Contract {
            target,
            known: Vec::new(),
        }
    }

    /// Asserts `actual` equals real Mastodon's `mastodon`, unless `expect`
    /// names another behaviour for this target.
    pub fn check<T: PartialEq + Debug>(
        &mut self,
        what: &str,
        actual: T,
        mastodon: T,
        expect: impl FnOnce(Target) -> Expect<T>,
    ) {
        let target = self.target;
        match expect(target) {
            Expect::Mastodon => {
                assert_eq!(actual, mastodon, "{target:?}: {what}");
            }
            Expect::GoToSocial(expected) => {
                assert_eq!(
                    target,
                    Target::SandboxGoToSocial,
                    "{what}: GoToSocial-only expectation"
                );
                assert_eq!(
                    actual, expected,
                    "{target:?}: {what} (GoToSocial behaviour)"
                );
            }
            Expect::KnownDifference(why, expected) => {
                assert_eq!(
                    target,
                    Target::MastodonMock,
                    "{what}: known differences are the mock's"
                );
                assert_eq!(
                    actual, expected,
                    "{target:?}: {what} (known difference: {why})"
                );
                self.known.push(format!("{what}: {why}"));
            }
        }
    }

    /// Asserts `actual` equals `expected` on every target.
    pub fn same<T: PartialEq + Debug>(&mut self, what: &str, actual: T, expected: T) {
        self.check(what, actual, expected, |_| Expect::Mastodon);
    }
}

/// Real Mastodon's behaviour everywhere except on GoToSocial.
pub fn gts<T>(value: T) -> impl FnOnce(Target) -> Expect<T> {
    move |t| match t {
        Target::SandboxGoToSocial => Expect::GoToSocial(value),
        _ => Expect::Mastodon,
    }
}

/// Real Mastodon's behaviour everywhere except in mastodon-mock.
pub fn mock<T>(why: &'static str, value: T) -> impl FnOnce(Target) -> Expect<T> {
    move |t| match t {
        Target::MastodonMock => Expect::KnownDifference(why, value),
        _ => Expect::Mastodon,
    }
}

/// A running server and the accounts of the contract.
pub struct Server {
    pub target: Target,
    pub api: Api,
    /// Tokens of chatbot, alice, bob, carol, erin.
    pub tokens: HashMap<&'static str, String>,
    /// Keeps the sandbox alive.
    _sandbox: Option<Sandbox>,
    /// Keeps the mock alive; killed on drop.
    _mock: Option<MockProcess>,
}

impl Server {
    /// The access token of `acct`.
    pub fn token(&self, acct: &str) -> &str {
        &self.tokens[acct]
    }
}

/// The contract's accounts; `chatbot` is the bot.
pub const ACCOUNTS: [&str; 5] = ["chatbot", "alice", "bob", "carol", "erin"];

/// A sandbox of `flavour` with the contract's accounts.
pub async fn sandbox_server(flavour: Flavour) -> Server {
    let sandbox = Sandbox::start(SandboxConfig {
        flavour,
        participants: 5,
        // The chat hashtag differs from the one the contract posts with, so
        // the simulated participants stay quiet during the contract.
        hashtag: "notthischat".into(),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let tokens = ACCOUNTS
        .iter()
        .map(|a| (*a, sandbox.account(a).unwrap().token.expose().to_string()))
        .collect();
    Server {
        target: if flavour == Flavour::Mastodon {
            Target::SandboxMastodon
        } else {
            Target::SandboxGoToSocial
        },
        api: Api::new(sandbox.base_url()),
        tokens,
        _sandbox: Some(sandbox),
        _mock: None,
    }
}

/// mastodon-mock with the contract's accounts.
pub async fn mock_server() -> Server {
    let mock = super::mock::start(&ACCOUNTS, "chatbot").await;
    Server {
        target: Target::MastodonMock,
        api: mock.api,
        tokens: mock.tokens,
        _sandbox: None,
        _mock: Some(mock.process),
    }
}

/// The `id` fields of a JSON array, in order.
pub fn ids_of(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected an array: {v}"))
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

/// The string `id` of a JSON object.
pub fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no string id in {v}"))
        .to_string()
}
