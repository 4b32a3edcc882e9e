"""The OAuth2 token cache key: token URL, client id, a keyed hash of the secret, the account."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from faxpush.core.secrets import Secret
from faxpush.delivery.auth.token_cache import TOKEN_CACHE_PURPOSE, IssuedToken, TokenCache
from faxpush.storage.cipher import SecretCipher, generate_key

URL = "https://auth.example/token"
BASE = {"token_url": URL, "client_id": "client", "client_secret": Secret("s3cret"), "account": "A"}


def _key(cache: TokenCache, **changes: object) -> str:
    fields = BASE | changes
    return cache.cache_key(
        token_url=str(fields["token_url"]),
        client_id=str(fields["client_id"]),
        client_secret=Secret(str(fields["client_secret"])),
        account=None if fields["account"] is None else str(fields["account"]),
    )


def test_every_part_of_the_credentials_and_the_account_separates_keys() -> None:
    cache = TokenCache()
    variants: list[dict[str, object]] = [
        {},
        {"token_url": URL + "2"},
        {"client_id": "client2"},
        {"client_secret": "s3cret2"},
        {"account": "B"},
        {"account": ""},
        {"account": None},
    ]
    keys = [_key(cache, **variant) for variant in variants]
    assert len(set(keys)) == len(variants)
    assert _key(cache) == _key(cache)


def test_fields_cannot_run_into_each_other() -> None:
    cache = TokenCache()
    assert _key(cache, client_id="a b", account="c") != _key(cache, client_id="a", account="b c")


def test_the_secret_never_appears_in_the_key() -> None:
    cache = TokenCache()
    key = _key(cache, client_secret="very-secret-value")
    assert "very-secret-value" not in key
    assert key.startswith("oauth2/2 ")


def test_the_hash_key_decides_whether_caches_agree() -> None:
    shared = b"x" * 32
    assert _key(TokenCache(secret_hash_key=shared)) == _key(TokenCache(secret_hash_key=shared))
    assert _key(TokenCache()) != _key(TokenCache())  # a random key each


def test_keys_derived_from_the_same_cipher_key_agree_and_differ_from_others() -> None:
    key = generate_key()
    first = SecretCipher([key]).derive_key(TOKEN_CACHE_PURPOSE)
    assert first == SecretCipher([key, generate_key()]).derive_key(TOKEN_CACHE_PURPOSE)
    assert first != SecretCipher([generate_key()]).derive_key(TOKEN_CACHE_PURPOSE)
    assert first != SecretCipher([key]).derive_key("another purpose")
    assert len(first) == 32
    assert key.encode() not in first


def test_the_old_key_format_never_matches() -> None:
    assert _key(TokenCache(), account=None) != f"oauth2 {URL} client"


async def test_a_token_is_only_reused_under_the_same_key() -> None:
    cache = TokenCache()
    fetched: list[str] = []

    def fetch(name: str) -> Callable[[], Awaitable[IssuedToken]]:
        async def issue() -> IssuedToken:
            fetched.append(name)
            return IssuedToken(Secret(f"token-{name}"), 3600)

        return issue

    a_key, b_key = _key(cache), _key(cache, client_secret="wrong", account="B")
    assert await cache.obtain(a_key, fetch("a")) == (Secret("token-a"), True)
    assert await cache.obtain(b_key, fetch("b")) == (Secret("token-b"), True)
    assert await cache.obtain(a_key, fetch("a")) == (Secret("token-a"), False)
    assert fetched == ["a", "b"]
