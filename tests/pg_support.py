"""PostgreSQL for tests: which server, whether it answers, and a fresh database per test.

``FAXPUSH_TEST_PG_DSN`` names a server and a role that may create databases (default
``postgresql://postgres@127.0.0.1:5432/postgres``). Without a reachable server, tests that
call :func:`require_postgres` are skipped with the reason - unless ``CI=true``, where they
fail: CI must not pass by skipping them.

A schema is built once into a template database (:func:`template_database`, keyed by a hash
of what it contains, shared between test processes); each test then gets its own copy
(``CREATE DATABASE … TEMPLATE …``, :func:`fresh_database`), dropped afterwards.

Typical fixture::

    @pytest.fixture
    async def pg_url() -> AsyncIterator[str]:
        require_postgres()
        template = await outbox_template()
        async with fresh_database(template) as url:
            yield url
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import cache
from importlib import resources
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.postgres import PostgresStore

PG_DSN_ENV = "FAXPUSH_TEST_PG_DSN"
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE_PREFIX = "faxpush_test_"
TEMPLATE_PREFIX = "faxpush_tpl_"
CONNECT_TIMEOUT_S = 5.0
_templates: dict[str, str] = {}


def admin_dsn() -> str:
    """The server and role the tests use (``FAXPUSH_TEST_PG_DSN``)."""
    return os.environ.get(PG_DSN_ENV, "").strip() or DEFAULT_DSN


def database_url(name: str) -> str:
    """The admin DSN pointed at database ``name``."""
    parts = urlsplit(admin_dsn())
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def database_name(url: str) -> str:
    """The database a URL names."""
    return urlsplit(url).path.lstrip("/")


def require_postgres() -> str:
    """The admin DSN when the server answers; otherwise skip the test (fail it when CI=true)."""
    problem = _unreachable_reason()
    if problem is not None:
        message = (
            f"PostgreSQL is not reachable at {_shown(admin_dsn())} ({problem}); set {PG_DSN_ENV}"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message} - CI=true requires PostgreSQL", pytrace=False)
        pytest.skip(message)
    return admin_dsn()


@contextlib.asynccontextmanager
async def admin_connection(url: str | None = None) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection to ``url`` (default: the admin DSN), closed afterwards."""
    conn = await asyncpg.connect(url or admin_dsn(), timeout=CONNECT_TIMEOUT_S)
    try:
        yield conn
    finally:
        await conn.close(timeout=CONNECT_TIMEOUT_S)


async def template_database(key: str, build: Callable[[str], Awaitable[None]]) -> str:
    """The name of a template database that ``build(url)`` filled, built once per ``key``.

    ``key`` should change whenever what ``build`` creates changes (hash the schema files).
    Concurrent test processes build it once: the others wait on an advisory lock."""
    name = f"{TEMPLATE_PREFIX}{key}"[:63]
    if name in _templates:
        return name
    async with admin_connection() as admin:
        await admin.execute("SELECT pg_advisory_lock(hashtext($1))", name)
        try:
            if not await _exists(admin, name):
                building = f"{name[:50]}_b{secrets.token_hex(4)}"
                await admin.execute(f'CREATE DATABASE "{building}"')
                try:
                    await build(database_url(building))
                    await admin.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
                except BaseException:
                    await admin.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
                    raise
        finally:
            await admin.execute("SELECT pg_advisory_unlock(hashtext($1))", name)
    _templates[name] = name
    return name


async def create_database(template: str | None = None) -> str:
    """A new, uniquely named database (a copy of ``template`` if given); returns its URL."""
    name = f"{DATABASE_PREFIX}{os.getpid()}_{secrets.token_hex(5)}"
    source = f' TEMPLATE "{template}"' if template else ""
    async with admin_connection() as admin:
        await admin.execute(f'CREATE DATABASE "{name}"{source}')
    return database_url(name)


async def drop_database(url: str) -> None:
    """Drop the database ``url`` names, ending any session still connected to it."""
    async with admin_connection() as admin:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database_name(url)}" WITH (FORCE)')


@contextlib.asynccontextmanager
async def fresh_database(template: str | None = None) -> AsyncIterator[str]:
    """A database of its own for one test, dropped when the block ends."""
    url = await create_database(template)
    try:
        yield url
    finally:
        await drop_database(url)


async def terminate_sessions(url: str) -> int:
    """End every session connected to the database ``url`` names (as a server restart or
    an operator's ``pg_terminate_backend`` would); return how many were ended."""
    async with admin_connection() as admin:
        ended: int = await admin.fetchval(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()) AS ended",
            database_name(url),
        )
    return ended


def schema_key() -> str:
    """A short hash of faxpush's PostgreSQL schema files: changes when a migration does."""
    digest = hashlib.sha256()
    folder = resources.files("faxpush.storage").joinpath("sql", "postgresql")
    for entry in sorted(folder.iterdir(), key=lambda entry: entry.name):
        if entry.name.endswith(".sql") and entry.name[:4].isdigit():
            digest.update(entry.name.encode() + b"\0" + entry.read_bytes())
    return digest.hexdigest()[:16]


async def outbox_template() -> str:
    """The template database holding faxpush's migrated PostgreSQL schema."""

    async def build(url: str) -> None:
        store = await PostgresStore.open(url, SecretCipher([generate_key()]))
        try:
            await store.migrate()
        finally:
            await store.close()

    return await template_database(schema_key(), build)


def _shown(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


async def _exists(admin: asyncpg.Connection, name: str) -> bool:
    found = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
    return found is not None


@cache
def _unreachable_reason() -> str | None:
    """Why the server cannot be used (None when it can); stale test databases of dead
    processes are dropped on the way. Asked once per test process."""

    async def probe() -> None:
        async with admin_connection() as admin:
            await admin.fetchval("SELECT 1")
            await _drop_stale(admin)

    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:  # works inside a running loop
            pool.submit(asyncio.run, probe()).result(timeout=CONNECT_TIMEOUT_S * 3)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


async def _drop_stale(admin: asyncpg.Connection) -> None:
    """Drop test databases left behind by test processes that no longer run."""
    names = await admin.fetch(
        "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", DATABASE_PREFIX
    )
    for (name,) in names:
        pid = name.removeprefix(DATABASE_PREFIX).partition("_")[0]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(asyncpg.PostgresError):
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
