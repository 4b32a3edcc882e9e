"""HTTP Basic authentication (RFC 7617), sent pre-emptively with every push."""

from __future__ import annotations

import base64
from collections.abc import MutableMapping

from aiohttp import ClientHandlerType, ClientRequest, ClientResponse, hdrs

from faxpush.core.errors import AuthenticationFailedError
from faxpush.core.secrets import Secret
from faxpush.delivery.auth.trace import AuthTrace


def basic_authorization(user_id: str, password: str) -> str:
    """The ``Authorization`` value for ``user_id``/``password``, UTF-8 encoded."""
    if ":" in user_id:
        raise AuthenticationFailedError(
            "an HTTP_BASIC user-id cannot contain ':' (RFC 7617); fix the push principal"
        )
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in user_id + password):
        raise AuthenticationFailedError(
            "HTTP_BASIC credentials contain a control character; fix the push credentials"
        )
    token = base64.b64encode(f"{user_id}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


class BasicAuthMiddleware:
    """Adds the Basic credentials to the request; a 401 answer is recorded as rejected.

    Basic needs no second request, so a sender may skip the middleware machinery and call
    :meth:`authorize` and :meth:`check` around its one request instead."""

    def __init__(self, user_id: str, password: Secret, *, trace: AuthTrace) -> None:
        self._user_id = user_id
        self._authorization = basic_authorization(user_id, password.reveal())
        self._trace = trace

    async def __call__(self, request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        """Send the request with the credentials."""
        self.authorize(request.headers)
        response = await handler(request)
        self.check(response.status)
        return response

    def authorize(self, headers: MutableMapping[str, str]) -> None:
        """Put the credentials into the request ``headers``."""
        headers[hdrs.AUTHORIZATION] = self._authorization
        self._trace.step("basic")

    def check(self, status: int | None) -> None:
        """Record a 401 answer as rejected credentials."""
        if status == 401:
            self._trace.reject(
                f"receiver rejected the HTTP_BASIC credentials of user {self._user_id!r} (401); "
                "check the push principal and credentials"
            )
