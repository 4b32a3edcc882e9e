-- faxpush receiver inbox schema for SQLite, version 1.
--
-- Times are INTEGER microseconds since the Unix epoch (UTC). The tables carry an inbox_
-- prefix so the inbox can share a database file with the dispatcher's outbox.

-- One row per push, under its unique key (delivery id, or a digest of the report's statuses).
CREATE TABLE inbox_entries (
    seq              INTEGER PRIMARY KEY,
    key              TEXT NOT NULL UNIQUE,
    job_id           TEXT NOT NULL,
    delivery_id      TEXT,
    content_type     TEXT NOT NULL,
    body             BLOB NOT NULL,
    report           TEXT,  -- the parsed report as the model's JSON; NULL: parse the body
    auth_method      TEXT NOT NULL,
    principal        TEXT,
    received_at      INTEGER NOT NULL,
    last_received_at INTEGER NOT NULL,
    times_received   INTEGER NOT NULL CHECK (times_received >= 1)
);

-- No index beyond the key: every push is an insert on the hot path, while purging by
-- received_at is a rare maintenance scan.

-- One row per (push, handler): created with the push, in the same transaction.
CREATE TABLE inbox_tasks (
    entry_key       TEXT NOT NULL REFERENCES inbox_entries (key) ON DELETE CASCADE,
    handler         TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claim_id        TEXT,
    claimed_until   INTEGER,
    last_error      TEXT,
    done_at         INTEGER,
    PRIMARY KEY (entry_key, handler)
);

CREATE INDEX inbox_tasks_due ON inbox_tasks (state, next_attempt_at);
