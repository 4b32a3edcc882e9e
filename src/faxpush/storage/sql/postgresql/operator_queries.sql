-- Named queries of the PostgreSQL store's operator part (faxpush/storage/_pg_operator.py):
-- lists, bulk actions, the receivers table, API tokens and idempotency answers. The counters
-- themselves are written by the outbox's finish statement (queries.sql).
--
-- The lists take optional filters (a NULL parameter matches everything). They run with
-- plan_cache_mode = force_custom_plan, so PostgreSQL plans each call with its values: an
-- unset filter folds away and the set ones choose their index. A generic plan, which the
-- server would otherwise settle on after five calls of a prepared statement, keeps every
-- "IS NULL OR" and cannot use the partial index.

-- name: force_custom_plan
-- Plan the transaction's statements for their parameter values (see the file's header).
SET LOCAL plan_cache_mode = force_custom_plan;

-- name: insert_pushes
-- Store new pushes as pending, in the order given; those whose delivery id is stored already
-- are skipped (the caller reads them).
INSERT INTO pushes (
    delivery_id, job_id, customer_number, target_url, receiver, target_auth, target_principal,
    target_credentials, target_token_url, target_client_auth, content_type, body,
    retry_client_errors, max_attempts, state, attempts, next_attempt_at, created_at, updated_at,
    target_ca_pem, target_client_cert, target_client_key
)
SELECT push.delivery_id, push.job_id, push.customer_number, push.target_url, push.receiver,
       push.target_auth, push.target_principal, push.target_credentials, push.target_token_url,
       push.target_client_auth, push.content_type, push.body, push.retry_client_errors,
       push.max_attempts, 'pending', 0, push.next_attempt_at, :now, :now, push.target_ca_pem,
       push.target_client_cert, push.target_client_key
FROM unnest(
    :delivery_id::text[], :job_id::text[], :customer_number::text[], :target_url::text[],
    :receiver::text[], :target_auth::text[], :target_principal::text[],
    :target_credentials::bytea[], :target_token_url::text[], :target_client_auth::text[],
    :content_type::text[], :body::bytea[], :retry_client_errors::boolean[],
    :max_attempts::integer[], :next_attempt_at::timestamptz[], :target_ca_pem::text[],
    :target_client_cert::text[], :target_client_key::bytea[]
) WITH ORDINALITY AS push (
    delivery_id, job_id, customer_number, target_url, receiver, target_auth, target_principal,
    target_credentials, target_token_url, target_client_auth, content_type, body,
    retry_client_errors, max_attempts, next_attempt_at, target_ca_pem, target_client_cert,
    target_client_key, ordinal
)
ORDER BY push.ordinal
ON CONFLICT (delivery_id) DO NOTHING;

-- name: get_pushes
-- The pushes with these delivery ids (in no particular order).
SELECT * FROM pushes WHERE delivery_id = ANY (:delivery_ids::text[]);

-- name: find_pushes
-- A page of the pushes matching the filters, newest first, strictly before the cursor.
-- Filters and cursor are optional (NULL). Needs force_custom_plan (see the file's header).
-- The pushes in flight are paged apart (the list indexes leave them out, 0005_operator.sql)
-- and the two pages merged: the filters are written twice, as a UNION ALL member with a
-- WHERE of its own cannot be planned as part of the whole (PostgreSQL would sort the table
-- instead of reading an index in order). A page is found in the indexes alone (an
-- index-only scan checks a second filter on the index entries), then its rows are read.
WITH page AS (
    (SELECT created_at, delivery_id FROM pushes
     WHERE state <> 'in_flight'
       AND (:state::text IS NULL OR state = :state)
       AND (:job_id::text IS NULL OR job_id = :job_id)
       AND (:receiver::text IS NULL OR receiver = :receiver)
       AND (:since::timestamptz IS NULL OR created_at >= :since)
       AND (:before_at::timestamptz IS NULL
            OR (created_at, delivery_id COLLATE "C") < (:before_at, :before_id::text))
     ORDER BY created_at DESC, delivery_id COLLATE "C" DESC
     LIMIT :limit)
    UNION ALL
    (SELECT created_at, delivery_id FROM pushes
     WHERE state = 'in_flight'
       AND (:state::text IS NULL OR state = :state)
       AND (:job_id::text IS NULL OR job_id = :job_id)
       AND (:receiver::text IS NULL OR receiver = :receiver)
       AND (:since::timestamptz IS NULL OR created_at >= :since)
       AND (:before_at::timestamptz IS NULL
            OR (created_at, delivery_id COLLATE "C") < (:before_at, :before_id::text))
     ORDER BY created_at DESC, delivery_id COLLATE "C" DESC
     LIMIT :limit)
)
SELECT pushes.* FROM page JOIN pushes ON pushes.delivery_id = page.delivery_id
ORDER BY page.created_at DESC, page.delivery_id COLLATE "C" DESC
LIMIT :limit;

-- name: job_attempts
-- Every attempt of every push of a job, oldest first (ties: the push's and the attempt's
-- order of recording).
SELECT attempt.* FROM pushes AS push
JOIN attempts AS attempt ON attempt.delivery_id = push.delivery_id
WHERE push.job_id = :job_id
ORDER BY attempt.started_at, push.seq, attempt.id;

-- name: cancel_pushes
-- Cancel the pending pushes among these delivery ids; return those cancelled.
UPDATE pushes SET state = 'cancelled', updated_at = :now
WHERE delivery_id = ANY (:delivery_ids::text[]) AND state = 'pending'
RETURNING delivery_id;

-- name: redeliver_matching
-- Put every finished push matching the filters back to pending, due now; return their ids.
-- Needs force_custom_plan (see the file's header).
UPDATE pushes SET state = 'pending', next_attempt_at = :now, updated_at = :now
WHERE state IN ('failed', 'delivered', 'cancelled')
  AND (:state::text IS NULL OR state = :state)
  AND (:job_id::text IS NULL OR job_id = :job_id)
  AND (:receiver::text IS NULL OR receiver = :receiver)
  AND (:since::timestamptz IS NULL OR created_at >= :since)
RETURNING delivery_id;

-- name: receivers_with_pushes
-- Every receiver that has pushes not in flight, by one index probe each.
-- A loose index scan: PostgreSQL 15 has no skip scan, and reading the whole receiver index
-- to find a few dozen names costs a scan of a million entries. (A receiver whose pushes
-- are all in flight is in receiver_backlog.)
WITH RECURSIVE found (receiver) AS (
    (SELECT receiver FROM pushes WHERE state <> 'in_flight' ORDER BY receiver LIMIT 1)
    UNION ALL
    SELECT (SELECT pushes.receiver FROM pushes
            WHERE pushes.receiver > found.receiver AND pushes.state <> 'in_flight'
            ORDER BY pushes.receiver LIMIT 1)
    FROM found WHERE found.receiver IS NOT NULL
)
SELECT receiver FROM found
WHERE receiver IS NOT NULL AND (:receiver::text IS NULL OR receiver = :receiver);

-- name: receiver_counter_totals
-- Each receiver's counters summed over the last day and hour (histogram: the last hour).
-- (A sum of bigints is numeric: cast back, the counts fit.)
-- Needs force_custom_plan (see the file's header).
SELECT receiver,
       sum(attempts) FILTER (WHERE bucket_start >= :hour_start)::bigint AS attempts_hour,
       sum(successes) FILTER (WHERE bucket_start >= :hour_start)::bigint AS successes_hour,
       sum(attempts)::bigint AS attempts_day,
       sum(successes)::bigint AS successes_day,
       ARRAY[
           sum(h00) FILTER (WHERE bucket_start >= :hour_start)::bigint,
           sum(h01) FILTER (WHERE bucket_start >= :hour_start)::bigint,
           sum(h02) FILTER (WHERE bucket_start >= :hour_start)::bigint,
           sum(h03) FILTER (WHERE bucket_start >= :hour_start)::bigint,
           sum(h04) FILTER (WHERE bucket_start >= :hour_start)::bigint,
           sum(h05) FILTER (WHERE bucket_start >= :hour_start)::bigint,
           sum(h06) FILTER (WHERE bucket_start >= :hour_start)::bigint,
           sum(h07) FILTER (WHERE bucket_start >= :hour_start)::bigint,
           sum(h08) FILTER (WHERE bucket_start >= :hour_start)::bigint,
           sum(h09) FILTER (WHERE bucket_start >= :hour_start)::bigint,
           sum(h10) FILTER (WHERE bucket_start >= :hour_start)::bigint,
           sum(h11) FILTER (WHERE bucket_start >= :hour_start)::bigint,
           sum(h12) FILTER (WHERE bucket_start >= :hour_start)::bigint
       ] AS histogram_hour
FROM receiver_counts
WHERE bucket_start >= :day_start AND (:receiver::text IS NULL OR receiver = :receiver)
GROUP BY receiver;

-- name: attempt_series
-- Every receiver's attempts and successes per bucket from :first to :last, oldest first: a
-- range of receiver_counts_by_bucket, whatever the plan (no optional filter to fold away).
SELECT bucket_start, sum(attempts)::bigint AS attempts, sum(successes)::bigint AS successes
FROM receiver_counts
WHERE bucket_start BETWEEN :first AND :last
GROUP BY bucket_start
ORDER BY bucket_start;

-- name: receiver_health
-- Each receiver's health row: its run of failures, last error and last attempt.
-- Needs force_custom_plan (see the file's header).
SELECT * FROM receiver_health WHERE :receiver::text IS NULL OR receiver = :receiver;

-- name: receiver_backlog
-- Each receiver's pending and in-flight pushes: how many, and the oldest one's creation.
-- An index-only scan of pushes_unfinished_by_receiver. Needs force_custom_plan.
SELECT receiver, count(*) AS pending, min(created_at) AS oldest_pending_at
FROM pushes
WHERE state IN ('pending', 'in_flight') AND (:receiver::text IS NULL OR receiver = :receiver)
GROUP BY receiver;

-- name: delete_old_counts
-- Drop up to :limit counter buckets that started before :before, the oldest first.
DELETE FROM receiver_counts WHERE (receiver, bucket_start) IN (
    SELECT receiver, bucket_start FROM receiver_counts
    WHERE bucket_start < :before
    ORDER BY bucket_start LIMIT :limit
    FOR UPDATE SKIP LOCKED
);

-- name: receivers_of
-- The receiver of each of these pushes (for counting results that do not carry it).
SELECT delivery_id, receiver FROM pushes WHERE delivery_id = ANY (:delivery_ids::text[]);

-- name: schema_version
-- The outbox schema's version (readiness compares it with the newest migration).
SELECT coalesce(max(version), 0) FROM schema_version;

-- name: create_api_token
-- Store a new API token; nothing when its name (or hash) is taken.
INSERT INTO api_tokens (name, scope, token_hash, created_at)
VALUES (:name, :scope, :token_hash, :now)
ON CONFLICT DO NOTHING
RETURNING *;

-- name: api_token_named
-- One API token, by name (revoked or not).
SELECT * FROM api_tokens WHERE name = :name;

-- name: api_token_by_hash
-- The unrevoked API token with this hash.
SELECT * FROM api_tokens WHERE token_hash = :token_hash AND revoked_at IS NULL;

-- name: touch_api_token
-- Record a use of a token, unless one was recorded since :recent.
UPDATE api_tokens SET last_used_at = :now
WHERE name = :name AND (last_used_at IS NULL OR last_used_at < :recent);

-- name: list_api_tokens
-- Every API token, revoked ones too, by name.
SELECT * FROM api_tokens ORDER BY name COLLATE "C";

-- name: revoke_api_token
-- Revoke the unrevoked token with this name; return its name.
UPDATE api_tokens SET revoked_at = :now
WHERE name = :name AND revoked_at IS NULL
RETURNING name;

-- name: get_idempotent
-- The answer remembered for an idempotency key, unless it expired by :now.
SELECT * FROM idempotency_answers WHERE key = :key AND expires_at > :now;

-- name: remember_idempotent
-- Remember an answer unless an unexpired one is stored for its key; the one stored.
-- A concurrent insert of the same key makes this one wait for it to commit and then return
-- nothing (the caller reads the winner's row in a new statement). An expired answer is
-- replaced.
INSERT INTO idempotency_answers AS stored (key, request_hash, status, body, created_at, expires_at)
VALUES (:key, :request_hash, :status, :body, :created_at, :expires_at)
ON CONFLICT (key) DO UPDATE SET
    request_hash = excluded.request_hash,
    status = excluded.status,
    body = excluded.body,
    created_at = excluded.created_at,
    expires_at = excluded.expires_at
WHERE stored.expires_at <= :now
RETURNING *;

-- name: delete_expired_answers
-- Drop up to :limit idempotency answers that expired by :now, the longest expired first.
DELETE FROM idempotency_answers WHERE key IN (
    SELECT key FROM idempotency_answers WHERE expires_at <= :now
    ORDER BY expires_at LIMIT :limit
    FOR UPDATE SKIP LOCKED
);

-- name: create_console_user
-- Store a new console user; nothing when the name is taken.
INSERT INTO console_users (name, password_hash, created_at)
VALUES (:name, :password_hash, :now)
ON CONFLICT (name) DO NOTHING
RETURNING *;

-- name: console_user
-- The console user with this name.
SELECT * FROM console_users WHERE name = :name;

-- name: list_console_users
-- Every console user, by name (bytewise, as the other stores order them).
SELECT * FROM console_users ORDER BY name COLLATE "C";

-- name: delete_console_user
-- Delete a console user; its name, when there was one.
DELETE FROM console_users WHERE name = :name RETURNING name;
