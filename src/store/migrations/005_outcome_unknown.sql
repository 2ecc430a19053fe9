-- Migration 5: a step given up while its post may be on the server.

-- 1 while a `failed` step's last attempt may have reached the server (the
-- look for it failed too): the host looks again, and records it `posted`
-- if found (Store::mark_found_later) or clears this once it is known not
-- to be there (Store::clear_outcome_unknown). 0 for every other step.
ALTER TABLE steps ADD COLUMN outcome_unknown INTEGER NOT NULL DEFAULT 0;

-- Steps an earlier chathost gave up with the outcome unknown said so in
-- their reason: they are looked for again too.
UPDATE steps SET outcome_unknown = 1
 WHERE state = 'failed' AND reason LIKE '%whether it reached the server is unknown%';
