-- Named queries of the SQLite store's operator part (faxpush admin): lists, bulk actions,
-- per-receiver counters, API tokens and idempotency answers. Each block starts with
-- "-- name: <name>" and a one-line description; times are integer microseconds since the
-- Unix epoch (UTC).
--
-- A page of pushes walks one index newest first by (created_at, delivery_id), chosen from the
-- filter's equalities (INDEXED BY: the plan must not depend on the planner's guess; a job
-- before a receiver before a state); the other filters are checked on the rows it walks.
-- Without a cursor, :before_created is the largest integer. Every find_pushes_* query is the
-- find_pushes template on its index and takes the same parameters.

-- name: find_pushes
-- A page of pushes with their bodies, newest first, walking one index.
-- A template: _sqlite_operator_sql.operator_sql fills in the index and the filter's
-- equalities it leads with ("AND ..." or nothing) for each find_pushes_* name; the
-- equalities are checked again below, on the rows it walks.
SELECT pushes.*, push_bodies.body
FROM pushes INDEXED BY {index}
CROSS JOIN push_bodies ON push_bodies.seq = pushes.seq
WHERE created_at >= :since AND created_at <= :before_created {lead}
  AND (created_at < :before_created OR delivery_id < :before_id)
  AND (:state IS NULL OR state = :state)
  AND (:job_id IS NULL OR job_id = :job_id)
  AND (:receiver IS NULL OR receiver = :receiver)
ORDER BY created_at DESC, delivery_id DESC
LIMIT :limit;

-- name: job_attempts
-- Every attempt of every push of one job, oldest first.
SELECT attempts.*
FROM pushes INDEXED BY pushes_by_job_newest
JOIN attempts ON attempts.delivery_id = pushes.delivery_id
WHERE pushes.job_id = :job_id
ORDER BY attempts.started_at, attempts.id;

-- name: cancel_pending
-- Cancel the pending pushes among some delivery ids; their ids.
-- :delivery_ids is a JSON array.
UPDATE pushes SET state = 'cancelled', updated_at = :now
WHERE delivery_id IN (SELECT value FROM json_each(:delivery_ids)) AND +state = 'pending'
RETURNING delivery_id;

-- name: redeliver_matching
-- Put every finished push matching a filter back to pending, due now.
UPDATE pushes SET state = 'pending', next_attempt_at = :now, updated_at = :now
WHERE state IN ('failed', 'delivered', 'cancelled')
  AND (:state IS NULL OR state = :state)
  AND (:job_id IS NULL OR job_id = :job_id)
  AND (:receiver IS NULL OR receiver = :receiver)
  AND created_at >= :since;

-- name: receivers_of
-- The receiver of each of some pushes, for the counters of results that do not carry it.
-- :delivery_ids is a JSON array.
SELECT delivery_id, receiver FROM pushes
WHERE delivery_id IN (SELECT value FROM json_each(:delivery_ids));

-- name: count_attempts
-- Add a batch's attempts in one 5-minute bucket to a receiver's counters.
INSERT INTO receiver_counts (
    receiver, bucket_start, attempts, successes,
    h00, h01, h02, h03, h04, h05, h06, h07, h08, h09, h10, h11, h12
) VALUES (
    :receiver, :bucket_start, :attempts, :successes,
    :h00, :h01, :h02, :h03, :h04, :h05, :h06, :h07, :h08, :h09, :h10, :h11, :h12
)
ON CONFLICT (receiver, bucket_start) DO UPDATE SET
    attempts = attempts + excluded.attempts, successes = successes + excluded.successes,
    h00 = h00 + excluded.h00, h01 = h01 + excluded.h01, h02 = h02 + excluded.h02,
    h03 = h03 + excluded.h03, h04 = h04 + excluded.h04, h05 = h05 + excluded.h05,
    h06 = h06 + excluded.h06, h07 = h07 + excluded.h07, h08 = h08 + excluded.h08,
    h09 = h09 + excluded.h09, h10 = h10 + excluded.h10, h11 = h11 + excluded.h11,
    h12 = h12 + excluded.h12;

-- name: apply_health
-- Apply a batch to a receiver's health row (the rule of _operator_common.applied_health).
-- :reset is 1 when the batch had a success: the run of failures restarts from :trailing.
INSERT INTO receiver_health AS health (
    receiver, consecutive_failures, last_error, last_error_at, last_attempt_at
) VALUES (:receiver, :trailing, :last_error, :last_error_at, :last_attempt_at)
ON CONFLICT (receiver) DO UPDATE SET
    consecutive_failures = :trailing
        + CASE WHEN :reset THEN 0 ELSE health.consecutive_failures END,
    last_error = CASE
        WHEN :last_error_at IS NOT NULL
             AND (health.last_error_at IS NULL OR :last_error_at >= health.last_error_at)
        THEN :last_error ELSE health.last_error END,
    last_error_at = CASE
        WHEN :last_error_at IS NOT NULL
             AND (health.last_error_at IS NULL OR :last_error_at >= health.last_error_at)
        THEN :last_error_at ELSE health.last_error_at END,
    last_attempt_at = max(coalesce(health.last_attempt_at, 0), :last_attempt_at);

-- name: drop_old_counts
-- Drop a bounded number of counter buckets that started before :oldest.
DELETE FROM receiver_counts
WHERE (receiver, bucket_start) IN (
    SELECT receiver, bucket_start FROM receiver_counts
    WHERE bucket_start < :oldest ORDER BY bucket_start LIMIT :limit
);

-- name: counter_day
-- Each receiver's attempts and successes since :day_start (or one receiver's).
-- The health rows list the receivers with counters (finish writes both); each one's buckets
-- are then a range of the primary key, not a scan of every receiver's buckets.
SELECT health.receiver, sum(counts.attempts) AS attempts, sum(counts.successes) AS successes
FROM receiver_health AS health
CROSS JOIN receiver_counts AS counts
    ON counts.receiver = health.receiver AND counts.bucket_start >= :day_start
WHERE :receiver IS NULL OR health.receiver = :receiver
GROUP BY health.receiver;

-- name: counter_hour
-- Each receiver's attempts, successes and duration histogram since :hour_start (or one's).
SELECT health.receiver, sum(counts.attempts) AS attempts, sum(counts.successes) AS successes,
       sum(counts.h00) AS h00,
       sum(counts.h01) AS h01,
       sum(counts.h02) AS h02,
       sum(counts.h03) AS h03,
       sum(counts.h04) AS h04,
       sum(counts.h05) AS h05,
       sum(counts.h06) AS h06,
       sum(counts.h07) AS h07,
       sum(counts.h08) AS h08,
       sum(counts.h09) AS h09,
       sum(counts.h10) AS h10,
       sum(counts.h11) AS h11,
       sum(counts.h12) AS h12
FROM receiver_health AS health
CROSS JOIN receiver_counts AS counts
    ON counts.receiver = health.receiver AND counts.bucket_start >= :hour_start
WHERE :receiver IS NULL OR health.receiver = :receiver
GROUP BY health.receiver;

-- name: attempt_series
-- Every receiver's attempts and successes per bucket from :first to :last, oldest first.
SELECT bucket_start, sum(attempts) AS attempts, sum(successes) AS successes
FROM receiver_counts INDEXED BY receiver_counts_by_bucket
WHERE bucket_start BETWEEN :first AND :last
GROUP BY bucket_start
ORDER BY bucket_start;

-- name: receiver_health
-- The health rows of every receiver, or of one.
SELECT * FROM receiver_health WHERE :receiver IS NULL OR receiver = :receiver;

-- name: pending_by_receiver
-- Each receiver's backlog: how many pushes are pending or in flight, and the oldest one's age.
SELECT receiver, count(*) AS pending, min(created_at) AS oldest
FROM pushes INDEXED BY pushes_unfinished_by_receiver
WHERE state IN ('pending', 'in_flight')
GROUP BY receiver;

-- name: pending_of_receiver
-- One receiver's backlog: how many pushes are pending or in flight, and the oldest one's age.
SELECT receiver, count(*) AS pending, min(created_at) AS oldest
FROM pushes INDEXED BY pushes_unfinished_by_receiver
WHERE state IN ('pending', 'in_flight') AND receiver = :receiver
GROUP BY receiver;

-- name: receivers_with_pushes
-- Every receiver that has pushes: one index probe per receiver, not a scan of the pushes.
WITH RECURSIVE found (receiver) AS (
    SELECT min(receiver) FROM pushes
    UNION ALL
    SELECT (SELECT min(receiver) FROM pushes WHERE receiver > found.receiver)
    FROM found WHERE found.receiver IS NOT NULL
)
SELECT receiver FROM found WHERE receiver IS NOT NULL;

-- name: create_api_token
-- Store a new API token (its hash); the caller checked that name and hash are free.
INSERT INTO api_tokens (name, scope, token_hash, created_at)
VALUES (:name, :scope, :token_hash, :now);

-- name: api_token_clash
-- What a new token would clash with: 'name' or 'hash', if anything.
SELECT CASE WHEN name = :name THEN 'name' ELSE 'hash' END AS clash
FROM api_tokens WHERE name = :name OR token_hash = :token_hash
ORDER BY name = :name DESC LIMIT 1;

-- name: api_token_by_hash
-- The unrevoked API token with this hash.
SELECT * FROM api_tokens WHERE token_hash = :token_hash AND revoked_at IS NULL;

-- name: touch_api_token
-- Record a use of an API token unless one was recorded since :stale.
UPDATE api_tokens SET last_used_at = :now
WHERE name = :name AND (last_used_at IS NULL OR last_used_at < :stale);

-- name: list_api_tokens
-- Every API token, revoked ones too, by name.
SELECT * FROM api_tokens ORDER BY name;

-- name: revoke_api_token
-- Revoke an unrevoked API token; its name, when there was one.
UPDATE api_tokens SET revoked_at = :now WHERE name = :name AND revoked_at IS NULL
RETURNING name;

-- name: get_idempotent
-- The answer remembered for an idempotency key, unless it expired.
SELECT * FROM idempotency_answers WHERE key = :key AND expires_at > :now;

-- name: drop_expired_answers
-- Drop a bounded number of expired idempotency answers, the longest expired first.
DELETE FROM idempotency_answers
WHERE key IN (
    SELECT key FROM idempotency_answers WHERE expires_at <= :now
    ORDER BY expires_at LIMIT :limit
);

-- name: remember_idempotent
-- Remember an answer unless an unexpired one is remembered for its key (an expired one is
-- replaced); then the one that is remembered.
INSERT INTO idempotency_answers (key, request_hash, status, body, created_at, expires_at)
VALUES (:key, :request_hash, :status, :body, :created_at, :expires_at)
ON CONFLICT (key) DO UPDATE SET
    request_hash = excluded.request_hash, status = excluded.status, body = excluded.body,
    created_at = excluded.created_at, expires_at = excluded.expires_at
WHERE idempotency_answers.expires_at <= :now;

-- name: schema_version
-- The newest migration applied to this database.
SELECT coalesce(max(version), 0) FROM schema_version;

-- name: create_console_user
-- Store a new console user unless the name is taken (then nothing changes).
INSERT INTO console_users (name, password_hash, created_at)
VALUES (:name, :password_hash, :now)
ON CONFLICT (name) DO NOTHING;

-- name: console_user
-- The console user with this name.
SELECT * FROM console_users WHERE name = :name;

-- name: list_console_users
-- Every console user, by name.
SELECT * FROM console_users ORDER BY name;

-- name: delete_console_user
-- Delete a console user; its name, when there was one.
DELETE FROM console_users WHERE name = :name RETURNING name;
