"""PostgreSQL connections for the store: URLs, pools, and what a driver error means.

Errors split three ways. *Transient* ones (the server restarted, the session was terminated,
the network dropped, a deadlock or serialization failure rolled the transaction back) are
worth retrying after a pause, where the operation is safe to repeat. *Configuration* ones
(wrong password, unknown database) need the operator. Everything else is a StorageError that
names the action and the database.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import parse_qs, urlsplit, urlunsplit

import asyncpg
from asyncpg import exceptions as pgerrors

from faxpush._throttle import Throttle
from faxpush.core.errors import ConfigurationError, FaxpushError, StorageError
from faxpush.core.retry import backoff_delay

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Pool = asyncpg.Pool[asyncpg.Record]
    PooledConnection = PoolConnectionProxy[asyncpg.Record]

logger = logging.getLogger("faxpush.storage.postgres")

APPLICATION_NAME = "faxpush"
SCHEMES = ("postgresql", "postgres", "postgresql+asyncpg")
DRIVER_ERRORS = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    pgerrors.InternalClientError,
    OSError,
    TimeoutError,
)
_CLOSE_TIMEOUT_S = 10.0
POOL_LOGGER = "asyncpg.pool"
POOL_FLOOR_LOG_INTERVAL_S = 60.0  # asyncpg's own pause between reconnects grows to 60 s
_POOL_FLOOR_MESSAGE = "Failed to restore the pool connection floor"
T = TypeVar("T")

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


class PoolFloorLogFilter(logging.Filter):
    """Keeps asyncpg's "Failed to restore the pool connection floor; retrying" warnings to
    one line without traceback per ``interval`` seconds; passes every other record as is.

    While the server is away, each pool logs that warning, with a full traceback, at every
    try to reconnect its idle connection (about ten a worker in 30 s), on top of the
    dispatcher's own one warning per outage. The line that gets through names the error
    and says how many were left out before it.
    """

    def __init__(
        self,
        interval: float = POOL_FLOOR_LOG_INTERVAL_S,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._throttle = Throttle(interval, clock=clock)

    def filter(self, record: logging.LogRecord) -> bool:
        if not (isinstance(record.msg, str) and record.msg.startswith(_POOL_FLOOR_MESSAGE)):
            return True
        left_out = self._throttle.admit()
        if left_out is None:
            return False
        message = record.getMessage()
        error = record.exc_info[1] if record.exc_info else None
        if error is not None:
            message += f" ({type(error).__name__}: {' '.join(str(error).split())})"
        if left_out:
            message += f"; {left_out} more like it since the last one, not shown"
        record.msg, record.args = message, ()
        record.exc_info = record.exc_text = None
        return True


def quiet_pool_floor_warnings() -> None:
    """Install :class:`PoolFloorLogFilter` on asyncpg's pool logger, once per process."""
    pool_logger = logging.getLogger(POOL_LOGGER)
    if not any(isinstance(found, PoolFloorLogFilter) for found in pool_logger.filters):
        pool_logger.addFilter(PoolFloorLogFilter())


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


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` may pass by itself (the server or the connection came back)."""
    if isinstance(exc, asyncpg.InterfaceError):
        return "closed" in str(exc).lower()  # used a connection the server had just dropped
    return isinstance(exc, _TRANSIENT)


def translate(exc: BaseException, *, action: str, where: str) -> FaxpushError:
    """The faxpush error for a driver error met while doing ``action`` on ``where``."""
    detail = " ".join(str(exc).split()) or type(exc).__name__
    prefix = f"cannot {action} on {where}"
    if isinstance(exc, _MISCONFIGURED):
        return ConfigurationError(
            f"{prefix}: {detail}; check the user, password and database name in the "
            "database URL (and that the database exists)"
        )
    if isinstance(exc, pgerrors.UndefinedTableError | pgerrors.UndefinedColumnError):
        return StorageError(
            f"{prefix}: the faxpush schema is missing or out of date ({detail}); "
            "run `faxpush db migrate`"
        )
    if is_transient(exc):
        return StorageError(
            f"{prefix}: PostgreSQL is unreachable or dropped the connection "
            f"({type(exc).__name__}: {detail}); check that the server is running and "
            "reachable; faxpush reconnects by itself once it is"
        )
    return StorageError(f"{prefix}: {type(exc).__name__}: {detail}")


@dataclass(frozen=True, slots=True)
class Reconnect:
    """How long an operation keeps retrying transient errors: capped exponential backoff
    with full jitter, bounded by tries and by total time."""

    budget_s: float = 15.0
    first_delay_s: float = 0.05
    max_delay_s: float = 2.0
    max_tries: int = 40

    def delays(self) -> Iterator[float]:
        """The pauses between tries (one fewer than the tries)."""
        for failures in range(1, self.max_tries):
            yield backoff_delay(failures, first=self.first_delay_s, ceiling=self.max_delay_s)


def closed_error(action: str, where: str) -> StorageError:
    """The error for work asked of a closed store."""
    return StorageError(f"cannot {action}: the store for {where} is closed")


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
        try:
            return await operation()
        except DRIVER_ERRORS as exc:
            delay = next(delays, None) if is_transient(exc) else None
            if delay is None or loop.time() + delay > deadline:
                error = translate(exc, action=action, where=where)
                if tries > 1:
                    error = type(error)(f"{error} (gave up after {tries} tries)")
                raise error from exc
            logger.warning(
                "cannot %s on %s (%s: %s); retrying in %.2f s",
                action,
                where,
                type(exc).__name__,
                exc,
                delay,
            )
            await asyncio.sleep(delay)


class Runner:
    """Runs work on pooled connections, repeating it after transient errors."""

    def __init__(self, pool: Pool, where: str, policy: Reconnect) -> None:
        self._pool: Pool | None = pool
        self._where = where
        self._policy = policy
        quiet_pool_floor_warnings()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._pool is None

    async def run(
        self,
        action: str,
        work: Callable[[PooledConnection, int], Awaitable[T]],
        *,
        retry: bool = True,
    ) -> T:
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

        policy = self._policy if retry else Reconnect(max_tries=1)
        try:
            return await with_retries(once, policy, action=action, where=self._where)
        except StorageError:
            if self._pool is None:  # closed meanwhile: say so rather than blame the server
                raise closed_error(action, self._where) from None
            raise

    async def close(self) -> None:
        """Close the pool, waiting a little for connections in use. Safe to call twice."""
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), _CLOSE_TIMEOUT_S)
            except TimeoutError:
                pool.terminate()
