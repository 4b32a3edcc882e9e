-- Named queries of the PostgreSQL store. Each block starts with "-- name: <name>" and a
-- one-line description; parameters are named (:now) and become $n when loaded. Times are timestamptz; batches travel as arrays
-- unnested in SQL, so that a batch is one statement and one round trip.

-- name: put_account
-- Insert an account's push settings, or replace those stored under its customer number.
INSERT INTO accounts (
    customer_number, push_format, push_template, push_template_content_type, push_url,
    push_auth, push_principal, push_credentials, oauth2_token_url, oauth2_client_auth,
    retry_client_errors, push_ca_pem, push_client_cert, push_client_key
) VALUES (
    :customer_number, :push_format, :push_template, :push_template_content_type, :push_url,
    :push_auth, :push_principal, :push_credentials, :oauth2_token_url, :oauth2_client_auth,
    :retry_client_errors, :push_ca_pem, :push_client_cert, :push_client_key
)
ON CONFLICT (customer_number) DO UPDATE SET
    push_format = excluded.push_format,
    push_template = excluded.push_template,
    push_template_content_type = excluded.push_template_content_type,
    push_url = excluded.push_url,
    push_auth = excluded.push_auth,
    push_principal = excluded.push_principal,
    push_credentials = excluded.push_credentials,
    oauth2_token_url = excluded.oauth2_token_url,
    oauth2_client_auth = excluded.oauth2_client_auth,
    retry_client_errors = excluded.retry_client_errors,
    push_ca_pem = excluded.push_ca_pem,
    push_client_cert = excluded.push_client_cert,
    push_client_key = excluded.push_client_key;

-- name: get_account
-- One account's push settings, by customer number.
SELECT * FROM accounts WHERE customer_number = :customer_number;

-- name: list_accounts
-- Every account, by customer number.
SELECT * FROM accounts ORDER BY customer_number;

-- name: insert_push
-- Store a new push as pending; nothing when its delivery id is stored already.
-- A concurrent insert of the same delivery id makes this one wait, then do nothing; the
-- caller then reads the winner's row in a new statement (which sees that commit).
INSERT INTO pushes (
    delivery_id, job_id, customer_number, target_url, receiver, target_auth, target_principal,
    target_credentials, target_token_url, target_client_auth, content_type, body,
    retry_client_errors, max_attempts, state, attempts, next_attempt_at, created_at, updated_at,
    target_ca_pem, target_client_cert, target_client_key
) VALUES (
    :delivery_id, :job_id, :customer_number, :target_url, :receiver, :target_auth,
    :target_principal, :target_credentials, :target_token_url, :target_client_auth,
    :content_type, :body, :retry_client_errors, :max_attempts, 'pending', 0, :next_attempt_at,
    :now, :now, :target_ca_pem, :target_client_cert, :target_client_key
)
ON CONFLICT (delivery_id) DO NOTHING
RETURNING *;

-- name: get_push
-- One push, by its delivery id.
SELECT * FROM pushes WHERE delivery_id = :delivery_id;

-- name: claim_due
-- Lease the due pushes to one worker, oldest due first, each under a fresh claim id.
-- Oldest due first: due PENDING pushes and IN_FLIGHT pushes whose lease expired, skipping
-- saturated receivers (:exclude). SKIP LOCKED lets concurrent claimers pass each other's
-- rows instead of waiting; a row another claimer took meanwhile is re-checked against the
-- WHERE clause when it is locked, so no push is handed out twice. NO KEY UPDATE leaves the
-- rows free for the key-share locks that inserting attempt rows takes.
-- claim_id = :claim_prefix || seq: unique per push and call, and findable by its prefix.
WITH pending AS (
    SELECT seq, next_attempt_at FROM pushes
    WHERE state = 'pending' AND next_attempt_at <= :now AND receiver <> ALL (:exclude::text[])
    ORDER BY next_attempt_at, seq
    LIMIT :limit
    FOR NO KEY UPDATE SKIP LOCKED
), expired AS (
    SELECT seq, next_attempt_at FROM pushes
    WHERE state = 'in_flight' AND claimed_until <= :now AND receiver <> ALL (:exclude::text[])
    ORDER BY next_attempt_at, seq
    LIMIT :limit
    FOR NO KEY UPDATE SKIP LOCKED
), picked AS (
    SELECT seq FROM (SELECT * FROM pending UNION ALL SELECT * FROM expired) AS due
    ORDER BY next_attempt_at, seq
    LIMIT :limit
)
UPDATE pushes
SET state = 'in_flight',
    claim_id = :claim_prefix || pushes.seq,
    claimed_until = :claimed_until,
    updated_at = :now
FROM picked
WHERE pushes.seq = picked.seq
RETURNING pushes.*;

-- name: claim_due_shared
-- Lease the due pushes as claim_due does, with a share per receiver.
-- claim_due, but of the oldest due :limit a receiver gets at most :receiver_limit minus what
-- the worker holds for it already (:held_receivers, :held_counts): one receiver's backlog
-- cannot take the whole claim. The rows considered but not taken are locked only for the
-- statement. The store runs this one only when a share can bind.
WITH pending AS (
    SELECT seq, next_attempt_at, receiver FROM pushes
    WHERE state = 'pending' AND next_attempt_at <= :now AND receiver <> ALL (:exclude::text[])
    ORDER BY next_attempt_at, seq
    LIMIT :limit
    FOR NO KEY UPDATE SKIP LOCKED
), expired AS (
    SELECT seq, next_attempt_at, receiver FROM pushes
    WHERE state = 'in_flight' AND claimed_until <= :now AND receiver <> ALL (:exclude::text[])
    ORDER BY next_attempt_at, seq
    LIMIT :limit
    FOR NO KEY UPDATE SKIP LOCKED
), oldest AS (
    SELECT seq, receiver,
           row_number() OVER (PARTITION BY receiver ORDER BY next_attempt_at, seq) AS nth
    FROM (
        SELECT * FROM (SELECT * FROM pending UNION ALL SELECT * FROM expired) AS due
        ORDER BY next_attempt_at, seq
        LIMIT :limit
    ) AS due
), held AS (
    SELECT * FROM unnest(:held_receivers::text[], :held_counts::int[]) AS held (receiver, n)
), picked AS (
    SELECT seq FROM oldest LEFT JOIN held USING (receiver)
    WHERE oldest.nth + coalesce(held.n, 0) <= :receiver_limit
)
UPDATE pushes
SET state = 'in_flight',
    claim_id = :claim_prefix || pushes.seq,
    claimed_until = :claimed_until,
    updated_at = :now
FROM picked
WHERE pushes.seq = picked.seq
RETURNING pushes.*;

-- name: claimed_with_prefix
-- After a connection loss: the pushes an earlier try of the same claim call did take.
SELECT * FROM pushes
WHERE state = 'in_flight' AND left(claim_id, length(:claim_prefix)) = :claim_prefix;

-- name: renew_claims
-- Extend the leases whose claim is still current; return their delivery ids.
UPDATE pushes
SET claimed_until = :claimed_until, updated_at = :now
FROM unnest(:delivery_ids::text[], :claim_ids::text[]) AS held (delivery_id, claim_id)
WHERE pushes.delivery_id = held.delivery_id
  AND pushes.claim_id = held.claim_id
  AND pushes.state = 'in_flight'
RETURNING pushes.delivery_id;

-- name: release_claims
-- Put held pushes back to pending, due at :due, without recording an attempt.
UPDATE pushes
SET state = 'pending', claim_id = NULL, claimed_until = NULL,
    next_attempt_at = :due, updated_at = :now
FROM unnest(:delivery_ids::text[], :claim_ids::text[]) AS held (delivery_id, claim_id)
WHERE pushes.delivery_id = held.delivery_id
  AND pushes.claim_id = held.claim_id
  AND pushes.state = 'in_flight'
RETURNING pushes.delivery_id;

-- name: finish
-- Record a batch of attempts and apply the verdicts whose claim is still current.
-- One statement, so one transaction: apply the verdicts whose claim is still current
-- (fencing), then record every attempt of a known push, in the order given, marking whether
-- its verdict applied. :v_* hold one verdict per (delivery_id, claim_id), the first given;
-- :v_ordinals are the 1-based positions of those results in the batch.
-- The same statement adds the batch to the per-receiver counters (operator_queries.sql has
-- the tables): :c_* one delta per (receiver, bucket), :h_* one health update per receiver
-- (faxpush/core/receiver_stats.py computes both). Workers on several machines commit at
-- once: each takes its row locks in one order (its pushes first, then counter rows by
-- receiver and bucket, then health rows by receiver), so two batches never wait on each
-- other in a cycle, and an upsert adds to what a concurrent one committed.
WITH applied AS (
    UPDATE pushes
    SET state = verdict.state,
        attempts = pushes.attempts + 1,
        next_attempt_at = coalesce(verdict.next_attempt_at, pushes.next_attempt_at),
        claim_id = NULL,
        claimed_until = NULL,
        last_error = verdict.error,
        updated_at = :now
    FROM unnest(
        :v_ordinals::bigint[], :v_delivery_ids::text[], :v_claim_ids::text[],
        :v_states::text[], :v_next_attempt_at::timestamptz[], :v_errors::text[]
    ) AS verdict (ordinal, delivery_id, claim_id, state, next_attempt_at, error)
    WHERE pushes.delivery_id = verdict.delivery_id
      AND pushes.claim_id = verdict.claim_id
      AND pushes.state = 'in_flight'
    RETURNING verdict.ordinal, pushes.delivery_id
), recorded AS (
    INSERT INTO attempts (
        finish_batch, verdict_applied, delivery_id, number, started_at, duration_ms,
        http_status, error_class, error_message, response_headers, response_body, auth_steps
    )
    SELECT :finish_batch, attempt.ordinal IN (SELECT ordinal FROM applied),
           attempt.delivery_id, attempt.number, attempt.started_at, attempt.duration_ms,
           attempt.http_status, attempt.error_class, attempt.error_message,
           attempt.response_headers::json, attempt.response_body, attempt.auth_steps::json
    FROM unnest(
        :a_delivery_ids::text[], :a_numbers::integer[], :a_started_at::timestamptz[],
        :a_duration_ms::double precision[], :a_http_statuses::integer[],
        :a_error_classes::text[], :a_error_messages::text[], :a_response_headers::text[],
        :a_response_bodies::bytea[], :a_auth_steps::text[]
    ) WITH ORDINALITY AS attempt (
        delivery_id, number, started_at, duration_ms, http_status, error_class,
        error_message, response_headers, response_body, auth_steps, ordinal
    )
    WHERE EXISTS (SELECT 1 FROM pushes WHERE pushes.delivery_id = attempt.delivery_id)
    ORDER BY attempt.ordinal
), counted AS (
    INSERT INTO receiver_counts AS counts (
        receiver, bucket_start, attempts, successes,
        h00, h01, h02, h03, h04, h05, h06, h07, h08, h09, h10, h11, h12
    )
    SELECT delta.receiver, delta.bucket_start, delta.attempts, delta.successes,
           h[n][1], h[n][2], h[n][3], h[n][4], h[n][5], h[n][6], h[n][7], h[n][8], h[n][9],
           h[n][10], h[n][11], h[n][12], h[n][13]
    FROM unnest(
        :c_receivers::text[], :c_bucket_starts::timestamptz[], :c_attempts::bigint[],
        :c_successes::bigint[]
    ) WITH ORDINALITY AS delta (receiver, bucket_start, attempts, successes, n)
    CROSS JOIN (SELECT :c_histograms::bigint[] AS h) AS histograms
    CROSS JOIN (SELECT count(*) FROM applied) AS after_the_pushes
    ORDER BY delta.receiver COLLATE "C", delta.bucket_start
    ON CONFLICT (receiver, bucket_start) DO UPDATE SET
        attempts = counts.attempts + excluded.attempts,
        successes = counts.successes + excluded.successes,
        h00 = counts.h00 + excluded.h00, h01 = counts.h01 + excluded.h01,
        h02 = counts.h02 + excluded.h02, h03 = counts.h03 + excluded.h03,
        h04 = counts.h04 + excluded.h04, h05 = counts.h05 + excluded.h05,
        h06 = counts.h06 + excluded.h06, h07 = counts.h07 + excluded.h07,
        h08 = counts.h08 + excluded.h08, h09 = counts.h09 + excluded.h09,
        h10 = counts.h10 + excluded.h10, h11 = counts.h11 + excluded.h11,
        h12 = counts.h12 + excluded.h12
    RETURNING 1
), health AS (
    -- The rule of _operator_common.applied_health: a batch with a success restarts the run
    -- of failures (:h_reset_receivers); the latest error wins; last_attempt_at only grows.
    INSERT INTO receiver_health AS health (
        receiver, consecutive_failures, last_error, last_error_at, last_attempt_at
    )
    SELECT batch.receiver, batch.trailing_failures, batch.last_error, batch.last_error_at,
           batch.last_attempt_at
    FROM unnest(
        :h_receivers::text[], :h_trailing_failures::bigint[], :h_last_errors::text[],
        :h_last_error_at::timestamptz[], :h_last_attempt_at::timestamptz[]
    ) AS batch (receiver, trailing_failures, last_error, last_error_at, last_attempt_at)
    CROSS JOIN (SELECT count(*) FROM counted) AS after_the_counts
    ORDER BY batch.receiver COLLATE "C"
    ON CONFLICT (receiver) DO UPDATE SET
        consecutive_failures = excluded.consecutive_failures + CASE
            WHEN excluded.receiver = ANY (:h_reset_receivers::text[]) THEN 0
            ELSE health.consecutive_failures END,
        last_error = CASE
            WHEN excluded.last_error_at >= health.last_error_at
                 OR (health.last_error_at IS NULL AND excluded.last_error_at IS NOT NULL)
            THEN excluded.last_error ELSE health.last_error END,
        last_error_at = CASE
            WHEN excluded.last_error_at >= health.last_error_at
                 OR (health.last_error_at IS NULL AND excluded.last_error_at IS NOT NULL)
            THEN excluded.last_error_at ELSE health.last_error_at END,
        last_attempt_at = greatest(health.last_attempt_at, excluded.last_attempt_at)
)
SELECT delivery_id FROM applied;

-- name: finished_batch
-- What one finish batch recorded: its attempts, and whether their verdicts applied.
-- After a connection loss: what an earlier try of the same finish call recorded, if it
-- committed (every row of a committed batch is there; none of one that was rolled back).
SELECT delivery_id, verdict_applied FROM attempts
WHERE delivery_id = ANY (:delivery_ids::text[]) AND finish_batch = :finish_batch;

-- name: next_due_at
-- When the earliest pending push is due, or the earliest lease expires.
SELECT least(
    (SELECT min(next_attempt_at) FROM pushes WHERE state = 'pending'),
    (SELECT min(claimed_until) FROM pushes WHERE state = 'in_flight')
) AS due;

-- name: list_pushes
-- A page of pushes, newest first.
SELECT * FROM pushes
ORDER BY created_at DESC, seq DESC
LIMIT :limit OFFSET :offset;

-- name: list_pushes_in_state
-- A page of the pushes in one state, newest first.
SELECT * FROM pushes
WHERE state = :state
ORDER BY created_at DESC, seq DESC
LIMIT :limit OFFSET :offset;

-- name: list_attempts
-- A push's attempts, oldest first.
SELECT * FROM attempts WHERE delivery_id = :delivery_id ORDER BY id;

-- name: count_by_state
-- How many pushes are in each state (states without pushes are left out).
SELECT state, count(*) AS pushes FROM pushes GROUP BY state;

-- name: redeliver
-- Put finished pushes back to pending, due now, keeping their attempt count.
-- :failed_since may be NULL (then only the listed ids are requeued).
UPDATE pushes
SET state = 'pending', next_attempt_at = :now, updated_at = :now
WHERE (delivery_id = ANY (:delivery_ids::text[])
       AND state IN ('failed', 'delivered', 'cancelled'))
   OR (state = 'failed' AND updated_at >= :failed_since)
RETURNING delivery_id;

-- name: get_token
-- A cached OAuth2 access token, unless it expired by :now.
SELECT token FROM oauth_tokens WHERE cache_key = :cache_key AND expires_at > :now;

-- name: put_token
-- Cache an OAuth2 access token, replacing the one stored under its cache key.
INSERT INTO oauth_tokens (cache_key, token, expires_at) VALUES (:cache_key, :token, :expires_at)
ON CONFLICT (cache_key) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at;

-- name: delete_expired_tokens
-- Up to :limit tokens that expired by :now, the longest expired first (put_token runs it).
DELETE FROM oauth_tokens WHERE cache_key IN (
    SELECT cache_key FROM oauth_tokens WHERE expires_at <= :now
    ORDER BY expires_at LIMIT :limit
    FOR UPDATE SKIP LOCKED
);

-- name: sealed_secrets
-- Lock and read a column of sealed secrets, to re-seal them under a new key. A template:
-- _pg_admin.SealedColumn fills in {table}, {key} (of type {key_type}) and {column} for
-- each sealed column (the outbox's and the job store's).
SELECT {key}::text AS id, {column} AS secret FROM {table}
WHERE {column} IS NOT NULL
FOR UPDATE;

-- name: update_sealed_secrets
-- Write re-sealed secrets back by key (ids and secrets as two parallel arrays); a template
-- as sealed_secrets is.
UPDATE {table} SET {column} = sealed.secret
FROM unnest(:ids::text[], :secrets::bytea[]) AS sealed (id, secret)
WHERE {table}.{key} = sealed.id::{key_type};

-- name: copy_reset_identities
-- Rows were copied with their own seq and id: new rows continue after the largest.
-- `faxpush db copy` (faxpush/storage/copy.py) on its PostgreSQL target.
SELECT setval(pg_get_serial_sequence('pushes', 'seq'),
              coalesce((SELECT max(seq) FROM pushes), 0) + 1, false),
       setval(pg_get_serial_sequence('attempts', 'id'),
              coalesce((SELECT max(id) FROM attempts), 0) + 1, false),
       setval(pg_get_serial_sequence('fax_jobs', 'seq'),
              coalesce((SELECT max(seq) FROM fax_jobs), 0) + 1, false);
