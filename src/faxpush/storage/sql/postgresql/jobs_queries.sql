-- Named queries of the PostgreSQL job store (the REST v1 emulator). Each block starts with
-- "-- name: <name>" and a one-line description; parameters are named (:now) and become $n
-- when loaded. Times are
-- timestamptz; lists of job ids travel as arrays.

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
WHERE :customer_number::text IS NULL OR customer_number = :customer_number
ORDER BY login;

-- name: lock_dedup_keys
-- Lock the batch's duplicate keys for the rest of the transaction.
-- Held until the transaction ends: jobs with the same key are created one after the other,
-- so the duplicate check of the second sees the first. Keys are locked in one order, so two
-- batches cannot deadlock on them.
SELECT count(pg_advisory_xact_lock(hashtextextended('faxpush job dedup:' || key, 0)))
FROM (SELECT DISTINCT key FROM unnest(:dedup_keys::text[]) AS key ORDER BY key) AS keys;

-- name: find_duplicate
-- The earliest job with this duplicate key created since :since, if any.
SELECT job_id, seq FROM fax_jobs
WHERE dedup_key = :dedup_key AND created_at >= :since
ORDER BY seq
LIMIT 1;

-- name: insert_job
-- Store a new active job and return its row; a taken id inserts nothing.
-- (Rather than aborting the whole batch's transaction.)
INSERT INTO fax_jobs (
    job_id, customer_number, login, state, plan, finish_at, target_url, target_auth,
    target_principal, target_credentials, target_token_url, target_client_auth, dedup_key,
    created_at, purge_at
) VALUES (
    :job_id, :customer_number, :login, 'active', :plan, :finish_at, :target_url, :target_auth,
    :target_principal, :target_credentials, :target_token_url, :target_client_auth, :dedup_key,
    :created_at, :purge_at
)
ON CONFLICT (job_id) DO NOTHING
RETURNING *;

-- name: job_by_id
-- One job by id, of any customer (to tell a retried insert from a taken id).
SELECT * FROM fax_jobs WHERE job_id = :job_id;

-- name: get_job
-- One job of one customer.
SELECT * FROM fax_jobs WHERE job_id = :job_id AND customer_number = :customer_number;

-- name: get_jobs
-- The customer's jobs among :job_ids (an array), in the order asked.
SELECT fax_jobs.* FROM unnest(:job_ids::text[]) WITH ORDINALITY AS wanted (job_id, position)
JOIN fax_jobs ON fax_jobs.job_id = wanted.job_id
WHERE fax_jobs.customer_number = :customer_number
ORDER BY wanted.position;

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
  AND job_id = ANY (:job_ids::text[])
RETURNING job_id;

-- name: delete_oldest
-- Delete up to :limit of the customer's finished jobs, oldest report first.
DELETE FROM fax_jobs
WHERE seq IN (
    SELECT seq FROM fax_jobs
    WHERE customer_number = :customer_number AND state = 'finished'
    ORDER BY finished_at, seq
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
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

-- name: finish_jobs
-- Finish a batch of active jobs with their reports; return the ids finished.
-- Only ACTIVE jobs are finished, so a second finish (by another process) is a no-op. The
-- rows are locked in seq order first: concurrent batches wait for each other instead of
-- deadlocking, and a row finished meanwhile is re-checked when its lock is granted (and
-- dropped, as it is no longer active).
WITH done AS (
    SELECT * FROM unnest(:job_ids::text[], :reports::text[], :purge_ats::timestamptz[])
        AS done (job_id, report, purge_at)
), locked AS (
    SELECT seq FROM fax_jobs
    WHERE job_id = ANY (:job_ids::text[]) AND state = 'active'
    ORDER BY seq
    FOR NO KEY UPDATE
)
UPDATE fax_jobs
SET state = 'finished', report = done.report, finished_at = :now, purge_at = done.purge_at,
    finish_batch = :finish_batch
FROM locked, done
WHERE fax_jobs.seq = locked.seq AND fax_jobs.job_id = done.job_id
  AND fax_jobs.state = 'active'
RETURNING fax_jobs.job_id;

-- name: finished_in_batch
-- The jobs among :job_ids that the finish_jobs call :finish_batch finished.
SELECT job_id FROM fax_jobs
WHERE job_id = ANY (:job_ids::text[]) AND finish_batch = :finish_batch;

-- name: purge_reports
-- Delete up to :limit finished jobs whose purge time has passed.
WITH gone AS (
    DELETE FROM fax_jobs
    WHERE seq IN (
        SELECT seq FROM fax_jobs
        WHERE state = 'finished' AND purge_at <= :now
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    RETURNING 1
)
SELECT count(*) FROM gone;

-- name: count_jobs
-- How many jobs are in each state (states without jobs are left out).
SELECT state, count(*) AS jobs FROM fax_jobs GROUP BY state;
