-- The job store's schema for PostgreSQL, version 1: the REST v1 emulator's logins, fax jobs
-- and reports.
--
-- They live in the outbox's database so that finishing a job (its report) and enqueueing its
-- push commit in one transaction. Times are timestamptz (microsecond precision).
--
-- Databases created before the job store kept its own schema got these tables from the
-- outbox's migration 0002 with the same definitions: IF NOT EXISTS keeps them and their rows.

CREATE TABLE IF NOT EXISTS rest_logins (
    login           text PRIMARY KEY,
    customer_number text NOT NULL,
    password_hash   text NOT NULL,  -- scrypt with a per-login salt; never a password
    created_at      timestamptz NOT NULL
);

CREATE INDEX IF NOT EXISTS rest_logins_by_customer ON rest_logins (customer_number, login);

-- plan is the simulator's JSON description of the job; report the final FaxJobReport (JSON)
-- once the job is finished. target_* is the job's own httpStatusPush (credentials sealed).
-- purge_at is the requested reportPurgeTs while active, the actual purge time once finished.
-- finish_batch names the finish_jobs() call that finished the job: after a connection loss
-- the store looks it up to learn whether that call committed.
CREATE TABLE IF NOT EXISTS fax_jobs (
    seq                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id             text NOT NULL UNIQUE,
    customer_number    text NOT NULL,
    login              text NOT NULL,
    state              text NOT NULL CHECK (state IN ('active', 'finished')),
    plan               text NOT NULL,
    finish_at          timestamptz NOT NULL,
    target_url         text,
    target_auth        text,
    target_principal   text,
    target_credentials bytea,
    target_token_url   text,
    target_client_auth text,
    dedup_key          text,
    created_at         timestamptz NOT NULL,
    finished_at        timestamptz,
    finish_batch       uuid,
    purge_at           timestamptz,
    report             text,
    CHECK ((state = 'finished') = (report IS NOT NULL AND finished_at IS NOT NULL)),
    CHECK (state = 'active' OR purge_at IS NOT NULL)
);

-- Partial indexes: the simulator scans active jobs only, the report queries finished ones.
CREATE INDEX IF NOT EXISTS fax_jobs_due ON fax_jobs (finish_at, seq) WHERE state = 'active';
CREATE INDEX IF NOT EXISTS fax_jobs_reports ON fax_jobs (customer_number, finished_at, seq)
    WHERE state = 'finished';
CREATE INDEX IF NOT EXISTS fax_jobs_purge ON fax_jobs (purge_at) WHERE state = 'finished';
CREATE INDEX IF NOT EXISTS fax_jobs_dedup ON fax_jobs (dedup_key, created_at)
    WHERE dedup_key IS NOT NULL;
