"""Turn pydantic validation failures into faxpush's own error type.

Both codecs build a plain dict in the models' wire names and validate it here, so a bad
report always ends in :class:`ReportFormatError` naming a JSON-path-like location.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from faxpush.core.errors import ReportFormatError
from faxpush.core.models import FaxJobReport


def json_path(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic ``loc`` tuple as ``$.faxRecipients[0].number``."""
    path = "$"
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def validate_report(
    data: Mapping[str, Any],
    *,
    locate: Callable[[tuple[int | str, ...]], str] = json_path,
) -> FaxJobReport:
    """Validate ``data`` into a report; ``locate`` maps an error's loc to a location string.

    Only the first error is reported: one clear problem beats a wall of follow-on errors.
    """
    try:
        return FaxJobReport.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = tuple(
            p for p in first["loc"] if not (isinstance(p, str) and p.startswith("function-"))
        )
        problem = _describe(first)
        raise ReportFormatError(problem, location=locate(loc)) from None


def _describe(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field"
    msg = str(error.get("msg", "invalid value"))
    return msg.removeprefix("Value error, ")
