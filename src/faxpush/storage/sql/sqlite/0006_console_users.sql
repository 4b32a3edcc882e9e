-- The web console's users: a name and a scrypt hash of the password (made by
-- faxpush.core.passwords), never the password itself.
CREATE TABLE console_users (
    name          TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
