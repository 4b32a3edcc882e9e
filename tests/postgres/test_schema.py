"""Schema: migrations (concurrent, newer than known), the template database, secrets at rest."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from faxpush._db.migrations import load_migrations
from faxpush.core.errors import StorageError
from faxpush.core.secrets import Secret
from faxpush.core.targets import Account
from faxpush.storage._pg_admin import SCHEMA
from faxpush.storage.base import PushState
from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.factory import open_store as open_store_from_url
from faxpush.storage.postgres import PostgresStore
from tests import pg_support
from tests.contract.builders import NOW, PASSWORD, enqueue_many, new_push

from .conftest import OpenStore

pytestmark = pytest.mark.postgres

TABLES = ("accounts", "attempts", "oauth_tokens", "pushes", "schema_version")


async def _tables(url: str) -> list[str]:
    async with pg_support.admin_connection(url) as conn:
        found = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        )
    return [row["tablename"] for row in found]


async def test_concurrent_migrations_apply_each_version_once(
    open_store: OpenStore, empty_pg_url: str
) -> None:
    stores = [await open_store(empty_pg_url) for _ in range(4)]
    await asyncio.gather(*(store.migrate() for store in stores))
    await stores[0].migrate()  # and again: a no-op
    async with pg_support.admin_connection(empty_pg_url) as conn:
        versions = await conn.fetch("SELECT version FROM schema_version ORDER BY 1")
    known = load_migrations(SCHEMA.package, SCHEMA.folder)
    assert [row["version"] for row in versions] == [m.version for m in known]
    assert set(TABLES) <= set(await _tables(empty_pg_url))


async def test_a_newer_schema_is_refused(open_store: OpenStore, pg_url: str) -> None:
    async with pg_support.admin_connection(pg_url) as conn:
        await conn.execute(
            "INSERT INTO schema_version (version, name, applied_at) VALUES (999, 'future', now())"
        )
    store = await open_store()
    with pytest.raises(StorageError, match="newer than this faxpush knows"):
        await store.migrate()


async def test_the_template_is_built_once_and_copied_per_test(pg_url: str) -> None:
    first = await pg_support.outbox_template()
    assert await pg_support.outbox_template() == first
    assert first.startswith(pg_support.TEMPLATE_PREFIX)
    assert set(TABLES) <= set(await _tables(pg_url))
    async with pg_support.fresh_database(first) as other:
        assert other != pg_url
        assert set(TABLES) <= set(await _tables(other))
    async with pg_support.admin_connection() as admin:
        left = await admin.fetchval(
            "SELECT count(*) FROM pg_database WHERE datname = $1", pg_support.database_name(other)
        )
    assert left == 0


async def test_plaintext_secrets_never_reach_the_tables(open_store: OpenStore) -> None:
    store = await open_store()
    await enqueue_many(store, 3)
    await store.enqueue(new_push("unicode", credentials="pässwörd-ünïcode-Ω"), now=NOW)
    await store.put_account(Account("4711", push_credentials=Secret("client-secret-plain-1")))
    await store.put_token("k", Secret("access-token-plain-2"), expires_at=NOW + timedelta(hours=1))
    await store.rotate_secrets()
    dumped = await _dump(store)
    assert "client-1" in dumped  # the principal is stored in the clear: the scan sees rows
    for secret in (PASSWORD, "pässwörd-ünïcode-Ω", "client-secret-plain-1", "access-token-plain-2"):
        assert secret not in dumped
        assert secret.encode().hex() not in dumped  # bytea renders as hex


async def _dump(store: PostgresStore) -> str:
    async with pg_support.admin_connection(_url_of(store)) as conn:
        parts = [
            await conn.fetchval(f"SELECT coalesce(string_agg(t::text, ' '), '') FROM {table} t")
            for table in ("pushes", "accounts", "oauth_tokens", "attempts")
        ]
    return " ".join(parts)


def _url_of(store: PostgresStore) -> str:
    return pg_support.database_url(store.url.rpartition("/")[2])


async def test_the_factory_opens_postgresql_urls(empty_pg_url: str) -> None:
    url = empty_pg_url.replace("postgresql://", "postgres://", 1)
    store = await open_store_from_url(url, SecretCipher([generate_key()]))
    try:
        assert isinstance(store, PostgresStore)
        assert await store.count_by_state() == dict.fromkeys(PushState, 0)  # migrated
    finally:
        await store.close()
