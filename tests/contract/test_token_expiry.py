"""Expired OAuth2 tokens do not pile up: putting a token drops the ones that have expired.

Every new client secret and every key rotation leaves a token under a key nobody asks for
again, so without this the token table would only grow. A row's presence is seen through
``get_token`` asked as of long ago, when every token put here was still valid.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from faxpush.core.secrets import Secret
from faxpush.storage._common import EXPIRED_TOKENS_PER_PUT
from faxpush.storage.base import Store
from tests.contract.builders import NOW

HOUR = timedelta(hours=1)
SECOND = timedelta(seconds=1)
LONG_AGO = datetime(2001, 1, 1, tzinfo=UTC)


async def _held(store: Store, keys: list[str]) -> list[str]:
    """The keys the store still has a row for, expired or not."""
    return [key for key in keys if await store.get_token(key, now=LONG_AGO) is not None]


async def test_putting_a_token_drops_the_expired_ones(store: Store) -> None:
    wall_clock = datetime.now(UTC)
    await store.put_token("valid", Secret("valid"), expires_at=wall_clock + HOUR)
    expired = [f"secret-{n}" for n in range(3)]
    for n, key in enumerate(expired):
        await store.put_token(key, Secret(f"old-{n}"), expires_at=wall_clock - (n + 1) * HOUR)
    assert expired[-1] in await _held(store, expired)  # put after it expired: still there

    await store.put_token("fresh", Secret("fresh"), expires_at=wall_clock + HOUR)

    assert await _held(store, expired) == []
    assert await store.get_token("valid", now=wall_clock) == Secret("valid")
    assert await store.get_token("fresh", now=wall_clock) == Secret("fresh")


async def test_expiry_is_judged_by_the_time_given(store: Store) -> None:
    """A token expiring at ``now`` has expired, as ``get_token`` sees it."""
    await store.put_token("at-now", Secret("a"), expires_at=NOW, now=NOW - HOUR)
    await store.put_token("after-now", Secret("b"), expires_at=NOW + SECOND, now=NOW - HOUR)
    assert await _held(store, ["at-now", "after-now"]) == ["at-now", "after-now"]

    await store.put_token("fresh", Secret("c"), expires_at=NOW + HOUR, now=NOW)

    assert await _held(store, ["at-now", "after-now", "fresh"]) == ["after-now", "fresh"]


async def test_each_put_drops_a_bounded_number_the_longest_expired_first(store: Store) -> None:
    keys = [f"old-{n:03d}" for n in range(EXPIRED_TOKENS_PER_PUT + 3)]
    for n, key in enumerate(keys):  # old-000 expired first
        expires_at = NOW - HOUR + n * SECOND
        await store.put_token(key, Secret(key), expires_at=expires_at, now=LONG_AGO)

    await store.put_token("fresh-1", Secret("1"), expires_at=NOW + HOUR, now=NOW)
    assert await _held(store, keys) == keys[-3:]

    await store.put_token("fresh-2", Secret("2"), expires_at=NOW + HOUR, now=NOW)
    assert await _held(store, keys) == []
