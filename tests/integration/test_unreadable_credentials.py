"""A push sealed with another key fails alone; the worker keeps delivering the others, and
once the old key is configured again the push can be redelivered (real HTTP, real SQLite,
with and without the store process)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from faxpush.core.models import AuthMethod
from faxpush.core.secrets import Secret
from faxpush.core.targets import PushTarget
from faxpush.storage.base import NewPush, PushState, Store
from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.sqlite import SqliteStore

from .servers import LocalServer, basic_protected, ok, serve
from .test_dispatcher import all_final, running, settings, wait_until

USER, PASSWORD = "hook-user", "hook-pässword"


@pytest.fixture(params=[False, True], ids=["thread", "store-process"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> object:
    async def opener(*keys: str) -> SqliteStore:
        store = await SqliteStore.open(
            tmp_path / "outbox.db", SecretCipher(list(keys)), store_process=request.param
        )
        await store.migrate()
        return store

    return opener


@pytest.fixture
async def receiver() -> AsyncIterator[LocalServer]:
    """Basic auth on /hook; /open takes anyone."""
    protected = basic_protected(USER, PASSWORD)

    async def handle(request: web.Request) -> web.StreamResponse:
        return ok() if request.path == "/open" else await protected(request)

    async with serve(handle) as server:
        yield server


async def _enqueue(store: Store, url: str, delivery_id: str, *, secret: bool = True) -> None:
    target = (
        PushTarget(url, AuthMethod.HTTP_BASIC, USER, Secret(PASSWORD))
        if secret
        else PushTarget(url)
    )
    push = NewPush(delivery_id, f"FJ{delivery_id}", target, "text/xml", b"<faxJobReport/>")
    await store.enqueue(push, now=datetime.now(UTC))


def _sent(receiver: LocalServer) -> list[str]:
    return sorted(r.headers["Faxpush-Delivery-Id"] for r in receiver.requests)


async def test_a_push_sealed_with_an_old_key_fails_alone_and_is_redelivered_once_fixed(
    open_store: object, receiver: LocalServer
) -> None:
    old_key, new_key = generate_key(), generate_key()
    opener = open_store
    assert callable(opener)
    before = await opener(old_key)
    await _enqueue(before, receiver.url("/hook"), "sealed-old")
    await before.close()

    store = await opener(new_key)  # the key was replaced without keeping the old one
    try:
        await _enqueue(store, receiver.url("/hook"), "sealed-new")
        for n in range(5):
            await _enqueue(store, receiver.url("/open"), f"plain-{n}", secret=False)
        async with running(store, settings()):
            await wait_until(lambda: all_final(store))
        counts = await store.count_by_state()
        assert (counts[PushState.FAILED], counts[PushState.DELIVERED]) == (1, 6)
        (attempt,) = await store.list_attempts("sealed-old")
        assert attempt.http_status is None
        assert attempt.error_class == "auth"
        assert attempt.error_message is not None
        assert "cannot be decrypted with the configured secret key(s)" in attempt.error_message
        assert "FAXPUSH_SECRET_KEY" in attempt.error_message
    finally:
        await store.close()
    assert "sealed-old" not in _sent(receiver)  # never sent without its credentials

    fixed = await opener(new_key, old_key)  # the old key listed after the new one
    try:
        failed = await fixed.get_push("sealed-old")
        assert failed is not None
        assert failed.state is PushState.FAILED
        assert "faxpush pushes redeliver sealed-old" in (failed.last_error or "")
        assert await fixed.redeliver(delivery_ids=["sealed-old"], now=datetime.now(UTC)) == 1
        async with running(fixed, settings()):
            await wait_until(lambda: all_final(fixed))
        again = await fixed.get_push("sealed-old")
        assert again is not None
        assert again.state is PushState.DELIVERED
        assert [a.http_status for a in await fixed.list_attempts("sealed-old")] == [None, 200]
    finally:
        await fixed.close()
    assert _sent(receiver).count("sealed-old") == 1
