"""What only the SQLite store (and opening stores by URL) does: files, pragmas, migrations,
locking across processes, driver errors."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from faxpush._db.migrations import load_migrations
from faxpush._db.queries import load_queries, split_statements
from faxpush.core.errors import ConfigurationError, StorageError
from faxpush.core.secrets import Secret
from faxpush.core.targets import PushTarget
from faxpush.storage.base import NewPush, PushState
from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.factory import open_store, sqlite_path
from faxpush.storage.memory import MemoryStore
from faxpush.storage.sqlite import SqliteStore

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def _push(delivery_id: str) -> NewPush:
    target = PushTarget(url="https://push.example.test/", credentials=Secret("pw"))
    return NewPush(delivery_id, f"job-{delivery_id}", target, "application/json", b"{}")


@pytest.fixture
def cipher() -> SecretCipher:
    return SecretCipher([generate_key()])


@pytest.fixture
async def store(tmp_path: Path, cipher: SecretCipher) -> AsyncIterator[SqliteStore]:
    opened = await SqliteStore.open(tmp_path / "faxpush.db", cipher)
    await opened.migrate()
    yield opened
    await opened.close()


def _tables(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as conn:
        found = conn.execute("SELECT name, sql FROM sqlite_schema WHERE sql IS NOT NULL")
        return dict(found.fetchall())


async def test_data_survives_close_and_reopen(tmp_path: Path, cipher: SecretCipher) -> None:
    path = tmp_path / "faxpush.db"
    first = await SqliteStore.open(path, cipher)
    await first.migrate()
    await first.enqueue(_push("d1"), now=NOW)
    (claim,) = await first.claim(worker_id="w", limit=5, lease=LEASE, now=NOW)
    await first.put_token("k", Secret("token"), expires_at=NOW + LEASE)
    await first.close()

    second = await SqliteStore.open(path, cipher)
    try:
        await second.migrate()
        pushed = await second.get_push("d1")
        assert pushed == claim.push
        assert await second.get_token("k", now=NOW) == Secret("token")
    finally:
        await second.close()


async def test_connection_pragmas(store: SqliteStore) -> None:
    found = await store.diagnostics()
    assert found["journal_mode"] == "wal"
    assert found["synchronous"] == 2  # FULL
    assert found["foreign_keys"] == 1
    assert found["busy_timeout_ms"] == 5000
    assert tuple(int(p) for p in found["sqlite_version"].split(".")) >= (3, 35, 0)


async def test_busy_timeout_is_configurable(tmp_path: Path, cipher: SecretCipher) -> None:
    store = await SqliteStore.open(tmp_path / "x.db", cipher, busy_timeout=timedelta(seconds=1))
    try:
        assert (await store.diagnostics())["busy_timeout_ms"] == 1000
    finally:
        await store.close()


async def test_migrate_twice_is_a_no_op(store: SqliteStore) -> None:
    path = Path(store.path)
    before = _tables(path)
    await store.enqueue(_push("d1"), now=NOW)
    await store.migrate()
    assert _tables(path) == before
    with sqlite3.connect(path) as conn:
        versions = conn.execute("SELECT version, name FROM schema_version").fetchall()
    assert versions == [
        (m.version, m.name) for m in load_migrations("faxpush.storage", "sql/sqlite")
    ]
    assert versions[:3] == [(1, "initial"), (2, "jobs"), (3, "tls")]
    assert await store.get_push("d1") is not None
    assert {"accounts", "pushes", "attempts", "oauth_tokens", "schema_version"} <= set(before)


async def test_concurrent_migrations_from_two_connections(
    tmp_path: Path, cipher: SecretCipher
) -> None:
    path = tmp_path / "faxpush.db"
    stores = [await SqliteStore.open(path, cipher) for _ in range(3)]
    try:
        await asyncio.gather(*(s.migrate() for s in stores))
    finally:
        for opened in stores:
            await opened.close()
    with sqlite3.connect(path) as conn:
        found = conn.execute("SELECT count(*) FROM schema_version").fetchone()
    assert found == (len(load_migrations("faxpush.storage", "sql/sqlite")),)


async def test_a_newer_schema_is_refused(store: SqliteStore) -> None:
    with sqlite3.connect(store.path) as conn:
        conn.execute("INSERT INTO schema_version VALUES (99, 'future', 0)")
    with pytest.raises(StorageError, match=r"schema version 99.*upgrade faxpush"):
        await store.migrate()


async def test_a_missing_schema_says_to_migrate(tmp_path: Path, cipher: SecretCipher) -> None:
    store = await SqliteStore.open(tmp_path / "empty.db", cipher)
    try:
        with pytest.raises(StorageError, match="run the schema migrations") as caught:
            await store.get_push("d1")
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    finally:
        await store.close()


async def test_a_locked_database_becomes_a_storage_error(
    tmp_path: Path, cipher: SecretCipher
) -> None:
    path = tmp_path / "faxpush.db"
    store = await SqliteStore.open(path, cipher, busy_timeout=timedelta(milliseconds=50))
    await store.migrate()
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        with pytest.raises(StorageError, match=r"stayed locked .* 0\.05 s"):
            await store.claim(worker_id="w", limit=1, lease=LEASE, now=NOW)
        blocker.execute("ROLLBACK")
        # the failed transaction was rolled back: the connection works again
        await store.enqueue(_push("d1"), now=NOW)
        assert len(await store.claim(worker_id="w", limit=1, lease=LEASE, now=NOW)) == 1
    finally:
        blocker.close()
        await store.close()


async def test_a_cancelled_write_leaves_no_open_transaction(store: SqliteStore) -> None:
    for n in range(200):
        await store.enqueue(_push(f"d{n}"), now=NOW)
    for _ in range(20):
        task = asyncio.create_task(store.claim(worker_id="w", limit=1, lease=LEASE, now=NOW))
        await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    counts = await store.count_by_state()
    assert counts[PushState.PENDING] + counts[PushState.IN_FLIGHT] == 200
    claims = await store.claim(worker_id="w", limit=500, lease=LEASE, now=NOW)
    assert len(claims) == counts[PushState.PENDING]


async def test_a_write_cancelled_while_waiting_for_the_lock_still_commits(
    tmp_path: Path, cipher: SecretCipher
) -> None:
    path = tmp_path / "faxpush.db"
    store = await SqliteStore.open(path, cipher, busy_timeout=timedelta(seconds=10))
    await store.migrate()
    await store.enqueue(_push("d1"), now=NOW)
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        claiming = asyncio.create_task(store.claim(worker_id="w", limit=5, lease=LEASE, now=NOW))
        queued = asyncio.create_task(store.enqueue(_push("d2"), now=NOW))
        await asyncio.sleep(0.2)  # the claim now waits for the lock on the store's thread
        claiming.cancel()
        queued.cancel()
        blocker.execute("ROLLBACK")
        await asyncio.gather(claiming, queued, return_exceptions=True)
        assert claiming.cancelled()
        assert queued.cancelled()
        # both ran on once the claim got the lock, and committed (reads queue behind them)
        counts = await store.count_by_state()
        assert (counts[PushState.IN_FLIGHT], counts[PushState.PENDING]) == (1, 1)
        assert await store.get_push("d2") is not None
    finally:
        blocker.close()
        await store.close()


async def test_close_waits_for_queued_work(tmp_path: Path, cipher: SecretCipher) -> None:
    path = tmp_path / "faxpush.db"
    store = await SqliteStore.open(path, cipher, busy_timeout=timedelta(seconds=10))
    await store.migrate()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    enqueuing = asyncio.create_task(store.enqueue(_push("d1"), now=NOW))
    await asyncio.sleep(0.05)
    closing = asyncio.create_task(store.close())
    await asyncio.sleep(0.1)
    assert not closing.done()  # the enqueue still waits for the lock
    blocker.execute("ROLLBACK")
    blocker.close()
    await asyncio.wait_for(closing, 10)
    assert enqueuing.done()
    assert (await enqueuing).delivery_id == "d1"
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT delivery_id FROM pushes").fetchall() == [("d1",)]
    with pytest.raises(StorageError, match="is closed"):
        await store.get_push("d1")
    await store.close()


async def test_old_sqlite_is_refused(
    tmp_path: Path, cipher: SecretCipher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 34, 1))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.34.1")
    with pytest.raises(ConfigurationError, match=r"SQLite 3\.35\.0 or newer.*3\.34\.1"):
        await SqliteStore.open(tmp_path / "faxpush.db", cipher)


async def test_a_missing_directory_is_a_configuration_error(
    tmp_path: Path, cipher: SecretCipher
) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        await SqliteStore.open(tmp_path / "nowhere" / "faxpush.db", cipher)


async def test_a_file_that_is_not_a_database(tmp_path: Path, cipher: SecretCipher) -> None:
    path = tmp_path / "faxpush.db"
    path.write_bytes(b"this is not a database, just text " * 100)
    with pytest.raises(StorageError, match=r"faxpush\.db: DatabaseError"):
        await SqliteStore.open(path, cipher)


def test_split_statements_keeps_semicolons_inside_literals() -> None:
    script = "-- a comment; still a comment\nSELECT 'a;b';\nSELECT 2\n  ; \n-- trailing\n"
    assert split_statements(script) == [
        "-- a comment; still a comment\nSELECT 'a;b';",
        "SELECT 2\n  ;",
    ]


def test_shipped_sql_files_are_found_and_complete() -> None:
    migrations = load_migrations("faxpush.storage", "sql/sqlite")
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    queries = load_queries("faxpush.storage", "sql/sqlite/queries.sql")
    source = Path(sys.modules[SqliteStore.__module__].__file__ or "").read_text()
    referenced = set(
        re.findall(r'(?:_sql\(|_all\(conn, |_scalar\(conn, |_execute\(conn, )"(\w+)"', source)
    )
    assert referenced
    assert referenced <= set(queries)
    for query in queries.values():
        assert query.description
        assert all(sqlite3.complete_statement(s) for s in split_statements(query.sql))


_CLAIMER = textwrap.dedent(
    """
    import asyncio, json, sys
    from datetime import datetime, timedelta, UTC
    from faxpush.storage.cipher import SecretCipher
    from faxpush.storage.sqlite import SqliteStore

    async def main(path, key, name):
        store = await SqliteStore.open(path, SecretCipher([key]))
        taken = []
        try:
            for _ in range(200):
                now = datetime(2024, 5, 1, 12, tzinfo=UTC)
                batch = await store.claim(
                    worker_id=name, limit=3, lease=timedelta(minutes=5), now=now
                )
                if not batch:
                    break
                taken += [c.push.delivery_id for c in batch]
        finally:
            await store.close()
        print(json.dumps(taken))

    asyncio.run(main(*sys.argv[1:4]))
    """
)


async def test_claims_from_separate_processes_never_overlap(tmp_path: Path) -> None:
    key = generate_key()
    path = tmp_path / "shared.db"
    store = await SqliteStore.open(path, SecretCipher([key]))
    await store.migrate()
    for n in range(240):
        await store.enqueue(_push(f"d{n:03d}"), now=NOW)
    await store.close()

    processes = [
        subprocess.Popen(  # noqa: ASYNC220 - waited for with a timeout below
            [sys.executable, "-c", _CLAIMER, str(path), key, f"p{n}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for n in range(4)
    ]
    taken: list[str] = []
    for process in processes:
        out, err = await asyncio.to_thread(process.communicate, timeout=60)
        assert process.returncode == 0, err.decode()
        taken += json.loads(out)
    assert len(taken) == 240
    assert len(set(taken)) == 240


async def test_open_store_by_url(tmp_path: Path, cipher: SecretCipher) -> None:
    absolute = tmp_path / "abs.db"
    store = await open_store(f"sqlite:///{absolute}", cipher)
    try:
        assert isinstance(store, SqliteStore)
        assert store.path == str(absolute)
        await store.enqueue(_push("d1"), now=NOW)  # migrated already
    finally:
        await store.close()
    memory = await open_store("memory://", cipher)
    assert isinstance(memory, MemoryStore)
    assert (await memory.count_by_state())[PushState.PENDING] == 0
    await memory.close()


async def test_open_store_relative_path(
    tmp_path: Path, cipher: SecretCipher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    store = await open_store("sqlite:///data/rel.db", cipher, migrate=False)
    await store.close()
    assert (tmp_path / "data" / "rel.db").exists()


def test_sqlite_paths() -> None:
    assert sqlite_path("sqlite:///relative/path.db") == Path("relative/path.db")
    assert sqlite_path("sqlite:////abs/path.db") == Path("/abs/path.db")
    assert sqlite_path("SQLite:////abs/my%20db.db") == Path("/abs/my db.db")
    assert sqlite_path("memory://") is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://user:hunter2@db/faxpush", "unknown database URL scheme 'mysql'"),
        ("faxpush.db", "has no scheme"),
        ("sqlite://faxpush.db", "three slashes"),
        ("sqlite:///", "names no file"),
        ("sqlite:///x.db?mode=ro", "take no options"),
    ],
)
async def test_bad_urls_are_configuration_errors(
    url: str, message: str, cipher: SecretCipher
) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        await open_store(url, cipher)
    assert "hunter2" not in str(caught.value)
    assert "pw@" not in str(caught.value)
