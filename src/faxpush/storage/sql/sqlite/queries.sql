-- Named queries of the SQLite store. Each block starts with "-- name: <name>" and a one-line
-- description; parameters are named (:now). Times are integer microseconds since the Unix
-- epoch (UTC).
-- In "+pushes.state" the unary plus keeps the planner off the state index, so that a batch
-- looks its pushes up by delivery_id instead of scanning every push in that state.

-- name: connection_setup
-- The pragmas every new connection runs, outside any transaction.
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
PRAGMA foreign_keys = ON;

-- name: diagnostics
-- The SQLite version and the connection's pragmas, for diagnostics.
SELECT sqlite_version() AS sqlite_version,
       (SELECT journal_mode FROM pragma_journal_mode) AS journal_mode,
       (SELECT synchronous FROM pragma_synchronous) AS synchronous,
       (SELECT timeout FROM pragma_busy_timeout) AS busy_timeout_ms,
       (SELECT foreign_keys FROM pragma_foreign_keys) AS foreign_keys;

-- name: put_account
-- Insert an account's push settings, or replace those of an existing one.
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
-- One account by its customer number.
SELECT * FROM accounts WHERE customer_number = :customer_number;

-- name: list_accounts
-- Every account, by customer number.
SELECT * FROM accounts ORDER BY customer_number;

-- name: insert_push
-- Store a new push as pending; no row when its delivery id exists already.
INSERT INTO pushes (
    delivery_id, job_id, customer_number, target_url, receiver, target_auth, target_principal,
    target_credentials, target_token_url, target_client_auth, content_type,
    retry_client_errors, max_attempts, state, attempts, next_attempt_at, created_at, updated_at,
    target_ca_pem, target_client_cert, target_client_key
) VALUES (
    :delivery_id, :job_id, :customer_number, :target_url, :receiver, :target_auth,
    :target_principal,
    :target_credentials, :target_token_url, :target_client_auth, :content_type,
    :retry_client_errors, :max_attempts, 'pending', 0, :next_attempt_at, :now, :now,
    :target_ca_pem, :target_client_cert, :target_client_key
)
ON CONFLICT (delivery_id) DO NOTHING
RETURNING *;

-- name: insert_body
-- Store the rendered body of the push just inserted.
INSERT INTO push_bodies (seq, body) VALUES (:seq, :body);

-- name: get_push
-- One push with its body, by delivery id.
SELECT * FROM pushes_with_body WHERE delivery_id = :delivery_id;

-- name: bodies_of
-- The bodies of the claimed pushes, by seq.
-- :seqs is a JSON array of push seq numbers.
SELECT seq, body FROM push_bodies WHERE seq IN (SELECT value FROM json_each(:seqs));

-- name: claim_due
-- Lease the due pushes (and those whose lease expired) to one worker.
-- :exclude is a JSON array of receiver keys to skip (saturated receivers).
-- Oldest due first: due PENDING pushes and IN_FLIGHT pushes whose lease expired. Each branch
-- is limited on its own so that both can use the (state, next_attempt_at) index.
UPDATE pushes
SET state = 'in_flight',
    claim_id = :worker_id || ':' || lower(hex(randomblob(12))),
    claimed_until = :claimed_until,
    updated_at = :now
WHERE seq IN (
    SELECT seq FROM (
        SELECT seq, next_attempt_at FROM (
            SELECT seq, next_attempt_at FROM pushes
            WHERE state = 'pending' AND next_attempt_at <= :now
              AND receiver NOT IN (SELECT value FROM json_each(:exclude))
            ORDER BY next_attempt_at, seq LIMIT :limit
        )
        UNION ALL
        SELECT seq, next_attempt_at FROM (
            SELECT seq, next_attempt_at FROM pushes
            WHERE state = 'in_flight' AND claimed_until <= :now
              AND receiver NOT IN (SELECT value FROM json_each(:exclude))
            ORDER BY next_attempt_at, seq LIMIT :limit
        )
        ORDER BY next_attempt_at, seq LIMIT :limit
    )
)
RETURNING *;

-- name: claim_due_shared
-- Lease the due pushes to one worker, with a share per receiver.
-- claim_due, but of the oldest due :limit pushes a receiver gets at most :receiver_limit
-- minus what the claiming worker holds for it already (:held, a JSON object by receiver
-- key): one receiver's backlog cannot take the whole claim. Ranking costs about 2 us per
-- push, so the store runs it only when a share can bind.
UPDATE pushes
SET state = 'in_flight',
    claim_id = :worker_id || ':' || lower(hex(randomblob(12))),
    claimed_until = :claimed_until,
    updated_at = :now
WHERE seq IN (
    SELECT seq FROM (
        SELECT seq, receiver,
               row_number() OVER (PARTITION BY receiver ORDER BY next_attempt_at, seq) AS nth
        FROM (
            SELECT seq, next_attempt_at, receiver FROM (
                SELECT seq, next_attempt_at, receiver FROM pushes
                WHERE state = 'pending' AND next_attempt_at <= :now
                  AND receiver NOT IN (SELECT value FROM json_each(:exclude))
                ORDER BY next_attempt_at, seq LIMIT :limit
            )
            UNION ALL
            SELECT seq, next_attempt_at, receiver FROM (
                SELECT seq, next_attempt_at, receiver FROM pushes
                WHERE state = 'in_flight' AND claimed_until <= :now
                  AND receiver NOT IN (SELECT value FROM json_each(:exclude))
                ORDER BY next_attempt_at, seq LIMIT :limit
            )
            ORDER BY next_attempt_at, seq LIMIT :limit
        )
    ) AS due LEFT JOIN json_each(:held) AS held ON held.key = due.receiver
    WHERE due.nth + coalesce(held.value, 0) <= :receiver_limit
)
RETURNING *;

-- name: renew_claims
-- Extend the leases a worker still holds; return their delivery ids.
-- :claims is a JSON array of [delivery_id, claim_id] pairs.
UPDATE pushes
SET claimed_until = :claimed_until, updated_at = :now
FROM (
    SELECT json_extract(value, '$[0]') AS delivery_id, json_extract(value, '$[1]') AS claim_id
    FROM json_each(:claims)
) AS held
WHERE pushes.delivery_id = held.delivery_id
  AND pushes.claim_id = held.claim_id
  AND +pushes.state = 'in_flight'
RETURNING pushes.delivery_id;

-- name: release_claims
-- Return held pushes to pending without an attempt; return their delivery ids.
-- :claims is a JSON array of [delivery_id, claim_id] pairs; :due is when they are due again.
UPDATE pushes
SET state = 'pending', claim_id = NULL, claimed_until = NULL,
    next_attempt_at = :due, updated_at = :now
FROM (
    SELECT json_extract(value, '$[0]') AS delivery_id, json_extract(value, '$[1]') AS claim_id
    FROM json_each(:claims)
) AS held
WHERE pushes.delivery_id = held.delivery_id
  AND pushes.claim_id = held.claim_id
  AND +pushes.state = 'in_flight'
RETURNING pushes.delivery_id;

-- name: record_attempts
-- Record a batch of attempts, one row each.
-- A batch of attempts in one statement: {values} stands for one "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
-- per attempt, in the column order below. One statement per batch instead of one step per
-- attempt: each step makes the store's thread take the Python GIL back from the busy event
-- loop (docs/benchmarks.md, Dispatch).
-- Recorded whether or not the verdict applies; skipped only for an unknown push.
INSERT INTO attempts (
    delivery_id, number, started_at, duration_ms, http_status, error_class, error_message,
    response_headers, response_body, auth_steps
)
SELECT * FROM (VALUES {values}) AS attempt
WHERE EXISTS (SELECT 1 FROM pushes WHERE delivery_id = attempt.column1);

-- name: apply_verdicts
-- Apply the attempts' verdicts to the pushes whose claim is still current.
-- :results is a JSON array of [delivery_id, claim_id, new state, next_attempt_at, error];
-- a result applies only while its claim_id is the push's current one (fencing).
UPDATE pushes
SET state = result.state,
    attempts = pushes.attempts + 1,
    next_attempt_at = coalesce(result.next_attempt_at, pushes.next_attempt_at),
    claim_id = NULL,
    claimed_until = NULL,
    last_error = result.error,
    updated_at = :now
FROM (
    SELECT json_extract(value, '$[0]') AS delivery_id,
           json_extract(value, '$[1]') AS claim_id,
           json_extract(value, '$[2]') AS state,
           json_extract(value, '$[3]') AS next_attempt_at,
           json_extract(value, '$[4]') AS error
    FROM json_each(:results)
) AS result
WHERE pushes.delivery_id = result.delivery_id
  AND pushes.claim_id = result.claim_id
  AND +pushes.state = 'in_flight'
RETURNING pushes.delivery_id;

-- name: next_due_at
-- When the earliest pending push becomes due or the earliest lease expires.
SELECT min(due) AS due FROM (
    SELECT min(next_attempt_at) AS due FROM pushes WHERE state = 'pending'
    UNION ALL
    SELECT min(claimed_until) AS due FROM pushes WHERE state = 'in_flight'
);

-- name: list_pushes
-- Pushes with their bodies, newest first, optionally in one state only.
SELECT * FROM pushes_with_body
WHERE :state IS NULL OR state = :state
ORDER BY created_at DESC, seq DESC
LIMIT :limit OFFSET :offset;

-- name: list_attempts
-- The attempts of one push, oldest first.
SELECT * FROM attempts WHERE delivery_id = :delivery_id ORDER BY id;

-- name: count_by_state
-- How many pushes are in each state (states without pushes are absent).
SELECT state, count(*) AS pushes FROM pushes GROUP BY state;

-- name: redeliver
-- Put finished pushes back to pending, due now, by delivery id or failed since.
-- :delivery_ids is a JSON array; :failed_since may be NULL.
UPDATE pushes
SET state = 'pending', next_attempt_at = :now, updated_at = :now
WHERE (delivery_id IN (SELECT value FROM json_each(:delivery_ids))
       AND state IN ('failed', 'delivered', 'cancelled'))
   OR (state = 'failed' AND updated_at >= :failed_since);

-- name: get_token
-- A cached OAuth2 access token that has not expired.
SELECT token FROM oauth_tokens WHERE cache_key = :cache_key AND expires_at > :now;

-- name: put_token
-- Cache an OAuth2 access token, replacing the one under the same key.
INSERT INTO oauth_tokens (cache_key, token, expires_at) VALUES (:cache_key, :token, :expires_at)
ON CONFLICT (cache_key) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at;

-- name: delete_expired_tokens
-- Drop up to :limit tokens that expired by :now, the longest expired first (put_token runs it).
DELETE FROM oauth_tokens WHERE cache_key IN (
    SELECT cache_key FROM oauth_tokens WHERE expires_at <= :now
    ORDER BY expires_at LIMIT :limit
);

-- name: push_secrets
-- The sealed credentials of the pushes, for key rotation.
SELECT seq AS id, target_credentials AS secret FROM pushes WHERE target_credentials IS NOT NULL;

-- name: update_push_secret
-- Store a push's re-sealed credentials.
UPDATE pushes SET target_credentials = :secret WHERE seq = :id;

-- name: account_secrets
-- The sealed credentials of the accounts, for key rotation.
SELECT customer_number AS id, push_credentials AS secret FROM accounts
WHERE push_credentials IS NOT NULL;

-- name: update_account_secret
-- Store an account's re-sealed credentials.
UPDATE accounts SET push_credentials = :secret WHERE customer_number = :id;

-- name: push_key_secrets
-- The sealed client certificate keys of the pushes (0003_tls.sql), for key rotation.
SELECT seq AS id, target_client_key AS secret FROM pushes WHERE target_client_key IS NOT NULL;

-- name: update_push_key_secret
-- Store a push's re-sealed client certificate key.
UPDATE pushes SET target_client_key = :secret WHERE seq = :id;

-- name: account_key_secrets
-- The sealed client certificate keys of the accounts, for key rotation.
SELECT customer_number AS id, push_client_key AS secret FROM accounts
WHERE push_client_key IS NOT NULL;

-- name: update_account_key_secret
-- Store an account's re-sealed client certificate key.
UPDATE accounts SET push_client_key = :secret WHERE customer_number = :id;

-- name: token_secrets
-- The sealed cached tokens, for key rotation.
SELECT cache_key AS id, token AS secret FROM oauth_tokens;

-- name: update_token_secret
-- Store a cached token re-sealed.
UPDATE oauth_tokens SET token = :secret WHERE cache_key = :id;
