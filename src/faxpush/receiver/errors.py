"""Why a receiver refuses a push, with the HTTP answer each refusal maps to.

Every refusal is a :class:`~faxpush.core.errors.VerificationError` carrying ``status`` and
the response ``headers``; a body that cannot be parsed is a
:class:`~faxpush.core.errors.ReportFormatError` (400). Messages never contain credentials.
"""

from __future__ import annotations

from collections.abc import Sequence

from faxpush.core.errors import VerificationError


class PushRefusedError(VerificationError):
    """The push was refused."""

    status: int = 400

    def __init__(self, message: str | None = None, *, headers: Sequence[tuple[str, str]] = ()):
        super().__init__(message)
        self.headers: tuple[tuple[str, str], ...] = tuple(headers)


class AuthenticationRequiredError(PushRefusedError):
    """Authentication is required: the credentials are missing, malformed or wrong.

    ``headers`` holds the ``WWW-Authenticate`` challenges to send; ``reason`` says why, in
    words safe to log (it never tells an unknown user from a wrong password).
    """

    status = 401

    def __init__(self, reason: str, *, challenges: Sequence[str]) -> None:
        super().__init__(
            "authentication required", headers=[("WWW-Authenticate", c) for c in challenges]
        )
        self.reason = reason


class MethodNotAllowedError(PushRefusedError):
    """Pushes are POSTed; use POST."""

    status = 405


class BodyTooLargeError(PushRefusedError):
    """The push body is larger than the receiver accepts."""

    status = 413


class BodyTimeoutError(PushRefusedError):
    """The push body did not arrive in time; the connection is closed after the answer."""

    status = 408

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, headers=[("connection", "close")])


class IncompleteBodyError(PushRefusedError):
    """The client closed the connection before the whole body arrived."""

    status = 400


class UnsupportedMediaTypeError(PushRefusedError):
    """Send the push as text/xml, application/xml or application/json."""

    status = 415


class VerifierUnavailableError(PushRefusedError):
    """The receiver cannot check credentials right now (its key set or introspection
    endpoint is unreachable); the sender should retry later."""

    status = 503


class BadPushRequestError(PushRefusedError):
    """The push request is malformed (a header, not the body)."""

    status = 400


__all__ = [
    "AuthenticationRequiredError",
    "BadPushRequestError",
    "BodyTimeoutError",
    "BodyTooLargeError",
    "IncompleteBodyError",
    "MethodNotAllowedError",
    "PushRefusedError",
    "UnsupportedMediaTypeError",
    "VerifierUnavailableError",
]
