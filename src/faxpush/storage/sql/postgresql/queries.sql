-- Named queries of the PostgreSQL store. Each block starts with "-- name: <name>"; parameters
-- are named (:now) and become $n when loaded. Times are timestamptz; batches travel as arrays
-- unnested in SQL, so that a batch is one statement and one round trip.

-- name: lock_migrations
-- Held until the migration transaction ends: several processes starting at once migrate
-- one after the other.
SELECT pg_advisory_xact_lock(hashtext('faxpush schema migration'));

-- name: create_schema_version
CREATE TABLE IF NOT EXISTS schema_version (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL
);

-- name: current_schema_version
SELECT coalesce(max(version), 0) AS version FROM schema_version;

-- name: record_schema_version
INSERT INTO schema_version (version, name, applied_at) VALUES (:version, :name, :applied_at);

-- name: put_account
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
SELECT * FROM accounts WHERE customer_number = :customer_number;

-- name: list_accounts
SELECT * FROM accounts ORDER BY customer_number;

-- name: insert_push
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
SELECT * FROM pushes WHERE delivery_id = :delivery_id;

-- name: claim_due
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
UPDATE pushes
SET claimed_until = :claimed_until, updated_at = :now
FROM unnest(:delivery_ids::text[], :claim_ids::text[]) AS held (delivery_id, claim_id)
WHERE pushes.delivery_id = held.delivery_id
  AND pushes.claim_id = held.claim_id
  AND pushes.state = 'in_flight'
RETURNING pushes.delivery_id;

-- name: release_claims
UPDATE pushes
SET state = 'pending', claim_id = NULL, claimed_until = NULL,
    next_attempt_at = :due, updated_at = :now
FROM unnest(:delivery_ids::text[], :claim_ids::text[]) AS held (delivery_id, claim_id)
WHERE pushes.delivery_id = held.delivery_id
  AND pushes.claim_id = held.claim_id
  AND pushes.state = 'in_flight'
RETURNING pushes.delivery_id;

-- name: finish
-- One statement, so one transaction: apply the verdicts whose claim is still current
-- (fencing), then record every attempt of a known push, in the order given, marking whether
-- its verdict applied. :v_* hold one verdict per (delivery_id, claim_id), the first given;
-- :v_ordinals are the 1-based positions of those results in the batch.
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
)
SELECT delivery_id FROM applied;

-- name: finished_batch
-- After a connection loss: what an earlier try of the same finish call recorded, if it
-- committed (every row of a committed batch is there; none of one that was rolled back).
SELECT delivery_id, verdict_applied FROM attempts
WHERE delivery_id = ANY (:delivery_ids::text[]) AND finish_batch = :finish_batch;

-- name: next_due_at
SELECT least(
    (SELECT min(next_attempt_at) FROM pushes WHERE state = 'pending'),
    (SELECT min(claimed_until) FROM pushes WHERE state = 'in_flight')
) AS due;

-- name: list_pushes
SELECT * FROM pushes
ORDER BY created_at DESC, seq DESC
LIMIT :limit OFFSET :offset;

-- name: list_pushes_in_state
SELECT * FROM pushes
WHERE state = :state
ORDER BY created_at DESC, seq DESC
LIMIT :limit OFFSET :offset;

-- name: list_attempts
SELECT * FROM attempts WHERE delivery_id = :delivery_id ORDER BY id;

-- name: count_by_state
SELECT state, count(*) AS pushes FROM pushes GROUP BY state;

-- name: redeliver
-- :failed_since may be NULL (then only the listed ids are requeued).
UPDATE pushes
SET state = 'pending', next_attempt_at = :now, updated_at = :now
WHERE (delivery_id = ANY (:delivery_ids::text[])
       AND state IN ('failed', 'delivered', 'cancelled'))
   OR (state = 'failed' AND updated_at >= :failed_since)
RETURNING delivery_id;

-- name: get_token
SELECT token FROM oauth_tokens WHERE cache_key = :cache_key AND expires_at > :now;

-- name: put_token
INSERT INTO oauth_tokens (cache_key, token, expires_at) VALUES (:cache_key, :token, :expires_at)
ON CONFLICT (cache_key) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at;

-- name: delete_expired_tokens
-- Up to :limit tokens that expired by :now, the longest expired first (put_token runs it).
DELETE FROM oauth_tokens WHERE cache_key IN (
    SELECT cache_key FROM oauth_tokens WHERE expires_at <= :now
    ORDER BY expires_at LIMIT :limit
    FOR UPDATE SKIP LOCKED
);

-- name: push_secrets
SELECT seq::text AS id, target_credentials AS secret FROM pushes
WHERE target_credentials IS NOT NULL
FOR UPDATE;

-- name: update_push_secrets
UPDATE pushes SET target_credentials = sealed.secret
FROM unnest(:ids::text[], :secrets::bytea[]) AS sealed (id, secret)
WHERE pushes.seq = sealed.id::bigint;

-- name: account_secrets
SELECT customer_number AS id, push_credentials AS secret FROM accounts
WHERE push_credentials IS NOT NULL
FOR UPDATE;

-- name: update_account_secrets
UPDATE accounts SET push_credentials = sealed.secret
FROM unnest(:ids::text[], :secrets::bytea[]) AS sealed (id, secret)
WHERE accounts.customer_number = sealed.id;

-- name: push_key_secrets
-- Client certificate keys (0003_tls.sql), sealed like the credentials.
SELECT seq::text AS id, target_client_key AS secret FROM pushes
WHERE target_client_key IS NOT NULL
FOR UPDATE;

-- name: update_push_key_secrets
UPDATE pushes SET target_client_key = sealed.secret
FROM unnest(:ids::text[], :secrets::bytea[]) AS sealed (id, secret)
WHERE pushes.seq = sealed.id::bigint;

-- name: account_key_secrets
SELECT customer_number AS id, push_client_key AS secret FROM accounts
WHERE push_client_key IS NOT NULL
FOR UPDATE;

-- name: update_account_key_secrets
UPDATE accounts SET push_client_key = sealed.secret
FROM unnest(:ids::text[], :secrets::bytea[]) AS sealed (id, secret)
WHERE accounts.customer_number = sealed.id;

-- name: token_secrets
SELECT cache_key AS id, token AS secret FROM oauth_tokens
FOR UPDATE;

-- name: update_token_secrets
UPDATE oauth_tokens SET token = sealed.secret
FROM unnest(:ids::text[], :secrets::bytea[]) AS sealed (id, secret)
WHERE oauth_tokens.cache_key = sealed.id;

-- name: copy_existing_rows
-- `faxpush db copy` (faxpush/storage/copy.py) on its PostgreSQL target, from here on.
SELECT (SELECT count(*) FROM accounts) AS accounts,
       (SELECT count(*) FROM pushes) AS pushes,
       (SELECT count(*) FROM attempts) AS attempts,
       (SELECT count(*) FROM oauth_tokens) AS oauth_tokens,
       (SELECT count(*) FROM rest_logins) AS rest_logins,
       (SELECT count(*) FROM fax_jobs) AS fax_jobs;

-- name: copy_empty_outbox
TRUNCATE attempts, pushes, accounts, oauth_tokens, fax_jobs, rest_logins RESTART IDENTITY;

-- name: copy_reset_identities
-- Rows were copied with their own seq and id: new rows continue after the largest.
SELECT setval(pg_get_serial_sequence('pushes', 'seq'),
              coalesce((SELECT max(seq) FROM pushes), 0) + 1, false),
       setval(pg_get_serial_sequence('attempts', 'id'),
              coalesce((SELECT max(id) FROM attempts), 0) + 1, false),
       setval(pg_get_serial_sequence('fax_jobs', 'seq'),
              coalesce((SELECT max(seq) FROM fax_jobs), 0) + 1, false);
