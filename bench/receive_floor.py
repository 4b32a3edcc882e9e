"""The floor of bench/receive.py: the least any receiver can do per push on this stack.

Not a receiver. It compares the Authorization header with one expected value, reads the body,
decodes it with the cheapest complete parser (pydantic-core's JSON decoder; lxml with
entities, DTDs and network off) to take the job id, and stores the push in SQLite exactly as
durably as the receiver's inbox does: a file in WAL mode with ``synchronous=FULL``, one
``BEGIN IMMEDIATE`` transaction per batch of waiting pushes, written by one thread, the answer
sent after the commit. It keeps no handler tasks and counts no duplicates.

With ``validate=True`` it also builds the core report model, which a receiver must do to
answer 400 for an invalid report: from the decoded JSON; for XML, from the same report's
field dict prepared at start (any XML reader must build that dict as well, so leaving it out
keeps this a lower bound of the work). Without it, it validates nothing at all.

Whatever the receiver does beyond this (its strictness, the delivery id rules, duplicates,
handler tasks, receipts) can only lower its rate, so the floor's ratio to the bare ASGI app
bounds the receiver's from above on the same machine, in the same run.
"""

from __future__ import annotations

import asyncio
import base64
import sqlite3
import time
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from lxml import etree
from pydantic_core import from_json

from faxpush.core.models import FaxJobReport

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS floor_entries (
    seq INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    job_id TEXT NOT NULL,
    content_type TEXT NOT NULL,
    body BLOB NOT NULL,
    received_at INTEGER NOT NULL
)
"""
_INSERT = (
    "INSERT INTO floor_entries (key, job_id, content_type, body, received_at) "
    "VALUES (?, ?, ?, ?, ?)"
)
_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
_ANSWER_HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"2")]


def _job_id(body: bytes, content_type: bytes, fields: dict[str, Any] | None) -> str:
    """The job id; with ``fields`` (the XML report's field dict), validated into the model."""
    if content_type.startswith(b"application/json"):
        decoded = from_json(body)
        if fields is None:
            return str(decoded["jobId"])
        return FaxJobReport.model_validate(decoded).jobId
    job_id = str(etree.fromstring(body, _XML_PARSER).findtext("{*}jobId"))
    if fields is not None:
        FaxJobReport.model_validate(fields)
    return job_id


class FloorApp:
    """ASGI app: check, decode (and build the model), store durably in a group commit, answer
    200 once committed."""

    def __init__(
        self, database: Path, user: str, password: str, *, xml_fields: dict[str, Any] | None
    ) -> None:
        """``xml_fields``: the XML report's field dict, to validate a model per push; None
        validates nothing."""
        self._fields = xml_fields
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self._expected = f"Basic {token}".encode()
        self._connection = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
        self._connection.execute("PRAGMA journal_mode = WAL")
        self._connection.execute("PRAGMA synchronous = FULL")
        self._connection.execute(_SCHEMA)
        self._thread = ThreadPoolExecutor(max_workers=1)
        self._waiting: list[tuple[tuple[Any, ...], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    def close(self) -> None:
        """Close the database and its thread (the server's shutdown does this)."""
        self._thread.shutdown(wait=True)
        self._connection.close()

    def _commit(self, rows: list[tuple[Any, ...]]) -> None:
        self._connection.execute("BEGIN IMMEDIATE")
        try:
            self._connection.executemany(_INSERT, rows)
        except sqlite3.Error:
            self._connection.rollback()
            raise
        self._connection.execute("COMMIT")

    async def _write(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    await loop.run_in_executor(self._thread, self._commit, [r for r, _ in batch])
                except Exception as exc:  # noqa: BLE001 - every waiter hears of it (an error)
                    for _, done in batch:
                        done.set_exception(exc)
                    continue
                for _, done in batch:
                    done.set_result(None)
        finally:
            self._writer = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                while (await receive())["type"] != "lifespan.shutdown":
                    await send({"type": "lifespan.startup.complete"})
                self.close()
                await send({"type": "lifespan.shutdown.complete"})
            return
        authorization = delivery_id = content_type = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == b"faxpush-delivery-id":
                delivery_id = value
            elif name == b"content-type":
                content_type = value
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        status = 401
        if authorization == self._expected:
            status = 200
            row = (
                "delivery:" + delivery_id.decode("latin-1"),
                _job_id(body, content_type, self._fields),
                content_type.decode("latin-1"),
                body,
                time.time_ns() // 1000,
            )
            done = asyncio.get_running_loop().create_future()
            self._waiting.append((row, done))
            if self._writer is None:
                self._writer = asyncio.create_task(self._write())
            await done
        await send({"type": "http.response.start", "status": status, "headers": _ANSWER_HEADERS})
        await send({"type": "http.response.body", "body": b"{}"})
