"""The default JSON layout of a status push (spec §3): render it and parse it safely.

Rendering is canonical: two-space indent, UTF-8 without ``\\u`` escapes, keys in wire order,
absent fields and empty lists left out, timestamps as ``YYYY-MM-DDTHH:MM:SSZ``, one trailing
newline.

Parsing is strict about the fields it knows and tolerant about everything else:

* Limits come first: body size, nesting depth (checked before the decoder recurses), UTF-8,
  duplicate keys, and the non-standard constants ``NaN``/``Infinity``.
* Then :mod:`faxpush.core.spellings` reads the decoded object: every field in any of its push,
  XML-element or REST spellings, mixed freely, with exact JSON types; ``null`` is absent and
  keys faxpush does not know are ignored.

Every failure is a :class:`ReportFormatError` whose location is a JSON path in the spelling
the sender used (``$.recipientStatus[0].sentTs``).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from enum import Enum
from typing import Any, NoReturn

from pydantic import BaseModel

from faxpush.core.errors import ReportFormatError
from faxpush.core.fields import REPORT, Field
from faxpush.core.models import FaxJobReport
from faxpush.core.spellings import (
    RECIPIENT_SHAPE,
    REPORT_SHAPE,
    FieldShape,
    ListShape,
    ObjectShape,
    Scalar,
    describe_type,
    report_from_mapping,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_DEPTH",
    "JSON_CONTENT_TYPE",
    "RECIPIENT_SHAPE",
    "REPORT_SHAPE",
    "FieldShape",
    "ListShape",
    "ObjectShape",
    "Scalar",
    "format_timestamp",
    "load_json_object",
    "parse_json",
    "render_json",
    "report_from_mapping",
]

JSON_CONTENT_TYPE = "application/json"
DEFAULT_MAX_BYTES = 1_048_576
DEFAULT_MAX_DEPTH = 32

# --- rendering --------------------------------------------------------------------------------


def format_timestamp(value: datetime) -> str:
    """``2024-05-06T09:14:03Z``: UTC, whole seconds, four-digit year even before 1000."""
    utc = value.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    return f"{utc.isoformat()}Z"


def _scalar(value: object) -> object:
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, Enum):
        return value.value
    return value


def _plain(model: BaseModel, fields: tuple[Field, ...]) -> dict[str, Any]:
    # The keys in the order of the field table, which is the wire order (spec §2-§4).
    rendered: dict[str, Any] = {}
    for spec in fields:
        value = getattr(model, spec.name)
        if value is None or value == ():
            continue
        if spec.children:
            if spec.many:
                rendered[spec.name] = [_plain(item, spec.children) for item in value]
            else:
                rendered[spec.name] = _plain(value, spec.children)
        else:
            rendered[spec.name] = [_scalar(v) for v in value] if spec.many else _scalar(value)
    return rendered


def render_json(report: FaxJobReport) -> bytes:
    """Render ``report`` in the default JSON layout, byte for byte as the golden samples."""
    return (json.dumps(_plain(report, REPORT), indent=2, ensure_ascii=False) + "\n").encode("utf-8")


# --- decoding with limits ---------------------------------------------------------------------

# A JSON string (possibly unterminated, so the scan stays linear) or a bracket. Brackets inside
# strings must not count towards the nesting depth.
_DEPTH_TOKEN = re.compile(r'"(?:[^"\\]+|\\[\s\S])*"?|[\[\]{}]')


def _decode(data: bytes | bytearray | memoryview | str, max_bytes: int) -> str:
    if isinstance(data, str):
        # More characters than max_bytes means more bytes too; only count exactly when close.
        size = len(data) if len(data) > max_bytes else len(data.encode("utf-8", "surrogatepass"))
    elif isinstance(data, bytes | bytearray | memoryview):
        size = data.nbytes if isinstance(data, memoryview) else len(data)
    else:
        raise ReportFormatError(f"expected the body as bytes or str, got {type(data).__name__}")
    if size > max_bytes:
        raise ReportFormatError(
            f"the body is {size} bytes, more than the limit of {max_bytes}; "
            "send a smaller report or raise the limit"
        )
    text = data if isinstance(data, str) else _utf8(bytes(data))
    # A byte order mark is not JSON, but some Windows tools write one; it carries nothing.
    return text.removeprefix("\ufeff")


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReportFormatError(
            f"the body is not valid UTF-8 ({exc.reason}); send it encoded as UTF-8",
            location=f"byte {exc.start}",
        ) from None


def _check_depth(text: str, max_depth: int) -> None:
    depth = 0
    for match in _DEPTH_TOKEN.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > max_depth:
                raise ReportFormatError(
                    f"arrays and objects are nested more than {max_depth} levels deep; "
                    "a report needs at most 5",
                    location=f"offset {match.start()}",
                )
        elif token in ("]", "}"):
            depth -= 1


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            shown = json.dumps(key[:60] + ("..." if len(key) > 60 else ""), ensure_ascii=False)
            raise ReportFormatError(
                f"duplicate key {shown} in one object; each key may appear only once"
            )
        result[key] = value
    return result


def _refuse_constant(name: str) -> NoReturn:
    raise ReportFormatError(f"{name} is not valid JSON; use a finite number")


def load_json_object(
    data: bytes | str, *, max_bytes: int = DEFAULT_MAX_BYTES, max_depth: int = DEFAULT_MAX_DEPTH
) -> dict[str, Any]:
    """Decode a JSON body whose top level must be an object, enforcing the limits above."""
    text = _decode(data, max_bytes)
    _check_depth(text, max_depth)
    try:
        document = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise ReportFormatError(
            f"not valid JSON: {exc.msg}", location=f"line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise ReportFormatError(
            "nested too deeply to decode; lower max_depth", location="$"
        ) from None
    except ValueError:
        # The one other ValueError json raises: an integer beyond the interpreter's digit limit.
        raise ReportFormatError(
            "not valid JSON: a number has thousands of digits; no report field needs more than 10"
        ) from None
    if not isinstance(document, dict):
        raise ReportFormatError(
            f"the top level must be a JSON object, got {describe_type(document)}", location="$"
        )
    return document


def parse_json(
    data: bytes | str, *, max_bytes: int = DEFAULT_MAX_BYTES, max_depth: int = DEFAULT_MAX_DEPTH
) -> FaxJobReport:
    """Parse a JSON push body; any problem raises :class:`ReportFormatError`, nothing else."""
    return report_from_mapping(load_json_object(data, max_bytes=max_bytes, max_depth=max_depth))
