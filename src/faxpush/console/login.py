"""Logging in and out: a console user and password, or an operator API token (a read token
may look, a write token may also redeliver and cancel). Failed attempts slow down the next
ones for the same name and from the same address."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from faxpush.console.app import (
    ConsoleServices,
    PageError,
    base_path,
    error_page,
    read_form,
    render,
    set_session_cookie,
)
from faxpush.console.security import SESSION_COOKIE, Session, new_session
from faxpush.core.passwords import dummy_hash, password_fingerprint, token_hash, verify_password
from faxpush.storage.operator import TokenScope

FAILED: str = "wrong user name, password or token"
BUSY: str = "another login with this name or from this address is under way; try again"


def _safe_next(request: Request, raw: object) -> str:
    """Where to go after logging in: a path of this console only (never another site)."""
    base = base_path(request)
    text = raw if isinstance(raw, str) else ""
    parts = urlsplit(text)
    if parts.scheme or parts.netloc or not text.startswith(base + "/") or text.startswith("//"):
        return base + "/"
    return text


async def _user_session(services: ConsoleServices, name: str, password: str) -> Session | None:
    user = await services.store.console_user(name) if name else None
    # An unknown name is checked against a dummy hash, so that it takes as long as a wrong
    # password; scrypt runs in a thread, not on the event loop.
    stored = user.password_hash if user is not None else dummy_hash()
    matches = await asyncio.to_thread(verify_password, password, stored)
    if user is None or not matches:
        return None
    proof = password_fingerprint(user.password_hash)
    return new_session("user", user.name, can_write=True, proof=proof)


async def _token_session(services: ConsoleServices, token: str) -> Session | None:
    digest = token_hash(token)
    found = await services.store.api_token_by_hash(digest)
    if found is None:
        return None
    writes = found.scope is TokenScope.WRITE
    return new_session("token", found.name, can_write=writes, proof=digest)


def login_form(services: ConsoleServices) -> Any:
    async def show(request: Request) -> Response:
        return render(
            request,
            "login.html",
            {"title": "Log in", "next": request.query_params.get("next", ""), "error": None},
            services=services,
        )

    return show


def login_submit(services: ConsoleServices) -> Any:
    async def submit(request: Request) -> Response:
        try:
            form = await read_form(request)
        except PageError as exc:
            return error_page(services, request, None, exc.status, str(exc))
        name = str(form.get("user", "")).strip()[:200]
        password = str(form.get("password", ""))[:1024]
        token = str(form.get("token", "")).strip()[:1024]
        client = request.client.host if request.client else "unknown"
        # a token has no name to count failures under: only its client's address
        keys: tuple[str, ...] = (f"addr:{client}",) if token else (f"addr:{client}", f"user:{name}")
        context = {"title": "Log in", "next": form.get("next", "")}
        if not services.throttle.admit(keys):
            context["error"] = BUSY
            return render(request, "login.html", context, status=429, services=services)
        try:
            await services.throttle.wait(keys)
            session = (
                await _token_session(services, token)
                if token
                else await _user_session(services, name, password)
            )
            if session is None:
                services.throttle.failed(keys)
        finally:
            services.throttle.release(keys)
        if session is None:
            context["error"] = FAILED
            return render(request, "login.html", context, status=401, services=services)
        if not token:  # the address's failures stay counted: they may be guesses at others
            services.throttle.succeeded(f"user:{name}")
        response = RedirectResponse(_safe_next(request, form.get("next")), status_code=303)
        set_session_cookie(response, request, services.signer.encode(session))
        return response

    return submit


async def logout(_services: ConsoleServices, request: Request, _session: Session) -> Response:
    response = RedirectResponse(f"{base_path(request)}/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=base_path(request) + "/")
    return response


__all__ = ["login_form", "login_submit", "logout"]
