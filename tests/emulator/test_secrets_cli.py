"""``faxpush secrets rotate`` re-seals the outbox's secrets and the emulator jobs' ones, and
says how many of each."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner

from faxpush.cli.main import app
from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.jobs_factory import open_jobs
from faxpush.storage.sqlite import SqliteStore
from tests.contract.jobs_builders import (
    CUSTOMER,
    T0,
    final_report,
    job_target,
    new_job,
    push_for,
)

RUNNER = CliRunner()


async def _fill(path: Path, key: str) -> None:
    """Two jobs with push credentials of their own, one finished: its push is in the outbox."""
    store = await SqliteStore.open(path, SecretCipher([key]))
    try:
        await store.migrate()
        jobs = await open_jobs(store)
        await jobs.create_job(new_job("FJDONE", target=job_target()), now=T0)
        later = T0 + timedelta(hours=1)
        await jobs.create_job(new_job("FJACTIVE", target=job_target(), finish_at=later), now=T0)
        report, push = final_report("FJDONE"), push_for("FJDONE")
        assert await jobs.finish_job("FJDONE", report, push, now=T0, purge_at=later)
    finally:
        await store.close()


async def _readable(path: Path, key: str) -> bool:
    store = await SqliteStore.open(path, SecretCipher([key]))
    try:
        job = await (await open_jobs(store)).get_job(CUSTOMER, "FJACTIVE")
        push = await store.get_push("FJDONE")
    finally:
        await store.close()
    return job is not None and job.push_target == job_target() and push is not None


def test_rotate_reports_the_outbox_and_the_jobs(tmp_path: Path) -> None:
    path = tmp_path / "faxpush.db"
    old_key, new_key = generate_key(), generate_key()
    asyncio.run(_fill(path, old_key))

    result = RUNNER.invoke(
        app,
        ["secrets", "rotate", "--database-url", f"sqlite:///{path}"],
        env={"FAXPUSH_SECRET_KEY": f"{new_key},{old_key}"},
    )

    assert (result.exit_code, result.output) == (
        0,
        "re-encrypted 3 secret(s) with the current key (1 in the outbox, 2 in the emulator's "
        "jobs)\n",
    )
    assert asyncio.run(_readable(path, new_key))
