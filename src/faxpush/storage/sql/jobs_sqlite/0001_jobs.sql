-- The job store's schema for SQLite, version 1: the REST v1 emulator's logins, fax jobs
-- and reports.
--
-- They live in the outbox's database so that finishing a job (its report) and enqueueing its
-- push commit in one transaction. Times are INTEGER microseconds since the Unix epoch (UTC).
--
-- Databases created before the job store kept its own schema got these tables from the
-- outbox's migration 0002 with the same definitions: IF NOT EXISTS keeps them and their rows.

CREATE TABLE IF NOT EXISTS rest_logins (
    login           TEXT PRIMARY KEY,
    customer_number TEXT NOT NULL,
    password_hash   TEXT NOT NULL,  -- scrypt with a per-login salt; never a password
    created_at      INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS rest_logins_by_customer ON rest_logins (customer_number, login);

-- plan is the simulator's JSON description of the job; report the final FaxJobReport (JSON)
-- once the job is finished. target_* is the job's own httpStatusPush (credentials sealed).
-- purge_at is the requested reportPurgeTs while active, the actual purge time once finished.
CREATE TABLE IF NOT EXISTS fax_jobs (
    seq                INTEGER PRIMARY KEY,
    job_id             TEXT NOT NULL UNIQUE,
    customer_number    TEXT NOT NULL,
    login              TEXT NOT NULL,
    state              TEXT NOT NULL CHECK (state IN ('active', 'finished')),
    plan               TEXT NOT NULL,
    finish_at          INTEGER NOT NULL,
    target_url         TEXT,
    target_auth        TEXT,
    target_principal   TEXT,
    target_credentials BLOB,
    target_token_url   TEXT,
    target_client_auth TEXT,
    dedup_key          TEXT,
    created_at         INTEGER NOT NULL,
    finished_at        INTEGER,
    purge_at           INTEGER,
    report             TEXT,
    CHECK ((state = 'finished') = (report IS NOT NULL AND finished_at IS NOT NULL)),
    CHECK (state = 'active' OR purge_at IS NOT NULL)
);

CREATE INDEX IF NOT EXISTS fax_jobs_due ON fax_jobs (state, finish_at);
CREATE INDEX IF NOT EXISTS fax_jobs_reports
    ON fax_jobs (customer_number, state, finished_at, seq);
CREATE INDEX IF NOT EXISTS fax_jobs_purge ON fax_jobs (purge_at) WHERE state = 'finished';
CREATE INDEX IF NOT EXISTS fax_jobs_dedup ON fax_jobs (dedup_key, created_at)
    WHERE dedup_key IS NOT NULL;
