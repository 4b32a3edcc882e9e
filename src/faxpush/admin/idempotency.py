"""``Idempotency-Key``: a repeated request gets the first answer instead of a second push.

The key is scoped by the token's name, and the delivery ids of its pushes are derived from
that scoped key: concurrent identical requests then enqueue the same delivery id, which the
store keeps once (enqueue is idempotent per id), and the first answer remembered wins for
all of them. A key reused for a different request is refused (422), as is a request that
lost the race to one with the same key and another body.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from faxpush.admin.errors import AdminError, bad_request
from faxpush.storage.base import NewPush, PushRecord
from faxpush.storage.operator import IdempotentAnswer, OperatorStore

HEADER: Final = "Idempotency-Key"
MAX_KEY_CHARS: Final = 255
REPLAYED_HEADER: Final = "Idempotent-Replayed"


@dataclass(frozen=True, slots=True)
class IdempotencyScope:
    """A request's key, scoped by its token, and what the request was."""

    key: str
    request_hash: str

    def delivery_ids(self, count: int) -> list[str]:
        """The delivery ids of the request's pushes, the same for every repeat."""
        return [
            hashlib.sha256(f"{self.key}\0{index}".encode()).hexdigest()[:32]
            for index in range(count)
        ]


def random_delivery_ids(count: int) -> list[str]:
    return [uuid.uuid4().hex for _ in range(count)]


def scope_of(request: Request, token_name: str, body: bytes) -> IdempotencyScope | None:
    """The request's idempotency scope, or None without the header."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    key = raw.strip()
    if not key or len(key) > MAX_KEY_CHARS or not key.isprintable():
        raise bad_request(f"must be 1-{MAX_KEY_CHARS} printable characters", HEADER)
    digest = hashlib.sha256()
    for part in (
        request.method,
        request.url.path,
        request.url.query,
        request.headers.get("content-type", ""),
    ):
        digest.update(part.encode() + b"\0")
    digest.update(body)
    return IdempotencyScope(key=f"{token_name}:{key}", request_hash=digest.hexdigest())


def _reused() -> AdminError:
    return AdminError(
        422,
        "idempotency_key_reused",
        f"this {HEADER} was used for a different request; use a new key for a new request",
        field=HEADER,
    )


def replay(answer: IdempotentAnswer, scope: IdempotencyScope) -> Response:
    """The remembered answer, or a 422 when the key belonged to another request."""
    if answer.request_hash != scope.request_hash:
        raise _reused()
    response = Response(answer.body, status_code=answer.status, media_type="application/json")
    response.headers[REPLAYED_HEADER] = "true"
    return response


def check_same_pushes(stored: Sequence[PushRecord], wanted: Sequence[NewPush]) -> None:
    """A 422 when a concurrent request with the same key stored other pushes first."""
    for record, push in zip(stored, wanted, strict=True):
        if record.body != push.body or record.target.url != push.target.url:
            raise _reused()


async def remember(
    store: OperatorStore,
    scope: IdempotencyScope,
    status: int,
    body: bytes,
    *,
    keep: timedelta,
    now: datetime,
) -> Response:
    """Remember this answer (unless another was first) and return the one remembered."""
    first = await store.remember_idempotent(
        IdempotentAnswer(
            key=scope.key, request_hash=scope.request_hash, status=status, body=body, created_at=now
        ),
        keep=keep,
        now=now,
    )
    if first.request_hash != scope.request_hash:
        raise _reused()
    return Response(first.body, status_code=first.status, media_type="application/json")


__all__ = [
    "HEADER",
    "IdempotencyScope",
    "check_same_pushes",
    "random_delivery_ids",
    "remember",
    "replay",
    "scope_of",
]
