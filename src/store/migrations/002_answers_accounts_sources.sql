-- Migration 2: what collection gathers. Every answer of a chat date, the
-- accounts that made them (with their consent), and how far each source has
-- been read. Instants as in migration 1.
--
-- Consent: an account that may not be quoted (#nobot or #noindex in its
-- profile, noindex, not discoverable) is counted in totals, but its words,
-- names and links are never stored: display_name, url, and its answers'
-- text, html and url stay NULL.

-- One participant account, ever collected.
CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    acct          TEXT NOT NULL UNIQUE,  -- user@host, lower-case
    display_name  TEXT,                  -- NULL when not quotable
    url           TEXT,                  -- profile page; NULL when not quotable
    quotable      INTEGER NOT NULL,      -- 1: may be quoted, named, linked; 0: counted only
    why_not       TEXT,                  -- why not quotable, e.g. "#nobot in profile"
    first_seen_at TEXT NOT NULL,         -- when its earliest answer collected was made
    first_chat_id INTEGER REFERENCES chats (id) ON DELETE SET NULL,  -- that answer's chat: first-timers
    updated_at    TEXT NOT NULL
) STRICT;

-- One post collected for a chat date, deduplicated on its uri (the same on
-- every instance; ids are not). A post with the hashtags of two chats held
-- at the same time counts for both.
CREATE TABLE answers (
    id             INTEGER PRIMARY KEY,
    chat_id        INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    uri            TEXT NOT NULL,
    account_id     INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    source         TEXT NOT NULL,     -- base URL of the instance it was first read from
    remote_id      TEXT,              -- its id on the bot's instance; NULL if only seen elsewhere
    in_reply_to_id TEXT,              -- its parent's id on the bot's instance
    question       INTEGER,           -- the question it answers; NULL before the first question
    method         TEXT,              -- how that is known: reply | prefix | time
    via_tag        INTEGER NOT NULL,  -- 1: it carries the hashtag
    via_reply      INTEGER NOT NULL,  -- 1: it is in a question's replies
    visibility     TEXT NOT NULL,     -- public | unlisted
    language       TEXT,
    created_at     TEXT NOT NULL,
    edited_at      TEXT,              -- its latest edit
    deleted_at     TEXT,              -- a tombstone: text, html, url NULL
    text           TEXT,              -- plain text; NULL when not quotable or deleted
    html           TEXT,              -- the server's HTML, for a sanitised archive; likewise
    url            TEXT,              -- its web page; likewise
    favourites     INTEGER NOT NULL DEFAULT 0,  -- engagement as last read
    reblogs        INTEGER NOT NULL DEFAULT 0,
    replies        INTEGER NOT NULL DEFAULT 0,
    collected_at   TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    UNIQUE (chat_id, uri)
) STRICT;
CREATE INDEX answers_by_chat ON answers (chat_id, created_at);
CREATE INDEX answers_by_remote_id ON answers (remote_id);
CREATE INDEX answers_by_account ON answers (account_id);

-- How far each source of a chat date has been read, and what it cost.
CREATE TABLE sources (
    chat_id      INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    source       TEXT NOT NULL,               -- tag | replies | status | stream | extra:<url>
    cursor       TEXT,                        -- newest id read, for min_id paging
    requests     INTEGER NOT NULL DEFAULT 0,  -- requests sent
    posts        INTEGER NOT NULL DEFAULT 0,  -- posts delivered (duplicates included)
    last_read_at TEXT,
    PRIMARY KEY (chat_id, source)
) STRICT;

-- When the final sweep (edits, deletions, engagement) finished.
ALTER TABLE chats ADD COLUMN swept_at TEXT;
