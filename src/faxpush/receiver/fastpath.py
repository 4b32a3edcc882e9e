"""A fast reader for pushes in exactly the canonical default layouts, or nothing.

Most pushes a receiver sees were rendered by a Fax4A sender in the canonical layout (the
golden samples' shape). For those, this module builds the same field dict the core codecs
build, with tighter and cheaper readers, and validates it with the same function
(:func:`faxpush.core.validation.validate_report`). Whenever the input strays from the
canonical form (another namespace, a REST spelling, an unknown element or key, a padded
number, ``null``, a DTD marker, an invalid value…) it *declines* by returning ``None``, and
the caller parses with the core codecs, which then produce their result or their precise
error. So the fast path never accepts what the core refuses and never reads a value
differently; the differential tests in ``tests/receiver`` check that on generated reports
and on mutations of them.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple

from lxml import etree

from faxpush.core.errors import ReportFormatError
from faxpush.core.models import FaxJobReport
from faxpush.core.validation import validate_report
from faxpush.core.xml_codec import NAMESPACE

_NS: Final = "{" + NAMESPACE + "}"
_DTD_MARKERS: Final = tuple(
    marker.encode(codec)
    for marker in ("<!DOCTYPE", "<!ENTITY")
    for codec in ("utf-8", "utf-16-le", "utf-16-be")
)
_TIMESTAMP: Final = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z")
_MAX_BRACKETS: Final = 64  # below the core's depth limit of 32 levels whatever the nesting


class _NotCanonicalError(Exception):
    """The input is not in the canonical form; let the core parse it."""


# --- XML ------------------------------------------------------------------------------------


def _code(text: str) -> str:
    return text.strip()


def _integer(text: str) -> int:
    if not (0 < len(text) <= 15 and text.isascii() and text.isdigit()):
        raise _NotCanonicalError
    return int(text)


def _boolean(text: str) -> bool:
    if text == "true":
        return True
    if text == "false":
        return False
    raise _NotCanonicalError


def _timestamp(text: str) -> datetime:
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        raise _NotCanonicalError
    try:
        year, month, day, hour, minute, second = map(int, match.groups())
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        raise _NotCanonicalError from None


_Reader = Callable[[str], Any]  # a leaf's text to its value; None keeps the text


class _Field(NamedTuple):
    """How one child element is read: into ``name``, by ``reader`` or a nested table."""

    name: str
    reader: _Reader | None = None
    nested: Mapping[str, _Field] | None = None
    repeated: bool = False


def _table(*fields: tuple[str, _Field]) -> dict[str, _Field]:
    return {_NS + element: field for element, field in fields}


def _leaf(name: str, reader: _Reader | None = None) -> tuple[str, _Field]:
    return name, _Field(name, reader)


def _group(name: str, table: Mapping[str, _Field]) -> tuple[str, _Field]:
    return name, _Field(name, nested=table)


_OVERLAY = _table(_leaf("name"), _leaf("mode", _code))
_OPTIONS = _table(
    _leaf("csid"),
    _leaf("header"),
    _leaf("isExpress", _boolean),
    _leaf("isBlacklistEnabled", _boolean),
    _leaf("resolution", _code),
    _leaf("paperFormat", _code),
    _leaf("coverpageTemplate"),
    _group("overlay", _OVERLAY),
    _leaf("customerReference"),
    _leaf("customerDefinedId"),
    _leaf("billingCode"),
    _leaf("billingInfo"),
    _leaf("jobValidStart", _timestamp),
    _leaf("jobValidEnd", _timestamp),
)
_PROPERTY = _table(_leaf("key"), _leaf("value"))
_RECIPIENT = _table(
    _leaf("number"),
    _leaf("numId"),
    ("alternativeNumber", _Field("alternativeNumbers", repeated=True)),
    ("property", _Field("properties", nested=_PROPERTY, repeated=True)),
    _leaf("status", _code),
    _leaf("reason"),
    _leaf("sentTS", _timestamp),
    _leaf("durationInSecs", _integer),
    _leaf("sentToNumber"),
    _leaf("remoteCsid"),
)
_REPORT_MAIL = _table(
    _leaf("successAddress"),
    _leaf("failureAddress"),
    _leaf("attachedFaxImageMode", _code),
    _leaf("attachedFaxImageFormat", _code),
)
_DOCUMENT = _table(_leaf("name"), _leaf("isText", _boolean))
_REPORT = _table(
    _leaf("jobId"),
    _group("reportMail", _REPORT_MAIL),
    _group("httpStatusPush", _table(_leaf("url"), _leaf("authMethod", _code))),
    ("faxRecipient", _Field("faxRecipients", nested=_RECIPIENT, repeated=True)),
    ("document", _Field("documents", nested=_DOCUMENT, repeated=True)),
    _group("options", _OPTIONS),
    _leaf("pages", _integer),
)


def _read_group(element: etree._Element, table: Mapping[str, _Field]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for child in element:
        # Comments and PIs are removed by the parser; an unresolved entity's tag is a
        # function, which no table holds, so it declines like an unknown element.
        field = table.get(child.tag)
        if field is None:
            raise _NotCanonicalError  # unknown element, other namespace, or no namespace
        name, reader, nested, repeated = field
        if nested is not None:
            value: Any = _read_group(child, nested)
        elif len(child):
            raise _NotCanonicalError  # a leaf with child elements: mixed content
        else:
            value = child.text or ""
            if reader is not None:
                value = reader(value)
        if repeated:
            data.setdefault(name, []).append(value)
        elif name in data:
            raise _NotCanonicalError
        else:
            data[name] = value
    return data


_local = threading.local()


def _xml_parser() -> etree.XMLParser:
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        _local.parser = parser
    return parser


def fast_xml(body: bytes) -> FaxJobReport | None:
    """The report in a canonical XML body, or None (then parse it with the core codec)."""
    if any(marker in body for marker in _DTD_MARKERS):
        return None
    try:
        root = etree.fromstring(body, _xml_parser())
        if root.tag != _NS + "faxJobReport":
            return None
        fields = _read_group(root, _REPORT)
        return validate_report(fields)
    except (_NotCanonicalError, ReportFormatError, etree.LxmlError, ValueError, LookupError):
        return None


# --- JSON -----------------------------------------------------------------------------------


def _str(value: object) -> str:
    if type(value) is not str:
        raise _NotCanonicalError
    return value


def _int(value: object) -> int:
    if type(value) is not int:
        raise _NotCanonicalError
    return value


def _bool(value: object) -> bool:
    if type(value) is not bool:
        raise _NotCanonicalError
    return value


def _stamp(value: object) -> str:
    if type(value) is not str or _TIMESTAMP.fullmatch(value) is None:
        raise _NotCanonicalError
    return value


def _many(reader: Any) -> Callable[[object], list[Any]]:
    def read(value: object) -> list[Any]:
        if type(value) is not list:
            raise _NotCanonicalError
        return [_json_value(item, reader) for item in value]

    return read


def _json_value(value: object, reader: Any) -> Any:
    if isinstance(reader, Mapping):
        if type(value) is not tuple:  # objects are decoded as tuples of pairs
            raise _NotCanonicalError
        return _json_object(value, reader)
    return reader(value)


def _json_object(pairs: tuple[tuple[str, Any], ...], shape: Mapping[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, item in pairs:
        reader = shape.get(key)
        if reader is None:
            raise _NotCanonicalError  # unknown key, REST spelling or null: the core decides
        if key in data:
            raise _NotCanonicalError  # a duplicate key: the core names it
        data[key] = _json_value(item, reader)
    return data


_J_RECIPIENT: Final = {
    "number": _str,
    "numId": _str,
    "alternativeNumbers": _many(_str),
    "properties": _many({"key": _str, "value": _str}),
    "status": _str,
    "reason": _str,
    "sentTS": _stamp,
    "durationInSecs": _int,
    "sentToNumber": _str,
    "remoteCsid": _str,
}
_J_OPTIONS: Final = {
    "csid": _str,
    "header": _str,
    "isExpress": _bool,
    "isBlacklistEnabled": _bool,
    "resolution": _str,
    "paperFormat": _str,
    "coverpageTemplate": _str,
    "overlay": {"name": _str, "mode": _str},
    "customerReference": _str,
    "customerDefinedId": _str,
    "billingCode": _str,
    "billingInfo": _str,
    "jobValidStart": _stamp,
    "jobValidEnd": _stamp,
}
_J_REPORT: Final = {
    "jobId": _str,
    "reportMail": {
        "successAddress": _str,
        "failureAddress": _str,
        "attachedFaxImageMode": _str,
        "attachedFaxImageFormat": _str,
    },
    "httpStatusPush": {"url": _str, "authMethod": _str},
    "faxRecipients": _many(_J_RECIPIENT),
    "documents": _many({"name": _str, "isText": _bool}),
    "options": _J_OPTIONS,
    "pages": _int,
}


def _no_constants(_name: str) -> Any:
    raise _NotCanonicalError


def fast_json(body: bytes) -> FaxJobReport | None:
    """The report in a canonical JSON body, or None (then parse it with the core codec)."""
    # Bounding the brackets bounds the nesting, so json.loads cannot recurse deeply; a
    # report has about 15. Byte order marks and other encodings are left to the core.
    if body.count(b"{") + body.count(b"[") > _MAX_BRACKETS or body.startswith(b"\xef\xbb\xbf"):
        return None
    try:
        # Objects stay tuples of pairs (a C-level hook, unlike a Python one) so that
        # duplicate keys remain visible to _json_object.
        document = json.loads(
            body.decode("utf-8"), object_pairs_hook=tuple, parse_constant=_no_constants
        )
        if type(document) is not tuple:
            return None
        return validate_report(_json_object(document, _J_REPORT))
    except (_NotCanonicalError, ReportFormatError, ValueError, RecursionError):
        return None


__all__ = ["fast_json", "fast_xml"]
