"""Assemble a worker: settings -> cipher -> store -> HTTP session -> dispatcher, and run it.

This is the only place that wires the delivery parts together; ``faxpush worker``,
``faxpush push send`` and the emulator's in-process dispatcher all go through it. The store
comes from :func:`faxpush.storage.factory.open_configured_store`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp

from faxpush._observe.metrics import Metrics
from faxpush._signals import install_stop_signals
from faxpush.core.settings import Settings
from faxpush.delivery.auth.digest import DigestNonceCache
from faxpush.delivery.auth.token_cache import TOKEN_CACHE_PURPOSE, TokenCache
from faxpush.delivery.deadlines import Deadlines
from faxpush.delivery.dispatcher import Dispatcher, SendFn
from faxpush.delivery.hooks import AttemptHook, default_hooks
from faxpush.delivery.http import Timeouts, session_from_settings
from faxpush.delivery.send import SendResult, send_push
from faxpush.heap import settle_heap
from faxpush.storage.base import PushRecord, Store
from faxpush.storage.factory import open_configured_store

logger = logging.getLogger("faxpush.worker")


def make_sender(
    session: aiohttp.ClientSession,
    settings: Settings,
    *,
    token_cache: TokenCache,
    digest_cache: DigestNonceCache,
) -> SendFn:
    """Bind the shared session and caches into the dispatcher's ``send`` callable."""
    timeouts = Timeouts.from_settings(settings)
    deadlines = Deadlines()

    # A plain function handing back send_push's coroutine: one coroutine frame fewer to step
    # through each time a send resumes.
    def send(push: PushRecord) -> Coroutine[Any, Any, SendResult]:
        return send_push(
            session,
            url=push.target.url,
            body=push.body,
            content_type=push.content_type,
            delivery_id=push.delivery_id,
            target=push.target,
            token_cache=token_cache,
            timeouts=timeouts,
            digest_cache=digest_cache,
            deadlines=deadlines,
            account=push.customer_number,
        )

    return send


@dataclass(frozen=True, slots=True)
class DeliveryEngine:
    """A ready dispatcher and the session it owns."""

    dispatcher: Dispatcher
    session: aiohttp.ClientSession


@contextlib.asynccontextmanager
async def delivery_engine(
    store: Store,
    settings: Settings,
    *,
    hooks: tuple[AttemptHook, ...] | None = None,
    worker_id: str | None = None,
    metrics: Metrics | None = None,
) -> AsyncIterator[DeliveryEngine]:
    """A dispatcher over ``store`` with one shared HTTP session, closed on exit; measured
    by ``metrics`` when given (an attempt hook, store timings, token fetches, in flight)."""
    hooks = default_hooks() if hooks is None else hooks  # None: log line (and span)
    session = session_from_settings(settings)
    try:
        cipher = store.cipher
        token_cache = TokenCache(
            store,
            secret_hash_key=None if cipher is None else cipher.derive_key(TOKEN_CACHE_PURPOSE),
            margin=timedelta(seconds=settings.token_expiry_margin),
            on_fetch=None if metrics is None else metrics.token_fetched,
        )
        send = make_sender(
            session, settings, token_cache=token_cache, digest_cache=DigestNonceCache()
        )
        dispatcher = Dispatcher(
            store,
            send,
            settings,
            hooks=hooks if metrics is None else (*hooks, metrics.observe_attempt),
            worker_id=worker_id,
            observe_store=None if metrics is None else metrics.observe_store,
        )
        if metrics is not None:
            metrics.watch_in_flight(lambda: dispatcher.in_flight)
            metrics.watch_store(store)
        yield DeliveryEngine(dispatcher, session)
    finally:
        await session.close()


async def run_worker(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    hooks: tuple[AttemptHook, ...] | None = None,
    handle_signals: bool = True,
    metrics: Metrics | None = None,
    beside: Callable[[Store], AbstractAsyncContextManager[None]] | None = None,
) -> None:
    """Run the dispatcher until SIGTERM/SIGINT (or ``stop``), then shut down gracefully.

    With ``handle_signals`` (the worker owns its process) the collector is tuned for a long
    run, see :func:`settle_heap`. ``beside`` is entered once the store is open and left
    after the dispatcher stopped (``faxpush worker --http`` serves its port in it)."""
    stop = stop or asyncio.Event()
    if handle_signals:
        install_stop_signals(stop)
    store = await open_configured_store(settings, notify=logger.warning)
    try:
        async with (
            delivery_engine(store, settings, hooks=hooks, metrics=metrics) as engine,
            beside(store) if beside is not None else contextlib.nullcontext(),
        ):
            if handle_signals:
                settle_heap()
            logger.info(
                "worker %s delivering from %s (concurrency %d, %d per host)",
                engine.dispatcher.worker_id,
                _describe_db(settings.database_url),
                settings.concurrency,
                settings.per_host_concurrency,
            )
            await engine.dispatcher.run(stop)
    finally:
        await store.close()
    logger.info("worker stopped")


def _describe_db(url: str) -> str:
    return url.split("@")[-1] if "@" in url else url
