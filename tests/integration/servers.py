"""Real HTTP servers on loopback for integration tests, and independent auth verifiers.

``serve(handler)`` runs an aiohttp.web server on a free port of 127.0.0.1 (or ::1) and
records every request. The verifiers below (Basic, Digest, OAuth2 token endpoint) are
written from the RFCs with hashlib/base64 directly: they do not reuse faxpush's client code,
so a bug there cannot hide itself.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_network
from urllib.parse import parse_qs, unquote_plus

import aiohttp
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from multidict import CIMultiDict

from faxpush.core.models import AuthMethod
from faxpush.core.secrets import Secret
from faxpush.core.targets import ClientAuthStyle, PushTarget
from faxpush.delivery.auth import DigestNonceCache, TokenCache
from faxpush.delivery.http import Timeouts, build_session
from faxpush.delivery.send import SendResult, send_push

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # raw path with query, as sent
    headers: CIMultiDict[str]
    body: bytes


@dataclass
class LocalServer:
    host: str
    port: int
    requests: list[RecordedRequest] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0

    def url(self, path: str = "/") -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]


@asynccontextmanager
async def serve(handler: Handler, *, host: str = "127.0.0.1") -> AsyncIterator[LocalServer]:
    """Serve ``handler`` for every path on a free port of ``host`` (a loopback address)."""
    server = LocalServer(host, 0)

    async def recording(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        server.requests.append(
            RecordedRequest(request.method, request.raw_path, CIMultiDict(request.headers), body)
        )
        server.in_flight += 1
        server.max_in_flight = max(server.max_in_flight, server.in_flight)
        try:
            return await handler(request)
        finally:
            server.in_flight -= 1

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", recording)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, 0)
        await site.start()
        server.port = runner.addresses[0][1]
        yield server
    finally:
        await runner.cleanup()


@asynccontextmanager
async def serve_raw(
    reply: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[LocalServer]:
    """A plain TCP server on 127.0.0.1 for answers that are not valid HTTP."""
    server = LocalServer("127.0.0.1", 0)

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reply(reader, writer)
        finally:
            writer.close()

    tcp = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    server.port = tcp.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        tcp.close()
        await tcp.wait_closed()


def ok(text: str = "ok") -> web.Response:
    return web.Response(text=text)


async def always_ok(_request: web.Request) -> web.StreamResponse:
    return ok()


# --- Basic -------------------------------------------------------------------------------


def basic_protected(user: str, password: str) -> Handler:
    """200 for the right Basic credentials (UTF-8), else 401 with a Basic challenge."""

    async def handle(request: web.Request) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme == "Basic":
            decoded = base64.b64decode(token).decode("utf-8")
            if decoded == f"{user}:{password}":
                return ok()
        return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="push"'})

    return handle


# --- Digest ------------------------------------------------------------------------------

_PARAM = re.compile(r'([A-Za-z0-9_*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
_HASHLIB = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


def _h(algorithm: str, text: str) -> str:
    base = algorithm.upper().removesuffix("-SESS")
    return _HASHLIB[base](text.encode("utf-8")).hexdigest()


@dataclass
class DigestServer:
    """RFC 7616 server side: issues nonces, checks responses and nonce counts.

    ``algorithms`` are offered as separate WWW-Authenticate headers, in order.
    ``always_401`` refuses everything; :meth:`expire_nonces` makes every issued nonce stale.
    """

    user: str
    password: str
    algorithms: tuple[str, ...] = ("MD5",)
    realm: str = "faxpush-test@127.0.0.1"
    always_401: bool = False
    nonces: dict[str, int] = field(default_factory=dict)  # nonce -> last nc seen
    expired: set[str] = field(default_factory=set)
    accepted: list[tuple[str, int, str]] = field(default_factory=list)  # nonce, nc, algorithm

    def expire_nonces(self) -> None:
        self.expired |= set(self.nonces)

    def _challenge(self, *, stale: bool = False) -> web.Response:
        nonce = secrets.token_hex(16)
        self.nonces[nonce] = 0
        response = web.Response(status=401)
        for algorithm in self.algorithms:
            value = (
                f'Digest realm="{self.realm}", qop="auth", algorithm={algorithm}, '
                f'nonce="{nonce}", opaque="0pa que"'
            )
            if stale:
                value += ", stale=true"
            response.headers.add("WWW-Authenticate", value)
        return response

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        if self.always_401 or not header.startswith("Digest "):
            return self._challenge()
        params = {
            m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
            for m in _PARAM.finditer(header[7:])
        }
        params = {k: v.replace('\\"', '"').replace("\\\\", "\\") for k, v in params.items()}
        nonce = params.get("nonce", "")
        algorithm = params.get("algorithm", "MD5")
        if nonce not in self.nonces or params.get("realm") != self.realm:
            return self._challenge()
        nc = int(params["nc"], 16)
        if nc <= self.nonces[nonce] or params.get("qop") != "auth":
            return self._challenge()
        if params.get("uri") != request.raw_path or params.get("opaque") != "0pa que":
            return self._challenge()
        cnonce = params["cnonce"]
        ha1 = _h(algorithm, f"{self.user}:{self.realm}:{self.password}")
        if algorithm.upper().endswith("-SESS"):
            ha1 = _h(algorithm, f"{ha1}:{nonce}:{cnonce}")
        ha2 = _h(algorithm, f"{request.method}:{request.raw_path}")
        expected = _h(algorithm, f"{ha1}:{nonce}:{params['nc']}:{cnonce}:auth:{ha2}")
        if params.get("username") != self.user or params.get("response") != expected:
            return self._challenge()
        if nonce in self.expired:
            return self._challenge(stale=True)
        self.nonces[nonce] = nc
        self.accepted.append((nonce, nc, algorithm))
        return ok()


# --- OAuth2 ------------------------------------------------------------------------------


@dataclass
class OAuthServer:
    """A token endpoint at ``/token`` and a protected push URL at any other path.

    Verifies client_secret_basic (form-decoding id and secret after base64) or
    client_secret_post. ``token_status``/``token_body`` override the token answer;
    ``reject_tokens`` lists token numbers (1-based) the push URL refuses with 401.
    """

    client_id: str
    client_secret: str
    style: str = "client_secret_basic"
    expires_in: object = 3600
    token_status: int = 200
    token_body: bytes | None = None
    token_delay: float = 0.0
    reject_tokens: frozenset[int] = frozenset()
    issued: list[str] = field(default_factory=list)
    token_requests: int = 0
    auth_failures: list[str] = field(default_factory=list)

    def _client_ok(self, request: web.Request, form: dict[str, list[str]]) -> bool:
        header = request.headers.get("Authorization")
        if self.style == "client_secret_basic":
            if header is None or not header.startswith("Basic ") or "client_secret" in form:
                return False
            raw = base64.b64decode(header[6:]).decode("ascii")
            encoded_id, _, encoded_secret = raw.partition(":")
            return (unquote_plus(encoded_id), unquote_plus(encoded_secret)) == (
                self.client_id,
                self.client_secret,
            )
        return header is None and (
            form.get("client_id"),
            form.get("client_secret"),
        ) == ([self.client_id], [self.client_secret])

    async def _token(self, request: web.Request) -> web.StreamResponse:
        self.token_requests += 1
        if self.token_delay:
            await asyncio.sleep(self.token_delay)
        if self.token_status != 200 or self.token_body is not None:
            return web.Response(status=self.token_status, body=self.token_body or b"")
        form = parse_qs((await request.read()).decode("ascii"), keep_blank_values=True)
        if request.method != "POST" or form.get("grant_type") != ["client_credentials"]:
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        if not self._client_ok(request, form):
            self.auth_failures.append(request.headers.get("Authorization", "<post>"))
            return web.json_response({"error": "invalid_client"}, status=401)
        token = secrets.token_urlsafe(16)
        self.issued.append(token)
        document: dict[str, object] = {"access_token": token, "token_type": "Bearer"}
        if self.expires_in is not None:
            document["expires_in"] = self.expires_in
        return web.Response(body=json.dumps(document), content_type="application/json")

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/token":
            return await self._token(request)
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ")
        accepted = header.startswith("Bearer ") and token in self.issued
        if accepted and self.issued.index(token) + 1 not in self.reject_tokens:
            return ok()
        challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        return web.Response(status=401, headers=challenge)


# --- client side -------------------------------------------------------------------------

LOOPBACK = (ip_network("127.0.0.0/8"), ip_network("::1/128"))
FAST = Timeouts(connect=0.5, read=0.5, total=0.5)
RELAXED = Timeouts(connect=2.0, read=5.0, total=5.0)


class ScriptedResolver(AbstractResolver):
    """DNS from a script: one answer list per lookup of a name, the last one repeating; records
    every query."""

    def __init__(self, script: dict[str, list[list[str]]]) -> None:
        self.script = script
        self.queries: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.queries.append(host)
        if host not in self.script:
            raise OSError(socket.EAI_NONAME, f"unknown host {host}")
        answers = self.script[host]
        answer = answers[min(self.queries.count(host), len(answers)) - 1]
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in answer
        ]

    async def close(self) -> None:
        return None


class FakeResolver(ScriptedResolver):
    """Answers from a fixed table (the same answer at every lookup) instead of DNS."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        super().__init__({host: [answer] for host, answer in table.items()})


@asynccontextmanager
async def push_session(
    *,
    allowed: tuple[IPv4Network | IPv6Network, ...] = LOOPBACK,
    resolver: AbstractResolver | None = None,
    limit: int = 100,
    limit_per_host: int = 10,
) -> AsyncIterator[aiohttp.ClientSession]:
    session = build_session(
        limit=limit, limit_per_host=limit_per_host, allowed_networks=allowed, resolver=resolver
    )
    try:
        yield session
    finally:
        await session.close()


async def push(
    session: aiohttp.ClientSession,
    url: str,
    *,
    method: AuthMethod = AuthMethod.NONE,
    principal: str | None = None,
    credentials: str | None = None,
    token_url: str | None = None,
    client_auth: ClientAuthStyle = ClientAuthStyle.CLIENT_SECRET_BASIC,
    token_cache: TokenCache | None = None,
    digest_cache: DigestNonceCache | None = None,
    timeouts: Timeouts = RELAXED,
    delivery_id: str = "delivery-1",
    body: bytes = b"<faxJobReport/>",
) -> SendResult:
    """One push through :func:`send_push` with a plain description of the target."""
    target = PushTarget(
        url=url,
        auth_method=method,
        principal=principal,
        credentials=None if credentials is None else Secret(credentials),
        token_url=token_url,
        client_auth=client_auth,
    )
    return await send_push(
        session,
        url=url,
        body=body,
        content_type="application/xml",
        delivery_id=delivery_id,
        target=target,
        token_cache=TokenCache() if token_cache is None else token_cache,
        digest_cache=digest_cache,
        timeouts=timeouts,
    )
