"""The default JSON layout of a status push (spec §3): render it and parse it safely.

Rendering is canonical: two-space indent, UTF-8 without ``\\u`` escapes, keys in wire order,
absent fields and empty lists left out, timestamps as ``YYYY-MM-DDTHH:MM:SSZ``, one trailing
newline.

Parsing is strict about the fields it knows and tolerant about everything else:

* Limits come first: body size, nesting depth (checked before the decoder recurses), UTF-8,
  duplicate keys, and the non-standard constants ``NaN``/``Infinity``.
* Types are checked exactly, because pydantic's lax mode would coerce: ``"31"`` is not an
  integer, ``1`` is not a boolean, ``1.0`` is not an integer, a number is not a string.
* ``null`` counts as absent. Keys faxpush does not know are ignored, so a report from a newer
  service version (or one carrying extra fields such as credentials) still parses.
* The REST spellings (``targetUrl``, ``sentTs``, ``recipientStatus``, ``faxRecipient``,
  ``document``) are read as their push names; giving two spellings of one field is an error.

Every failure is a :class:`ReportFormatError` whose location is a JSON path in the spelling
the sender used (``$.recipientStatus[0].sentTs``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum, StrEnum
from typing import Any, NoReturn

from pydantic import BaseModel

from faxpush.core.errors import ReportFormatError
from faxpush.core.models import FaxJobReport
from faxpush.core.validation import validate_report

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_DEPTH",
    "JSON_CONTENT_TYPE",
    "PUSH_REPORT_SHAPE",
    "RECIPIENT_SHAPE",
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

Location = tuple[int | str, ...]


# --- rendering --------------------------------------------------------------------------------


def format_timestamp(value: datetime) -> str:
    """``2024-05-06T09:14:03Z``: UTC, whole seconds, four-digit year even before 1000."""
    utc = value.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    return f"{utc.isoformat()}Z"


def _plain(value: Any) -> Any:
    # The models declare their fields in wire order (spec §2-§4), so walking them in
    # declaration order yields the canonical key order.
    if isinstance(value, BaseModel):
        rendered = {}
        for name in type(value).model_fields:
            item = getattr(value, name)
            if item is None or item == ():
                continue
            rendered[name] = _plain(item)
        return rendered
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, Enum):
        return value.value
    return value


def render_json(report: FaxJobReport) -> bytes:
    """Render ``report`` in the default JSON layout, byte for byte as the golden samples."""
    return (json.dumps(_plain(report), indent=2, ensure_ascii=False) + "\n").encode("utf-8")


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
            f"the top level must be a JSON object, got {_describe_type(document)}", location="$"
        )
    return document


# --- strict reading of the decoded document ---------------------------------------------------


class Scalar(StrEnum):
    """Leaf types of the JSON layout; ``TIMESTAMP`` is an ISO 8601 string."""

    STRING = "a string"
    INTEGER = "an integer"
    BOOLEAN = "a boolean (true or false)"
    TIMESTAMP = "an ISO 8601 timestamp string"


@dataclass(frozen=True, slots=True)
class ListShape:
    """A JSON array whose items all have ``item``'s shape."""

    item: Shape


@dataclass(frozen=True, slots=True)
class FieldShape:
    """One field: its model name, its type, and the keys it may arrive under (``keys[0]``
    is the preferred spelling; the default is the model name only)."""

    name: str
    shape: Shape
    keys: tuple[str, ...] = ()

    def spellings(self) -> tuple[str, ...]:
        return self.keys or (self.name,)


@dataclass(frozen=True, slots=True)
class ObjectShape:
    """A JSON object: the fields read from it; other keys are ignored."""

    fields: tuple[FieldShape, ...] = ()


Shape = Scalar | ListShape | ObjectShape

_S, _I, _B, _T = Scalar.STRING, Scalar.INTEGER, Scalar.BOOLEAN, Scalar.TIMESTAMP


def _fields(*specs: tuple[str, Shape] | FieldShape) -> ObjectShape:
    return ObjectShape(tuple(s if isinstance(s, FieldShape) else FieldShape(*s) for s in specs))


RECIPIENT_SHAPE = _fields(
    ("number", _S),
    ("numId", _S),
    ("alternativeNumbers", ListShape(_S)),
    ("properties", ListShape(_fields(("key", _S), ("value", _S)))),
    ("status", _S),
    ("reason", _S),
    FieldShape("sentTS", _T, keys=("sentTS", "sentTs")),
    ("durationInSecs", _I),
    ("sentToNumber", _S),
    ("remoteCsid", _S),
)

_OPTIONS_SHAPE = _fields(
    ("csid", _S),
    ("header", _S),
    ("isExpress", _B),
    ("isBlacklistEnabled", _B),
    ("resolution", _S),
    ("paperFormat", _S),
    ("coverpageTemplate", _S),
    ("overlay", _fields(("name", _S), ("mode", _S))),
    ("customerReference", _S),
    ("customerDefinedId", _S),
    ("billingCode", _S),
    ("billingInfo", _S),
    ("jobValidStart", _T),
    ("jobValidEnd", _T),
)

PUSH_REPORT_SHAPE = _fields(
    ("jobId", _S),
    (
        "reportMail",
        _fields(
            ("successAddress", _S),
            ("failureAddress", _S),
            ("attachedFaxImageMode", _S),
            ("attachedFaxImageFormat", _S),
        ),
    ),
    (
        "httpStatusPush",
        _fields(FieldShape("url", _S, keys=("url", "targetUrl")), ("authMethod", _S)),
    ),
    FieldShape(
        "faxRecipients",
        ListShape(RECIPIENT_SHAPE),
        keys=("faxRecipients", "recipientStatus", "faxRecipient"),
    ),
    FieldShape(
        "documents",
        ListShape(_fields(("name", _S), ("isText", _B))),
        keys=("documents", "document"),
    ),
    ("options", _OPTIONS_SHAPE),
    ("pages", _I),
)

# The date and time must both be there; pydantic would otherwise read "1714986843" as epoch
# seconds. Offsets, fractions and a space separator are left to the model to judge.
_TIMESTAMP_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _describe_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number with a fraction or exponent"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    return f"a {type(value).__name__}"


class _Reader:
    """Copies known fields into a dict in model names, checking JSON types on the way."""

    def __init__(self) -> None:
        # model-name location -> key the sender used, for error messages in their spelling
        self.spelled: dict[Location, str] = {}

    def locate(self, loc: Location) -> str:
        path = "$"
        for index, part in enumerate(loc):
            if isinstance(part, int):
                path += f"[{part}]"
            else:
                path += "." + self.spelled.get(loc[: index + 1], part)
        return path

    def fail(self, problem: str, loc: Location) -> NoReturn:
        raise ReportFormatError(problem, location=self.locate(loc))

    def read(self, value: object, shape: Shape, loc: Location) -> Any:
        if isinstance(shape, ObjectShape):
            return self.read_object(value, shape, loc)
        if isinstance(shape, ListShape):
            if not isinstance(value, list | tuple):
                self.fail(f"expected an array, got {_describe_type(value)}", loc)
            return [self.read(item, shape.item, (*loc, i)) for i, item in enumerate(value)]
        if shape is Scalar.INTEGER:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif shape is Scalar.BOOLEAN:
            ok = isinstance(value, bool)
        else:
            ok = isinstance(value, str)
        if not ok:
            self.fail(f"expected {shape.value}, got {_describe_type(value)}", loc)
        if shape is Scalar.TIMESTAMP and not _TIMESTAMP_SHAPE.match(str(value)):
            self.fail("expected an ISO 8601 timestamp such as 2024-05-06T09:14:03Z", loc)
        return value

    def read_object(self, value: object, shape: ObjectShape, loc: Location) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            self.fail(f"expected an object, got {_describe_type(value)}", loc)
        result: dict[str, Any] = {}
        for spec in shape.fields:
            given = [key for key in spec.spellings() if value.get(key) is not None]
            if len(given) > 1:
                self.fail(
                    f"the same field is given as {' and '.join(given)}; send only one of them",
                    loc,
                )
            item_loc = (*loc, spec.name)
            # A missing field is reported in the layout's preferred spelling.
            spelling = given[0] if given else spec.spellings()[0]
            if spelling != spec.name:
                self.spelled[item_loc] = spelling
            if given:
                result[spec.name] = self.read(value[spelling], spec.shape, item_loc)
        return result


def report_from_mapping(
    data: Mapping[str, Any], shape: ObjectShape = PUSH_REPORT_SHAPE
) -> FaxJobReport:
    """Check and validate an already decoded JSON object laid out as ``shape``.

    ``shape`` maps the accepted keys to model fields; the default is the push layout.
    """
    reader = _Reader()
    fields = reader.read_object(data, shape, ())
    return validate_report(fields, locate=reader.locate)


def parse_json(
    data: bytes | str, *, max_bytes: int = DEFAULT_MAX_BYTES, max_depth: int = DEFAULT_MAX_DEPTH
) -> FaxJobReport:
    """Parse a JSON push body; any problem raises :class:`ReportFormatError`, nothing else."""
    return report_from_mapping(load_json_object(data, max_bytes=max_bytes, max_depth=max_depth))
