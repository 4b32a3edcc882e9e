"""``faxpush db backup``: a consistent copy of a SQLite outbox that is being written. Real
store process, real files, the command in a process of its own."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from faxpush.storage.base import PushState
from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.sqlite import SqliteStore
from tests.acceptance.test_cli_delivery import cli_env, faxpush
from tests.contract.builders import NOW, new_push


async def _store(path: Path, key: str, *, store_process: bool) -> SqliteStore:
    store = await SqliteStore.open(
        path, SecretCipher([key]), busy_timeout=timedelta(seconds=5), store_process=store_process
    )
    await store.migrate()
    return store


async def test_a_backup_taken_while_pushes_are_queued_holds_one_moment(tmp_path: Path) -> None:
    key = generate_key()
    env = {**cli_env(tmp_path), "FAXPUSH_SECRET_KEY": key}
    writer = await _store(tmp_path / "outbox.db", key, store_process=True)
    ids = [f"d{n:05d}" for n in range(3000)]
    stored: list[str] = []

    async def queue_one_by_one() -> None:
        for delivery_id in ids:  # one commit each, in order
            await writer.enqueue(new_push(delivery_id), now=NOW)
            stored.append(delivery_id)

    try:
        queueing = asyncio.create_task(queue_one_by_one())
        for _ in range(500):  # bounded: 10 s
            if len(stored) >= 200 or queueing.done():
                break
            await asyncio.sleep(0.02)
        before = len(stored)
        code, out, err = await faxpush(env, "db", "backup", str(tmp_path / "copy.db"))
        after = len(stored)
        await asyncio.wait_for(queueing, 120)
    finally:
        await writer.close()
    assert code == 0, err
    assert "backed up" in out
    assert "sealed with FAXPUSH_SECRET_KEY" in err

    copy = await _store(tmp_path / "copy.db", key, store_process=False)
    try:
        held = (await copy.count_by_state())[PushState.PENDING]
        # Everything committed before the command started, nothing that came after it
        # ended, and no gap: the pushes of one moment.
        assert before <= held <= after + 1
        for delivery_id in (ids[0], ids[held - 1]):
            push = await copy.get_push(delivery_id)
            assert push is not None
            assert push.target.credentials is not None  # opens with the key
        assert await copy.get_push(ids[held]) is None
    finally:
        await copy.close()


async def test_refusals_are_one_line_and_exit_2(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    assert (await faxpush(env, "db", "migrate"))[0] == 0
    existing = tmp_path / "copy.db"
    existing.write_bytes(b"not a backup")
    cases = [
        (env, (str(existing),), "exists; remove it first, or pass --force"),
        (env, (str(tmp_path / "no" / "copy.db"),), "does not exist; create it first"),
        (env, (str(tmp_path / "outbox.db"),), "cannot replace the database itself"),
        (
            {**env, "FAXPUSH_DATABASE_URL": f"sqlite:///{tmp_path / 'missing.db'}"},
            (str(tmp_path / "other.db"),),
            "there is no SQLite database at",
        ),
        (
            {
                **env,
                "FAXPUSH_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/postgres",
                "FAXPUSH_SECRET_KEY": generate_key(),
            },
            (str(tmp_path / "pg.db"),),
            "back up PostgreSQL with its own tools",
        ),
    ]
    for case_env, args, message in cases:
        code, _, err = await faxpush(case_env, "db", "backup", *args)
        assert (code, err.count("\n")) == (2, 1), err
        assert message in err
    assert existing.read_bytes() == b"not a backup"  # untouched

    code, _, err = await faxpush(env, "db", "backup", "--force", str(existing))
    assert code == 0, err
    assert existing.read_bytes().startswith(b"SQLite format 3")
    assert "keep a copy of it" in err  # the key file beside the database seals its secrets
    leftovers = await asyncio.to_thread(lambda: list(tmp_path.glob(".copy.db.*.part")))
    assert leftovers == []
