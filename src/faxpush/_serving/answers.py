"""Answers the HTTP APIs (the emulator's REST API, the operator API) give alike, each in its
own error format."""

from __future__ import annotations

import logging

from starlette.responses import Response

from faxpush.core.errors import StorageError


def client_gone() -> Response:
    """The answer to a request whose client went before its body arrived: it hung up, or the
    server closed it when the body came too slowly (and answered 408 itself). Nobody reads
    it."""
    return Response(status_code=408)


def database_unavailable(answer: Response, exc: StorageError, logger: logging.Logger) -> Response:
    """``answer`` (a 503 in the API's error format) for a database that is unavailable: the
    cause logged on ``logger``, the client told to retry in a second."""
    logger.warning("database unavailable: %s", exc)
    answer.headers["Retry-After"] = "1"
    return answer


__all__ = ["client_gone", "database_unavailable"]
