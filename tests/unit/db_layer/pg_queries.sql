-- Queries of the PostgreSQL compiler's tests.

-- name: by_owner
-- The notes of one owner since a time, newest first.
SELECT id, body::text FROM notes -- :ignored is named in a comment only
WHERE owner = :owner AND (created_at >= :since OR :since IS NULL)
ORDER BY created_at DESC;
