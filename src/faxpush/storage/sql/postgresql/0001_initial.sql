-- faxpush outbox schema for PostgreSQL, version 1.
--
-- Times are timestamptz (microsecond precision). Columns holding secrets carry Fernet
-- ciphertext (bytea), never plaintext.

CREATE TABLE accounts (
    customer_number            text PRIMARY KEY,
    push_format                text NOT NULL CHECK (push_format IN ('xml', 'json', 'template')),
    push_template              text,
    push_template_content_type text,
    push_url                   text,
    push_auth                  text NOT NULL,
    push_principal             text,
    push_credentials           bytea,
    oauth2_token_url           text,
    oauth2_client_auth         text NOT NULL,
    retry_client_errors        boolean NOT NULL
);

-- seq breaks ties between pushes created or due in the same microsecond; delivery_id is the
-- push's identity.
CREATE TABLE pushes (
    seq                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id         text NOT NULL UNIQUE,
    job_id              text NOT NULL,
    customer_number     text,
    target_url          text NOT NULL,
    receiver            text NOT NULL,  -- receiver_key(target_url): per-host limits
    target_auth         text NOT NULL,
    target_principal    text,
    target_credentials  bytea,
    target_token_url    text,
    target_client_auth  text NOT NULL,
    content_type        text NOT NULL,
    body                bytea NOT NULL,
    retry_client_errors boolean NOT NULL,
    max_attempts        integer,
    state               text NOT NULL
                        CHECK (state IN ('pending', 'in_flight', 'delivered', 'failed', 'cancelled')),
    attempts            integer NOT NULL DEFAULT 0,
    next_attempt_at     timestamptz NOT NULL,
    claimed_until       timestamptz,
    claim_id            text,
    last_error          text,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    CHECK ((state = 'in_flight') = (claim_id IS NOT NULL AND claimed_until IS NOT NULL))
);

-- Partial indexes keep the claim queries' scans to the pushes they can take; delivered and
-- failed pushes, the bulk of a long-lived table, are in neither.
CREATE INDEX pushes_pending_by_due ON pushes (next_attempt_at, seq) WHERE state = 'pending';
CREATE INDEX pushes_in_flight_by_lease ON pushes (claimed_until) WHERE state = 'in_flight';
CREATE INDEX pushes_by_created ON pushes (created_at, seq);
CREATE INDEX pushes_failed_by_updated ON pushes (updated_at) WHERE state = 'failed';

-- Every attempt is a row, including attempts whose claim had been taken over meanwhile.
-- finish_batch names the finish() call that recorded the row and verdict_applied whether its
-- verdict took effect: after a connection loss the store looks them up to learn whether that
-- call committed, instead of recording it twice. Both are NULL for rows copied from SQLite.
CREATE TABLE attempts (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    finish_batch     uuid,
    verdict_applied  boolean,
    delivery_id      text NOT NULL REFERENCES pushes (delivery_id) ON DELETE CASCADE,
    number           integer NOT NULL,
    started_at       timestamptz NOT NULL,
    duration_ms      double precision NOT NULL,
    http_status      integer,
    error_class      text,
    error_message    text,
    response_headers json NOT NULL,   -- object; json (not jsonb) keeps the header order
    response_body    bytea NOT NULL,  -- at most RESPONSE_BODY_LIMIT bytes
    auth_steps       json NOT NULL    -- array of strings
);

CREATE INDEX attempts_by_push ON attempts (delivery_id, id);

CREATE TABLE oauth_tokens (
    cache_key  text PRIMARY KEY,
    token      bytea NOT NULL,
    expires_at timestamptz NOT NULL
);

-- Wake idle workers when a push becomes due now-ish: inserted, or put back to pending.
-- Notifications are hints only; workers also poll. PostgreSQL folds identical
-- notifications of one transaction into one.
CREATE FUNCTION faxpush_notify_pushes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('faxpush_pushes', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER pushes_notify_insert
AFTER INSERT ON pushes
FOR EACH ROW EXECUTE FUNCTION faxpush_notify_pushes();

CREATE TRIGGER pushes_notify_pending
AFTER UPDATE OF state ON pushes
FOR EACH ROW WHEN (NEW.state = 'pending' AND OLD.state <> 'pending')
EXECUTE FUNCTION faxpush_notify_pushes();
