"""The job store that belongs to an outbox store: same database, same transactions."""

from __future__ import annotations

from faxpush.core.errors import ConfigurationError
from faxpush.storage.base import Store
from faxpush.storage.jobs_base import JobStore
from faxpush.storage.memory import MemoryStore
from faxpush.storage.memory_jobs import MemoryJobStore
from faxpush.storage.sqlite import SqliteStore
from faxpush.storage.sqlite_jobs import SqliteJobStore


def jobs_for(store: Store) -> JobStore:
    """The :class:`JobStore` living in ``store``'s database (its tables are created by
    ``store.migrate()``)."""
    if isinstance(store, SqliteStore):
        return SqliteJobStore(store)
    if isinstance(store, MemoryStore):
        return MemoryJobStore(store)
    raise ConfigurationError(
        f"the REST API emulator cannot keep jobs in a {type(store).__name__}; "
        "use a sqlite:// or memory:// database URL"
    )
