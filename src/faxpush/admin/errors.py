"""The operator API's refusals: a status, a stable code, a message and the field at fault.

Every refusal is JSON ``{"error": "<code>", "message": "...", "field": "..."}`` (``field``
only when one field is at fault), so a client can show the problem next to its input.
"""

from __future__ import annotations

from typing import Final

from starlette.responses import JSONResponse

_BEARER_CHALLENGE: Final = 'Bearer realm="faxpush admin"'


class AdminError(Exception):
    """A refusal of the operator API; :meth:`response` is its HTTP answer."""

    def __init__(self, status: int, error: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.error, self.message, self.field = status, error, message, field

    def response(self) -> JSONResponse:
        body = {"error": self.error, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        headers = {"WWW-Authenticate": _BEARER_CHALLENGE} if self.status == 401 else None
        return JSONResponse(body, status_code=self.status, headers=headers)


def bad_request(message: str, field: str | None = None) -> AdminError:
    """400: the request (a parameter, the body, a report in it) is invalid."""
    return AdminError(400, "bad_request", message, field=field)


def not_found(message: str, field: str | None = None) -> AdminError:
    """404: the push, job or account named does not exist."""
    return AdminError(404, "not_found", message, field=field)


__all__ = ["AdminError", "bad_request", "not_found"]
