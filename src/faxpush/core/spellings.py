"""Every spelling a report field arrives in, as one table, and the strict reader that follows it.

A report in JSON comes in three spellings that senders mix freely: the push layout
(``faxRecipients``, ``httpStatusPush.url``), the XML element names (``faxRecipient``,
``document``) and the REST API's (``recipientStatus``, ``sentTs``, ``targetUrl``, the job
request's ``statusReportOptions`` and the options spread over ``reference``,
``transportOptions``, ``renderingOptions`` and ``meta``). :data:`REPORT_SHAPE` lists, per
model field, every key (or ``/``-separated key path) it may arrive under, so each field is
read on its own whatever spelling the others use; the spellings come from the field table
(:mod:`faxpush.core.fields`). A field given in two spellings is an error
naming both; a recognised key the model cannot hold (``reportPurgeTs``, a validity end given as
a duration) is an error too, never dropped. Other unknown keys are ignored, so a report from a
newer service version still parses; the push target's ``principal`` and ``credentials`` are
ignored on purpose, as a report never carries credentials.

Types are checked exactly, because pydantic's lax mode would coerce: ``"31"`` is not an
integer, ``1`` is not a boolean, ``1.0`` is not an integer, a number is not a string.
``null`` counts as absent. Every failure is a :class:`ReportFormatError` whose location is a
JSON path in the spelling the sender used (``$.recipientStatus[0].sentTs``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NoReturn

from faxpush.core.errors import ReportFormatError
from faxpush.core.fields import RECIPIENT, REPORT, Field, Kind
from faxpush.core.models import FaxJobReport
from faxpush.core.validation import validate_report

__all__ = [
    "RECIPIENT_SHAPE",
    "REPORT_SHAPE",
    "FieldShape",
    "ListShape",
    "ObjectShape",
    "Scalar",
    "describe_type",
    "report_from_mapping",
]

Location = tuple[int | str, ...]


class Scalar(StrEnum):
    """Leaf types of the JSON layouts; ``TIMESTAMP`` is an ISO 8601 string."""

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
    """One model field: its name, its type, and the spellings it may arrive in.

    ``keys`` are keys (or ``/``-separated key paths) of the enclosing object; ``keys[0]`` is
    the preferred spelling and the default is the model name only. ``spread`` is one more
    spelling: the field's own fields read from the enclosing object by their paths, as REST
    spreads the options over several blocks; it counts as given when any block is there.
    """

    name: str
    shape: Shape
    keys: tuple[str, ...] = ()
    spread: ObjectShape | None = None
    only_key: str | None = field(init=False, default=None, compare=False, repr=False)
    """The one plain key when there is no other spelling: most fields, read the quick way."""

    def __post_init__(self) -> None:
        keys = self.spellings()
        if len(keys) == 1 and "/" not in keys[0] and self.spread is None:
            object.__setattr__(self, "only_key", keys[0])

    def spellings(self) -> tuple[str, ...]:
        return self.keys or (self.name,)


@dataclass(frozen=True, slots=True)
class ObjectShape:
    """A JSON object: the fields read from it, and recognised key paths the model cannot hold
    (path -> why), which are refused rather than dropped. Other keys are ignored."""

    fields: tuple[FieldShape, ...] = ()
    unrepresentable: tuple[tuple[str, str], ...] = ()

    def blocks(self) -> tuple[str, ...]:
        """The first steps of every spelling, in order: what marks a spread spelling given."""
        firsts = (key.split("/", 1)[0] for spec in self.fields for key in spec.spellings())
        return tuple(dict.fromkeys(firsts))


Shape = Scalar | ListShape | ObjectShape

_SCALARS = {
    Kind.TEXT: Scalar.STRING,
    Kind.CODE: Scalar.STRING,
    Kind.INTEGER: Scalar.INTEGER,
    Kind.BOOLEAN: Scalar.BOOLEAN,
    Kind.TIMESTAMP: Scalar.TIMESTAMP,
}


def _field_shape(spec: Field, *, spread_child: bool = False) -> FieldShape:
    # keys[0] is the preferred spelling. A spread group's children keep their REST paths for
    # the spread spelling below: inside the group's own object they go by their names.
    rest = (spec.rest,) if spec.rest and not spread_child else ()
    keys = (spec.name, *rest, *spec.json_also)
    spread = None
    if spec.spread:
        # The children read from the enclosing object by their REST paths (spec §4 and §7).
        spread = ObjectShape(tuple(FieldShape(c.name, _shape(c), (c.rest,)) for c in spec.children))
    return FieldShape(spec.name, _shape(spec), keys if keys != (spec.name,) else (), spread)


def _shape(spec: Field) -> Shape:
    inner = _object(spec.children, spec.spread) if spec.kind is Kind.GROUP else _SCALARS[spec.kind]
    return ListShape(inner) if spec.many else inner


def _object(fields: tuple[Field, ...], spread: bool = False) -> ObjectShape:
    return ObjectShape(tuple(_field_shape(spec, spread_child=spread) for spec in fields))


RECIPIENT_SHAPE = _object(RECIPIENT)

REPORT_SHAPE = ObjectShape(
    _object(REPORT).fields,
    unrepresentable=(
        (
            "statusReportOptions/reportPurgeTs",
            "a report has no field for when the service purges it; leave it out",
        ),
    ),
)
"""Every model field of a report and the spellings it is read from, in model order (derived
from :data:`faxpush.core.fields.REPORT`)."""

# The date and time must both be there; pydantic would otherwise read "1714986843" as epoch
# seconds. Offsets, fractions and a space separator are left to the model to judge.
_TIMESTAMP_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
_DURATION_SHAPE = re.compile(r"[+-]?P[0-9TYMWDHS.,]+")


def describe_type(value: object) -> str:
    """``an integer``, ``a string``…: a JSON value's type, for error messages."""
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
        # model-name location -> key path the sender used ("" when it left no key, as a
        # spread spelling does), for error messages in their spelling
        self.spelled: dict[Location, str] = {}

    def locate(self, loc: Location) -> str:
        path = "$"
        for index, part in enumerate(loc):
            if isinstance(part, int):
                path += f"[{part}]"
            elif (spelled := self.spelled.get(loc[: index + 1], part)) != "":
                path += "." + spelled
        return path

    def fail(self, problem: str, loc: Location, *steps: str) -> NoReturn:
        below = "".join(f".{step}" for step in steps)
        raise ReportFormatError(problem, location=self.locate(loc) + below)

    def lookup(self, value: Mapping[str, Any], key: str, loc: Location) -> Any:
        """The value at key path ``key`` in ``value``, or None; a step that is not an object
        is an error (``statusReportOptions: 3`` carries nothing a report could use)."""
        if "/" not in key:
            return value.get(key)
        node: Any = value
        steps = key.split("/")
        for depth, step in enumerate(steps):
            if depth and not isinstance(node, Mapping):
                self.fail(f"expected an object, got {describe_type(node)}", loc, *steps[:depth])
            node = node.get(step)
            if node is None:
                return None
        return node

    def read(self, value: object, shape: Shape, loc: Location) -> Any:
        if isinstance(shape, ObjectShape):
            return self.read_object(value, shape, loc)
        if isinstance(shape, ListShape):
            if not isinstance(value, list | tuple):
                self.fail(f"expected an array, got {describe_type(value)}", loc)
            return [self.read(item, shape.item, (*loc, i)) for i, item in enumerate(value)]
        if shape is Scalar.INTEGER:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif shape is Scalar.BOOLEAN:
            ok = isinstance(value, bool)
        else:
            ok = isinstance(value, str)
        if not ok:
            self.fail(f"expected {shape.value}, got {describe_type(value)}", loc)
        if shape is Scalar.TIMESTAMP and not _TIMESTAMP_SHAPE.match(str(value)):
            if _DURATION_SHAPE.fullmatch(str(value).strip()):
                self.fail(
                    "a duration cannot be carried in a report, which holds a point in time; "
                    "give a timestamp such as 2024-05-06T10:20:00Z",
                    loc,
                )
            self.fail("expected an ISO 8601 timestamp such as 2024-05-06T09:14:03Z", loc)
        return value

    def read_object(self, value: object, shape: ObjectShape, loc: Location) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            self.fail(f"expected an object, got {describe_type(value)}", loc)
        for key, why in shape.unrepresentable:
            if self.lookup(value, key, loc) is not None:
                self.fail(f"cannot be read into a report: {why}", loc, *key.split("/"))
        result: dict[str, Any] = {}
        for spec in shape.fields:
            if spec.only_key is not None:
                if (found := value.get(spec.only_key)) is not None:
                    result[spec.name] = self.read(found, spec.shape, (*loc, spec.name))
                continue
            given = [key for key in spec.spellings() if self.lookup(value, key, loc) is not None]
            spread = spec.spread
            blocks = [b for b in spread.blocks() if value.get(b) is not None] if spread else []
            if len(given) + bool(blocks) > 1:
                shown = [key.replace("/", ".") for key in given]
                self.fail(
                    f"the same field is given as {' and '.join([*shown, *blocks])}; "
                    "send only one of them",
                    loc,
                )
            item_loc = (*loc, spec.name)
            if blocks and spread is not None:
                self.spelled[item_loc] = ""
                result[spec.name] = self.read_object(value, spread, item_loc)
                continue
            # A missing field is reported in the layout's preferred spelling.
            spelling = given[0] if given else spec.spellings()[0]
            if spelling != spec.name:
                self.spelled[item_loc] = spelling.replace("/", ".")
            if given:
                found = self.lookup(value, spelling, loc)
                result[spec.name] = self.read(found, spec.shape, item_loc)
        return result


def report_from_mapping(data: Mapping[str, Any], shape: ObjectShape = REPORT_SHAPE) -> FaxJobReport:
    """Check and validate an already decoded JSON object laid out as ``shape``.

    ``shape`` maps the accepted keys to model fields; the default reads every spelling.
    """
    reader = _Reader()
    fields = reader.read_object(data, shape, ())
    return validate_report(fields, locate=reader.locate)
