"""The JSON fast reader: a body with exactly the push layout's keys, or nothing.

pydantic-core's JSON decoder (about twice as fast as :func:`json.loads` here) turns the body
into plain dicts and lists. It refuses what the core's decoder refuses (invalid JSON, NaN and
Infinity when told so, raw control characters; lone surrogates too, which the models refuse
anyway), but it keeps the last of duplicate keys silently, where the core refuses the body.
So the reader counts the keys it walks and compares them with the ``":`` pairs in the body.
Every key ends in one when no whitespace stands before its colon, so at least as many pairs
as keys are in the body, and equal counts prove that no key repeats. A string can only add
pairs (one starting with a colon, say); then, or when a key is spaced from its colon, the
body is decoded again by :func:`json.loads` with a check for duplicates, as the core does.

Unknown keys and the REST spellings are left for validation to refuse (the models forbid
extra fields), which declines the body; so does ``null`` (which means "absent" to the core).
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from pydantic_core import from_json

from faxpush.receiver._canonical import DeclineError, timestamp

_MAX_BRACKETS: Final = 64  # a report has about 15: this bounds what json.loads recurses into
_SPACED_COLON: Final = re.compile(rb'"[ \t\n\r]+:')


def _object(value: object) -> dict[str, Any]:
    if type(value) is not dict or None in value.values():
        raise DeclineError
    return value


def _array(value: object) -> list[Any]:
    if type(value) is not list:
        raise DeclineError
    return value


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):
        raise DeclineError  # a duplicate key: the core names it
    return data


def _refuse_constant(_name: str) -> Any:
    raise DeclineError


def _stamp(data: dict[str, Any], name: str) -> None:
    # The core lets pydantic read any ISO 8601 form; only the canonical one is taken here.
    if name in data:
        value = data[name]
        if type(value) is not str:
            raise DeclineError
        data[name] = timestamp(value)


def _check(report: dict[str, Any]) -> int:
    """Check the types the core checks and pydantic would coerce ("31", 31.0 or true for an
    integer, 1 or "yes" for a flag); returns the number of keys seen. Strings need no
    check: pydantic refuses other JSON types for them as well."""
    keys = len(report)
    if "reportMail" in report:
        keys += len(_object(report["reportMail"]))
    if "httpStatusPush" in report:
        keys += len(_object(report["httpStatusPush"]))
    for recipient in _array(report.get("faxRecipients")):
        keys += len(_object(recipient))
        if "durationInSecs" in recipient and type(recipient["durationInSecs"]) is not int:
            raise DeclineError
        _stamp(recipient, "sentTS")
        if "alternativeNumbers" in recipient:
            _array(recipient["alternativeNumbers"])
        if "properties" in recipient:
            for pair in _array(recipient["properties"]):
                keys += len(_object(pair))
    if "documents" in report:
        for document in _array(report["documents"]):
            keys += len(_object(document))
            if "isText" in document and type(document["isText"]) is not bool:
                raise DeclineError
    if "options" in report:
        options = _object(report["options"])
        keys += len(options)
        for name in ("isExpress", "isBlacklistEnabled"):
            if name in options and type(options[name]) is not bool:
                raise DeclineError
        _stamp(options, "jobValidStart")
        _stamp(options, "jobValidEnd")
        if "overlay" in options:
            keys += len(_object(options["overlay"]))
    if "pages" in report and type(report["pages"]) is not int:
        raise DeclineError
    return keys


def read_json(body: bytes) -> dict[str, Any]:
    """The field dict the core's JSON reader builds from ``body``, or DeclineError."""
    try:
        report = _object(from_json(body, allow_inf_nan=False))
    except ValueError:  # (nesting included: the decoder bounds its own recursion)
        raise DeclineError from None
    keys = _check(report)
    if keys != body.count(b'":') or _SPACED_COLON.search(body) is not None:
        if body.count(b"{") + body.count(b"[") > _MAX_BRACKETS:
            raise DeclineError  # json.loads recurses: bound the nesting first
        try:
            text = body.decode("utf-8")
            report = _object(
                json.loads(text, object_pairs_hook=_unique, parse_constant=_refuse_constant)
            )
        except ValueError:
            raise DeclineError from None
        _check(report)
    return report


__all__ = ["read_json"]
