"""Contract: an account's TLS material (CA, client certificate, sealed key) and its copy in
each push survive the store, are sealed at rest and rotated like other credentials."""

from __future__ import annotations

from dataclasses import replace

import pytest

from faxpush.core.secrets import Secret
from faxpush.core.targets import Account, PushTarget
from faxpush.storage.base import NewPush, Store
from faxpush.storage.cipher import SecretCipher, generate_key

from .builders import NOW, claim_all, new_push
from .conftest import TrackingBackend

CA_PEM = "-----BEGIN CERTIFICATE-----\nca-of-account-4711\n-----END CERTIFICATE-----\n"
CERT_PEM = "-----BEGIN CERTIFICATE-----\nclient-cert-4711\n-----END CERTIFICATE-----\n"
KEY_BODY = "client-key-plaintext-e81d"
KEY_PEM = f"-----BEGIN PRIVATE KEY-----\n{KEY_BODY}\n-----END PRIVATE KEY-----\n"


def tls_account() -> Account:
    return Account(
        customer_number="4711",
        push_url="https://push.example.test/hook",
        push_ca_pem=CA_PEM,
        push_client_cert=CERT_PEM,
        push_client_key=Secret(KEY_PEM),
    )


def tls_push(delivery_id: str = "tls-1") -> NewPush:
    push = new_push(delivery_id, credentials=None)
    target: PushTarget = replace(
        push.target, ca_pem=CA_PEM, client_cert=CERT_PEM, client_key=Secret(KEY_PEM)
    )
    return replace(push, target=target)


async def test_account_tls_material_roundtrip(store: Store) -> None:
    await store.put_account(tls_account())
    assert await store.get_account("4711") == tls_account()
    assert await store.list_accounts() == [tls_account()]
    await store.put_account(replace(tls_account(), push_client_cert=None, push_client_key=None))
    fetched = await store.get_account("4711")
    assert fetched is not None
    assert (fetched.push_ca_pem, fetched.push_client_cert, fetched.push_client_key) == (
        CA_PEM,
        None,
        None,
    )


async def test_push_keeps_the_tls_material_through_claims(store: Store) -> None:
    push = tls_push()
    await store.enqueue(push, now=NOW)
    await store.enqueue(new_push("plain"), now=NOW)
    stored = await store.get_push("tls-1")
    assert stored is not None
    assert stored.target == push.target
    claimed = {c.push.delivery_id: c.push.target for c in await claim_all(store)}
    assert claimed["tls-1"] == push.target
    assert (claimed["plain"].ca_pem, claimed["plain"].client_key) == (None, None)


async def test_client_keys_are_rotated_and_never_shown(backend: TrackingBackend) -> None:
    old_key, new_key = generate_key(), generate_key()
    first = await backend.open(SecretCipher([old_key]))
    await first.put_account(tls_account())
    push = tls_push()
    await first.enqueue(push, now=NOW)
    both = await backend.open(SecretCipher([new_key, old_key]))
    assert await both.rotate_secrets() == 2  # two keys; neither has other credentials
    after = await backend.open(SecretCipher([new_key]))
    assert await after.get_account("4711") == tls_account()
    stored = await after.get_push("tls-1")
    assert stored is not None
    assert stored.target.client_key == Secret(KEY_PEM)
    shown = repr(await after.list_accounts()) + repr(stored) + repr(await claim_all(after))
    assert KEY_BODY not in shown
    assert "client-cert-4711" not in shown  # long PEM text stays out of reprs too


async def test_client_keys_never_reach_the_database_files(
    backend: TrackingBackend, cipher: SecretCipher
) -> None:
    if backend.database_files() is None:
        pytest.skip(f"the {backend.name} backend keeps no files")
    store = await backend.open(cipher)
    await store.put_account(tls_account())
    push = tls_push()
    await store.enqueue(push, now=NOW)
    await store.close()
    files = backend.database_files()
    assert files
    content = b"".join(path.read_bytes() for path in files)
    assert b"client-cert-4711" in content  # certificates are public: stored as they are
    assert KEY_BODY.encode() not in content
