//! The server kinds the sandbox can imitate, and every behaviour that differs
//! between them, in one place. Each difference was observed on a real server
//! (see `shared/samples/`) or is documented Mastodon behaviour.

use std::fmt;
use std::str::FromStr;

use super::ids::IdStyle;

/// Which real server the sandbox behaves like.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Flavour {
    /// Mastodon 4.x.
    #[default]
    Mastodon,
    /// GoToSocial 0.19.
    GoToSocial,
}

impl Flavour {
    /// Snowflakes on Mastodon, ULIDs on GoToSocial.
    pub fn id_style(self) -> IdStyle {
        match self {
            Flavour::Mastodon => IdStyle::Snowflake,
            Flavour::GoToSocial => IdStyle::Ulid,
        }
    }

    /// Default and largest `limit` of `GET /api/v1/notifications`: Mastodon
    /// documents 40 and 80; GoToSocial's recorded `Link` says 20 by default
    /// (`gotosocial/60_*`), and it caps at 80 too.
    pub fn notification_limits(self) -> (usize, usize) {
        match self {
            Flavour::Mastodon => (40, 80),
            Flavour::GoToSocial => (20, 80),
        }
    }

    /// The `version` field of the instance info.
    pub fn version(self) -> &'static str {
        match self {
            Flavour::Mastodon => "4.3.2",
            Flavour::GoToSocial => "0.19.2",
        }
    }

    /// The `software.name` of nodeinfo, which `megalodon::detector` reads.
    pub fn software(self) -> &'static str {
        match self {
            Flavour::Mastodon => "mastodon",
            Flavour::GoToSocial => "gotosocial",
        }
    }

    /// Default `max_characters`: 500 on stock Mastodon, 5000 on GoToSocial.
    pub fn default_max_characters(self) -> usize {
        match self {
            Flavour::Mastodon => 500,
            Flavour::GoToSocial => 5000,
        }
    }

    /// `characters_reserved_per_url` as advertised (and, on Mastodon, applied).
    pub fn characters_reserved_per_url(self) -> usize {
        match self {
            Flavour::Mastodon => 23,
            Flavour::GoToSocial => 25,
        }
    }

    /// Whether a repeated `Idempotency-Key` returns the first status.
    /// GoToSocial 0.19 ignores the header (`gotosocial/20_*`, `21_*`).
    pub fn honours_idempotency_key(self) -> bool {
        matches!(self, Flavour::Mastodon)
    }

    /// Whether reads (tag timeline, a status, its context) work without a
    /// token. GoToSocial answers 401 (`gotosocial/15_*`).
    pub fn allows_anonymous_reads(self) -> bool {
        matches!(self, Flavour::Mastodon)
    }

    /// Whether `stream=hashtag` delivers anything. GoToSocial 0.19 accepts the
    /// subscription and stays silent (`gotosocial/stream_matrix_summary.txt`).
    pub fn hashtag_stream_delivers(self) -> bool {
        matches!(self, Flavour::Mastodon)
    }

    /// Whether `stream=public` delivers new statuses (GoToSocial: deletes only).
    pub fn public_stream_delivers_updates(self) -> bool {
        matches!(self, Flavour::Mastodon)
    }

    /// Whether a tag no status ever used gets 404 rather than `[]`.
    pub fn unknown_tag_is_404(self) -> bool {
        matches!(self, Flavour::GoToSocial)
    }

    /// Whether every `Link` header carries `limit=` (GoToSocial) or only the
    /// parameters the client sent (Mastodon).
    pub fn link_always_has_limit(self) -> bool {
        matches!(self, Flavour::GoToSocial)
    }

    /// Whether edit history lists the newest version first (GoToSocial,
    /// `gotosocial/23_*`) or the oldest first (Mastodon).
    pub fn history_newest_first(self) -> bool {
        matches!(self, Flavour::GoToSocial)
    }

    /// Whether the streaming URL in the instance info says `wss://` although
    /// the server speaks plain HTTP (GoToSocial, `gotosocial/01_*`).
    pub fn advertises_wss(self) -> bool {
        matches!(self, Flavour::GoToSocial)
    }

    /// HTTP status of an over-long post: 422 Mastodon, 400 GoToSocial.
    pub fn too_long_status(self) -> u16 {
        match self {
            Flavour::Mastodon => 422,
            Flavour::GoToSocial => 400,
        }
    }

    /// Error text of an over-long post.
    pub fn too_long_error(self, max: usize) -> String {
        match self {
            Flavour::Mastodon => {
                format!("Validation failed: Text character limit of {max} exceeded")
            }
            Flavour::GoToSocial => {
                format!("Bad Request: text with spoiler exceed max chars ({max})")
            }
        }
    }

    /// Error text of an empty post.
    pub fn blank_error(self) -> &'static str {
        match self {
            Flavour::Mastodon => "Validation failed: Text can't be blank",
            Flavour::GoToSocial => {
                "Bad Request: no status content, content warning, media, or poll provided"
            }
        }
    }

    /// Error text of a request without a token where one is needed.
    pub fn missing_token_error(self) -> &'static str {
        match self {
            Flavour::Mastodon => "The access token is invalid",
            Flavour::GoToSocial => "Unauthorized: token not supplied",
        }
    }

    /// Error text of a request with an unknown token.
    pub fn invalid_token_error(self) -> &'static str {
        match self {
            Flavour::Mastodon => "The access token is invalid",
            Flavour::GoToSocial => "Unauthorized: invalid token",
        }
    }

    /// Error text of a 404.
    pub fn not_found_error(self) -> &'static str {
        match self {
            Flavour::Mastodon => "Record not found",
            Flavour::GoToSocial => "Not Found",
        }
    }

    /// Error text of an action the caller may not take (boosting a private
    /// status), answered with 403.
    pub fn not_allowed_error(self) -> &'static str {
        match self {
            Flavour::Mastodon => "This action is not allowed",
            Flavour::GoToSocial => "Forbidden: status is not boostable",
        }
    }

    /// Error text of a call the token's scopes do not allow (403).
    pub fn scope_error(self) -> &'static str {
        match self {
            Flavour::Mastodon => "This action is outside the authorized scopes",
            Flavour::GoToSocial => "Forbidden: token has insufficient scope permission",
        }
    }

    /// Body of a 429.
    pub fn rate_limited_error(self) -> &'static str {
        match self {
            Flavour::Mastodon => "Too many requests",
            Flavour::GoToSocial => "rate limit reached",
        }
    }

    /// The `Server` header.
    pub fn server_header(self) -> &'static str {
        match self {
            Flavour::Mastodon => "Mastodon",
            Flavour::GoToSocial => "gotosocial",
        }
    }
}

impl fmt::Display for Flavour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flavour::Mastodon => "mastodon",
            Flavour::GoToSocial => "gotosocial",
        })
    }
}

impl FromStr for Flavour {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "mastodon" => Ok(Flavour::Mastodon),
            "gotosocial" | "gts" => Ok(Flavour::GoToSocial),
            other => Err(format!(
                "unknown flavour `{other}`; expected `mastodon` or `gotosocial`"
            )),
        }
    }
}
