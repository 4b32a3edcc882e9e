-- The operator API's tables (the same as SQLite's 0005_operator.sql) and the indexes its
-- lists need at a million pushes.
--
-- Per-receiver counters, updated by the finish statement that records the attempts: one row
-- per receiver and 5-minute bucket (attempts, 2xx answers, and a duration histogram whose
-- column h_i counts attempts of at most DURATION_BOUNDS_MS[i] ms, h12 the rest; see
-- faxpush/core/receiver_stats.py), and one health row per receiver. Buckets older than two
-- days are dropped a few hundred at a time.
CREATE TABLE receiver_counts (
    receiver     text NOT NULL,
    bucket_start timestamptz NOT NULL,
    attempts     bigint NOT NULL,
    successes    bigint NOT NULL,
    h00 bigint NOT NULL, h01 bigint NOT NULL, h02 bigint NOT NULL, h03 bigint NOT NULL,
    h04 bigint NOT NULL, h05 bigint NOT NULL, h06 bigint NOT NULL, h07 bigint NOT NULL,
    h08 bigint NOT NULL, h09 bigint NOT NULL, h10 bigint NOT NULL, h11 bigint NOT NULL,
    h12 bigint NOT NULL,
    PRIMARY KEY (receiver, bucket_start)
);

-- The receivers table reads the last day's buckets of every receiver; the sweep finds the
-- oldest.
CREATE INDEX receiver_counts_by_bucket ON receiver_counts (bucket_start);

CREATE TABLE receiver_health (
    receiver             text PRIMARY KEY,
    consecutive_failures bigint NOT NULL,  -- attempts since the last 2xx
    last_error           text,
    last_error_at        timestamptz,
    last_attempt_at      timestamptz
);

-- Operator API tokens: only the SHA-256 of a token is stored. A revoked token keeps its row
-- (and its name).
CREATE TABLE api_tokens (
    name         text PRIMARY KEY,
    scope        text NOT NULL CHECK (scope IN ('read', 'write')),
    token_hash   text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz
);

-- The first answer to a request carrying an Idempotency-Key, until it expires.
CREATE TABLE idempotency_answers (
    key          text PRIMARY KEY,
    request_hash text NOT NULL,
    status       integer NOT NULL,
    body         bytea NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);

CREATE INDEX idempotency_answers_by_expiry ON idempotency_answers (expires_at);

-- Lists of pushes run newest first by (created_at, delivery_id) and continue after a cursor
-- (keyset pagination): each filter has an index in that order, so a page reads as many index
-- entries as it shows (plus those a second filter skips). delivery_id compares bytewise
-- (COLLATE "C"), as in SQLite and in the memory store, whatever the database's collation.
--
-- Every claim and every finish writes a new version of the push's row, and PostgreSQL adds
-- an entry to each of the table's indexes for it (an update that changes an indexed column
-- cannot be HOT). Most of these indexes therefore leave out IN_FLIGHT pushes, so that a claim
-- adds nothing to them; the lists find the pushes in flight (at most the workers' capacity)
-- through pushes_unfinished_by_receiver, pushes_job_newest or the outbox's older indexes.
-- Measured with bench/pg_store.py, the server's CPU per claimed and finished push (52 us
-- before this migration) grows to 77-80 us with every list index complete, 66-75 us with
-- these (counters included).
--
-- The receiver index carries the state: a page of one receiver's pushes in one state skips
-- the others in the index, without reading their rows (a receiver that never failed has
-- no failed pushes to find among its many delivered ones). Jobs are looked up in every
-- state, often while their push is in flight: their index is complete.
CREATE INDEX pushes_newest ON pushes (created_at, delivery_id COLLATE "C")
WHERE state <> 'in_flight';
CREATE INDEX pushes_state_newest ON pushes (state, created_at, delivery_id COLLATE "C")
WHERE state <> 'in_flight';
CREATE INDEX pushes_receiver_newest ON pushes (receiver, created_at, delivery_id COLLATE "C")
INCLUDE (state) WHERE state <> 'in_flight';
CREATE INDEX pushes_job_newest ON pushes (job_id, created_at, delivery_id COLLATE "C");

-- The backlog per receiver (count and oldest) reads only the unfinished pushes; a list of
-- one receiver's pending or in-flight pushes uses it too.
CREATE INDEX pushes_unfinished_by_receiver ON pushes (receiver, created_at, delivery_id COLLATE "C")
WHERE state IN ('pending', 'in_flight');
