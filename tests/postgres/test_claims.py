"""Claims from several processes, each with several connections, never overlap."""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from faxpush.storage.base import PushState
from tests.contract.builders import NOW, new_push

from .conftest import OpenStore

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parents[2]
PUSHES = 3000
PROCESSES = 4


async def test_claims_from_four_processes_never_overlap(open_store: OpenStore, pg_url: str) -> None:
    store = await open_store()
    ids = [f"d{n:05d}" for n in range(PUSHES)]
    for start in range(0, PUSHES, 100):
        await asyncio.gather(
            *(
                store.enqueue(new_push(i, credentials=None), now=NOW)
                for i in ids[start : start + 100]
            )
        )

    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.postgres.claimer",
            pg_url,
            f"p{n}",
            "3",
            "17",
            cwd=REPO,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for n in range(PROCESSES)
    ]
    for proc in procs:  # all connected: start them together
        assert proc.stdout is not None
        assert await asyncio.wait_for(proc.stdout.readline(), 30) == b"ready\n"
    outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate(b"go\n") for p in procs)), 90)

    taken: Counter[str] = Counter()
    workers: list[int] = []
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()
        batch = json.loads(out)
        workers.append(len(batch))
        taken.update(batch)
    assert [i for i, n in taken.items() if n > 1] == []
    assert sorted(taken) == ids
    assert sum(1 for n in workers if n) >= 2, f"the processes did not compete: {workers}"
    assert (await store.count_by_state())[PushState.IN_FLIGHT] == PUSHES
