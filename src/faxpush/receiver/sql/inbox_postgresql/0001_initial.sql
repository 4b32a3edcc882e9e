-- faxpush receiver inbox schema for PostgreSQL, version 1.
--
-- Times are timestamptz (microsecond precision). The tables carry an inbox_ prefix so the
-- inbox can share a database with the dispatcher's outbox.

-- One row per push, under its unique key (delivery id, or a digest of the report's statuses).
-- The unique key is what makes a duplicate from any receiver process count instead of insert.
CREATE TABLE inbox_entries (
    seq              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key              text NOT NULL UNIQUE,
    job_id           text NOT NULL,
    delivery_id      text,
    content_type     text NOT NULL,
    body             bytea NOT NULL,
    report           text,  -- the parsed report as the model's JSON; NULL: parse the body
    auth_method      text NOT NULL,
    principal        text,
    received_at      timestamptz NOT NULL,
    last_received_at timestamptz NOT NULL,
    times_received   integer NOT NULL CHECK (times_received >= 1),
    accept_id        uuid NOT NULL  -- the latest accept: tells a retry whether it committed
);

-- One row per (push, handler): created with the push, in the same statement.
CREATE TABLE inbox_tasks (
    entry_key         text NOT NULL REFERENCES inbox_entries (key) ON DELETE CASCADE,
    handler           text NOT NULL,
    state             text NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed')),
    attempts          integer NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz NOT NULL,
    claim_id          text,
    claimed_until     timestamptz,
    last_error        text,
    done_at           timestamptz,
    finished_claim_id text,  -- the claim that last finished the task: tells a retry it did
    PRIMARY KEY (entry_key, handler)
);

CREATE INDEX inbox_tasks_due ON inbox_tasks (state, next_attempt_at);
CREATE INDEX inbox_tasks_claim ON inbox_tasks (claim_id) WHERE claim_id IS NOT NULL;
