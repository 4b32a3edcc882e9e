"""What the delivery commands share: settings from env + flags, logging, the store."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

import typer

from faxpush._observe import logs
from faxpush.cli import _settings
from faxpush.core.settings import LogFormat, Settings
from faxpush.storage.base import Store
from faxpush.storage.factory import open_configured_store

T = TypeVar("T")

DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        "-d",
        help="Outbox database, e.g. sqlite:///faxpush.db \\[env FAXPUSH_DATABASE_URL].",
        show_default=False,
    ),
]


CaBundleOption = Annotated[
    str | None,
    typer.Option(
        "--ca-bundle",
        help="PEM file of CA certificates trusted for HTTPS receivers and token URLs, "
        "besides the system's \\[env FAXPUSH_CA_BUNDLE].",
        show_default=False,
    ),
]


def load_settings(**overrides: Any) -> Settings:
    """Settings from the configuration file, FAXPUSH_* variables and CLI flags (non-None
    ``overrides``) on top: the one loader of every command (:mod:`faxpush.cli._settings`)."""
    return _settings.load_settings(**overrides)


def configure_logging(level: str, fmt: LogFormat | str = LogFormat.TEXT) -> None:
    """One line per event on stderr, text or JSON (see :mod:`faxpush._observe.logs`)."""
    logs.configure_logging(level, fmt)


def notice(message: str) -> None:
    if logs.writes_json():
        logging.getLogger("faxpush.cli").warning(message)
        return
    typer.secho(f"faxpush: {message}", err=True, fg=typer.colors.YELLOW)


@asynccontextmanager
async def opened_store(settings: Settings) -> AsyncIterator[Store]:
    # A one-off command: an unreachable PostgreSQL is one error at once, not 15 s of retries.
    store = await open_configured_store(settings, notify=notice, one_off=True)
    try:
        yield store
    finally:
        await store.close()


def run_with_store(settings: Settings, action: Callable[[Store], Awaitable[T]]) -> T:
    """Open the configured store, run ``action`` on it, close it."""

    async def main() -> T:
        async with opened_store(settings) as store:
            return await action(store)

    return asyncio.run(main())
