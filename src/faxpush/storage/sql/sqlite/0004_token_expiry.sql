-- Putting a token drops the cached tokens that have expired (a new client secret or a key
-- rotation leaves the old ones behind for good); this index finds them without a scan.

CREATE INDEX oauth_tokens_expires_at ON oauth_tokens (expires_at);
