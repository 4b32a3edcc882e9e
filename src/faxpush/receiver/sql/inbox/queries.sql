-- Named queries of the SQLite inbox; each block starts with a "-- name:" line.

-- name: connection_setup
-- Run on every new connection, outside any transaction.
PRAGMA journal_mode = WAL;
PRAGMA foreign_keys = ON;

-- name: create_schema_version
CREATE TABLE IF NOT EXISTS inbox_schema_version (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at INTEGER NOT NULL
);

-- name: current_schema_version
SELECT coalesce(max(version), 0) FROM inbox_schema_version;

-- name: record_schema_version
INSERT INTO inbox_schema_version (version, name, applied_at) VALUES (:version, :name, :applied_at);

-- name: known_keys
-- Which of a batch's keys (a JSON array) are stored already, and how often they arrived.
SELECT key, times_received FROM inbox_entries
WHERE key IN (SELECT value FROM json_each(:keys));

-- name: insert_entry
INSERT INTO inbox_entries (
    key, job_id, delivery_id, content_type, body, report, auth_method, principal,
    received_at, last_received_at, times_received
) VALUES (
    :key, :job_id, :delivery_id, :content_type, :body, :report, :auth_method, :principal,
    :now, :now, 1
);

-- name: count_duplicate
UPDATE inbox_entries
SET times_received = times_received + :times, last_received_at = :now
WHERE key = :key;

-- name: insert_task
INSERT OR IGNORE INTO inbox_tasks (entry_key, handler, state, attempts, next_attempt_at)
VALUES (:key, :handler, 'pending', 0, :now);

-- name: get_entry
SELECT * FROM inbox_entries WHERE key = :key;

-- name: list_entries
SELECT * FROM inbox_entries ORDER BY seq DESC LIMIT :limit OFFSET :offset;

-- name: count_entries
SELECT count(*) FROM inbox_entries;

-- name: claim_due
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
UPDATE inbox_tasks
SET state = :state,
    next_attempt_at = coalesce(:retry_at, next_attempt_at),
    last_error = :error,
    done_at = :done_at,
    claim_id = NULL,
    claimed_until = NULL
WHERE entry_key = :key AND handler = :handler AND claim_id = :claim_id;

-- name: list_tasks
SELECT t.* FROM inbox_tasks AS t JOIN inbox_entries AS e ON e.key = t.entry_key
WHERE (:key IS NULL OR t.entry_key = :key) AND (:state IS NULL OR t.state = :state)
ORDER BY e.seq, t.handler
LIMIT :limit;

-- name: retry_failed
UPDATE inbox_tasks SET state = 'pending', next_attempt_at = :now
WHERE state = 'failed' AND (:key IS NULL OR entry_key = :key);

-- name: next_task_due
SELECT min(CASE state WHEN 'pending' THEN next_attempt_at ELSE claimed_until END)
FROM inbox_tasks WHERE state IN ('pending', 'running');

-- name: purge
DELETE FROM inbox_entries
WHERE received_at < :received_before
  AND NOT EXISTS (
      SELECT 1 FROM inbox_tasks
      WHERE inbox_tasks.entry_key = inbox_entries.key AND inbox_tasks.state != 'done'
  );
