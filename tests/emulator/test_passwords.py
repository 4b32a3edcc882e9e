"""Basic credential checks of the REST API's logins (their hashes: tests/unit/test_passwords.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from faxpush.core import passwords
from faxpush.core.passwords import hash_password
from faxpush.emulator.auth import BasicAuthenticator, Caller, parse_basic
from faxpush.storage.jobs_base import Login
from faxpush.storage.memory import MemoryStore
from faxpush.storage.memory_jobs import MemoryJobStore

from .harness import basic_auth

PASSWORD = "corr3ct-Hörse"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (basic_auth("alice", "pw:with:colons"), ("alice", "pw:with:colons")),
        (basic_auth("jürgen", "pässwort"), ("jürgen", "pässwort")),
        ("basic " + basic_auth("a", "b").split()[1], ("a", "b")),
        ("Basic YTpi", ("a", "b")),  # "a:b" without padding
        (None, None),
        ("Basic", None),
        ("Bearer YTpi", None),
        ("Basic !!!", None),
        (basic_auth("", "pw"), None),
        ("Basic " + "YWJj", None),  # "abc": no colon
    ],
)
def test_basic_headers_are_parsed(header: str | None, expected: tuple[str, str] | None) -> None:
    assert parse_basic(header) == expected


class _CountingVerify:
    def __init__(self) -> None:
        self.calls = 0
        self.original = passwords.verify_password

    def __call__(self, password: str, stored: str) -> bool:
        self.calls += 1
        return self.original(password, stored)


async def _authenticator(
    monkeypatch: pytest.MonkeyPatch, now: list[float]
) -> tuple[BasicAuthenticator, _CountingVerify]:
    jobs = MemoryJobStore(MemoryStore())
    await jobs.put_login(Login("alice", "99999TE", hash_password(PASSWORD), datetime.now(UTC)))
    counting = _CountingVerify()
    monkeypatch.setattr("faxpush.emulator.auth.verify_password", counting)
    return BasicAuthenticator(jobs, cache_seconds=60, clock=lambda: now[0]), counting


async def test_a_verified_login_is_remembered_for_a_while(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    authenticator, counting = await _authenticator(monkeypatch, now)
    good = basic_auth("alice", PASSWORD)

    assert await authenticator.authenticate(good) == Caller("alice", "99999TE")
    assert await authenticator.authenticate(good) == Caller("alice", "99999TE")
    assert counting.calls == 1
    now[0] += 61
    assert await authenticator.authenticate(good) == Caller("alice", "99999TE")
    assert counting.calls == 2


async def test_wrong_and_unknown_credentials_are_refused_and_not_remembered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    authenticator, counting = await _authenticator(monkeypatch, [0.0])

    assert await authenticator.authenticate(basic_auth("alice", "wrong")) is None
    assert await authenticator.authenticate(basic_auth("alice", "wrong")) is None
    assert await authenticator.authenticate(basic_auth("mallory", PASSWORD)) is None
    assert counting.calls == 3  # unknown logins cost a verification too


async def test_concurrent_first_calls_share_one_verification(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    authenticator, counting = await _authenticator(monkeypatch, [0.0])
    good = basic_auth("alice", PASSWORD)

    callers = await asyncio.gather(*(authenticator.authenticate(good) for _ in range(20)))

    assert set(callers) == {Caller("alice", "99999TE")}
    assert counting.calls == 1
