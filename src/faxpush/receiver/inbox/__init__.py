"""The receiver's idempotent inbox: protocol, in-memory, SQLite and PostgreSQL backends, and
opening one from a URL (``sqlite:///inbox.db``, ``sqlite:////abs/inbox.db``,
``postgresql://user:pw@host:5432/db`` or ``memory://``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from faxpush.core.errors import ConfigurationError
from faxpush.core.settings import POSTGRES_SCHEMES
from faxpush.receiver.inbox.base import (
    DELIVERY_ID_HEADER,
    Accepted,
    ClaimedTask,
    HandlerTask,
    InboxEntry,
    InboxStore,
    IncomingPush,
    TaskState,
    inbox_key,
    valid_delivery_id,
)
from faxpush.receiver.inbox.memory import MemoryInbox
from faxpush.receiver.inbox.sqlite import SqliteInbox

if TYPE_CHECKING:
    from faxpush.receiver.inbox.postgres import PgInbox


def __getattr__(name: str) -> Any:
    # PgInbox needs asyncpg (faxpush[postgres]): a receiver on SQLite or memory never loads it.
    if name == "PgInbox":
        from faxpush.receiver.inbox.postgres import PgInbox

        return PgInbox
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


async def open_inbox(url: str, *, synchronous: str = "FULL") -> InboxStore:
    """Open and migrate the inbox ``url`` names (``synchronous`` applies to SQLite only)."""
    scheme, separator, rest = url.partition("://")
    inbox: InboxStore
    if separator and scheme.lower() == "memory":
        inbox = MemoryInbox()
    elif separator and scheme.lower() == "sqlite" and rest.startswith("/") and len(rest) > 1:
        location = unquote(rest[1:])
        if "?" in location:
            raise ConfigurationError("SQLite inbox URLs take no options; remove the ?…")
        inbox = await SqliteInbox.open(Path(location), synchronous=synchronous)
    elif separator and scheme.lower() in POSTGRES_SCHEMES:
        from faxpush.receiver.inbox.postgres import PgInbox

        inbox = await PgInbox.open(url)
    else:
        raise ConfigurationError(
            f"unsupported inbox URL scheme {scheme!r}; use sqlite:///relative.db, "
            "sqlite:////absolute/path.db, postgresql://user:password@host:5432/db or memory://"
        )
    try:
        await inbox.migrate()
    except BaseException:
        await inbox.close()
        raise
    return inbox


__all__ = [
    "DELIVERY_ID_HEADER",
    "Accepted",
    "ClaimedTask",
    "HandlerTask",
    "InboxEntry",
    "InboxStore",
    "IncomingPush",
    "MemoryInbox",
    "PgInbox",
    "SqliteInbox",
    "TaskState",
    "inbox_key",
    "open_inbox",
    "valid_delivery_id",
]
