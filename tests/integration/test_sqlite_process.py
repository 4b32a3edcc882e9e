"""The SQLite store process (faxpush.storage._sqlite_process): its lifetime, failures and
errors, with real child processes and a real database file. The contract suite runs every
store behaviour against it too (backend ``sqlite-process``)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from faxpush.core.errors import StorageError
from faxpush.core.targets import PushTarget
from faxpush.storage.base import NewPush
from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.sqlite import SqliteStore

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)
REPO = Path(__file__).resolve().parents[2]


def _push(n: int) -> NewPush:
    return NewPush(f"d{n}", f"job-{n}", PushTarget(url="https://push.example.test/"), "a/b", b"x")


def _child_pid(store: SqliteStore) -> int:
    process = store._process._process if store._process is not None else None
    assert process is not None, "no store process is running"
    return process.pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes; it is reaped by whoever waits for it.
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split()[2] == "Z")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = await SqliteStore.open(
        tmp_path / "outbox.db", SecretCipher([generate_key()]), store_process=True
    )
    await opened.migrate()
    for n in range(3):
        await opened.enqueue(_push(n), now=NOW)
    yield opened
    await opened.close()


async def test_started_by_the_first_write_and_stopped_by_close(tmp_path: Path) -> None:
    store = await SqliteStore.open(
        tmp_path / "outbox.db", SecretCipher([generate_key()]), store_process=True
    )
    await store.migrate()  # on the thread: no process yet
    assert store._process is not None
    assert await store.get_push("d0") is None
    assert store._process._process is None  # migrations and reads start nothing
    for n in range(3):
        await store.enqueue(_push(n), now=NOW)
    assert store._process._process is not None

    claims = await store.claim(worker_id="w", limit=2, lease=LEASE, now=NOW)

    assert [c.push.delivery_id for c in claims] == ["d0", "d1"]
    assert all(c.claim_id.startswith("w:") for c in claims)
    pid = _child_pid(store)
    assert _alive(pid)
    await store.close()
    assert not _alive(pid)
    with pytest.raises(StorageError, match="closed"):
        await store.claim(worker_id="w", limit=1, lease=LEASE, now=NOW)


async def test_a_dead_process_is_replaced_by_the_next_call(store: SqliteStore) -> None:
    await store.claim(worker_id="w", limit=1, lease=LEASE, now=NOW)
    first = _child_pid(store)
    os.kill(first, signal.SIGKILL)
    await asyncio.sleep(0.2)

    claims = await store.claim(worker_id="w", limit=5, lease=LEASE, now=NOW)

    assert [c.push.delivery_id for c in claims] == ["d1", "d2"]
    assert _child_pid(store) != first


async def test_a_call_waiting_when_the_process_dies_fails_cleanly(store: SqliteStore) -> None:
    await store.claim(worker_id="w", limit=1, lease=LEASE, now=NOW)
    pid = _child_pid(store)
    os.kill(pid, signal.SIGSTOP)  # the claim below waits for an answer that never comes
    try:
        waiting = asyncio.create_task(store.claim(worker_id="w", limit=1, lease=LEASE, now=NOW))
        await asyncio.sleep(0.2)
        assert not waiting.done()
    finally:
        os.kill(pid, signal.SIGKILL)

    with pytest.raises(StorageError, match=r"store process .* exited"):
        await asyncio.wait_for(waiting, 10)
    # The claim never ran; the pushes are still there for the next one.
    claims = await store.claim(worker_id="w", limit=5, lease=LEASE, now=NOW)
    assert [c.push.delivery_id for c in claims] == ["d1", "d2"]


async def test_database_errors_in_the_process_are_storage_errors(tmp_path: Path) -> None:
    unmigrated = await SqliteStore.open(
        tmp_path / "empty.db", SecretCipher([generate_key()]), store_process=True
    )
    try:
        with pytest.raises(StorageError, match="migrations"):
            await unmigrated.claim(worker_id="w", limit=1, lease=LEASE, now=NOW)
    finally:
        await unmigrated.close()


def _worker_script(database: Path, then: str, *, pushes: int = 1) -> str:
    """A worker program: it opens a store with its store process at ``database``, queues
    ``pushes`` pushes, claims one (which starts the process), then runs ``then`` in ``main``
    (where ``store``, ``now`` and ``lease`` are defined)."""
    prelude = textwrap.dedent(
        f"""
        import asyncio, signal
        from datetime import UTC, datetime, timedelta
        from faxpush.core.targets import PushTarget
        from faxpush.storage.base import NewPush
        from faxpush.storage.cipher import SecretCipher, generate_key
        from faxpush.storage._sqlite_hot import claim_due, work_name
        from faxpush.storage.sqlite import SqliteStore, _sql

        CLAIM_DUE = work_name(claim_due)

        async def main():
            store = await SqliteStore.open(
                {str(database)!r}, SecretCipher([generate_key()]), store_process=True
            )
            await store.migrate()
            now = datetime(2024, 5, 1, tzinfo=UTC)
            lease = timedelta(seconds=30)
            for n in range({pushes}):
                target = PushTarget(url="https://push.example.test/")
                await store.enqueue(NewPush(f"d{{n}}", "j", target, "a/b", b"x"), now=now)
            await store.claim(worker_id="w", limit=1, lease=lease, now=now)
        """
    )
    return prelude + textwrap.indent(textwrap.dedent(then), "    ") + "\nasyncio.run(main())\n"


def test_the_process_does_not_outlive_a_killed_worker(tmp_path: Path) -> None:
    script = _worker_script(
        tmp_path / "outbox.db",
        """
        print(store._process._process.pid, flush=True)
        await asyncio.sleep(60)
        """,
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert worker.stdout is not None
        child = int(worker.stdout.readline())
        assert _alive(child)
    finally:
        worker.kill()
        worker.wait(10)
        if worker.stdout is not None:
            worker.stdout.close()
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the store process outlived its worker"


def test_a_killed_worker_leaves_no_traceback_from_the_store_process(tmp_path: Path) -> None:
    # Fifty claims are always queued in the store process when its worker is killed: it
    # answers the next one into a closed socket (a broken pipe, or a reset connection).
    script = _worker_script(
        tmp_path / "outbox.db",
        """
        process = store._process
        params = dict(
            worker_id="w", limit=1, now=0, claimed_until=1, exclude="[]",
            receiver_limit=1, held="{}",
        )

        async def claim_forever():
            while True:
                await process.run(
                    "claim", CLAIM_DUE, _sql("claim_due"), _sql("bodies_of"), params
                )

        tasks = [asyncio.create_task(claim_forever()) for _ in range(50)]
        await asyncio.sleep(0.3)
        print(process._process.pid, flush=True)
        await asyncio.gather(*tasks)
        """,
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,  # the store process writes into it as well
        text=True,
    )
    try:
        assert worker.stdout is not None
        child = int(worker.stdout.readline())
        assert _alive(child)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the store process outlived its worker"
    _, errors = worker.communicate(timeout=10)
    assert "Traceback" not in errors, errors


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_the_process_group_leaves_the_store_process_to_its_worker(
    tmp_path: Path, signum: signal.Signals
) -> None:
    # Ctrl-C in a terminal, or a service manager stopping the whole group, signals the store
    # process too. It must keep serving until its worker has recorded its last results and
    # closed the socket, and leave no traceback.
    script = _worker_script(
        tmp_path / "outbox.db",
        f"""
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler({int(signum)}, stop.set)
        print(store._process._process.pid, flush=True)
        await stop.wait()
        await asyncio.sleep(0.3)  # the signal has reached the store process by now
        claims = await store.claim(worker_id="w", limit=5, lease=lease, now=now)
        print("claimed after the signal:", len(claims), flush=True)
        print("by", store._process._process.pid, flush=True)
        await store.close()
        """,
        pushes=2,
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal or service gives it
    )
    try:
        assert worker.stdout is not None
        child = int(worker.stdout.readline())
        assert _alive(child)
        os.killpg(worker.pid, signum)
        out, errors = worker.communicate(timeout=20)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
    assert worker.returncode == 0, errors
    assert "claimed after the signal: 1" in out, (out, errors)
    assert f"by {child}" in out, "the store process died of the signal and was replaced"
    assert "Traceback" not in errors, errors
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the store process outlived its worker"
