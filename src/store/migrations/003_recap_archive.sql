-- Migration 3: what happens after the chat. The recap thread's posts are
-- steps (kinds recap_head and recap, key recap-001-head / recap-002, numbered
-- in thread order), so each is posted exactly once like the questions;
-- they are composed once, all together, from the answers as collected.

-- NULL: not composed yet | composed: its steps exist | done: every step of
-- the thread settled (posted, failed or skipped) | skipped: no thread.
ALTER TABLE chats ADD COLUMN recap_state TEXT;
-- Why the thread was skipped, or what came of it.
ALTER TABLE chats ADD COLUMN recap_note TEXT;
-- When the archive folder was last written, or why it could not be.
ALTER TABLE chats ADD COLUMN archived_at TEXT;
ALTER TABLE chats ADD COLUMN archive_error TEXT;
