-- The web console's users (the same as SQLite's 0006_console_users.sql): a name and a
-- scrypt hash of the password (made by faxpush.core.passwords), never the password itself.
CREATE TABLE console_users (
    name          text PRIMARY KEY,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL
);
