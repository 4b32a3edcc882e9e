"""Contract: the web console's users, kept with password hashes only."""

from __future__ import annotations

from datetime import timedelta
from functools import cache

import pytest

from faxpush.core.errors import InputError
from faxpush.core.passwords import hash_password, verify_password
from faxpush.storage.base import Store
from faxpush.storage.cipher import SecretCipher
from faxpush.storage.operator import ConsoleUser, OperatorStore

from .builders import NOW
from .conftest import TrackingBackend


@cache
def _hash(password: str) -> str:
    """One hash per password for the whole run: scrypt is slow on purpose."""
    return hash_password(password)


async def test_users_create_find_list_delete(operator_store: OperatorStore) -> None:
    alice = await operator_store.create_console_user("alice", _hash("alice-pw-1"), now=NOW)
    assert alice == ConsoleUser(name="alice", password_hash=_hash("alice-pw-1"), created_at=NOW)
    later = NOW + timedelta(minutes=5)
    await operator_store.create_console_user("Bob Smith", _hash("bob-pw-12"), now=later)

    assert await operator_store.console_user("alice") == alice
    assert await operator_store.console_user("Alice") is None  # names are compared exactly
    assert await operator_store.console_user("carol") is None
    listed = await operator_store.list_console_users()
    assert [user.name for user in listed] == ["Bob Smith", "alice"]  # bytewise order
    assert listed[0].created_at == later
    found = await operator_store.console_user("alice")
    assert found is not None
    assert verify_password("alice-pw-1", found.password_hash)

    assert await operator_store.delete_console_user("alice") is True
    assert await operator_store.delete_console_user("alice") is False
    assert await operator_store.delete_console_user("ghost") is False
    assert await operator_store.console_user("alice") is None
    assert [user.name for user in await operator_store.list_console_users()] == ["Bob Smith"]
    # a deleted user's name is free again
    again = await operator_store.create_console_user("alice", _hash("alice-pw-2"), now=later)
    assert await operator_store.console_user("alice") == again


async def test_names_are_unique_and_checked(operator_store: OperatorStore) -> None:
    await operator_store.create_console_user("ops", _hash("first-pw-1"), now=NOW)
    with pytest.raises(InputError, match="'ops' exists already"):
        await operator_store.create_console_user("ops", _hash("second-pw"), now=NOW)
    for name in ("", "   ", " ops", "x" * 101):
        with pytest.raises(InputError, match="console user name"):
            await operator_store.create_console_user(name, _hash("first-pw-1"), now=NOW)
    (user,) = await operator_store.list_console_users()
    assert verify_password("first-pw-1", user.password_hash)  # the first one is kept


async def test_a_password_is_never_stored(operator_store: OperatorStore) -> None:
    for not_a_hash in ("hunter2-hunter2", "scrypt$16384$8$1$c2FsdA==$a2V5", ""):
        with pytest.raises(InputError, match="password hash"):
            await operator_store.create_console_user("ops", not_a_hash, now=NOW)
    assert await operator_store.list_console_users() == []
    with pytest.raises(InputError, match="time zone"):
        await operator_store.create_console_user(
            "ops", _hash("first-pw-1"), now=NOW.replace(tzinfo=None)
        )


async def test_every_handle_sees_the_users(
    backend: TrackingBackend, store: Store, cipher: SecretCipher
) -> None:
    assert isinstance(store, OperatorStore)
    user = await store.create_console_user("ops", _hash("first-pw-1"), now=NOW)
    other = await backend.open(cipher)
    assert isinstance(other, OperatorStore)
    assert await other.console_user("ops") == user
    assert await other.delete_console_user("ops") is True
    assert await store.console_user("ops") is None
