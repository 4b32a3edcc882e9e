-- faxpush outbox schema for SQLite, version 1.
--
-- Times are INTEGER microseconds since the Unix epoch (UTC), so comparisons and ORDER BY are
-- exact. Columns holding secrets carry Fernet ciphertext (BLOB), never plaintext.

CREATE TABLE accounts (
    customer_number            TEXT PRIMARY KEY,
    push_format                TEXT NOT NULL CHECK (push_format IN ('xml', 'json', 'template')),
    push_template              TEXT,
    push_template_content_type TEXT,
    push_url                   TEXT,
    push_auth                  TEXT NOT NULL,
    push_principal             TEXT,
    push_credentials           BLOB,
    oauth2_token_url           TEXT,
    oauth2_client_auth         TEXT NOT NULL,
    retry_client_errors        INTEGER NOT NULL CHECK (retry_client_errors IN (0, 1))
);

-- seq is an explicit INTEGER PRIMARY KEY (VACUUM never renumbers it): it breaks ties between
-- pushes created or due in the same microsecond. delivery_id is the push's identity.
CREATE TABLE pushes (
    seq                 INTEGER PRIMARY KEY,
    delivery_id         TEXT NOT NULL UNIQUE,
    job_id              TEXT NOT NULL,
    customer_number     TEXT,
    target_url          TEXT NOT NULL,
    receiver            TEXT NOT NULL,  -- receiver_key(target_url): per-host limits
    target_auth         TEXT NOT NULL,
    target_principal    TEXT,
    target_credentials  BLOB,
    target_token_url    TEXT,
    target_client_auth  TEXT NOT NULL,
    content_type        TEXT NOT NULL,
    retry_client_errors INTEGER NOT NULL CHECK (retry_client_errors IN (0, 1)),
    max_attempts        INTEGER,
    state               TEXT NOT NULL
                        CHECK (state IN ('pending', 'in_flight', 'delivered', 'failed', 'cancelled')),
    attempts            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at     INTEGER NOT NULL,
    claimed_until       INTEGER,
    claim_id            TEXT,
    last_error          TEXT,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    CHECK ((state = 'in_flight') = (claim_id IS NOT NULL AND claimed_until IS NOT NULL))
);

CREATE INDEX pushes_by_state_due ON pushes (state, next_attempt_at);

-- The rendered body lives apart from the push row: claims and results rewrite the small push
-- row, never the body (measured: a 2 KB body in the row doubles the SQL cost of claim and
-- finish). pushes_with_body is what readers of whole pushes use.
CREATE TABLE push_bodies (
    seq  INTEGER PRIMARY KEY REFERENCES pushes (seq) ON DELETE CASCADE,
    body BLOB NOT NULL
);

CREATE VIEW pushes_with_body AS
    SELECT pushes.*, push_bodies.body FROM pushes JOIN push_bodies USING (seq);
CREATE INDEX pushes_by_created ON pushes (created_at);

-- Every attempt is a row, including attempts whose claim had been taken over meanwhile.
CREATE TABLE attempts (
    id               INTEGER PRIMARY KEY,
    delivery_id      TEXT NOT NULL REFERENCES pushes (delivery_id) ON DELETE CASCADE,
    number           INTEGER NOT NULL,
    started_at       INTEGER NOT NULL,
    duration_ms      REAL NOT NULL,
    http_status      INTEGER,
    error_class      TEXT,
    error_message    TEXT,
    response_headers TEXT NOT NULL,  -- JSON object
    response_body    BLOB NOT NULL,  -- at most RESPONSE_BODY_LIMIT bytes
    auth_steps       TEXT NOT NULL   -- JSON array of strings
);

CREATE INDEX attempts_by_push ON attempts (delivery_id, id);

CREATE TABLE oauth_tokens (
    cache_key  TEXT PRIMARY KEY,
    token      BLOB NOT NULL,
    expires_at INTEGER NOT NULL
);
