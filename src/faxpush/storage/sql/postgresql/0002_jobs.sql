-- faxpush schema for PostgreSQL, version 2: nothing any more.
--
-- This migration used to create the REST v1 emulator's tables (rest_logins, fax_jobs). The
-- job store now creates them with its own migrations (sql/jobs_postgresql/, version table
-- jobs_schema_version), keeping the tables databases already hold. The file stays so that
-- the outbox's version numbers keep their meaning.

SELECT 1;
