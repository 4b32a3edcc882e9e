"""Contract: accounts, the OAuth2 token cache, and secrets at rest (encryption, rotation)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from faxpush.core.errors import ConfigurationError
from faxpush.core.models import AuthMethod
from faxpush.core.secrets import Secret
from faxpush.core.targets import Account, ClientAuthStyle, PushFormat
from faxpush.storage.base import Store
from faxpush.storage.cipher import SecretCipher, generate_key

from .builders import NOW, PASSWORD, claim_all, enqueue_many, new_push
from .conftest import TrackingBackend

CLIENT_SECRET = "client-secret-plaintext-9c1e"
ACCESS_TOKEN = "access-token-plaintext-52ab"


def _account(customer_number: str = "4711") -> Account:
    return Account(
        customer_number=customer_number,
        push_format=PushFormat.TEMPLATE,
        push_template="{{ report.jobId }}",
        push_template_content_type="text/plain",
        push_url="https://push.example.test/hook",
        push_auth=AuthMethod.OAUTH2,
        push_principal="client-1",
        push_credentials=Secret(CLIENT_SECRET),
        oauth2_token_url="https://auth.example.test/token",
        oauth2_client_auth=ClientAuthStyle.CLIENT_SECRET_POST,
        retry_client_errors=True,
    )


async def test_account_roundtrip_with_secret(store: Store) -> None:
    account = _account()
    await store.put_account(account)
    assert await store.get_account("4711") == account
    fetched = await store.get_account("4711")
    assert fetched is not None
    assert fetched.push_credentials is not None
    assert fetched.push_credentials.reveal() == CLIENT_SECRET


async def test_account_defaults_roundtrip(store: Store) -> None:
    plain = Account(customer_number="1")
    await store.put_account(plain)
    assert await store.get_account("1") == plain


async def test_put_account_replaces(store: Store) -> None:
    await store.put_account(_account())
    replaced = Account(customer_number="4711", push_format=PushFormat.JSON, push_url="https://x")
    await store.put_account(replaced)
    assert await store.get_account("4711") == replaced
    assert await store.list_accounts() == [replaced]


async def test_list_accounts_by_customer_number(store: Store) -> None:
    for number in ("300", "100", "200"):
        await store.put_account(_account(number))
    assert [a.customer_number for a in await store.list_accounts()] == ["100", "200", "300"]
    assert await store.get_account("999") is None


async def test_token_cache_roundtrip_and_expiry(store: Store) -> None:
    expires = NOW + timedelta(minutes=5)
    assert await store.get_token("acct:4711", now=NOW) is None
    await store.put_token("acct:4711", Secret(ACCESS_TOKEN), expires_at=expires)

    assert await store.get_token("acct:4711", now=NOW) == Secret(ACCESS_TOKEN)
    assert await store.get_token("acct:4711", now=expires - timedelta(microseconds=1)) is not None
    assert await store.get_token("acct:4711", now=expires) is None
    assert await store.get_token("acct:other", now=NOW) is None

    later = expires + timedelta(hours=1)
    await store.put_token("acct:4711", Secret("fresh-token"), expires_at=later)
    assert await store.get_token("acct:4711", now=expires) == Secret("fresh-token")


async def _fill_with_secrets(store: Store) -> None:
    await enqueue_many(store, 3)
    await store.put_account(_account())
    await store.put_token("acct:4711", Secret(ACCESS_TOKEN), expires_at=NOW + timedelta(hours=1))


async def _assert_secrets_readable(store: Store) -> None:
    pushes = await store.list_pushes()
    assert len(pushes) == 3
    assert all(p.target.credentials == Secret(PASSWORD) for p in pushes)
    account = await store.get_account("4711")
    assert account is not None
    assert account.push_credentials == Secret(CLIENT_SECRET)
    assert await store.get_token("acct:4711", now=NOW) == Secret(ACCESS_TOKEN)
    assert len(await claim_all(store)) == 3


async def test_rotation_lets_the_new_key_alone_read_everything(backend: TrackingBackend) -> None:
    old_key, new_key = generate_key(), generate_key()
    await _fill_with_secrets(await backend.open(SecretCipher([old_key])))
    both = await backend.open(SecretCipher([new_key, old_key]))
    # Before rotation, the new key alone cannot read what the old one sealed.
    with pytest.raises(ConfigurationError, match="encrypted with another key"):
        await (await backend.open(SecretCipher([new_key]))).list_pushes()

    assert await both.rotate_secrets() == 3 + 1 + 1

    await _assert_secrets_readable(await backend.open(SecretCipher([new_key])))
    with pytest.raises(ConfigurationError, match="encrypted with another key"):
        await (await backend.open(SecretCipher([old_key]))).list_accounts()


async def test_a_wrong_key_is_a_configuration_error(backend: TrackingBackend) -> None:
    await _fill_with_secrets(await backend.open(SecretCipher([generate_key()])))
    stranger = await backend.open(SecretCipher([generate_key()]))
    with pytest.raises(ConfigurationError, match="encrypted with another key") as caught:
        await stranger.get_push("d0000")
    assert PASSWORD not in str(caught.value)
    with pytest.raises(ConfigurationError):
        await stranger.get_token("acct:4711", now=NOW)


async def test_records_never_show_secrets(store: Store) -> None:
    await _fill_with_secrets(store)
    shown = " ".join(
        [
            repr(await store.list_pushes()),
            str(await store.get_push("d0000")),
            repr(await store.list_accounts()),
            repr(await store.get_token("acct:4711", now=NOW)),
            repr(await claim_all(store)),
            repr(store),
        ]
    )
    for secret in (PASSWORD, CLIENT_SECRET, ACCESS_TOKEN):
        assert secret not in shown
    assert "**********" in shown


async def test_plaintext_secrets_never_reach_the_database_files(
    backend: TrackingBackend, cipher: SecretCipher
) -> None:
    if backend.database_files() is None:
        pytest.skip(f"the {backend.name} backend keeps no files")
    store = await backend.open(cipher)
    await _fill_with_secrets(store)
    await store.enqueue(new_push("unicode", credentials="pässwörd-ünïcode-Ω"), now=NOW)
    await store.rotate_secrets()
    while_open = _read_all(backend)  # includes the write-ahead log
    await store.close()
    after_close = _read_all(backend)
    for content in (while_open, after_close):
        assert b"client-1" in content  # the principal is stored in the clear: the scan works
        for secret in (PASSWORD, CLIENT_SECRET, ACCESS_TOKEN, "pässwörd-ünïcode-Ω"):
            assert secret.encode("utf-8") not in content
            assert secret.encode("utf-16-le") not in content


def _read_all(backend: TrackingBackend) -> bytes:
    files = backend.database_files()
    assert files
    return b"".join(path.read_bytes() for path in files)
