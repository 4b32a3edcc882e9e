-- Named queries of the PostgreSQL inbox; each block starts with a "-- name:" line.
-- Parameters are named (:now) and become $n when loaded; a parameter that may be NULL is
-- cast so the server knows its type.

-- name: accept
-- Store a push with its tasks, or count a duplicate; returns times_received.
-- One statement, so one transaction: the unique key decides between inserting the push
-- (times_received = 1, and its tasks) and counting a duplicate, even against a concurrent
-- insert of the same key by another process (which this one waits for).
WITH stored AS (
    INSERT INTO inbox_entries AS e (
        key, job_id, delivery_id, content_type, body, report, auth_method, principal,
        received_at, last_received_at, times_received, accept_id
    ) VALUES (
        :key, :job_id, :delivery_id, :content_type, :body, :report, :auth_method, :principal,
        :now, :now, 1, :accept_id
    )
    ON CONFLICT (key) DO UPDATE SET
        times_received = e.times_received + 1,
        last_received_at = excluded.last_received_at,
        accept_id = excluded.accept_id
    RETURNING e.key, e.times_received
), tasks AS (
    INSERT INTO inbox_tasks (entry_key, handler, state, attempts, next_attempt_at)
    SELECT stored.key, handler, 'pending', 0, :now
    FROM stored, unnest(:handlers::text[]) AS handler
    WHERE stored.times_received = 1
    ON CONFLICT DO NOTHING
)
SELECT times_received FROM stored;

-- name: accepted_by
-- After a lost answer: did the accept with this id commit (and nothing arrived since)?
SELECT times_received FROM inbox_entries WHERE key = :key AND accept_id = :accept_id;

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
-- SKIP LOCKED: receivers claiming at once pass each other's rows instead of waiting, and a
-- row another claim just took is re-checked against the WHERE (no longer due), so each task
-- is leased to one process at a time.
UPDATE inbox_tasks AS t
SET state = 'running', attempts = t.attempts + 1, claim_id = :claim_id,
    claimed_until = :claimed_until
FROM (
    SELECT entry_key, handler FROM inbox_tasks
    WHERE ((state = 'pending' AND next_attempt_at <= :now)
           OR (state = 'running' AND claimed_until <= :now))
      AND (:key::text IS NULL OR entry_key = :key::text)
    ORDER BY next_attempt_at
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
) AS due
WHERE t.entry_key = due.entry_key AND t.handler = due.handler
RETURNING t.*;

-- name: claimed_by
-- After a lost answer: the tasks the claim with this id took, if it committed.
SELECT * FROM inbox_tasks WHERE claim_id = :claim_id AND state = 'running';

-- name: finish_task
-- Record a handler's outcome while its claim is current; a row when applied.
UPDATE inbox_tasks
SET state = :state,
    next_attempt_at = coalesce(:retry_at::timestamptz, next_attempt_at),
    last_error = :error::text,
    done_at = :done_at::timestamptz,
    claim_id = NULL,
    claimed_until = NULL,
    finished_claim_id = :claim_id
WHERE entry_key = :key AND handler = :handler AND claim_id = :claim_id
RETURNING 1;

-- name: finished_by
-- After a lost answer: did the finish of this claim commit?
SELECT 1 FROM inbox_tasks
WHERE entry_key = :key AND handler = :handler AND finished_claim_id = :claim_id;

-- name: list_tasks
-- Handler tasks, optionally of one push or in one state, by push arrival then handler.
SELECT t.* FROM inbox_tasks AS t JOIN inbox_entries AS e ON e.key = t.entry_key
WHERE (:key::text IS NULL OR t.entry_key = :key::text)
  AND (:state::text IS NULL OR t.state = :state::text)
ORDER BY e.seq, t.handler
LIMIT :limit;

-- name: retry_failed
-- Put FAILED tasks (of one push, or all) back to PENDING, due now; returns how many.
WITH retried AS (
    UPDATE inbox_tasks SET state = 'pending', next_attempt_at = :now
    WHERE state = 'failed' AND (:key::text IS NULL OR entry_key = :key::text)
    RETURNING 1
)
SELECT count(*) FROM retried;

-- name: next_task_due
-- When the earliest PENDING task is due or a RUNNING lease expires.
SELECT min(CASE state WHEN 'pending' THEN next_attempt_at ELSE claimed_until END)
FROM inbox_tasks WHERE state IN ('pending', 'running');

-- name: purge
-- Delete pushes received before a time whose tasks are all DONE; returns how many.
WITH purged AS (
    DELETE FROM inbox_entries
    WHERE received_at < :received_before
      AND NOT EXISTS (
          SELECT 1 FROM inbox_tasks
          WHERE inbox_tasks.entry_key = inbox_entries.key AND inbox_tasks.state <> 'done'
      )
    RETURNING 1
)
SELECT count(*) FROM purged;
