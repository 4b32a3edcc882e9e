"""Open the store a database URL names (or the settings, with their secret key).

===========================  ==============================================================
``sqlite:///relative.db``    a SQLite file relative to the working directory
``sqlite:////abs/path.db``   a SQLite file at an absolute path
``memory://``                an in-process store; everything is lost when the process ends
``postgresql://…``           PostgreSQL (also ``postgres://``); user, password, host, port,
                             database and libpq-style options as asyncpg reads them
===========================  ==============================================================
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

from faxpush.core.errors import ConfigurationError
from faxpush.core.settings import POSTGRES_SCHEMES, Settings
from faxpush.storage.base import Store
from faxpush.storage.cipher import (
    KEY_ENV_VAR,
    SecretCipher,
    generate_key,
    load_cipher,
    parse_keys,
)
from faxpush.storage.memory import MemoryStore
from faxpush.storage.sqlite import SqliteStore

_SUPPORTED = (
    "sqlite:///relative/path.db, sqlite:////absolute/path.db, "
    "postgresql://user:password@host:5432/database or memory://"
)


def _scheme(url: str) -> str:
    scheme, separator, _ = url.partition("://")
    if not separator or not scheme:
        raise ConfigurationError(
            f"the database URL has no scheme (such as sqlite://); use {_SUPPORTED}"
        )
    return scheme.lower()


def sqlite_path(url: str) -> Path | None:
    """The database file a ``sqlite://`` URL names; None for other backends."""
    if _scheme(url) != "sqlite":
        return None
    rest = url.partition("://")[2]
    if not rest.startswith("/"):
        raise ConfigurationError(
            "a SQLite URL needs three slashes before a relative path and four before an "
            "absolute one: sqlite:///faxpush.db or sqlite:////var/lib/faxpush/faxpush.db"
        )
    location, _, query = rest[1:].partition("?")
    if query:
        raise ConfigurationError(
            f"SQLite URLs take no options (found ?{query}); remove them from the database URL"
        )
    location = unquote(location)
    if not location:
        raise ConfigurationError(
            "the SQLite URL names no file; use sqlite:///faxpush.db or sqlite:////abs/path.db"
        )
    return Path(location)


def _sqlite_file(url: str) -> Path | None:
    """:func:`sqlite_path`, refused when its directory does not exist: a mistyped path must
    not quietly create directories and an empty database."""
    path = sqlite_path(url)
    if path is not None and not path.parent.is_dir():
        raise ConfigurationError(
            f"the directory {str(path.parent)!r} of the SQLite database {url} does not exist; "
            "create it first or correct the path"
        )
    return path


def secret_key_file(url: str) -> Path:
    """The key file that seals the secrets of the database ``url`` names, for when
    ``FAXPUSH_SECRET_KEY`` is not set: ``<database>.key`` beside a SQLite file.

    PostgreSQL has no such place: a key file in the working directory would differ between
    workers started in different directories (each creating a key of its own, unable to open
    the others' secrets), so it needs ``FAXPUSH_SECRET_KEY`` (:class:`ConfigurationError`).
    Neither has ``memory://`` (its secrets end with the process: see
    :func:`cipher_from_settings`) nor an unknown scheme.
    """
    path = sqlite_path(url)
    if path is not None:
        return path.with_name(path.name + ".key")
    scheme = _scheme(url)
    if scheme in POSTGRES_SCHEMES:
        raise ConfigurationError(
            f"PostgreSQL needs {KEY_ENV_VAR}: the stored secrets must be sealed with the same "
            "key by every worker and command, wherever it runs; create a key with "
            f"`faxpush secret-key` and set {KEY_ENV_VAR} (or secret_key in the configuration "
            "file) to that same value everywhere the database is used"
        )
    if scheme == "memory":
        raise ConfigurationError("memory:// keeps nothing on disk and needs no key file")
    raise ConfigurationError(f"unknown database URL scheme {scheme!r}; use {_SUPPORTED}")


async def open_store(
    url: str,
    cipher: SecretCipher,
    *,
    migrate: bool = True,
    sqlite_store_process: bool = False,
    one_off: bool = False,
) -> Store:
    """Connect to the store ``url`` names and (unless ``migrate`` is False) bring its schema
    up to date. ``sqlite_store_process``: see :meth:`SqliteStore.open` (``store_process``).

    ``one_off``: for a command that does one thing and exits: PostgreSQL is tried once, so
    an unreachable server is one error within the connect timeout instead of retries for
    15 s (long-running processes keep reconnecting)."""
    scheme = _scheme(url)
    store: Store
    if scheme == "memory":
        store = MemoryStore(cipher)
    elif scheme == "sqlite":
        path = _sqlite_file(url)
        assert path is not None
        store = await SqliteStore.open(path, cipher, store_process=sqlite_store_process)
    elif scheme in POSTGRES_SCHEMES:
        # Imported here: a program on SQLite or memory does not need asyncpg loaded.
        from faxpush._db.postgres import Reconnect
        from faxpush.storage.postgres import PostgresStore

        store = await PostgresStore.open(
            url, cipher, reconnect=Reconnect.never() if one_off else None
        )
    else:
        raise ConfigurationError(f"unknown database URL scheme {scheme!r}; use {_SUPPORTED}")
    if migrate:
        try:
            await store.migrate()
        except BaseException:
            await store.close()
            raise
    return store


def cipher_from_settings(settings: Settings, *, notify: Callable[[str], None]) -> SecretCipher:
    """The cipher for stored secrets: FAXPUSH_SECRET_KEY, else a key file beside the SQLite
    database (PostgreSQL: refused, see :func:`secret_key_file`; ``memory://``: a key that
    lives as long as the process).

    ``notify`` receives the one-time notice when a key file is created.
    """
    if settings.secret_key is not None:
        return parse_keys(settings.secret_key.reveal())
    if _scheme(settings.database_url) == "memory":
        # Nothing outlives the process, so neither need the key: a file would only litter
        # the working directory.
        return SecretCipher([generate_key()], source="a key of this process")
    _sqlite_file(settings.database_url)  # a key file is not created in a mistyped directory
    cipher, notice = load_cipher(None, secret_key_file(settings.database_url))
    if notice is not None:
        notify(notice)
    return cipher


async def open_configured_store(
    settings: Settings, *, notify: Callable[[str], None], one_off: bool = False
) -> Store:
    """Open (and migrate) the store named by ``settings.database_url``; ``notify`` receives
    the one-time notice when a key file is created (see :func:`cipher_from_settings`);
    ``one_off``: see :func:`open_store`; such a command also writes on the store's own thread
    (a store process would cost a process start for a few statements)."""
    cipher = cipher_from_settings(settings, notify=notify)
    return await open_store(
        settings.database_url,
        cipher,
        sqlite_store_process=settings.sqlite_store_process and not one_off,
        one_off=one_off,
    )
