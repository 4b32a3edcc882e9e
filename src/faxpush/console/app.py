"""The operator console as a Starlette app: HTML pages over an
:class:`~faxpush.storage.operator.OperatorStore`, behind a login.

The caller opens the store and mounts the app: ``faxpush admin serve`` at ``/`` beside the
operator API, ``faxpush serve`` at ``/admin/``. Every page but the login page needs a
session; every form carries a CSRF token; every value is escaped by the templates.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, quote

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from faxpush.console.security import (
    SESSION_COOKIE,
    SESSION_SECONDS,
    LoginThrottle,
    Session,
    SessionSigner,
)
from faxpush.core.clock import Clock, utcnow
from faxpush.core.errors import FaxpushError, InputError, StorageError
from faxpush.core.passwords import password_fingerprint
from faxpush.storage.jobs_base import JobStore
from faxpush.storage.operator import OperatorStore

logger = logging.getLogger("faxpush.console")

SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def _nothing(_count: int) -> None:
    """Nobody to wake: a worker in another process finds requeued pushes by itself."""


@dataclass(frozen=True, slots=True)
class ConsoleServices:
    """What the console works with; the caller opens and closes the stores.

    ``session_key`` signs the session cookies (see :func:`session_key_for`); ``jobs`` (the
    emulator's job store) adds the Jobs page; ``on_enqueue`` is told when pushes are put
    back in the queue (to wake an in-process dispatcher)."""

    store: OperatorStore
    session_key: bytes
    jobs: JobStore | None = None
    clock: Clock = utcnow
    on_enqueue: Callable[[int], None] = _nothing
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    signer: SessionSigner = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "signer", SessionSigner(self.session_key))


def session_key_for(store: OperatorStore) -> bytes:
    """The key that signs session cookies, derived from the store's secret key (so sessions
    survive a restart and work on every process with that key); a memory store without a
    cipher gets a key of this process."""
    cipher = store.cipher
    if cipher is None:
        import secrets

        return secrets.token_bytes(32)
    return cipher.derive_key("console session")


_templates = Environment(
    loader=PackageLoader("faxpush.console", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


class PageError(FaxpushError):
    """A request the console answers with an error page (status and a message)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def base_path(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    session: Session | None = None,
    services: ConsoleServices | None = None,
) -> HTMLResponse:
    csrf = services.signer.csrf_token(session) if services and session else ""
    page = _templates.get_template(template).render(
        base=base_path(request),
        session=session,
        csrf=csrf,
        has_jobs=services is not None and services.jobs is not None,
        path=request.url.path,
        **context,
    )
    response = HTMLResponse(page, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response


MAX_FORM_BYTES: Final = 16 * 1024


async def read_form(request: Request) -> dict[str, str]:
    """The fields of a URL-encoded form post (the console's forms are all small)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise PageError(413, "the form is too large")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise PageError(400, "the form is not UTF-8") from None
    return dict(parse_qsl(text, keep_blank_values=True))


Page = Callable[[ConsoleServices, Request, Session], Awaitable[Response]]


async def current_session(services: ConsoleServices, request: Request) -> Session | None:
    """The request's session if its cookie is valid and its user or token still exists."""
    now = services.clock()
    session = services.signer.decode(request.cookies.get(SESSION_COOKIE), now=now.timestamp())
    if session is None:
        return None
    store = services.store
    if session.kind == "token":
        token = await store.api_token_by_hash(session.proof)
        return session if token is not None and token.name == session.name else None
    user = await store.console_user(session.name)
    if user is None or not hmac.compare_digest(
        password_fingerprint(user.password_hash), session.proof
    ):
        return None  # deleted, or deleted and created again: its old sessions end
    return session


def set_session_cookie(response: Response, request: Request, value: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=SESSION_SECONDS,
        path=base_path(request) + "/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def to_login(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{base_path(request)}/login?next={quote(target)}", status_code=303)


def page(services: ConsoleServices, handler: Page, *, writes: bool = False) -> Any:
    """``handler`` behind the session check (and, for a form post, the CSRF check and the
    write permission); refusals and database trouble become error pages."""

    async def checked(request: Request, session: Session | None) -> Session:
        if session is None:
            raise PageError(403, "your session has ended; log in again")
        if request.method == "POST":
            form = await read_form(request)
            if not services.signer.csrf_valid(session, form.get("csrf")):
                raise PageError(403, "the form's security token is missing or stale; reload")
            if writes and not session.can_write:
                raise PageError(403, "a read-only login cannot do this; use a write token")
        return session

    async def endpoint(request: Request) -> Response:
        session = None
        try:
            session = await current_session(services, request)
            if session is None and request.method == "GET":
                return to_login(request)
            session = await checked(request, session)
            return await handler(services, request, session)
        except PageError as exc:
            return error_page(services, request, session, exc.status, str(exc))
        except InputError as exc:
            return error_page(services, request, session, 400, str(exc))
        except StorageError as exc:
            logger.warning("console: the database is unavailable: %s", exc)
            return error_page(services, request, session, 503, "the database is unavailable")

    endpoint.__name__ = handler.__name__
    return endpoint


def error_page(
    services: ConsoleServices,
    request: Request,
    session: Session | None,
    status: int,
    message: str,
) -> Response:
    return render(
        request,
        "error.html",
        {"status": status, "message": message, "title": "Error"},
        status=status,
        session=session,
        services=services,
    )


def build_console_app(services: ConsoleServices) -> Starlette:
    """The console over ``services`` (which the caller opens and closes)."""
    from faxpush.console import login, pages

    routes: list[BaseRoute] = [
        Route("/login", login.login_form(services), methods=["GET"]),
        Route("/login", login.login_submit(services), methods=["POST"]),
        Route("/logout", page(services, login.logout), methods=["POST"]),
        Route("/", page(services, pages.overview), methods=["GET"]),
        Route("/pushes", page(services, pages.pushes), methods=["GET"]),
        Route("/pushes/{deliveryId}", page(services, pages.push), methods=["GET"]),
        Route(
            "/pushes/{deliveryId}/redeliver",
            page(services, pages.redeliver, writes=True),
            methods=["POST"],
        ),
        Route(
            "/pushes/{deliveryId}/cancel",
            page(services, pages.cancel, writes=True),
            methods=["POST"],
        ),
        Route("/receivers", page(services, pages.receivers), methods=["GET"]),
        Route("/accounts", page(services, pages.accounts), methods=["GET"]),
        Mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static"),
    ]
    if services.jobs is not None:
        routes.append(Route("/jobs", page(services, pages.jobs), methods=["GET"]))

    async def not_found(request: Request, _exc: Exception) -> Response:
        return error_page(services, request, None, 404, "no such page")

    return Starlette(routes=routes, exception_handlers={404: not_found})


__all__ = ["ConsoleServices", "build_console_app", "session_key_for"]
