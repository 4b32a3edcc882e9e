"""The one PostgreSQL pool and runner of faxpush's stores, and what a driver error means.

A store opens a :class:`Runner` and hands it its work as small functions of a pooled
connection; the runner repeats the work after a lost connection and turns driver errors
into faxpush's own::

    runner = await Runner.connect(url, max_connections=10)  # postgresql://user:pw@host/db
    await runner.run("migrate the inbox", lambda conn, _: migrate_postgres(conn, SCHEMA, ...))
    statement = QUERIES.bind("get_entry", {"key": key})  # a postgres_queries.PgQueries
    row = await runner.run(f"read push {key}", lambda conn, _: conn.fetchrow(*statement))
    await runner.close()

Work runs again after a transient error, with ``attempt`` counting the tries before: work
that must not happen twice asks the database first whether an earlier try committed. Code
that talks to asyncpg without a runner (a one-off connection) wraps it in :func:`translated`.

Errors split three ways. *Transient* ones (the server restarted, the session was terminated,
the network dropped, a deadlock or serialization failure rolled the transaction back) are
worth retrying after a pause, where the operation is safe to repeat. *Configuration* ones
(wrong password, unknown database) need the operator: :class:`ConfigurationError`. Everything
else is a :class:`StorageError` that names the action and the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar
from urllib.parse import parse_qs, urlsplit, urlunsplit

import asyncpg
from asyncpg import exceptions as pgerrors

from faxpush._db.postgres_log import quiet_pool_floor_warnings
from faxpush.core.errors import ConfigurationError, InputError, StorageError
from faxpush.core.retry import backoff_delay

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Connection = asyncpg.Connection[asyncpg.Record]
    Pool = asyncpg.Pool[asyncpg.Record]
    PooledConnection = PoolConnectionProxy[asyncpg.Record]

# The name the outbox has always logged under: logging configurations keep working.
logger = logging.getLogger("faxpush.storage.postgres")

APPLICATION_NAME = "faxpush"
SCHEMES = ("postgresql", "postgres", "postgresql+asyncpg")
DEFAULT_MAX_CONNECTIONS = 10
DEFAULT_CONNECT_TIMEOUT = timedelta(seconds=10)
DEFAULT_COMMAND_TIMEOUT = timedelta(seconds=60)
DRIVER_ERRORS = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    pgerrors.InternalClientError,
    OSError,
    TimeoutError,
)
_CLOSE_TIMEOUT_S = 10.0
T = TypeVar("T")
# Work a runner is handed: ``work(connection, attempt)``, ``attempt`` counting earlier tries.
Work = Callable[["PooledConnection", int], Awaitable[T]]

_TRANSIENT = (
    pgerrors.PostgresConnectionError,  # class 08: connection lost or refused
    pgerrors.AdminShutdownError,  # pg_terminate_backend, server shutting down
    pgerrors.CrashShutdownError,
    pgerrors.CannotConnectNowError,  # server starting up or in recovery
    pgerrors.TooManyConnectionsError,
    pgerrors.SerializationError,  # the transaction was rolled back: repeating it is exact
    pgerrors.DeadlockDetectedError,
    # A statement sent on a connection whose session the server ended a moment before (the
    # client has not read the goodbye yet) fails with "another operation is in progress".
    pgerrors.InternalClientError,
    OSError,  # refused, reset, unreachable
    TimeoutError,  # connecting or a statement took longer than the configured timeout
)
_MISCONFIGURED = (
    pgerrors.InvalidAuthorizationSpecificationError,  # unknown role, pg_hba refusal
    pgerrors.InvalidPasswordError,
    pgerrors.InvalidCatalogNameError,  # no such database
)
_SCHEMA_MISSING = (pgerrors.UndefinedTableError, pgerrors.UndefinedColumnError)


# --- URLs ----------------------------------------------------------------------------------
def driver_url(url: str) -> str:
    """``url`` with the scheme asyncpg understands (``postgresql+asyncpg://`` is accepted)."""
    scheme, separator, rest = url.partition("://")
    if not separator or scheme.lower() not in SCHEMES:
        raise ConfigurationError(
            f"not a PostgreSQL URL: {redacted(url)}; use postgresql://user:password@host:5432/db"
        )
    return f"postgresql://{rest}"


def redacted(url: str) -> str:
    """``url`` without its password (for messages and logs)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<unparsable database URL>"
    if ":" in host:
        host = f"[{host}]"
    user = f"{parts.username}@" if parts.username else ""
    netloc = f"{user}{host}{f':{port}' if port else ''}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def server_settings(url: str) -> dict[str, str]:
    """Session settings: the application name, unless the URL chooses its own."""
    query = parse_qs(urlsplit(url).query)
    return {} if "application_name" in query else {"application_name": APPLICATION_NAME}


# --- errors --------------------------------------------------------------------------------
def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` may pass by itself (the server or the connection came back)."""
    if isinstance(exc, asyncpg.InterfaceError):
        return "closed" in str(exc).lower()  # used a connection the server had just dropped
    return isinstance(exc, _TRANSIENT)


@contextmanager
def translated(
    action: str, where: str, *, tries: int = 1, reconnects: bool = False
) -> Iterator[None]:
    """Turn driver errors raised in the block into faxpush's errors, naming ``action`` and
    the database ``where`` (httpx's ``map_exceptions``, for asyncpg). ``reconnects``: the
    caller keeps trying after this error (a long-running process), and the message says so."""
    try:
        yield
    except DRIVER_ERRORS as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        prefix = f"cannot {action} on {where}"
        error: ConfigurationError | StorageError
        if isinstance(exc, _MISCONFIGURED):
            error = ConfigurationError(
                f"{prefix}: {detail}; check the user, password and database name in the "
                "database URL (and that the database exists)"
            )
        elif isinstance(exc, _SCHEMA_MISSING):
            error = StorageError(
                f"{prefix}: the faxpush schema is missing or out of date ({detail}); "
                "run `faxpush db migrate`"
            )
        elif is_transient(exc):
            error = StorageError(
                f"{prefix}: PostgreSQL is unreachable or dropped the connection "
                f"({type(exc).__name__}: {detail}); check that the server is running and "
                "reachable" + ("; faxpush reconnects by itself once it is" if reconnects else "")
            )
        else:
            error = StorageError(f"{prefix}: {type(exc).__name__}: {detail}")
        if tries > 1:
            error = type(error)(f"{error} (gave up after {tries} tries)")
        raise error from exc


def closed_error(action: str, where: str) -> StorageError:
    """The error for work asked of a closed store."""
    return StorageError(f"cannot {action}: the store for {where} is closed")


# --- reconnecting --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Reconnect:
    """How long an operation keeps retrying transient errors: capped exponential backoff
    with full jitter, bounded by tries and by total time."""

    budget_s: float = 15.0
    first_delay_s: float = 0.05
    max_delay_s: float = 2.0
    max_tries: int = 40

    @classmethod
    def never(cls) -> Reconnect:
        """One try: a one-off command reports an unreachable server at once rather than
        waiting out the budget (a long-running process keeps the default)."""
        return cls(max_tries=1)

    def delays(self) -> Iterator[float]:
        """The pauses between tries (one fewer than the tries)."""
        for failures in range(1, self.max_tries):
            yield backoff_delay(failures, first=self.first_delay_s, ceiling=self.max_delay_s)


async def with_retries(
    operation: Callable[[], Awaitable[T]], policy: Reconnect, *, action: str, where: str
) -> T:
    """``operation()``, repeated after transient driver errors while ``policy`` allows."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + policy.budget_s
    delays = policy.delays()
    tries = 0
    while True:
        tries += 1
        with translated(action, where, tries=tries, reconnects=policy.max_tries > 1):
            try:
                return await operation()
            except DRIVER_ERRORS as exc:
                delay = next(delays, None) if is_transient(exc) else None
                if delay is None or loop.time() + delay > deadline:
                    raise
                logger.warning(
                    "cannot %s on %s (%s: %s); retrying in %.2f s",
                    action,
                    where,
                    type(exc).__name__,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)


class PoolOptions(TypedDict, total=False):
    """The keywords of a PostgreSQL store's ``open``, passed on to :meth:`Runner.connect`
    (which holds their defaults)."""

    max_connections: int
    connect_timeout: timedelta
    command_timeout: timedelta
    reconnect: Reconnect | None


# --- the pool ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a store's database is and how long its connections wait."""

    dsn: str  # in asyncpg's form, password included: never shown (see ``where``)
    connect_timeout: timedelta = DEFAULT_CONNECT_TIMEOUT
    command_timeout: timedelta = DEFAULT_COMMAND_TIMEOUT

    @classmethod
    def parse(
        cls,
        url: str,
        *,
        connect_timeout: timedelta = DEFAULT_CONNECT_TIMEOUT,
        command_timeout: timedelta = DEFAULT_COMMAND_TIMEOUT,
    ) -> Endpoint:
        """The endpoint ``url`` names (``postgresql://user:pw@host:5432/db``)."""
        return cls(driver_url(url), connect_timeout, command_timeout)

    def __repr__(self) -> str:
        return f"Endpoint({self.where!r})"

    @property
    def where(self) -> str:
        """The database URL without its password."""
        return redacted(self.dsn)

    async def connect(self) -> Connection:
        """One connection of its own, outside any pool (a ``LISTEN`` session)."""
        return await asyncpg.connect(
            self.dsn,
            timeout=self.connect_timeout.total_seconds(),
            command_timeout=self.command_timeout.total_seconds(),
            server_settings=server_settings(self.dsn),
        )

    async def create_pool(self, max_connections: int) -> Pool:
        """A pool keeping one connection open and up to ``max_connections``."""
        return await asyncpg.create_pool(
            self.dsn,
            min_size=1,
            max_size=max_connections,
            timeout=self.connect_timeout.total_seconds(),
            command_timeout=self.command_timeout.total_seconds(),
            server_settings=server_settings(self.dsn),
        )


class Runner:
    """Runs work on pooled connections, repeating it after transient errors."""

    def __init__(self, pool: Pool, endpoint: Endpoint, policy: Reconnect) -> None:
        self._pool: Pool | None = pool
        self.endpoint = endpoint
        self._where = endpoint.where
        self._policy = policy
        quiet_pool_floor_warnings()

    @classmethod
    async def open(
        cls,
        endpoint: Endpoint,
        *,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        reconnect: Reconnect | None = None,
    ) -> Runner:
        """A runner on a new pool; while the server is unreachable, opening is retried as
        work is (``reconnect``)."""
        if max_connections < 1:
            raise InputError(f"max_connections must be at least 1, got {max_connections}")
        policy = reconnect or Reconnect()

        async def create() -> Pool:
            return await endpoint.create_pool(max_connections)

        pool = await with_retries(create, policy, action="connect", where=endpoint.where)
        return cls(pool, endpoint, policy)

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        connect_timeout: timedelta = DEFAULT_CONNECT_TIMEOUT,
        command_timeout: timedelta = DEFAULT_COMMAND_TIMEOUT,
        reconnect: Reconnect | None = None,
    ) -> Runner:
        """A runner on a pool of the database ``url`` names
        (``postgresql://user:pw@host:5432/db``); while the server is unreachable, connecting
        is retried as work is (``reconnect``)."""
        endpoint = Endpoint.parse(
            url, connect_timeout=connect_timeout, command_timeout=command_timeout
        )
        return await cls.open(endpoint, max_connections=max_connections, reconnect=reconnect)

    @property
    def where(self) -> str:
        """The database URL without its password."""
        return self._where

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._pool is None

    async def run(self, action: str, work: Work[T], *, retry: bool = True) -> T:
        """``work(connection, attempt)`` on a pooled connection; after a transient error
        (and when ``retry``) again after a pause, ``attempt`` counting the tries before.
        Work that is not idempotent uses ``attempt`` to learn what an earlier try did."""
        attempt = 0

        async def once() -> T:
            nonlocal attempt
            if self._pool is None:
                raise closed_error(action, self._where)
            try:
                async with self._pool.acquire() as conn:
                    return await work(conn, attempt)
            finally:
                attempt += 1

        policy = self._policy if retry else Reconnect.never()
        try:
            return await with_retries(once, policy, action=action, where=self._where)
        except StorageError:
            if self._pool is None:  # closed meanwhile: say so rather than blame the server
                raise closed_error(action, self._where) from None
            raise

    async def fetch(
        self, action: str, statement: list[Any], *, retry: bool = True
    ) -> list[asyncpg.Record]:
        """The rows of ``statement`` (a query followed by its arguments, as
        ``PgQueries.bind`` gives it), run as :meth:`run` runs work."""
        return await self.run(action, lambda conn, _: conn.fetch(*statement), retry=retry)

    async def close(self) -> None:
        """Close the pool, waiting a little for connections in use. Safe to call twice."""
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), _CLOSE_TIMEOUT_S)
            except TimeoutError:
                pool.terminate()
