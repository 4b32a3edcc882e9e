-- Named queries of the SQLite job store (the REST v1 emulator). Each block starts with
-- "-- name: <name>". Times are integer microseconds since the Unix epoch (UTC).
-- Lists of job ids are passed as JSON arrays and unpacked with json_each.

-- name: put_login
INSERT INTO rest_logins (login, customer_number, password_hash, created_at)
VALUES (:login, :customer_number, :password_hash, :created_at)
ON CONFLICT (login) DO UPDATE SET
    customer_number = excluded.customer_number,
    password_hash = excluded.password_hash;

-- name: get_login
SELECT * FROM rest_logins WHERE login = :login;

-- name: list_logins
SELECT * FROM rest_logins
WHERE :customer_number IS NULL OR customer_number = :customer_number
ORDER BY login;

-- name: find_duplicate
SELECT job_id FROM fax_jobs
WHERE dedup_key = :dedup_key AND created_at >= :since
ORDER BY seq
LIMIT 1;

-- name: insert_job
INSERT INTO fax_jobs (
    job_id, customer_number, login, state, plan, finish_at, target_url, target_auth,
    target_principal, target_credentials, target_token_url, target_client_auth, dedup_key,
    created_at, purge_at
) VALUES (
    :job_id, :customer_number, :login, 'active', :plan, :finish_at, :target_url, :target_auth,
    :target_principal, :target_credentials, :target_token_url, :target_client_auth, :dedup_key,
    :created_at, :purge_at
)
RETURNING *;

-- name: get_job
SELECT * FROM fax_jobs WHERE job_id = :job_id AND customer_number = :customer_number;

-- name: get_jobs
SELECT fax_jobs.* FROM json_each(:job_ids) AS wanted
JOIN fax_jobs ON fax_jobs.job_id = wanted.value
WHERE fax_jobs.customer_number = :customer_number
ORDER BY wanted.key;

-- name: list_finished
SELECT * FROM fax_jobs
WHERE customer_number = :customer_number AND state = 'finished'
ORDER BY finished_at, seq
LIMIT :limit;

-- name: delete_reports
DELETE FROM fax_jobs
WHERE customer_number = :customer_number AND state = 'finished'
  AND job_id IN (SELECT value FROM json_each(:job_ids))
RETURNING job_id;

-- name: delete_oldest
DELETE FROM fax_jobs
WHERE seq IN (
    SELECT seq FROM fax_jobs
    WHERE customer_number = :customer_number AND state = 'finished'
    ORDER BY finished_at, seq
    LIMIT :limit
)
RETURNING job_id, finished_at, seq;

-- name: due_jobs
SELECT * FROM fax_jobs
WHERE state = 'active' AND finish_at <= :now
ORDER BY finish_at, seq
LIMIT :limit;

-- name: next_finish_at
SELECT min(finish_at) FROM fax_jobs WHERE state = 'active';

-- name: finish_job
UPDATE fax_jobs
SET state = 'finished', report = :report, finished_at = :now, purge_at = :purge_at
WHERE job_id = :job_id AND state = 'active'
RETURNING job_id;

-- name: purge_reports
DELETE FROM fax_jobs
WHERE seq IN (
    SELECT seq FROM fax_jobs
    WHERE state = 'finished' AND purge_at <= :now
    LIMIT :limit
);

-- name: count_jobs
SELECT state, count(*) AS jobs FROM fax_jobs GROUP BY state;

-- name: job_secrets
-- The jobs' own push credentials, sealed with the outbox's cipher (faxpush secrets rotate).
SELECT seq AS id, target_credentials AS secret FROM fax_jobs WHERE target_credentials IS NOT NULL;

-- name: update_job_secret
-- Store one job's re-sealed push credentials.
UPDATE fax_jobs SET target_credentials = :secret WHERE seq = :id;
