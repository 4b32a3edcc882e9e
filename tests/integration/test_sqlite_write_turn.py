"""The machine-wide write turn of a SQLite file: store processes of several programs take
turns on a ``flock`` instead of sleeping in SQLite's busy handler. Real processes, real
files."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from faxpush._db.write_turn import WriteTurn
from faxpush.core.errors import StorageError
from faxpush.storage.base import PushState
from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.sqlite import SqliteStore
from tests.contract.builders import NOW, deliver_all, new_push

BUSY = timedelta(milliseconds=200)

_HOLDER = textwrap.dedent(
    """
    import sys
    from faxpush._db.write_turn import WriteTurn

    with WriteTurn(sys.argv[1], 5.0).held():
        print("held", flush=True)
        sys.stdin.readline()  # until the test says so
    print("released", flush=True)
    """
)


@contextmanager
def _held_elsewhere(database: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the turn of ``database`` until its stdin gets a line."""
    with subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(database)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline() == "held\n"
            yield holder
        finally:
            if holder.poll() is None:
                holder.kill()
            holder.wait(10)


def _let_go(holder: subprocess.Popen[str]) -> None:
    assert holder.stdin is not None
    assert holder.stdout is not None
    holder.stdin.write("go\n")
    holder.stdin.flush()
    assert holder.stdout.readline() == "released\n"


def test_a_held_turn_makes_others_wait_then_fail_like_a_busy_database(tmp_path: Path) -> None:
    database = tmp_path / "outbox.db"
    before = signal.getsignal(signal.SIGALRM)
    with _held_elsewhere(database) as holder:
        turn = WriteTurn(str(database), 0.2)
        try:
            with pytest.raises(sqlite3.OperationalError, match="database is locked"), turn.held():
                pytest.fail("the turn was taken while another process held it")
            assert signal.getsignal(signal.SIGALRM) is before
            assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
            _let_go(holder)
            with turn.held():  # free again
                pass
        finally:
            turn.close()
    assert (tmp_path / "outbox.db-turn").exists()


def test_a_waiting_process_takes_the_turn_once_it_is_given_back(tmp_path: Path) -> None:
    database = tmp_path / "outbox.db"
    with _held_elsewhere(database) as holder:
        turn = WriteTurn(str(database), 30.0)
        # A thread lets go while this (main) thread waits in flock.
        letting_go = threading.Thread(target=_let_go, args=(holder,))
        try:
            letting_go.start()
            with turn.held():
                assert holder.wait(10) == 0  # it gave the turn back and ended
        finally:
            letting_go.join(10)
            turn.close()


async def _opened(path: Path, key: str) -> SqliteStore:
    store = await SqliteStore.open(path, SecretCipher([key]), busy_timeout=BUSY, store_process=True)
    await store.migrate()
    return store


async def test_the_store_process_writes_only_in_its_turn(tmp_path: Path) -> None:
    database = tmp_path / "outbox.db"
    store = await _opened(database, generate_key())
    try:
        await store.enqueue(new_push("d0"), now=NOW)  # the store process runs
        with _held_elsewhere(database) as holder:
            # SQLite's own lock is free; only the turn is taken.
            with pytest.raises(StorageError, match="locked"):
                await store.enqueue(new_push("d1"), now=NOW)
            _let_go(holder)
        await store.enqueue(new_push("d1"), now=NOW)
        assert await store.get_push("d1") is not None
    finally:
        await store.close()


async def test_two_programs_writing_one_file_all_succeed(tmp_path: Path) -> None:
    """Like ``faxpush admin serve`` queueing beside a ``faxpush worker``: two stores, each
    with its own store process, one file, a 200 ms busy timeout."""
    database, key = tmp_path / "outbox.db", generate_key()
    ingest, worker = await _opened(database, key), await _opened(database, key)
    ids = [f"d{n:03d}" for n in range(300)]
    try:

        async def enqueue() -> None:
            for start in range(0, len(ids), 10):
                chunk = ids[start : start + 10]
                await asyncio.gather(*(ingest.enqueue(new_push(i), now=NOW) for i in chunk))

        async def claim_and_finish() -> int:  # bounded: a few hundred rounds suffice
            return await deliver_all(worker, len(ids), limit=16, rounds=2000)

        _, finished = await asyncio.wait_for(asyncio.gather(enqueue(), claim_and_finish()), 60)
    finally:
        await ingest.close()
        await worker.close()
    reader = await SqliteStore.open(database, SecretCipher([key]), busy_timeout=BUSY)
    try:
        assert finished == len(ids)
        assert (await reader.count_by_state())[PushState.DELIVERED] == len(ids)
    finally:
        await reader.close()


def test_the_turn_file_follows_the_database_permissions(tmp_path: Path) -> None:
    database = tmp_path / "outbox.db"
    database.touch()
    database.chmod(0o660)  # a database shared by a group: so is its turn
    WriteTurn(str(database), 1.0).close()
    turn_file = tmp_path / "outbox.db-turn"
    assert turn_file.stat().st_mode & 0o777 == 0o660
    turn_file.chmod(0o440)  # reading is all flock needs
    turn = WriteTurn(str(database), 1.0)
    try:
        with turn.held():
            pass
    finally:
        turn.close()
