"""HTTP Digest authentication (RFC 7616) for pushes, with nonce reuse across pushes.

aiohttp ships a ``DigestAuthMiddleware``, but it does not fit a dispatcher: it keeps one
nonce per middleware instance (while credentials differ per push, so instances are per
push and reuse across pushes is lost), it reads only the first challenge of the first
``WWW-Authenticate`` header (no choosing SHA-256 over MD5), treats ``stale=true`` like any
other 401 and reports nothing about the steps it took. This middleware builds on
:mod:`faxpush.core.digest` instead and shares nonces through :class:`DigestNonceCache`.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass

from aiohttp import ClientHandlerType, ClientRequest, ClientResponse, hdrs

from faxpush.core.digest import (
    DigestChallenge,
    MalformedAuthHeaderError,
    choose_challenge,
    format_authorization,
    parse_auth_header,
)
from faxpush.core.errors import AuthenticationFailedError, InputError
from faxpush.core.secrets import Secret
from faxpush.delivery.auth.trace import AuthTrace
from faxpush.delivery.http import read_capped

_MAX_NONCE_COUNT = 0xFFFFFFFF


@dataclass(slots=True)
class _NonceState:
    challenge: DigestChallenge
    count: int


class DigestNonceCache:
    """Server nonces per protection space ``(origin, realm, username)``, so later pushes
    answer pre-emptively with an increasing nonce count instead of a fresh challenge.

    Bounded: the least recently used spaces are forgotten beyond ``max_entries``.
    """

    def __init__(self, max_entries: int = 1024) -> None:
        self._max_entries = max_entries
        self._spaces: OrderedDict[tuple[str, str, str], _NonceState] = OrderedDict()
        self._realms: OrderedDict[tuple[str, str], str] = OrderedDict()

    @property
    def size(self) -> int:
        """How many protection spaces are remembered."""
        return len(self._spaces)

    def next_use(self, origin: str, username: str) -> tuple[DigestChallenge, int] | None:
        """The last challenge seen for ``origin``/``username`` and the next nonce count."""
        realm = self._realms.get((origin, username))
        if realm is None:
            return None
        key = (origin, realm, username)
        state = self._spaces.get(key)
        if state is None or state.count >= _MAX_NONCE_COUNT:
            self.forget(origin, realm, username)
            return None
        state.count += 1
        self._spaces.move_to_end(key)
        return state.challenge, state.count

    def adopt(self, origin: str, username: str, challenge: DigestChallenge) -> int:
        """Remember a fresh challenge; returns the nonce count to use with it (1)."""
        key = (origin, challenge.realm, username)
        self._spaces[key] = _NonceState(challenge, 1)
        self._spaces.move_to_end(key)
        self._realms[(origin, username)] = challenge.realm
        self._realms.move_to_end((origin, username))
        while len(self._spaces) > self._max_entries:
            self._spaces.popitem(last=False)
        while len(self._realms) > self._max_entries:
            self._realms.popitem(last=False)
        return 1

    def forget(self, origin: str, realm: str, username: str) -> None:
        """Drop a protection space (its credentials were rejected)."""
        self._spaces.pop((origin, realm, username), None)
        if self._realms.get((origin, username)) == realm:
            del self._realms[(origin, username)]


class DigestAuthMiddleware:
    """Answers digest challenges for one push.

    At most one challenge is answered and one ``stale=true`` retry made, so a push costs
    at most three requests; a 401 to credentials computed from a fresh challenge is a
    rejection (recorded in the trace, the 401 returned), never a loop.
    """

    def __init__(
        self,
        username: str,
        password: Secret,
        *,
        nonces: DigestNonceCache | None,
        trace: AuthTrace,
    ) -> None:
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in username + password.reveal()):
            raise AuthenticationFailedError(
                "HTTP_DIGEST credentials contain a control character; fix the push credentials"
            )
        self._username = username
        self._password = password
        # Without a shared cache the nonce lives only for this push.
        self._nonces = nonces if nonces is not None else DigestNonceCache(max_entries=1)
        self._trace = trace

    async def __call__(self, request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        """Send the request, answering the receiver's digest challenges."""
        origin = str(request.url.origin())
        cached = self._nonces.next_use(origin, self._username)
        if cached is not None:
            self._authorize(request, *cached)
            self._trace.step("digest nonce reused")
        had_credentials = cached is not None
        answered_fresh = stale_retried = False
        response = await handler(request)
        for _round in range(2):
            if response.status != 401:
                return response
            challenge = self._challenge_in(response)
            if challenge is None:
                return response
            if not had_credentials:
                self._trace.step("digest challenge")
            elif challenge.stale and not stale_retried:
                stale_retried = True
                self._trace.step("digest stale retry")
            elif not answered_fresh:
                self._trace.step("digest challenge")  # the reused nonce was not accepted
            else:
                break
            await read_capped(response)
            count = self._nonces.adopt(origin, self._username, challenge)
            self._authorize(request, challenge, count)
            response = await handler(request)
            had_credentials = answered_fresh = True
        if response.status == 401:
            self._rejected(origin, response)
        return response

    def _authorize(self, request: ClientRequest, challenge: DigestChallenge, count: int) -> None:
        try:
            request.headers[hdrs.AUTHORIZATION] = format_authorization(
                challenge,
                username=self._username,
                password=self._password.reveal(),
                method=request.method,
                uri=request.url.raw_path_qs,
                nc=count,
                cnonce=secrets.token_urlsafe(24),
            )
        except InputError as exc:
            raise AuthenticationFailedError(f"cannot send HTTP_DIGEST credentials: {exc}") from None

    def _challenge_in(self, response: ClientResponse) -> DigestChallenge | None:
        offered = response.headers.getall(hdrs.WWW_AUTHENTICATE, [])
        try:
            challenges = parse_auth_header(offered)
        except MalformedAuthHeaderError as exc:
            self._trace.reject(
                f"receiver sent a malformed WWW-Authenticate header: {exc}", error_class="protocol"
            )
            return None
        chosen = choose_challenge(challenges)
        if chosen is None:
            schemes = ", ".join(sorted({c.scheme for c in challenges})) or "none"
            self._trace.reject(
                "receiver answered 401 without a Digest challenge faxpush can answer "
                f"(offered schemes: {schemes}; supported: MD5, SHA-256 and their -sess "
                "variants with qop=auth); check the receiver's auth configuration"
            )
        return chosen

    def _rejected(self, origin: str, response: ClientResponse) -> None:
        challenge = self._challenge_in(response)
        if challenge is not None:
            self._nonces.forget(origin, challenge.realm, self._username)
        if challenge is not None or self._trace.rejection is None:
            self._trace.reject(
                f"receiver rejected the HTTP_DIGEST credentials of user {self._username!r} "
                "(401 after a digest response); check the push principal and credentials"
            )
