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
from collections.abc import Callable
from typing import Any, Final

from pydantic_core import from_json

from faxpush.core.fields import REPORT, Field, Kind
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


# The checks are generated from the field table as straight-line code, one function per group
# that needs any ("if 'pages' in d and type(d['pages']) is not int: raise DeclineError"); the
# groups holding only strings just count their keys. It reads the full sample as quickly as the
# hand-written checks it replaced did (12.6 against 12.5 µs, read_json included).
_TYPE: Final = {Kind.INTEGER: "int", Kind.BOOLEAN: "bool"}


def _checker(name: str, fields: tuple[Field, ...], code: list[str]) -> str:
    """Append the source of ``def name(d)`` checking ``fields`` in the object ``d`` and returning
    its number of keys (and the source of the checks it calls, first). Returns the expression
    that checks and counts one object of this group bound to ``x``."""
    body = ["k = len(d)"]
    for spec in fields:
        key = repr(spec.name)
        value = f"d.get({key})" if spec.required else f"d[{key}]"  # .get: None declines
        if spec.kind is Kind.TIMESTAMP and not spec.many:
            body.append(f"_stamp(d, {key})")
            continue
        if spec.kind in _TYPE and not spec.many:
            wrong = f"type(d[{key}]) is not {_TYPE[spec.kind]}"
            body += [f"if {key} in d and {wrong}:", "    raise _no"]
            continue
        if spec.children:
            count = _checker(f"{name}_{spec.name}", spec.children, code)
            lines = [f"x = {value}", f"k += {count}"]
            if spec.many:
                lines = [f"for x in _array({value}):", f"    k += {count}"]
        elif spec.many:
            lines = [f"_array({value})"]
        else:
            continue  # strings: pydantic refuses other JSON types for them as well
        body += lines if spec.required else [f"if {key} in d:", *(f"    {line}" for line in lines)]
    if len(body) == 1:
        return "len(_object(x))"
    code += [f"def {name}(d):", *(f"    {line}" for line in body), "    return k", ""]
    return f"{name}(_object(x))"


def _compile_check() -> Callable[[dict[str, Any]], int]:
    code: list[str] = []
    _checker("_check", REPORT, code)
    scope: dict[str, Any] = {"_object": _object, "_array": _array, "_stamp": _stamp}
    scope["_no"] = DeclineError
    exec(compile("\n".join(code), "<_fastjson checks>", "exec"), scope)  # noqa: S102  # own code
    check: Callable[[dict[str, Any]], int] = scope["_check"]
    return check


_check = _compile_check()
"""Check the types the core checks and pydantic would coerce ("31", 31.0 or true for an
integer, 1 or "yes" for a flag, a string that is not a canonical timestamp); returns the
number of keys seen."""


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
