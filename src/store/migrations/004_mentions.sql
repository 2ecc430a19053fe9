-- Migration 4: participants talking to the bot. Every mention read (a
-- command or not), the bot's replies to it (each posted exactly once, like
-- steps), named read cursors, opt-outs by command, and the accounts erased
-- on request. Instants as in migration 1.

-- When the participant asked the bot `optout` (NULL: never, or undone by
-- `optin`). While set, quotable is 0 and nothing read later sets it back.
ALTER TABLE accounts ADD COLUMN opted_out_at TEXT;

-- One mention of the bot (a `type: mention` notification), recorded once:
-- by its notification and by its status (the same status can come back as
-- a second notification, e.g. after an edit).
CREATE TABLE mentions (
    id              INTEGER PRIMARY KEY,
    notification_id TEXT NOT NULL UNIQUE,  -- the notification's id (opaque)
    status_id       TEXT NOT NULL,         -- the mentioning status, id on the bot's instance
    status_uri      TEXT NOT NULL UNIQUE,  -- its uri, the same on every instance
    acct            TEXT NOT NULL,         -- the sender, user@host lower-case
    created_at      TEXT NOT NULL,         -- the notification's, by the server's clock
    received_at     TEXT NOT NULL,         -- when the bot first read it (rate limit)
    command         TEXT NOT NULL,         -- next | optout | optin | record | help | unknown
    argument        TEXT,                  -- e.g. record's period as written ("2026")
    state           TEXT NOT NULL,         -- pending | replying | replied | ignored
    reason          TEXT,                  -- why ignored (unknown command, too old, rate limit, a bot)
    updated_at      TEXT NOT NULL
) STRICT;
CREATE INDEX mentions_by_acct ON mentions (acct, received_at);
CREATE INDEX mentions_by_state ON mentions (state);

-- One post of the bot's reply to a mention (a long record is several),
-- posted with the steps' protocol: intent and key committed before the POST.
CREATE TABLE replies (
    id              INTEGER PRIMARY KEY,
    mention_id      INTEGER NOT NULL REFERENCES mentions (id) ON DELETE CASCADE,
    part            INTEGER NOT NULL,            -- 1 for the first post of the reply
    text            TEXT NOT NULL,
    visibility      TEXT NOT NULL,               -- direct | public | unlisted | private
    state           TEXT NOT NULL,               -- pending | posting | posted | failed
    idempotency_key TEXT,                        -- set by the first attempt, reused by every retry
    attempts        INTEGER NOT NULL DEFAULT 0,  -- attempts started
    remote_id       TEXT,                        -- the posted status's id
    last_error      TEXT,                        -- why it failed
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (mention_id, part)
) STRICT;

-- How far a named source outside any chat was read ("notifications").
CREATE TABLE cursors (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,   -- the newest id read, for min_id paging
    updated_at TEXT NOT NULL
) STRICT;

-- Accounts erased on request (`chathost participant --forget`): their posts
-- collected later are counted only, never stored with a name, text or link.
CREATE TABLE forgotten (
    acct         TEXT PRIMARY KEY,  -- user@host lower-case
    forgotten_at TEXT NOT NULL
) STRICT;
