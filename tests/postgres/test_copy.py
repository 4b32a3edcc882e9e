"""``faxpush db copy``: a SQLite outbox moved into PostgreSQL, through the real CLI."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from faxpush.core.errors import ConfigurationError, InputError
from faxpush.core.passwords import hash_password, verify_password
from faxpush.core.secrets import Secret
from faxpush.core.targets import Account
from faxpush.storage.base import PushRecord, PushState, Store, Verdict
from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.copy import copy_outbox
from faxpush.storage.jobs_base import JobRecord, JobState, JobStore, Login
from faxpush.storage.jobs_factory import jobs_for, open_jobs
from faxpush.storage.operator import (
    ApiToken,
    ConsoleUser,
    IdempotentAnswer,
    OperatorStore,
    ReceiverStats,
    TokenScope,
)
from faxpush.storage.postgres import PostgresStore
from faxpush.storage.sqlite import SqliteStore
from tests import pg_support
from tests.contract.builders import LEASE, NOW, SOON, enqueue_many, new_push, result
from tests.contract.jobs_builders import (
    CUSTOMER,
    PUSH_PASSWORD,
    final_report,
    job_target,
    new_job,
    push_for,
)

from .conftest import OpenStore

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parents[2]
CLI = "import sys; from faxpush.cli._errors import run; from faxpush.cli.db import app; run(app)"
KEY = generate_key()
LOGIN_PASSWORD = "login-pw-3f9a"
CONSOLE_PASSWORD = "console-pw-7c21"
CONSOLE_HASH = hash_password(CONSOLE_PASSWORD)
DONE_JOB, ACTIVE_JOB = "FJDONE", "FJACTIVE"


async def _fill(store: Store) -> None:
    """40 pushes: 10 delivered, 5 failed, 5 waiting to retry, 5 in flight, 15 pending."""
    await enqueue_many(store, 40)
    claims = await store.claim(worker_id="w", limit=25, lease=LEASE, now=SOON)
    verdicts = [Verdict.DELIVERED] * 10 + [Verdict.FAILED] * 5 + [Verdict.RETRY] * 5
    later = SOON + timedelta(minutes=5)
    await store.finish(
        [
            result(claim, verdict, next_attempt_at=later, error=f"{verdict.value} after 1")
            for claim, verdict in zip(claims, verdicts, strict=False)
        ],
        now=SOON,
    )
    await store.put_account(
        Account("4711", push_url="https://x.test", push_credentials=Secret("cs"))
    )
    await store.put_token("acct:4711", Secret("tok"), expires_at=NOW + timedelta(days=3650))
    await _fill_operator(store)
    await _fill_jobs(await open_jobs(store))


async def _fill_operator(store: Store) -> None:
    """The operator API's rows: two tokens (one used, one revoked), a remembered answer and
    a console user. The finish above counted attempts per receiver already."""
    assert isinstance(store, OperatorStore)
    await store.create_api_token("ops", TokenScope.WRITE, "a" * 64, now=NOW)
    await store.touch_api_token("ops", now=SOON)
    await store.create_api_token("old", TokenScope.READ, "b" * 64, now=NOW)
    assert await store.revoke_api_token("old", now=SOON)
    answer = IdempotentAnswer("ops:k1", "c" * 64, 202, b'{"accepted": 1}', NOW)
    await store.remember_idempotent(answer, keep=timedelta(days=3650), now=NOW)
    await store.create_console_user("ops-console", CONSOLE_HASH, now=SOON)


OperatorSnapshot = tuple[
    list[ApiToken],
    ApiToken | None,
    list[ReceiverStats],
    IdempotentAnswer | None,
    list[ConsoleUser],
]


async def _operator_snapshot(store: Store) -> OperatorSnapshot:
    assert isinstance(store, OperatorStore)
    return (
        await store.list_api_tokens(),
        await store.api_token_by_hash("a" * 64),
        await store.receiver_stats(now=SOON),
        await store.get_idempotent("ops:k1", now=SOON),
        await store.list_console_users(),
    )


async def _fill_jobs(jobs: JobStore) -> None:
    """The emulator's side: a login, a finished job whose push is in the outbox (the 41st),
    and an active job; both jobs carry push credentials of their own."""
    await jobs.put_login(Login("alice", CUSTOMER, hash_password(LOGIN_PASSWORD), NOW))
    await jobs.create_job(
        new_job(DONE_JOB, target=job_target(), purge_at=NOW + timedelta(days=2)), now=NOW
    )
    later = NOW + timedelta(hours=1)
    await jobs.create_job(new_job(ACTIVE_JOB, target=job_target(), finish_at=later), now=NOW)
    assert await jobs.finish_job(
        DONE_JOB,
        final_report(DONE_JOB),
        push_for(DONE_JOB),
        now=SOON,
        purge_at=SOON + timedelta(days=30),
    )


async def _job_snapshot(jobs: JobStore) -> tuple[list[Login], list[JobRecord | None]]:
    found = [await jobs.get_job(CUSTOMER, job_id) for job_id in (DONE_JOB, ACTIVE_JOB)]
    return await jobs.list_logins(), found


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> str:
    path = tmp_path / "faxpush.db"
    store = await SqliteStore.open(path, SecretCipher([KEY]))
    try:
        await store.migrate()
        await _fill(store)
    finally:
        await store.close()
    return f"sqlite:///{path}"


async def _cli(*args: str, key: str | None = KEY) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAXPUSH_")}
    if key is not None:
        env["FAXPUSH_SECRET_KEY"] = key
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CLI,
        *args,
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def _snapshot(store: Store) -> list[tuple[PushRecord, int]]:
    return [
        (push, len(await store.list_attempts(push.delivery_id)))
        for push in await store.list_pushes(limit=1000)
    ]


def _write_key(path: Path, key: str) -> Path:
    path.write_text(key + "\n", encoding="ascii")
    return path


def _settled(push: PushRecord) -> PushRecord:
    if push.state is not PushState.IN_FLIGHT:
        return push
    return dataclasses.replace(push, state=PushState.PENDING, claim_id=None, claimed_until=None)


async def test_copy_moves_the_whole_outbox(
    sqlite_url: str, pg_url: str, open_store: OpenStore
) -> None:
    code, out, err = await _cli("copy", sqlite_url, pg_url)

    assert code == 0, err
    assert "pushes: 0 / 41" in err
    assert "pushes: 41 / 41" in err
    assert "attempts: 20 / 20" in err
    assert "fax_jobs: 2 / 2" in err
    assert (
        "1 accounts, 41 pushes, 20 attempts, 1 oauth_tokens, 1 rest_logins, 2 fax_jobs, "
        "2 api_tokens, 1 receiver_health, 1 receiver_counts, 1 idempotency_answers, "
        "1 console_users (counts verified)"
    ) in out
    assert "5 push(es) that were in flight are pending again" in out
    assert "45 secret(s) checked and kept under the same key" in out
    source = await SqliteStore.open(sqlite_url.removeprefix("sqlite:///"), SecretCipher([KEY]))
    target = await PostgresStore.open(pg_url, SecretCipher([KEY]))
    try:
        expected = [(_settled(p), n) for p, n in await _snapshot(source)]
        assert await _snapshot(target) == expected
        for push, _ in expected[:3]:
            assert await target.list_attempts(push.delivery_id) == await source.list_attempts(
                push.delivery_id
            )
        assert await target.list_accounts() == await source.list_accounts()
        assert await target.get_token("acct:4711", now=NOW) == Secret("tok")
        assert (await target.count_by_state())[PushState.PENDING] == 26
        tokens, ops, stats, answer, users = await _operator_snapshot(target)
        assert (tokens, ops, stats, answer, users) == await _operator_snapshot(source)
        assert [token.name for token in tokens] == ["old", "ops"]
        assert ops is not None
        assert stats
        assert answer is not None
        assert [(user.name, user.created_at) for user in users] == [("ops-console", SOON)]
        assert verify_password(CONSOLE_PASSWORD, users[0].password_hash)
        await _check_jobs(jobs_for(source), jobs_for(target))

        # the copy is a working outbox: new pushes sort after the copied ones
        await target.enqueue(new_push("new"), now=SOON)
        assert (await target.list_pushes(limit=1))[0].delivery_id == "new"
        claims = await target.claim(worker_id="pg", limit=100, lease=LEASE, now=SOON)
        assert len(claims) == 22  # 16 pending (one the job's), 5 that were in flight, the new one
    finally:
        await source.close()
        await target.close()


async def _check_jobs(source: JobStore, target: JobStore) -> None:
    """The target's job store reads what the source's holds, and keeps working."""
    logins, found = await _job_snapshot(target)
    assert (logins, found) == await _job_snapshot(source)
    (login,) = logins
    assert verify_password(LOGIN_PASSWORD, login.password_hash)
    assert not verify_password("wrong", login.password_hash)
    done, active = found
    assert done is not None
    assert active is not None
    assert (done.state, active.state) == (JobState.FINISHED, JobState.ACTIVE)
    assert done.report == final_report(DONE_JOB)
    assert active.push_target is not None
    assert active.push_target.credentials == Secret(PUSH_PASSWORD)
    assert [job.job_id for job in await target.list_finished(CUSTOMER)] == [DONE_JOB]
    assert await target.next_finish_at() == active.finish_at
    # new jobs number after the copied ones (fax_jobs.seq continues)
    await target.create_job(new_job("FJNEW", finish_at=active.finish_at), now=SOON)
    due = await target.due_jobs(now=active.finish_at, limit=10)
    assert [job.job_id for job in due] == [ACTIVE_JOB, "FJNEW"]
    assert await target.finish_job(
        ACTIVE_JOB, final_report(ACTIVE_JOB), None, now=SOON, purge_at=SOON + timedelta(days=1)
    )


async def test_a_target_with_an_outbox_is_refused_unless_forced(
    sqlite_url: str, pg_url: str, open_store: OpenStore
) -> None:
    store = await open_store()
    await store.enqueue(new_push("already-here"), now=NOW)

    code, _, err = await _cli("copy", "--quiet", sqlite_url, pg_url)
    assert code == 2
    assert "already holds an outbox (1 pushes)" in err
    assert "--force" in err
    assert await store.get_push("already-here") is not None

    code, _, err = await _cli("copy", "--quiet", "--force", sqlite_url, pg_url)
    assert code == 0, err
    assert err == ""
    assert await store.get_push("already-here") is None
    assert sum((await store.count_by_state()).values()) == 41


async def test_a_target_with_only_jobs_is_refused_unless_forced(
    sqlite_url: str, pg_url: str, open_store: OpenStore
) -> None:
    jobs = await open_jobs(await open_store())
    await jobs.put_login(Login("bob", CUSTOMER, hash_password("other"), NOW))
    await jobs.create_job(new_job("FJTARGET"), now=NOW)

    code, _, err = await _cli("copy", "--quiet", sqlite_url, pg_url)
    assert code == 2
    assert "already holds an outbox (1 rest_logins, 1 fax_jobs)" in err
    assert await jobs.get_job(CUSTOMER, "FJTARGET") is not None

    code, _, err = await _cli("copy", "--quiet", "--force", sqlite_url, pg_url)
    assert code == 0, err
    assert await jobs.get_job(CUSTOMER, "FJTARGET") is None
    assert [login.login for login in await jobs.list_logins()] == ["alice"]
    assert (await jobs.count_jobs())[JobState.ACTIVE] == 1


async def test_a_target_key_reseals_every_secret(
    sqlite_url: str, pg_url: str, tmp_path: Path
) -> None:
    new_key = generate_key()
    key_file = _write_key(tmp_path / "new.key", new_key)

    code, out, err = await _cli(
        "copy", "-q", "--target-key-file", str(key_file), sqlite_url, pg_url
    )

    assert code == 0, err
    assert "45 secret(s) checked and re-sealed under the target key" in out
    target = await PostgresStore.open(pg_url, SecretCipher([new_key]))
    stale = await PostgresStore.open(pg_url, SecretCipher([KEY]))
    try:
        assert all(p.target.credentials is not None for p in await target.list_pushes())
        assert await target.get_token("acct:4711", now=NOW) == Secret("tok")
        active = await jobs_for(target).get_job(CUSTOMER, ACTIVE_JOB)
        assert active is not None
        assert active.push_target == job_target()
        with pytest.raises(ConfigurationError, match="encrypted with another key"):
            await stale.list_accounts()
        with pytest.raises(ConfigurationError, match="encrypted with another key"):
            await jobs_for(stale).get_job(CUSTOMER, ACTIVE_JOB)
    finally:
        await target.close()
        await stale.close()


async def test_a_wrong_source_key_writes_nothing(sqlite_url: str, pg_url: str) -> None:
    code, _, err = await _cli("copy", "-q", sqlite_url, pg_url, key=generate_key())
    assert code == 2
    assert "encrypted with another key" in err
    async with pg_support.admin_connection(pg_url) as conn:
        assert await conn.fetchval("SELECT count(*) FROM pushes") == 0


async def test_the_source_key_file_beside_the_database_is_used(
    sqlite_url: str, pg_url: str
) -> None:
    key_file = _write_key(Path(sqlite_url.removeprefix("sqlite:///") + ".key"), KEY)
    code, _, err = await _cli("copy", "-q", sqlite_url, pg_url, key=None)
    assert code == 0, err
    assert f'FAXPUSH_SECRET_KEY="$(cat {key_file})"' in err.replace("\n", " ")


async def test_copy_between_postgresql_databases(sqlite_url: str, pg_url: str) -> None:
    cipher = SecretCipher([KEY])
    await copy_outbox(sqlite_url, pg_url, source_cipher=cipher)
    async with pg_support.fresh_database(await pg_support.outbox_template()) as second:
        report = await copy_outbox(pg_url, second, source_cipher=cipher)
        assert report.rows == {
            "accounts": 1,
            "pushes": 41,
            "attempts": 20,
            "oauth_tokens": 1,
            "rest_logins": 1,
            "fax_jobs": 2,
            "api_tokens": 2,
            "receiver_health": 1,
            "receiver_counts": 1,
            "idempotency_answers": 1,
            "console_users": 1,
        }
        assert report.requeued == 0  # nothing was in flight in the first copy
        first = await PostgresStore.open(pg_url, cipher)
        other = await PostgresStore.open(second, cipher)
        try:
            assert await _snapshot(other) == await _snapshot(first)
            assert await _job_snapshot(jobs_for(other)) == await _job_snapshot(jobs_for(first))
            assert await _operator_snapshot(other) == await _operator_snapshot(first)
        finally:
            await first.close()
            await other.close()


async def test_unsuitable_urls_are_refused(sqlite_url: str, pg_url: str, tmp_path: Path) -> None:
    cipher = SecretCipher([KEY])
    with pytest.raises(InputError, match="must be a postgresql:// URL"):
        await copy_outbox(sqlite_url, f"sqlite:///{tmp_path}/other.db", source_cipher=cipher)
    with pytest.raises(InputError, match="the same database"):
        await copy_outbox(pg_url, pg_url, source_cipher=cipher)
    with pytest.raises(ConfigurationError, match="does not exist"):
        await copy_outbox(f"sqlite:///{tmp_path}/missing.db", pg_url, source_cipher=cipher)
