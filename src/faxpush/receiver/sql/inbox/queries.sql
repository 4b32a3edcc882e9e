-- Named queries of the SQLite inbox; each block starts with a "-- name:" line.

-- name: connection_setup
-- Run on every new connection, outside any transaction.
PRAGMA journal_mode = WAL;
PRAGMA foreign_keys = ON;

-- name: known_keys
-- Which of a batch's keys (a JSON array) are stored already, and how often they arrived.
SELECT key, times_received FROM inbox_entries
WHERE key IN (SELECT value FROM json_each(:keys));

-- name: insert_entry
-- Store a push that arrived for the first time.
INSERT INTO inbox_entries (
    key, job_id, delivery_id, content_type, body, report, auth_method, principal,
    received_at, last_received_at, times_received
) VALUES (
    :key, :job_id, :delivery_id, :content_type, :body, :report, :auth_method, :principal,
    :now, :now, 1
);

-- name: count_duplicate
-- Count the repeated arrivals of a known push (several in one batch).
UPDATE inbox_entries
SET times_received = times_received + :times, last_received_at = :now
WHERE key = :key;

-- name: insert_task
-- Create one handler's task for a new push, due at once.
INSERT OR IGNORE INTO inbox_tasks (entry_key, handler, state, attempts, next_attempt_at)
VALUES (:key, :handler, 'pending', 0, :now);

-- name: get_entry
-- The push stored under a key.
SELECT * FROM inbox_entries WHERE key = :key;

-- name: list_entries
-- A page of pushes, newest first.
SELECT * FROM inbox_entries ORDER BY seq DESC LIMIT :limit OFFSET :offset;

-- name: count_entries
-- How many pushes are stored.
SELECT count(*) FROM inbox_entries;

-- name: claim_due
-- Lease due tasks (PENDING and due, or RUNNING past their lease) to one claim id.
UPDATE inbox_tasks
SET state = 'running', attempts = attempts + 1, claim_id = :claim_id,
    claimed_until = :claimed_until
WHERE rowid IN (
    SELECT rowid FROM inbox_tasks
    WHERE ((state = 'pending' AND next_attempt_at <= :now)
           OR (state = 'running' AND claimed_until <= :now))
      AND (:key IS NULL OR entry_key = :key)
    ORDER BY next_attempt_at
    LIMIT :limit
)
RETURNING *;

-- name: finish_task
-- Record a handler's outcome, only while the claim that ran it is still current.
UPDATE inbox_tasks
SET state = :state,
    next_attempt_at = coalesce(:retry_at, next_attempt_at),
    last_error = :error,
    done_at = :done_at,
    claim_id = NULL,
    claimed_until = NULL
WHERE entry_key = :key AND handler = :handler AND claim_id = :claim_id;

-- name: list_tasks
-- Handler tasks, optionally of one push or in one state, by push arrival then handler.
SELECT t.* FROM inbox_tasks AS t JOIN inbox_entries AS e ON e.key = t.entry_key
WHERE (:key IS NULL OR t.entry_key = :key) AND (:state IS NULL OR t.state = :state)
ORDER BY e.seq, t.handler
LIMIT :limit;

-- name: retry_failed
-- Put FAILED tasks (of one push, or all) back to PENDING, due now.
UPDATE inbox_tasks SET state = 'pending', next_attempt_at = :now
WHERE state = 'failed' AND (:key IS NULL OR entry_key = :key);

-- name: next_task_due
-- When the earliest PENDING task is due or a RUNNING lease expires.
SELECT min(CASE state WHEN 'pending' THEN next_attempt_at ELSE claimed_until END)
FROM inbox_tasks WHERE state IN ('pending', 'running');

-- name: purge
-- Delete pushes received before a time whose tasks are all DONE (their tasks cascade).
DELETE FROM inbox_entries
WHERE received_at < :received_before
  AND NOT EXISTS (
      SELECT 1 FROM inbox_tasks
      WHERE inbox_tasks.entry_key = inbox_entries.key AND inbox_tasks.state != 'done'
  );
