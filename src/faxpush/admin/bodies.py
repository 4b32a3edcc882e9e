"""Reading a request's body with a limit, and the work on a large one off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final, TypeVar

from starlette.requests import Request

from faxpush.admin.errors import AdminError

INLINE_BODY_BYTES: Final = 64 * 1024  # larger batches are parsed and rendered in a thread
T = TypeVar("T")


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> AdminError:
    return AdminError(
        413,
        "payload_too_large",
        f"the request body is larger than the limit of {limit} bytes (max_request_bytes)",
    )


async def off_loop(size: int, work: Callable[[], T]) -> T:
    """``work()`` here for a small body, in a thread for a large one: a batch of 1,000
    reports takes a few hundred milliseconds to parse and render, which would stall every
    other request on the event loop (the thread still shares the interpreter lock, but the
    loop gets its turns)."""
    if size <= INLINE_BODY_BYTES:
        return work()
    return await asyncio.to_thread(work)


__all__ = ["INLINE_BODY_BYTES", "off_loop", "read_body"]
