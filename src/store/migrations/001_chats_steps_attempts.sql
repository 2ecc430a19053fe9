-- Migration 1: the chats, their steps (one planned post each) and the log of
-- attempts to post them.
--
-- Instants are UTC RFC 3339 text with milliseconds ("2026-12-02T20:00:00.000Z"):
-- readable in the sqlite3 shell, and they sort as text in time order.
-- Enum-like columns (state, kind, outcome) carry no CHECK constraint on
-- purpose: SQLite cannot change a CHECK without rebuilding the table, and
-- the store is their only writer, which validates them in Rust.

-- Marks the file as a chathost database ('chat' in ASCII).
PRAGMA application_id = 1667785076;

-- One chat date of one configured chat.
CREATE TABLE chats (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL,    -- the chat's name in bot.toml ([chats.NAME])
    local_date     TEXT NOT NULL,    -- YYYY-MM-DD in the chat's zone
    start_utc      TEXT NOT NULL,
    instance_url   TEXT NOT NULL,    -- where its steps are posted
    account        TEXT NOT NULL,    -- the bot account they are posted as
    state          TEXT NOT NULL,    -- planned | running | done | skipped
    questions_file TEXT,             -- the question file it was planned from
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    UNIQUE (name, local_date)
) STRICT;

-- One post of a chat: a reminder, the welcome, a question, the last call or
-- the wrap-up.
CREATE TABLE steps (
    id                INTEGER PRIMARY KEY,
    chat_id           INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    key               TEXT NOT NULL,    -- stable within the chat: q3, welcome, reminder-60m
    kind              TEXT NOT NULL,    -- reminder | welcome | question | last_call | wrap_up
    kind_number       INTEGER,          -- a question's number, a reminder's minutes before the start
    planned_at        TEXT NOT NULL,
    text              TEXT NOT NULL,
    state             TEXT NOT NULL,    -- pending | posting | posted | failed | skipped | cancelled
    idempotency_key   TEXT,             -- set by the first attempt, reused by every retry
    attempts          INTEGER NOT NULL DEFAULT 0,
    remote_id         TEXT,             -- the status id on the instance (opaque)
    remote_uri        TEXT,             -- its uri, the same on every instance
    remote_url        TEXT,
    remote_created_at TEXT,
    posted_at         TEXT,             -- when we learnt it was posted
    last_error        TEXT,             -- the latest attempt's error
    reason            TEXT,             -- why it ended failed, skipped or cancelled
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    UNIQUE (chat_id, key)
) STRICT;

-- One status must never stand for two steps.
CREATE UNIQUE INDEX steps_remote_uri ON steps (remote_uri) WHERE remote_uri IS NOT NULL;

-- Every attempt to post a step, for debugging and benchmarks.
CREATE TABLE attempts (
    id          INTEGER PRIMARY KEY,
    step_id     INTEGER NOT NULL REFERENCES steps (id) ON DELETE CASCADE,
    number      INTEGER NOT NULL,   -- 1 for the first attempt of the step
    started_at  TEXT NOT NULL,
    finished_at TEXT,               -- NULL while in flight, or if the process died
    outcome     TEXT,               -- posted | error | failed | unknown; NULL while in flight
    error       TEXT,
    http_status INTEGER,
    UNIQUE (step_id, number)
) STRICT;
