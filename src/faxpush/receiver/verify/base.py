"""What every push verifier receives and returns, and the verifier for NONE.

A verifier sees only what authentication needs (:class:`AuthRequest`), never the body, so the
same verifiers serve every framework integration. It returns an :class:`AuthResult` or raises
:class:`~faxpush.receiver.errors.AuthenticationRequiredError` (answered 401 with its
challenges). Malformed headers end there too: a peer's bad input never escapes as a bare
``ValueError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from faxpush.core.models import AuthMethod


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """The parts of an HTTP request that authentication looks at.

    ``target`` is the request target exactly as sent (path and query, not decoded), which
    Digest's ``uri`` must equal; ``authorization`` holds every ``Authorization`` header value.
    """

    method: str
    target: str
    authorization: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AuthResult:
    """An accepted push: how it authenticated and as whom (``None`` for NONE)."""

    method: AuthMethod
    principal: str | None = None

    def describe(self) -> str:
        """``HTTP_BASIC as alice`` or ``NONE``: for logs and the listen output."""
        who = f" as {self.principal}" if self.principal is not None else ""
        return f"{self.method.value}{who}"


@runtime_checkable
class Verifier(Protocol):
    """Authenticates a push; raises AuthenticationRequiredError when it may not pass."""

    @property
    def method(self) -> AuthMethod:
        """The push auth method this verifier implements."""
        ...

    async def verify(self, request: AuthRequest) -> AuthResult:
        """Accept ``request`` or raise AuthenticationRequiredError."""
        ...

    async def aclose(self) -> None:
        """Release what the verifier holds (HTTP sessions); called when the receiver stops."""
        ...


class NoAuthVerifier:
    """NONE: every push passes (the endpoint relies on its network or a secret URL)."""

    @property
    def method(self) -> AuthMethod:
        return AuthMethod.NONE

    async def verify(self, request: AuthRequest) -> AuthResult:
        """Accept every request."""
        return AuthResult(AuthMethod.NONE)

    async def aclose(self) -> None:
        """Nothing to release."""


def single_authorization(request: AuthRequest) -> str | None:
    """The one Authorization value, or None when absent; several count as none (malformed)."""
    values = request.authorization
    return values[0] if len(values) == 1 else None


__all__ = ["AuthRequest", "AuthResult", "NoAuthVerifier", "Verifier", "single_authorization"]
