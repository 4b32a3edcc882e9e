"""The private database layer shared by faxpush's three stores: the outbox (``storage``), the
emulator's job store (``storage.*_jobs``) and the receiver inbox (``receiver.inbox``).

* :mod:`.queries` loads a store's ``.sql`` query files: named blocks, each with a one-line
  description;
* :mod:`.migrations` loads a store's numbered migrations and applies them, one migrator per
  dialect, each store keeping its own schema-version table;
* :mod:`.sqlite` owns every SQLite connection: one thread per connection, one transaction
  per call, one translation of driver errors;
* :mod:`.postgres` opens every PostgreSQL pool and runs work on it, repeating it after a lost
  connection, with one translation of driver errors; :mod:`.postgres_queries` turns named
  queries into asyncpg's form, :mod:`.postgres_listen` keeps a ``LISTEN`` session up;
* :mod:`.group_commit` stores writes that arrive together in one transaction (the emulator's
  job writer, the SQLite inbox).

Each store keeps its own schema, migrations and queries in its own package; this layer holds
only what every store does the same way.
"""
