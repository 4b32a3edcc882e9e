"""The SQLite store's console users (``console_users``, migration 0006): reads on the store's
thread, writes as ``@sqlite_work`` functions (``_sqlite_operator_work``) through the writer,
in the store process when there is one."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from faxpush.storage import _sqlite_operator_work as operator_work
from faxpush.storage._common import from_micros, to_micros
from faxpush.storage._operator_common import check_console_user, duplicate_console_user
from faxpush.storage._sqlite_operator_sql import operator_sql
from faxpush.storage.operator import ConsoleUser

if TYPE_CHECKING:
    from datetime import datetime

    from faxpush._db.sqlite import Work

T = TypeVar("T")


def _user(row: sqlite3.Row) -> ConsoleUser:
    return ConsoleUser(
        name=row["name"],
        password_hash=row["password_hash"],
        created_at=from_micros(row["created_at"]),
    )


class SqliteConsoleUsers:
    """The console users of :class:`~faxpush.storage.sqlite.SqliteStore`."""

    if TYPE_CHECKING:  # provided by SqliteStore

        async def _hot(self, action: str, work: Callable[..., T], *args: Any) -> T: ...

        async def connection(self, action: str, work: Work[T]) -> T: ...

    async def create_console_user(
        self, name: str, password_hash: str, *, now: datetime
    ) -> ConsoleUser:
        """Store a new console user; a name in use, or a password not hashed, is an
        InputError."""
        check_console_user(name, password_hash)
        params = {"name": name, "password_hash": password_hash, "now": to_micros(now, name="now")}
        created = await self._hot(
            f"create console user {name}", operator_work.create_console_user, params
        )
        if not created:
            raise duplicate_console_user(name)
        return ConsoleUser(name, password_hash, from_micros(params["now"]))

    async def console_user(self, name: str) -> ConsoleUser | None:
        """The console user named ``name``, or None."""
        found = await self.connection(
            "look up a console user",
            lambda conn: conn.execute(operator_sql("console_user"), {"name": name}).fetchone(),
        )
        return None if found is None else _user(found)

    async def list_console_users(self) -> list[ConsoleUser]:
        """Every console user, by name."""
        found = await self.connection(
            "list console users",
            lambda conn: conn.execute(operator_sql("list_console_users")).fetchall(),
        )
        return [_user(row) for row in found]

    async def delete_console_user(self, name: str) -> bool:
        """Delete a console user; False when there is none of this name."""
        return await self._hot(
            f"delete console user {name}", operator_work.delete_console_user, {"name": name}
        )
