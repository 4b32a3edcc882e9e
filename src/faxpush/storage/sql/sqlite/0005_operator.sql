-- The operator API's tables and the indexes its lists need (faxpush admin).
--
-- receiver_counts: attempts per receiver origin and 5-minute bucket, with a histogram of
-- their durations (h_i counts durations <= the i-th bound of core.receiver_stats, h12 the
-- rest). Updated in the transaction that records the attempts, so that the receivers table
-- never scans the attempts; buckets older than two days are dropped now and then.
CREATE TABLE receiver_counts (
    receiver     TEXT NOT NULL,
    bucket_start INTEGER NOT NULL,
    attempts     INTEGER NOT NULL,
    successes    INTEGER NOT NULL,
    h00 INTEGER NOT NULL, h01 INTEGER NOT NULL, h02 INTEGER NOT NULL, h03 INTEGER NOT NULL,
    h04 INTEGER NOT NULL, h05 INTEGER NOT NULL, h06 INTEGER NOT NULL, h07 INTEGER NOT NULL,
    h08 INTEGER NOT NULL, h09 INTEGER NOT NULL, h10 INTEGER NOT NULL, h11 INTEGER NOT NULL,
    h12 INTEGER NOT NULL,
    PRIMARY KEY (receiver, bucket_start)
) WITHOUT ROWID;

CREATE INDEX receiver_counts_by_bucket ON receiver_counts (bucket_start);

-- The run of failures since a receiver's last 2xx, and its last error and attempt.
CREATE TABLE receiver_health (
    receiver             TEXT PRIMARY KEY,
    consecutive_failures INTEGER NOT NULL,
    last_error           TEXT,
    last_error_at        INTEGER,
    last_attempt_at      INTEGER
);

-- Operator API tokens: only the SHA-256 hash of a token is kept.
CREATE TABLE api_tokens (
    name         TEXT PRIMARY KEY,
    scope        TEXT NOT NULL CHECK (scope IN ('read', 'write')),
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);

-- The first answer to a request with an Idempotency-Key, until expires_at.
CREATE TABLE idempotency_answers (
    key          TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL,
    body         BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);

CREATE INDEX idempotency_answers_by_expiry ON idempotency_answers (expires_at);

-- find_pushes walks one of these newest first, by (created_at, delivery_id), from its
-- filter's equality: none, state, job or receiver. created_at, job_id and receiver never
-- change, so SQLite writes those three only when a push is inserted; the state one is
-- written when the state changes.
CREATE INDEX pushes_newest ON pushes (created_at, delivery_id);
CREATE INDEX pushes_by_state_newest ON pushes (state, created_at, delivery_id);
CREATE INDEX pushes_by_job_newest ON pushes (job_id, created_at, delivery_id);
CREATE INDEX pushes_by_receiver_newest ON pushes (receiver, created_at, delivery_id);
-- The backlog per receiver (count and oldest) reads only the pushes not finished yet; so does
-- a list of one receiver's pending or in-flight pushes.
CREATE INDEX pushes_unfinished_by_receiver ON pushes (receiver, created_at, delivery_id)
    WHERE state IN ('pending', 'in_flight');
