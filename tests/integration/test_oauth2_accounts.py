"""OAuth2 tokens stay with the credentials and the account that fetched them.

The worker's own engine (:func:`delivery_engine`) over a real SQLite outbox, a token endpoint
and receivers on 127.0.0.1. Customer A pushes with the right client secret; customer B names
A's client id at the same token URL with a wrong secret and pushes to B's own receiver.
"""

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

from .servers import LocalServer, OAuthServer, serve
from .test_dispatcher import all_final, running, settings, wait_until

CLIENT_ID = "shared-client"
RIGHT_SECRET = "a's secret"
WRONG_SECRET = "b's guess"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = await SqliteStore.open(tmp_path / "outbox.db", SecretCipher([generate_key()]))
    await opened.migrate()
    yield opened
    await opened.close()


async def _enqueue(
    store: Store, delivery_id: str, *, url: str, token_url: str, secret: str, customer: str
) -> None:
    target = PushTarget(
        url=url,
        auth_method=AuthMethod.OAUTH2,
        principal=CLIENT_ID,
        credentials=Secret(secret),
        token_url=token_url,
    )
    push = NewPush(
        delivery_id=delivery_id,
        job_id=f"FJ{delivery_id}",
        target=target,
        content_type="text/xml; charset=UTF-8",
        body=b"<faxJobReport/>",
        customer_number=customer,
        max_attempts=1,
    )
    await store.enqueue(push, now=datetime.now(UTC))


async def _deliver(store: Store) -> None:
    async with running(store, settings()):
        await wait_until(lambda: all_final(store))


async def _state(store: Store, delivery_id: str) -> tuple[PushState, str | None]:
    (attempt,) = await store.list_attempts(delivery_id)
    push = await store.get_push(delivery_id)
    assert push is not None
    return push.state, attempt.error_message


def _bearers(server: LocalServer) -> set[str]:
    return {r.headers.get("Authorization", "") for r in server.requests} - {""}


async def _accept_everything(_request: web.Request) -> web.StreamResponse:
    return web.Response(text="ok")


async def test_a_wrong_secret_never_gets_another_accounts_token(store: SqliteStore) -> None:
    verifier = OAuthServer(CLIENT_ID, RIGHT_SECRET)
    async with serve(verifier) as a_side, serve(_accept_everything) as b_receiver:
        token_url = a_side.url("/token")
        await _enqueue(
            store,
            "a1",
            url=a_side.url("/a"),
            token_url=token_url,
            secret=RIGHT_SECRET,
            customer="A",
        )
        await _deliver(store)
        assert (await _state(store, "a1"))[0] is PushState.DELIVERED
        await _enqueue(
            store,
            "b1",
            url=b_receiver.url("/b"),
            token_url=token_url,
            secret=WRONG_SECRET,
            customer="B",
        )
        await _deliver(store)
    state, message = await _state(store, "b1")
    assert state is PushState.FAILED
    assert message is not None
    assert "invalid_client" in message
    assert b_receiver.requests == []  # no push at all, so certainly not with A's token
    assert f"Bearer {verifier.issued[0]}" not in _bearers(b_receiver)
    assert verifier.token_requests == 2  # A's fetch, and B's refused one


async def test_a_wrong_secret_fails_while_a_good_token_is_cached(store: SqliteStore) -> None:
    verifier = OAuthServer(CLIENT_ID, RIGHT_SECRET)
    async with serve(verifier) as server:
        token_url, url = server.url("/token"), server.url("/push")
        await _enqueue(
            store, "good", url=url, token_url=token_url, secret=RIGHT_SECRET, customer="A"
        )
        await _deliver(store)
        await _enqueue(
            store, "bad", url=url, token_url=token_url, secret=WRONG_SECRET, customer="A"
        )
        await _deliver(store)
    assert (await _state(store, "good"))[0] is PushState.DELIVERED
    state, message = await _state(store, "bad")
    assert state is PushState.FAILED
    assert message is not None
    assert "invalid_client" in message
    assert server.paths() == ["/token", "/push", "/token"]


async def test_two_accounts_with_the_same_credentials_fetch_their_own_tokens(
    store: SqliteStore,
) -> None:
    verifier = OAuthServer(CLIENT_ID, RIGHT_SECRET)
    async with serve(verifier) as server:
        token_url, url = server.url("/token"), server.url("/push")
        for customer in ("A", "B", "A"):
            await _enqueue(
                store,
                f"{customer}{verifier.token_requests}",
                url=url,
                token_url=token_url,
                secret=RIGHT_SECRET,
                customer=customer,
            )
            await _deliver(store)
    assert (await store.count_by_state())[PushState.DELIVERED] == 3
    assert verifier.token_requests == 2
    pushed = [r.headers["Authorization"] for r in server.requests if r.path == "/push"]
    first, second = (f"Bearer {token}" for token in verifier.issued)
    assert pushed == [first, second, first]


async def test_workers_sharing_a_store_and_key_still_share_tokens(tmp_path: Path) -> None:
    """The secret's hash key comes from the store's key, so another worker (here: another
    engine on another connection to the same database) finds the stored token."""
    key = generate_key()
    verifier = OAuthServer(CLIENT_ID, RIGHT_SECRET, expires_in=3600)
    async with serve(verifier) as server:
        for n in range(2):
            worker_store = await SqliteStore.open(tmp_path / "outbox.db", SecretCipher([key]))
            try:
                await worker_store.migrate()
                await _enqueue(
                    worker_store,
                    f"p{n}",
                    url=server.url("/push"),
                    token_url=server.url("/token"),
                    secret=RIGHT_SECRET,
                    customer="A",
                )
                await _deliver(worker_store)
                assert (await _state(worker_store, f"p{n}"))[0] is PushState.DELIVERED
            finally:
                await worker_store.close()
    assert verifier.token_requests == 1
