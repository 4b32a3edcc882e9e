"""The PostgreSQL store's console users (``console_users``, migration 0006)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from faxpush.storage._common import to_micros
from faxpush.storage._operator_common import check_console_user, duplicate_console_user
from faxpush.storage._pg_operator_rows import console_user_from_row, operator_sql

if TYPE_CHECKING:
    from datetime import datetime

    from faxpush._db.postgres import Runner
    from faxpush.storage.operator import ConsoleUser


class PostgresConsoleUsers:
    """The console users of :class:`~faxpush.storage.postgres.PostgresStore`."""

    if TYPE_CHECKING:  # provided by PostgresStore
        _runner: Runner

    async def create_console_user(
        self, name: str, password_hash: str, *, now: datetime
    ) -> ConsoleUser:
        """Store a new console user; a name in use, or a password not hashed, is an
        InputError. Not repeated after a lost connection: a retry would find its own row."""
        check_console_user(name, password_hash)
        to_micros(now, name="now")
        params = {"name": name, "password_hash": password_hash, "now": now}
        statement = operator_sql("create_console_user", params)
        row = await self._runner.run(
            f"create console user {name}", lambda c, _: c.fetchrow(*statement), retry=False
        )
        if row is None:
            raise duplicate_console_user(name)
        return console_user_from_row(row)

    async def console_user(self, name: str) -> ConsoleUser | None:
        """The console user named ``name``, or None."""
        statement = operator_sql("console_user", {"name": name})
        row = await self._runner.run("look up a console user", lambda c, _: c.fetchrow(*statement))
        return None if row is None else console_user_from_row(row)

    async def list_console_users(self) -> list[ConsoleUser]:
        """Every console user, by name."""
        statement = operator_sql("list_console_users")
        found = await self._runner.fetch("list console users", statement)
        return [console_user_from_row(row) for row in found]

    async def delete_console_user(self, name: str) -> bool:
        """Delete a console user; False when there is none of this name."""
        statement = operator_sql("delete_console_user", {"name": name})
        found = await self._runner.run(
            f"delete console user {name}", lambda c, _: c.fetchval(*statement)
        )
        return found is not None
