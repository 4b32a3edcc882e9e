"""Contract: operator API tokens (kept as hashes) and idempotency answers."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from faxpush.core.errors import InputError
from faxpush.storage.operator import ApiToken, IdempotentAnswer, OperatorStore, TokenScope

from .builders import NOW


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def test_tokens_create_find_list_revoke(operator_store: OperatorStore) -> None:
    ops = await operator_store.create_api_token("ops", TokenScope.WRITE, _hash("secret-1"), now=NOW)
    assert ops == ApiToken(name="ops", scope=TokenScope.WRITE, created_at=NOW)
    await operator_store.create_api_token("dash", TokenScope.READ, _hash("secret-2"), now=NOW)

    assert await operator_store.api_token_by_hash(_hash("secret-1")) == ops
    assert await operator_store.api_token_by_hash(_hash("nope")) is None
    assert [t.name for t in await operator_store.list_api_tokens()] == ["dash", "ops"]

    later = NOW + timedelta(hours=1)
    assert await operator_store.revoke_api_token("ops", now=later) is True
    assert await operator_store.revoke_api_token("ops", now=later) is False
    assert await operator_store.revoke_api_token("ghost", now=later) is False
    assert await operator_store.api_token_by_hash(_hash("secret-1")) is None
    listed = {t.name: t for t in await operator_store.list_api_tokens()}
    assert listed["ops"].revoked_at == later
    assert listed["dash"].revoked_at is None
    assert (await operator_store.api_token_by_hash(_hash("secret-2"))) == listed["dash"]


async def test_token_names_and_hashes_are_unique(operator_store: OperatorStore) -> None:
    await operator_store.create_api_token("ops", TokenScope.READ, _hash("a"), now=NOW)
    with pytest.raises(InputError, match="ops"):
        await operator_store.create_api_token("ops", TokenScope.READ, _hash("b"), now=NOW)
    await operator_store.revoke_api_token("ops", now=NOW)
    with pytest.raises(InputError, match="ops"):  # a revoked token keeps its name
        await operator_store.create_api_token("ops", TokenScope.READ, _hash("b"), now=NOW)
    with pytest.raises(InputError):
        await operator_store.create_api_token("other", TokenScope.READ, _hash("a"), now=NOW)
    with pytest.raises(InputError, match="name"):
        await operator_store.create_api_token("  ", TokenScope.READ, _hash("c"), now=NOW)
    assert [t.name for t in await operator_store.list_api_tokens()] == ["ops"]


async def test_touch_records_a_use_at_most_once_a_minute(operator_store: OperatorStore) -> None:
    await operator_store.create_api_token("ops", TokenScope.READ, _hash("t"), now=NOW)

    async def last_used() -> object:
        (token,) = await operator_store.list_api_tokens()
        return token.last_used_at

    first = NOW + timedelta(seconds=5)
    await operator_store.touch_api_token("ops", now=first)
    assert await last_used() == first
    await operator_store.touch_api_token("ops", now=first + timedelta(seconds=30))
    assert await last_used() == first
    await operator_store.touch_api_token("ops", now=first + timedelta(seconds=61))
    assert await last_used() == first + timedelta(seconds=61)
    await operator_store.touch_api_token("ghost", now=first)  # no such token: nothing


async def test_idempotent_answers_first_wins_until_expiry(operator_store: OperatorStore) -> None:
    keep = timedelta(hours=24)
    first = IdempotentAnswer("ops:k1", "h1", 202, b'{"id": "d1"}', NOW)
    assert await operator_store.get_idempotent("ops:k1", now=NOW) is None

    assert await operator_store.remember_idempotent(first, keep=keep, now=NOW) == first
    second = IdempotentAnswer("ops:k1", "h2", 202, b'{"id": "d2"}', NOW + timedelta(hours=1))
    later = NOW + timedelta(hours=1)
    assert await operator_store.remember_idempotent(second, keep=keep, now=later) == first
    assert await operator_store.get_idempotent("ops:k1", now=later) == first
    assert await operator_store.get_idempotent("ops:k2", now=later) is None

    expired = NOW + keep
    assert await operator_store.get_idempotent("ops:k1", now=expired) is None
    third = IdempotentAnswer("ops:k1", "h3", 400, b"", expired)
    assert await operator_store.remember_idempotent(third, keep=keep, now=expired) == third
    assert await operator_store.get_idempotent("ops:k1", now=expired) == third


async def test_remembering_drops_expired_answers(operator_store: OperatorStore) -> None:
    short = timedelta(minutes=1)
    for n in range(5):
        answer = IdempotentAnswer(f"k{n}", "h", 202, b"x", NOW)
        await operator_store.remember_idempotent(answer, keep=short, now=NOW)
    much_later = NOW + timedelta(days=1)
    fresh = IdempotentAnswer("fresh", "h", 202, b"y", much_later)
    await operator_store.remember_idempotent(fresh, keep=short, now=much_later)
    # Expired answers are gone (as far as anyone can tell, and a new one takes their key).
    again = IdempotentAnswer("k0", "other", 201, b"z", much_later)
    assert await operator_store.remember_idempotent(again, keep=short, now=much_later) == again
    with pytest.raises(InputError):
        await operator_store.remember_idempotent(fresh, keep=timedelta(0), now=much_later)
