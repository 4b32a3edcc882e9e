"""The fields of a report, written down once: names, kinds, order and every spelling.

:data:`REPORT` lists the fields of :class:`~faxpush.core.models.FaxJobReport` in wire order,
nested as the groups nest. Everything that depends on the field list is derived from it: the
XML renderer's element order and the core XML reader's schema (``xml_codec``), the JSON
shapes and every JSON and REST spelling (``spellings``), the JSON renderer's key order
(``json_codec``), the receiver's fast readers (their grammar and type checks) and the fields
a customer's reverse mapping may name. A test compares the table with the pydantic models and
with the spec's samples, so a field added to one and not the other fails there, not in a push.

Spellings of one field:

* ``name``: the model attribute, which is also the key of the push JSON layout;
* ``element``: its XML element (one element per item of a list: ``faxRecipient``);
* ``rest``: its key, or ``/``-separated key path, in the REST API (``recipientStatus``,
  ``sentTs``); for the children of a *spread* group (``options``) the path starts at the
  report itself, as a REST job request spreads them over ``transportOptions``, ``meta``…;
* ``json_also`` and ``xml_also``: further spellings the parsers accept from other senders.

The JSON parser reads a field under ``name``, ``rest`` and ``json_also``, preferring them in
that order (the first names a missing field); the XML parser under ``element`` and
``xml_also``. Only ``name`` and ``element`` are ever written.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

__all__ = ["RECIPIENT", "REPORT", "Field", "Kind", "element_names", "walk"]


class Kind(Enum):
    """What a field holds, which decides how each format writes and reads it."""

    TEXT = "text"  # a string, kept exactly as sent
    CODE = "code"  # an enumeration or the status code: surrounding spaces are trimmed
    INTEGER = "integer"
    BOOLEAN = "boolean"
    TIMESTAMP = "timestamp"  # UTC, second precision: 2024-05-06T09:14:03Z
    GROUP = "group"  # a nested object / element with the fields in ``children``


@dataclass(frozen=True, slots=True)
class Field:
    """One report field; see the module docstring for its spellings."""

    name: str
    kind: Kind
    children: tuple[Field, ...] = ()
    required: bool = False
    many: bool = False  # a list: a JSON array, one XML element per item
    element: str = ""  # default: the name
    rest: str = ""  # default: no REST spelling of its own
    spread: bool = False  # the children's REST paths start at the enclosing object
    json_also: tuple[str, ...] = ()
    xml_also: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.element:
            object.__setattr__(self, "element", self.name)
        if (self.kind is Kind.GROUP) != bool(self.children):
            raise ValueError(f"{self.name}: a group, and only a group, has children")

    def xml_elements(self) -> tuple[str, ...]:
        """The element names an XML reader accepts, the rendered one first."""
        return (self.element, *self.xml_also)


_T, _C, _I, _B, _S = Kind.TEXT, Kind.CODE, Kind.INTEGER, Kind.BOOLEAN, Kind.TIMESTAMP


RECIPIENT = (
    Field("number", _T, required=True),
    Field("numId", _T),
    Field("alternativeNumbers", _T, many=True, element="alternativeNumber"),
    Field(
        "properties",
        Kind.GROUP,
        (Field("key", _T, required=True), Field("value", _T, required=True)),
        many=True,
        element="property",
    ),
    Field("status", _C),
    Field("reason", _T),
    Field("sentTS", _S, rest="sentTs", xml_also=("sentTs",)),
    Field("durationInSecs", _I),
    Field("sentToNumber", _T),
    Field("remoteCsid", _T),
)
"""A recipient's fields (``faxRecipient``), in wire order."""

_OPTIONS = (
    Field("csid", _T, rest="transportOptions/csid"),
    Field("header", _T, rest="renderingOptions/header"),
    Field("isExpress", _B, rest="transportOptions/isExpress"),
    Field("isBlacklistEnabled", _B, rest="transportOptions/isBlacklistEnabled"),
    Field("resolution", _C, rest="renderingOptions/resolution"),
    Field("paperFormat", _C, rest="renderingOptions/paperFormat"),
    Field("coverpageTemplate", _T, rest="renderingOptions/coverpageTemplate"),
    Field(
        "overlay",
        Kind.GROUP,
        (Field("name", _T, required=True), Field("mode", _C)),
        rest="renderingOptions/overlay",
    ),
    Field("customerReference", _T, rest="meta/customerReference"),
    Field("customerDefinedId", _T, rest="reference/customerDefinedId"),
    Field("billingCode", _T, rest="reference/billingCode"),
    Field("billingInfo", _T, rest="reference/billingInfo"),
    Field("jobValidStart", _S, rest="meta/jobValid/start"),
    Field("jobValidEnd", _S, rest="meta/jobValid/end"),
)

REPORT = (
    Field("jobId", _T, required=True),
    Field(
        "reportMail",
        Kind.GROUP,
        (
            Field("successAddress", _T),
            Field("failureAddress", _T),
            Field("attachedFaxImageMode", _C),
            Field("attachedFaxImageFormat", _C),
        ),
        rest="statusReportOptions/reportMail",
    ),
    Field(
        "httpStatusPush",
        Kind.GROUP,
        (Field("url", _T, required=True, rest="targetUrl"), Field("authMethod", _C)),
        rest="statusReportOptions/httpStatusPush",
    ),
    Field(
        "faxRecipients",
        Kind.GROUP,
        RECIPIENT,
        required=True,
        many=True,
        element="faxRecipient",
        rest="recipientStatus",
        json_also=("faxRecipient",),
    ),
    Field(
        "documents",
        Kind.GROUP,
        (Field("name", _T, required=True), Field("isText", _B, required=True)),
        many=True,
        element="document",
        json_also=("document",),
    ),
    Field("options", Kind.GROUP, _OPTIONS, spread=True),
    Field("pages", _I),
)
"""Every field of a report (``faxJobReport``), in wire order."""


def walk(
    fields: tuple[Field, ...] = REPORT, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Field]]:
    """Every field below ``fields`` with its path of names, depth first, in wire order."""
    for spec in fields:
        yield (*path, spec.name), spec
        yield from walk(spec.children, (*path, spec.name))


def element_names() -> dict[str, str]:
    """Model name -> element name, for the fields whose element is spelled otherwise."""
    return {spec.name: spec.element for _, spec in walk() if spec.element != spec.name}
