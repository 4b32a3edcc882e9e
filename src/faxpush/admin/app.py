"""The operator API as a Starlette app: ``/api/v1`` and ``/openapi.json``, every call
behind a bearer token (:mod:`faxpush.admin.tokens`).

The caller opens the store and mounts the app: ``faxpush admin`` at ``/`` beside the health
routes, ``faxpush serve`` under ``/admin``. Refusals are JSON (:mod:`faxpush.admin.errors`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route

from faxpush._serving.answers import client_gone, database_unavailable
from faxpush.admin.bodies import off_loop, read_body
from faxpush.admin.errors import AdminError, bad_request, not_found
from faxpush.admin.idempotency import (
    check_same_pushes,
    random_delivery_ids,
    remember,
    replay,
    scope_of,
)
from faxpush.admin.ingest import build_push, build_pushes, read_batch, read_single
from faxpush.admin.openapi import admin_openapi_document
from faxpush.admin.queueing import PushQueue
from faxpush.admin.tokens import TokenCache, authenticate
from faxpush.admin.views import (
    attempt_view,
    decode_cursor,
    encode_cursor,
    page_limit,
    push_detail_view,
    push_filter,
    push_view,
    receiver_view,
)
from faxpush.core.clock import Clock, utcnow
from faxpush.core.errors import InputError, StorageError
from faxpush.core.settings import Settings
from faxpush.core.targets import Account
from faxpush.storage.base import PushState
from faxpush.storage.operator import ApiToken, OperatorStore, PushFilter, TokenScope

logger = logging.getLogger("faxpush.admin")

API: Final = "/api/v1"


def _no_wake(_count: int) -> None:
    """Nobody to tell: a worker in another process finds new pushes by itself."""


@dataclass(frozen=True, slots=True)
class AdminServices:
    """What the API works with; the caller opens and closes the store."""

    store: OperatorStore
    settings: Settings
    clock: Clock = utcnow
    # told how many pushes were queued: to count them, or to wake an in-process dispatcher
    on_enqueue: Callable[[int], None] = _no_wake
    tokens: TokenCache = field(default_factory=TokenCache)  # revocation takes up to 1 s
    queue: PushQueue = field(init=False)  # single ingests, group-committed

    def __post_init__(self) -> None:
        batch = self.settings.commit_batch
        object.__setattr__(self, "queue", PushQueue(self.store, self.clock, max_batch=batch))


Handler = Callable[[AdminServices, Request, ApiToken], Awaitable[Response]]


def _location(request: Request, delivery_id: str) -> str:
    return f"{request.scope.get('root_path', '')}{API}/pushes/{delivery_id}"


def _json(document: Any, status: int = 200) -> Response:
    body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(body, status_code=status, media_type="application/json")


async def _account(services: AdminServices, request: Request) -> Account | None:
    customer = request.query_params.get("account")
    if customer is None:
        return None
    account = await services.store.get_account(customer)
    if account is None:
        raise not_found(
            f"no account {customer!r}; add it with 'faxpush accounts add {customer}'", "account"
        )
    return account


async def _ingest(
    services: AdminServices, request: Request, token: ApiToken, *, batch: bool
) -> Response:
    settings, store = services.settings, services.store
    body = await read_body(request, settings.max_request_bytes)
    scope = scope_of(request, token.name, body)
    now = services.clock()
    if scope is not None and (answer := await store.get_idempotent(scope.key, now=now)):
        return replay(answer, scope)
    content_type = request.headers.get("content-type")
    limit = settings.max_request_bytes
    items = (
        await off_loop(
            len(body),
            lambda: read_batch(
                body, content_type, max_bytes=limit, max_items=settings.admin_max_batch
            ),
        )
        if batch
        else [read_single(body, content_type, max_bytes=limit)]
    )
    account = await _account(services, request)
    ids = scope.delivery_ids(len(items)) if scope else random_delivery_ids(len(items))
    if batch:
        pushes = await off_loop(
            len(body),
            lambda: build_pushes(items, account, ids, max_push_bytes=settings.max_push_bytes),
        )
        records = await store.enqueue_many(pushes, now=now)
    else:
        pushes = [
            build_push(
                items[0], account, delivery_id=ids[0], max_push_bytes=settings.max_push_bytes
            )
        ]
        records = [await services.queue.enqueue(pushes[0])]
    if scope is not None:
        check_same_pushes(records, pushes)
    services.on_enqueue(len(records))
    accepted = [
        {
            "deliveryId": r.delivery_id,
            "jobId": r.job_id,
            "location": _location(request, r.delivery_id),
        }
        for r in records
    ]
    document = {"pushes": accepted} if batch else accepted[0]
    answer_body = json.dumps(document, separators=(",", ":")).encode()
    if scope is None:
        return Response(answer_body, status_code=202, media_type="application/json")
    keep = timedelta(hours=settings.idempotency_hours)
    return await remember(store, scope, 202, answer_body, keep=keep, now=now)


async def ingest_push(services: AdminServices, request: Request, token: ApiToken) -> Response:
    """Queue the push of one report; 202 with its delivery id and Location."""
    response = await _ingest(services, request, token, batch=False)
    if response.status_code == 202:
        response.headers["Location"] = json.loads(bytes(response.body))["location"]
    return response


async def ingest_batch(services: AdminServices, request: Request, token: ApiToken) -> Response:
    """Queue the pushes of up to admin_max_batch reports in one transaction."""
    return await _ingest(services, request, token, batch=True)


async def list_pushes(services: AdminServices, request: Request, _token: ApiToken) -> Response:
    """A page of pushes, newest first, with the cursor of the next page."""
    params = request.query_params
    where = push_filter(params)
    limit = page_limit(params.get("limit"))
    cursor = params.get("cursor")
    before = decode_cursor(cursor) if cursor is not None else None
    found = await services.store.find_pushes(where, limit=limit + 1, before=before)
    page = found[:limit]
    return _json(
        {
            "pushes": [push_view(p, _location(request, p.delivery_id)) for p in page],
            "nextCursor": encode_cursor(page[-1]) if len(found) > limit else None,
        }
    )


async def _existing(services: AdminServices, delivery_id: str) -> Any:
    push = await services.store.get_push(delivery_id)
    if push is None:
        raise not_found(f"no push with delivery id {delivery_id!r}", "deliveryId")
    return push


async def get_push(services: AdminServices, request: Request, _token: ApiToken) -> Response:
    """One push, its body and every attempt."""
    delivery_id = request.path_params["deliveryId"]
    push = await _existing(services, delivery_id)
    attempts = await services.store.list_attempts(delivery_id)
    return _json(push_detail_view(push, attempts, _location(request, delivery_id)))


async def job_attempts(services: AdminServices, request: Request, _token: ApiToken) -> Response:
    """Every attempt of every push of a job, oldest first."""
    job_id = request.path_params["jobId"]
    attempts = await services.store.job_attempts(job_id)
    return _json({"jobId": job_id, "attempts": [attempt_view(a) for a in attempts]})


async def redeliver_push(services: AdminServices, request: Request, _token: ApiToken) -> Response:
    """Send a delivered, failed or cancelled push again."""
    delivery_id = request.path_params["deliveryId"]
    push = await _existing(services, delivery_id)
    if push.state in (PushState.PENDING, PushState.IN_FLIGHT):
        raise AdminError(
            409,
            "conflict",
            f"the push is {push.state.value}: it will be sent anyway",
            field="state",
        )
    await services.store.redeliver(delivery_ids=[delivery_id], now=services.clock())
    services.on_enqueue(0)
    push = await _existing(services, delivery_id)
    return _json(push_view(push, _location(request, delivery_id)))


async def redeliver_matching(
    services: AdminServices, request: Request, _token: ApiToken
) -> Response:
    """Send again every delivered, failed or cancelled push matching a filter."""
    body = await read_body(request, 64 * 1024)
    try:
        document = json.loads(body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise bad_request("the body must be a JSON object of filters") from None
    if not isinstance(document, dict):
        raise bad_request("the body must be a JSON object of filters")
    where = push_filter(document)
    if where == PushFilter():
        raise bad_request(
            "give at least one filter (state, jobId, receiver, since): redelivering every "
            "push at once is refused",
            "state",
        )
    count = await services.store.redeliver_matching(where, now=services.clock())
    services.on_enqueue(0)
    return _json({"redelivered": count})


async def cancel_push(services: AdminServices, request: Request, _token: ApiToken) -> Response:
    """Cancel a pending push (409 when it is not pending)."""
    delivery_id = request.path_params["deliveryId"]
    cancelled = await services.store.cancel([delivery_id], now=services.clock())
    push = await _existing(services, delivery_id)
    if delivery_id not in cancelled:
        raise AdminError(
            409,
            "conflict",
            f"only a pending push can be cancelled; this one is {push.state.value}",
            field="state",
        )
    return _json(push_view(push, _location(request, delivery_id)))


async def list_receivers(services: AdminServices, request: Request, _token: ApiToken) -> Response:
    """One row per receiver origin: recent success, latency, backlog, failures."""
    now = services.clock()
    rows = await services.store.receiver_stats(now=now)
    return _json({"receivers": [receiver_view(row, now) for row in rows]})


async def openapi(_services: AdminServices, _request: Request, _token: ApiToken) -> Response:
    """This API's OpenAPI 3.1 document."""
    return JSONResponse(admin_openapi_document())


# path, method, handler, scope needed
OPERATIONS: Final[tuple[tuple[str, str, Handler, TokenScope], ...]] = (
    (f"{API}/pushes", "POST", ingest_push, TokenScope.WRITE),
    (f"{API}/pushes", "GET", list_pushes, TokenScope.READ),
    (f"{API}/pushes/batch", "POST", ingest_batch, TokenScope.WRITE),
    (f"{API}/pushes/redeliver", "POST", redeliver_matching, TokenScope.WRITE),
    (f"{API}/pushes/{{deliveryId}}", "GET", get_push, TokenScope.READ),
    (f"{API}/pushes/{{deliveryId}}/redeliver", "POST", redeliver_push, TokenScope.WRITE),
    (f"{API}/pushes/{{deliveryId}}/cancel", "POST", cancel_push, TokenScope.WRITE),
    (f"{API}/jobs/{{jobId}}/attempts", "GET", job_attempts, TokenScope.READ),
    (f"{API}/receivers", "GET", list_receivers, TokenScope.READ),
    ("/openapi.json", "GET", openapi, TokenScope.READ),
)


def _endpoint(
    services: AdminServices, handler: Handler, needs: TokenScope
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            token = await authenticate(
                services.store,
                request.headers.get("authorization"),
                needs=needs,
                now=services.clock(),
                cache=services.tokens,
            )
            return await handler(services, request, token)
        except AdminError as exc:
            return exc.response()
        except InputError as exc:
            return bad_request(str(exc)).response()
        except ClientDisconnect:
            return client_gone()
        except StorageError as exc:
            unavailable = AdminError(503, "unavailable", "the database is unavailable; retry")
            return database_unavailable(unavailable.response(), exc, logger)
        except Exception:  # a bug: logged with its traceback, answered 500
            logger.exception("unexpected error in %s", handler.__name__)
            return AdminError(500, "internal_error", "unexpected server error").response()

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


async def _not_found(_request: Request, _exc: Exception) -> Response:
    return not_found("no such route; see /openapi.json for the API's routes").response()


async def _not_allowed(request: Request, _exc: Exception) -> Response:
    # Every method of the routes at this path (GET and POST of /api/v1/pushes are two);
    # a fixed path (/api/v1/pushes/batch) is not also /api/v1/pushes/{deliveryId}.
    matching = [
        route
        for route in request.app.router.routes
        if isinstance(route, Route) and route.matches(request.scope)[0] is not Match.NONE
    ]
    fixed = [route for route in matching if "{" not in route.path]
    allowed = {method for route in fixed or matching for method in route.methods or ()}
    response = AdminError(
        405, "method_not_allowed", "this route does not take that method"
    ).response()
    response.headers["Allow"] = ", ".join(sorted(allowed))
    return response


async def _unexpected(_request: Request, exc: Exception) -> Response:
    logger.error("unexpected error: %s: %s", type(exc).__name__, exc)
    return AdminError(500, "internal_error", "unexpected server error").response()


def build_admin_app(
    services: AdminServices, *, extra_routes: Sequence[BaseRoute] = ()
) -> Starlette:
    """The operator API over ``services`` (which the caller opens and closes);
    ``extra_routes`` (the health routes) are served beside it without a token."""
    routes: list[BaseRoute] = [
        Route(path, _endpoint(services, handler, needs), methods=[method], name=handler.__name__)
        for path, method, handler, needs in OPERATIONS
    ]
    return Starlette(
        routes=[*extra_routes, *routes],
        exception_handlers={Exception: _unexpected, 404: _not_found, 405: _not_allowed},
    )


__all__ = ["API", "OPERATIONS", "AdminServices", "build_admin_app"]
