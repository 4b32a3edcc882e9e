"""The job store that belongs to an outbox store: same database, same transactions."""

from __future__ import annotations

from faxpush.core.errors import ConfigurationError
from faxpush.storage.base import Store
from faxpush.storage.jobs_base import JobStore
from faxpush.storage.memory import MemoryStore
from faxpush.storage.memory_jobs import MemoryJobStore
from faxpush.storage.sqlite import SqliteStore
from faxpush.storage.sqlite_jobs import SqliteJobStore


async def open_jobs(store: Store) -> JobStore:
    """The :class:`JobStore` living in ``store``'s database, its tables created or upgraded
    (``store`` itself must be migrated already)."""
    jobs = jobs_for(store)
    await jobs.migrate()
    return jobs


def jobs_for(store: Store) -> JobStore:
    """The :class:`JobStore` living in ``store``'s database, as it is: for a database whose
    job tables are current (see :func:`open_jobs`)."""
    if isinstance(store, SqliteStore):
        return SqliteJobStore(store)
    if isinstance(store, MemoryStore):
        return MemoryJobStore(store)
    postgres = _postgres_jobs(store)
    if postgres is not None:
        return postgres
    raise ConfigurationError(
        f"the REST API emulator cannot keep jobs in a {type(store).__name__}; "
        "use a sqlite://, postgresql:// or memory:// database URL"
    )


def _postgres_jobs(store: Store) -> JobStore | None:
    """The PostgreSQL job store of ``store``, if it is a PostgreSQL store. Imported here:
    the PostgreSQL driver is an optional dependency, and without it no store is one."""
    try:
        from faxpush.storage.postgres import PostgresStore
        from faxpush.storage.postgres_jobs import PostgresJobStore
    except ImportError:
        return None
    return PostgresJobStore(store) if isinstance(store, PostgresStore) else None
