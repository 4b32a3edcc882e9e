"""The PostgreSQL layer without a server: the query compiler, URLs, the one driver-error
translation and the retry loop (the pool and runner on a real server are tested in
``tests/postgres``)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import pytest
from asyncpg import exceptions as pgerrors

from faxpush._db.postgres import (
    Endpoint,
    Reconnect,
    Runner,
    driver_url,
    redacted,
    translated,
    with_retries,
)
from faxpush._db.postgres_queries import PgQueries, compile_query
from faxpush._db.queries import Query
from faxpush.core.errors import ConfigurationError, InputError, StorageError

QUERIES = PgQueries("tests.unit", "db_layer/pg_queries.sql")
FAST = Reconnect(budget_s=5.0, first_delay_s=0.001, max_delay_s=0.002, max_tries=4)


def test_placeholders_become_numbered_in_order_of_first_use() -> None:
    query = QUERIES["by_owner"]
    assert query.names == ("owner", "since")
    assert "$1" in query.text
    assert query.text.count("$2") == 2
    assert "body::text" in query.text  # a cast is not a parameter
    assert "ignored" not in query.text  # nor is a name in a comment
    assert query.bind({"owner": "o", "since": None, "extra": 1}) == [query.text, "o", None]


def test_a_missing_parameter_or_query_is_a_bug_said_plainly() -> None:
    with pytest.raises(StorageError, match=r"needs parameters \['since'\]"):
        QUERIES.bind("by_owner", {"owner": "o"})
    with pytest.raises(StorageError, match=r"no query named 'nothing' in tests\.unit"):
        QUERIES["nothing"]


def test_compiling_is_the_same_for_one_statement() -> None:
    query = compile_query(Query("one", "Three values, two of them the same.", "SELECT :a, :b, :a"))
    assert (query.text, query.names) == ("SELECT $1, $2, $1", ("a", "b"))


def test_urls_keep_their_password_out_of_messages() -> None:
    url = "postgresql+asyncpg://app:s3cret@[::1]:5433/faxpush?sslmode=require"
    assert driver_url(url) == "postgresql://app:s3cret@[::1]:5433/faxpush?sslmode=require"
    assert redacted(url) == "postgresql+asyncpg://app@[::1]:5433/faxpush"
    with pytest.raises(ConfigurationError, match="not a PostgreSQL URL") as caught:
        driver_url("mysql://app:s3cret@host/db")
    assert "s3cret" not in str(caught.value)
    endpoint = Endpoint.parse(url, connect_timeout=timedelta(seconds=3))
    assert "s3cret" not in repr(endpoint)
    assert endpoint.where == "postgresql://app@[::1]:5433/faxpush"


@pytest.mark.parametrize(
    ("error", "kind", "message"),
    [
        (pgerrors.InvalidPasswordError("no"), ConfigurationError, "check the user, password"),
        (pgerrors.InvalidCatalogNameError("no db"), ConfigurationError, "database exists"),
        (pgerrors.UndefinedTableError("no pushes"), StorageError, "run `faxpush db migrate`"),
        (pgerrors.AdminShutdownError("bye"), StorageError, "PostgreSQL is unreachable"),
        (ConnectionRefusedError("refused"), StorageError, "PostgreSQL is unreachable"),
        (asyncpg.InterfaceError("connection is closed"), StorageError, "unreachable"),
        (asyncpg.InterfaceError("wrong use"), StorageError, "InterfaceError: wrong use"),
        (
            pgerrors.UniqueViolationError("dup\n  key"),
            StorageError,
            "UniqueViolationError: dup key",
        ),
    ],
)
def test_driver_errors_become_faxpush_errors_naming_action_and_database(
    error: Exception, kind: type[Exception], message: str
) -> None:
    with (
        pytest.raises(kind, match="cannot read push k on db: ") as caught,
        translated("read push k", "db"),
    ):
        raise error
    assert type(caught.value) is kind
    assert message in str(caught.value)
    assert caught.value.__cause__ is error


def test_other_errors_pass_untranslated() -> None:
    with pytest.raises(InputError), translated("read", "db"):
        raise InputError("bad")


async def test_transient_errors_are_retried_and_the_last_one_says_how_often() -> None:
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise pgerrors.ConnectionDoesNotExistError("lost")
        return "done"

    assert await with_retries(flaky, FAST, action="read", where="db") == "done"

    async def down() -> None:
        raise OSError("unreachable network")

    with pytest.raises(StorageError, match=r"unreachable.*\(gave up after 4 tries\)"):
        await with_retries(down, FAST, action="read", where="db")


async def test_other_errors_are_not_retried() -> None:
    calls = 0

    async def broken() -> None:
        nonlocal calls
        calls += 1
        raise pgerrors.UniqueViolationError("dup")

    with pytest.raises(StorageError, match="UniqueViolationError") as caught:
        await with_retries(broken, FAST, action="write", where="db")
    assert calls == 1
    assert "gave up" not in str(caught.value)


async def test_a_pool_needs_a_connection() -> None:
    with pytest.raises(InputError, match="max_connections must be at least 1"):
        await asyncio.wait_for(
            Runner.open(Endpoint.parse("postgresql://127.0.0.1:1/x"), max_connections=0), 1
        )
