"""The XML fast reader: the canonical layout as one regular grammar, or nothing.

The grammar accepts a small subset of XML: the exact XML declaration and root element with
its default namespace, then the report's elements in the renderer's order, without
attributes, comments, processing instructions, CDATA sections or empty-element tags, with
only spaces, tabs and line feeds between elements, and numbers, flags and timestamps in their
canonical spelling. Character data may use the five predefined entities and ``&#13;`` (the
renderer's spelling of a carriage return) but no other reference, and no character that XML
refuses or that a parser would normalise (a carriage return). So every document the grammar
accepts is well-formed and means exactly what it says to any XML parser, once the body is
checked for ``]]>``. A regular expression matches the whole body in C; Python only converts
the captured values, into the field dict the core's XML reader would build.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

from faxpush.core.xml_codec import NAMESPACE
from faxpush.receiver._canonical import STAMP, DeclineError, utc_datetime

# The predefined entities, and the one character reference the renderer writes (for CR).
_BAD_REFERENCE: Final = re.compile("&(?!(?:amp|lt|gt|quot|apos|#13);)")

# Both runs are possessive (*+): what follows them never starts with what they consume, so
# they need no backtracking points, and the whole match takes about a third less time.
_W: Final = "[ \t\n]*+"
# Character data: no markup, and none of the characters XML refuses (C0 controls but tab and
# line feed, U+FFFE, U+FFFF) or a parser would normalise (carriage return).
_CHARS: Final = "[^<\x00-\x08\x0b-\x1f\ufffe\uffff]*+"
_TEXT: Final = f"({_CHARS})"
_INT: Final = "([0-9]{1,15})"  # the core allows a sign and surrounding spaces: it decides those
_BOOL: Final = "(true|false)"  # the core also reads 1, 0 and other letter cases
_STAMP: Final = f"({STAMP})"
_KINDS: Final = {
    "isExpress": _BOOL,
    "isBlacklistEnabled": _BOOL,
    "isText": _BOOL,
    "durationInSecs": _INT,
    "pages": _INT,
    "sentTS": _STAMP,
    "jobValidStart": _STAMP,
    "jobValidEnd": _STAMP,
}


def _leaf(name: str, *, optional: bool = True, capture: bool = True) -> str:
    value = _KINDS.get(name, _TEXT)
    if not capture:
        value = "(?:" + value[1:]
    element = f"<{name}>{value}</{name}>{_W}"
    return f"(?:{element})?" if optional else element


def _leaves(names: Sequence[str], *, capture: bool = True) -> str:
    return "".join(_leaf(name, capture=capture) for name in names)


_MAIL: Final = (
    "successAddress",
    "failureAddress",
    "attachedFaxImageMode",
    "attachedFaxImageFormat",
)
_PUSH: Final = ("url", "authMethod")
_RECIPIENT_HEAD: Final = ("number", "numId")
_RECIPIENT_TAIL: Final = (
    "status",
    "reason",
    "sentTS",
    "durationInSecs",
    "sentToNumber",
    "remoteCsid",
)
_RECIPIENT_FIELDS: Final = (*_RECIPIENT_HEAD, *_RECIPIENT_TAIL)
_OPTIONS_HEAD: Final = (
    "csid",
    "header",
    "isExpress",
    "isBlacklistEnabled",
    "resolution",
    "paperFormat",
    "coverpageTemplate",
)
_OVERLAY: Final = ("name", "mode")
_OPTIONS_TAIL: Final = (
    "customerReference",
    "customerDefinedId",
    "billingCode",
    "billingInfo",
    "jobValidStart",
    "jobValidEnd",
)
_OPTIONS_FIELDS: Final = (*_OPTIONS_HEAD, *_OPTIONS_TAIL)


def _recipient(*, capture: bool) -> str:
    block = "({})" if capture else "{}"
    alternatives = f"(?:<alternativeNumber>{_CHARS}</alternativeNumber>{_W})*"
    properties = (
        f"(?:<property>{_W}<key>{_CHARS}</key>{_W}<value>{_CHARS}</value>{_W}</property>{_W})*"
    )
    return (
        f"<faxRecipient>{_W}{_leaf('number', optional=False, capture=capture)}"
        f"{_leaf('numId', capture=capture)}"
        f"{block.format(alternatives)}{block.format(properties)}"
        f"{_leaves(_RECIPIENT_TAIL, capture=capture)}</faxRecipient>{_W}"
    )


_DOCUMENT_ITEM: Final = (
    f"<document>{_W}<name>{_CHARS}</name>{_W}<isText>(?:true|false)</isText>{_W}</document>{_W}"
)

# Capturing groups, in order (see read_xml): jobId; the <reportMail> tag and its 4 fields;
# url, authMethod; the first recipient's 10 groups; the other recipients; the documents; the
# <options> tag, its 7 first fields, the overlay's 2, its 6 last fields; pages.
_DOCUMENT: Final = re.compile(
    f'<\\?xml version="1\\.0" encoding="UTF-8"\\?>\n<faxJobReport xmlns="{NAMESPACE}">{_W}'
    + _leaf("jobId", optional=False)
    + f"(?:(<reportMail>){_W}{_leaves(_MAIL)}</reportMail>{_W})?"
    + f"(?:<httpStatusPush>{_W}{_leaf('url', optional=False)}{_leaf('authMethod')}"
    + f"</httpStatusPush>{_W})?"
    + _recipient(capture=True)
    + f"((?:{_recipient(capture=False)})*)"
    + f"((?:{_DOCUMENT_ITEM})*)"
    + f"(?:(<options>){_W}{_leaves(_OPTIONS_HEAD)}"
    + f"(?:<overlay>{_W}{_leaf('name', optional=False)}{_leaf('mode')}</overlay>{_W})?"
    + f"{_leaves(_OPTIONS_TAIL)}</options>{_W})?"
    + _leaf("pages")
    + f"</faxJobReport>{_W}"
)
_RECIPIENT: Final = re.compile(_recipient(capture=True))
# Within blocks the grammar has matched already:
_ALTERNATIVE: Final = re.compile("<alternativeNumber>([^<]*)</alternativeNumber>")
_PROPERTY: Final = re.compile(f"<key>([^<]*)</key>{_W}<value>([^<]*)</value>")
_DOCUMENT_FIELDS: Final = re.compile(f"<name>([^<]*)</name>{_W}<isText>(true|false)</isText>")

# --- values -----------------------------------------------------------------------------------


def _unescape(text: str) -> str:
    # Only the references _BAD_REFERENCE allows are left; &amp; last, so that "&amp;lt;"
    # becomes "&lt;".
    return (
        text.replace("&#13;", "\r")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", '"')
        .replace("&apos;", "'")
        .replace("&amp;", "&")
    )


def _pick(names: Sequence[str], texts: Sequence[str | None], escaped: bool) -> dict[str, Any]:
    """Field name -> text, for the elements present."""
    if escaped:
        return {
            name: text if "&" not in text else _unescape(text)
            for name, text in zip(names, texts, strict=True)
            if text is not None
        }
    return {name: text for name, text in zip(names, texts, strict=True) if text is not None}


def _text(text: str, escaped: bool) -> str:
    return _unescape(text) if escaped and "&" in text else text


def _trim(values: dict[str, Any], *names: str) -> None:
    # Enumerations and the status code are trimmed by the core before validation.
    for name in names:
        if (text := values.get(name)) is not None:
            values[name] = text.strip()


def _stamp(values: dict[str, Any], name: str) -> None:
    if (text := values.get(name)) is not None:
        values[name] = utc_datetime(text)


def _recipient_fields(groups: Sequence[str | None], escaped: bool) -> dict[str, Any]:
    number, num_id, alternatives, properties, *tail = groups
    values = _pick(_RECIPIENT_FIELDS, (number, num_id, *tail), escaped)
    if (status := values.get("status")) is not None:
        values["status"] = status.strip()
    _stamp(values, "sentTS")
    if (seconds := values.get("durationInSecs")) is not None:
        values["durationInSecs"] = int(seconds)
    if alternatives:
        numbers = _ALTERNATIVE.findall(alternatives)
        if escaped:
            numbers = [_text(n, escaped) for n in numbers]
        values["alternativeNumbers"] = numbers
    if properties:
        values["properties"] = [
            {"key": _text(key, escaped), "value": _text(value, escaped)}
            for key, value in _PROPERTY.findall(properties)
        ]
    return values


def read_xml(body: bytes) -> dict[str, Any]:
    """The field dict the core's XML reader builds from ``body``, or DeclineError."""
    try:
        doc = body.decode("utf-8")
    except UnicodeDecodeError:
        raise DeclineError from None
    if "]" in doc and "]]>" in doc:  # (a search for one character is much the quicker)
        raise DeclineError
    escaped = "&" in doc
    if escaped and _BAD_REFERENCE.search(doc) is not None:
        raise DeclineError
    match = _DOCUMENT.fullmatch(doc)
    if match is None:
        raise DeclineError
    groups = match.groups()
    fields: dict[str, Any] = {"jobId": _text(groups[0], escaped)}
    if groups[1] is not None:
        mail = fields["reportMail"] = _pick(_MAIL, groups[2:6], escaped)
        _trim(mail, "attachedFaxImageMode", "attachedFaxImageFormat")
    if groups[6] is not None:
        push = fields["httpStatusPush"] = _pick(_PUSH, groups[6:8], escaped)
        _trim(push, "authMethod")
    recipients = [_recipient_fields(groups[8:18], escaped)]
    if groups[18]:
        recipients += [
            _recipient_fields(more.groups(), escaped) for more in _RECIPIENT.finditer(groups[18])
        ]
    fields["faxRecipients"] = recipients
    if groups[19]:
        fields["documents"] = [
            {"name": _text(name, escaped), "isText": flag == "true"}
            for name, flag in _DOCUMENT_FIELDS.findall(groups[19])
        ]
    if groups[20] is not None:
        options = fields["options"] = _pick(_OPTIONS_FIELDS, groups[21:28] + groups[30:36], escaped)
        _trim(options, "resolution", "paperFormat")
        for name in ("isExpress", "isBlacklistEnabled"):
            if (flag := options.get(name)) is not None:
                options[name] = flag == "true"
        _stamp(options, "jobValidStart")
        _stamp(options, "jobValidEnd")
        if groups[28] is not None:
            overlay = options["overlay"] = _pick(_OVERLAY, groups[28:30], escaped)
            _trim(overlay, "mode")
    if groups[36] is not None:
        fields["pages"] = int(groups[36])
    return fields


__all__ = ["read_xml"]
