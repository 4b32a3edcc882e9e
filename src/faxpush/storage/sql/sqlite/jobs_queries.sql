-- Named queries of the SQLite job store (the REST v1 emulator). Each block starts with
-- "-- name: <name>" and a one-line description. Times are integer microseconds since the
-- Unix epoch (UTC). Lists of job ids are passed as JSON arrays and unpacked with json_each.

-- name: put_login
-- Insert a login, or replace its customer number and password hash (created_at stays).
INSERT INTO rest_logins (login, customer_number, password_hash, created_at)
VALUES (:login, :customer_number, :password_hash, :created_at)
ON CONFLICT (login) DO UPDATE SET
    customer_number = excluded.customer_number,
    password_hash = excluded.password_hash;

-- name: get_login
-- One login by name.
SELECT * FROM rest_logins WHERE login = :login;

-- name: list_logins
-- Logins by name, of one customer number (or of all when it is NULL).
SELECT * FROM rest_logins
WHERE :customer_number IS NULL OR customer_number = :customer_number
ORDER BY login;

-- name: find_duplicate
-- The earliest job with this duplicate key created since :since, if any.
SELECT job_id FROM fax_jobs
WHERE dedup_key = :dedup_key AND created_at >= :since
ORDER BY seq
LIMIT 1;

-- name: insert_job
-- Store a new active job and return its row.
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
-- One job of one customer.
SELECT * FROM fax_jobs WHERE job_id = :job_id AND customer_number = :customer_number;

-- name: get_jobs
-- The customer's jobs among :job_ids (a JSON array), in the order asked.
SELECT fax_jobs.* FROM json_each(:job_ids) AS wanted
JOIN fax_jobs ON fax_jobs.job_id = wanted.value
WHERE fax_jobs.customer_number = :customer_number
ORDER BY wanted.key;

-- name: list_finished
-- A customer's finished jobs, oldest report first.
SELECT * FROM fax_jobs
WHERE customer_number = :customer_number AND state = 'finished'
ORDER BY finished_at, seq
LIMIT :limit;

-- name: delete_reports
-- Delete the customer's finished jobs among :job_ids; return the deleted ids.
DELETE FROM fax_jobs
WHERE customer_number = :customer_number AND state = 'finished'
  AND job_id IN (SELECT value FROM json_each(:job_ids))
RETURNING job_id;

-- name: delete_oldest
-- Delete up to :limit of the customer's finished jobs, oldest report first.
DELETE FROM fax_jobs
WHERE seq IN (
    SELECT seq FROM fax_jobs
    WHERE customer_number = :customer_number AND state = 'finished'
    ORDER BY finished_at, seq
    LIMIT :limit
)
RETURNING job_id, finished_at, seq;

-- name: due_jobs
-- Active jobs whose finish time has come, earliest first.
SELECT * FROM fax_jobs
WHERE state = 'active' AND finish_at <= :now
ORDER BY finish_at, seq
LIMIT :limit;

-- name: next_finish_at
-- The earliest finish time of an active job (NULL when there is none).
SELECT min(finish_at) FROM fax_jobs WHERE state = 'active';

-- name: finish_job
-- Finish one active job with its report; returns its id, or nothing if not active.
UPDATE fax_jobs
SET state = 'finished', report = :report, finished_at = :now, purge_at = :purge_at
WHERE job_id = :job_id AND state = 'active'
RETURNING job_id;

-- name: purge_reports
-- Delete up to :limit finished jobs whose purge time has passed.
DELETE FROM fax_jobs
WHERE seq IN (
    SELECT seq FROM fax_jobs
    WHERE state = 'finished' AND purge_at <= :now
    LIMIT :limit
);

-- name: count_jobs
-- How many jobs are in each state (states without jobs are left out).
SELECT state, count(*) AS jobs FROM fax_jobs GROUP BY state;

-- name: job_secrets
-- The jobs' own push credentials, to re-seal (faxpush secrets rotate).
SELECT seq AS id, target_credentials AS secret FROM fax_jobs WHERE target_credentials IS NOT NULL;

-- name: update_job_secret
-- Store one job's re-sealed push credentials.
UPDATE fax_jobs SET target_credentials = :secret WHERE seq = :id;
