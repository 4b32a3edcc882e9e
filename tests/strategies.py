"""Hypothesis strategies that generate valid faxpush models.

``reports()`` produces any report the models accept: optional groups and fields are sometimes
absent and sometimes present, strings carry markup characters (``& < > ]]> " '``), control
characters XML allows (tab, CR, LF), non-ASCII and astral characters, surrounding spaces and,
where the models allow it, empty strings. Timestamps are UTC with whole seconds, which is all
the wire formats carry. Sizes stay small so property tests run fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from hypothesis import strategies as st

from faxpush.core.models import (
    AuthMethod,
    Document,
    FaxJobReport,
    HttpStatusPush,
    ImageFormat,
    ImageMode,
    Options,
    Overlay,
    OverlayMode,
    PaperFormat,
    Property,
    RecipientStatus,
    ReportMail,
    Resolution,
)
from faxpush.core.status_codes import CATALOGUE

_T = TypeVar("_T")

# Fragments that break naive escaping, mixed into generated text on purpose.
_TRICKY = (
    "&",
    "<",
    ">",
    "]]>",
    '"',
    "'",
    "\r",
    "\r\n",
    "\t",
    "\n",
    " ",
    "&amp;",
    "&#13;",
    "<![CDATA[",
    "Müller",
    "日本",
    "\U0001f4e0",
    "\u00a0",
    "\x85",
    "\ufffd",
)

# Every character XML 1.0 can carry: no surrogates (the codec excludes them), no C0 controls
# but tab/LF/CR, no U+FFFE/U+FFFF.
_XML_CHARS = st.characters(
    codec="utf-8",
    exclude_characters="".join(chr(c) for c in range(0x20) if c not in (0x09, 0x0A, 0x0D))
    + "\ufffe\uffff",
)


def texts(
    *, min_size: int = 0, max_size: int = 12, non_blank: bool = False
) -> st.SearchStrategy[str]:
    """Strings any Text field accepts, biased towards characters that break XML/JSON writers.

    Sizes count fragments of one or more characters each. ``non_blank`` keeps at least one
    non-whitespace character (for jobId and number).
    """
    piece = st.one_of(st.sampled_from(_TRICKY), st.text(_XML_CHARS, min_size=1, max_size=4))
    joined = st.lists(piece, min_size=min_size, max_size=max_size).map("".join)
    if non_blank:
        joined = st.one_of(
            joined.filter(lambda s: s.strip() != ""),
            # Padded values keep their spaces through a round trip.
            st.tuples(st.sampled_from(["", " ", "  "]), st.text("+0123456789", min_size=1)).map(
                lambda t: f"{t[0]}{t[1]}{t[0]}"
            ),
        )
    return joined


def status_codes() -> st.SearchStrategy[str]:
    """Known catalogue codes, and now and then an unknown one (parsers must keep it)."""
    unknown = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789", min_size=1, max_size=16)
    return st.one_of(st.sampled_from(sorted(CATALOGUE)), unknown)


def timestamps() -> st.SearchStrategy[datetime]:
    """Aware UTC datetimes with whole seconds, as the wire formats carry them."""
    return st.datetimes(
        min_value=datetime(1900, 1, 1),
        max_value=datetime(2999, 12, 31),
        timezones=st.just(UTC),
    ).map(lambda d: d.replace(microsecond=0, fold=0))


def _maybe(strategy: st.SearchStrategy[_T]) -> st.SearchStrategy[_T | None]:
    return st.one_of(st.none(), strategy)


_counts = st.integers(min_value=0, max_value=2**31 - 1)


def report_mails() -> st.SearchStrategy[ReportMail]:
    return st.builds(
        ReportMail,
        successAddress=_maybe(texts()),
        failureAddress=_maybe(texts()),
        attachedFaxImageMode=_maybe(st.sampled_from(ImageMode)),
        attachedFaxImageFormat=_maybe(st.sampled_from(ImageFormat)),
    )


def http_status_pushes() -> st.SearchStrategy[HttpStatusPush]:
    return st.builds(HttpStatusPush, url=texts(), authMethod=_maybe(st.sampled_from(AuthMethod)))


def recipients() -> st.SearchStrategy[RecipientStatus]:
    return st.builds(
        RecipientStatus,
        number=texts(non_blank=True),
        numId=_maybe(texts()),
        alternativeNumbers=st.lists(texts(), max_size=2).map(tuple),
        properties=st.lists(st.builds(Property, key=texts(), value=texts()), max_size=2).map(tuple),
        status=_maybe(status_codes()),
        reason=_maybe(texts()),
        sentTS=_maybe(timestamps()),
        durationInSecs=_maybe(_counts),
        sentToNumber=_maybe(texts()),
        remoteCsid=_maybe(texts()),
    )


def options() -> st.SearchStrategy[Options]:
    return st.builds(
        Options,
        csid=_maybe(texts()),
        header=_maybe(texts()),
        isExpress=_maybe(st.booleans()),
        isBlacklistEnabled=_maybe(st.booleans()),
        resolution=_maybe(st.sampled_from(Resolution)),
        paperFormat=_maybe(st.sampled_from(PaperFormat)),
        coverpageTemplate=_maybe(texts()),
        overlay=_maybe(st.builds(Overlay, name=texts(), mode=_maybe(st.sampled_from(OverlayMode)))),
        customerReference=_maybe(texts()),
        customerDefinedId=_maybe(texts()),
        billingCode=_maybe(texts()),
        billingInfo=_maybe(texts()),
        jobValidStart=_maybe(timestamps()),
        jobValidEnd=_maybe(timestamps()),
    )


def reports() -> st.SearchStrategy[FaxJobReport]:
    """Any valid report (the models drop an ``options``/``reportMail`` with nothing set)."""
    return st.builds(
        FaxJobReport,
        jobId=texts(non_blank=True),
        reportMail=_maybe(report_mails()),
        httpStatusPush=_maybe(http_status_pushes()),
        faxRecipients=st.lists(recipients(), min_size=1, max_size=3).map(tuple),
        documents=st.lists(st.builds(Document, name=texts(), isText=st.booleans()), max_size=2).map(
            tuple
        ),
        options=_maybe(options()),
        pages=_maybe(_counts),
    )


# --- one report, each field in a spelling of its own -----------------------------------------

SPELLINGS = ("xml", "json", "rest")
"""The three ways a JSON report names its fields: after the XML elements (``faxRecipient``,
``document``), the push layout (``faxRecipients``, ``url``) and the REST API
(``recipientStatus``, ``sentTs``, ``targetUrl``, ``statusReportOptions``, the options spread
over ``reference``, ``transportOptions``, ``renderingOptions`` and ``meta``)."""

_RECIPIENT_LISTS = {"xml": "faxRecipient", "json": "faxRecipients", "rest": "recipientStatus"}
_DOCUMENT_LISTS = {"xml": "document", "json": "documents", "rest": "documents"}
_REST_OPTION_PATHS = {
    "csid": ("transportOptions", "csid"),
    "header": ("renderingOptions", "header"),
    "isExpress": ("transportOptions", "isExpress"),
    "isBlacklistEnabled": ("transportOptions", "isBlacklistEnabled"),
    "resolution": ("renderingOptions", "resolution"),
    "paperFormat": ("renderingOptions", "paperFormat"),
    "coverpageTemplate": ("renderingOptions", "coverpageTemplate"),
    "overlay": ("renderingOptions", "overlay"),
    "customerReference": ("meta", "customerReference"),
    "customerDefinedId": ("reference", "customerDefinedId"),
    "billingCode": ("reference", "billingCode"),
    "billingInfo": ("reference", "billingInfo"),
    "jobValidStart": ("meta", "jobValid", "start"),
    "jobValidEnd": ("meta", "jobValid", "end"),
}
_REST_RECIPIENT_KEYS = (
    "number",
    "numId",
    "alternativeNumbers",
    "properties",
    "status",
    "reason",
    "sentTs",
    "durationInSecs",
    "sentToNumber",
    "remoteCsid",
)


def _put_path(document: dict[str, Any], path: tuple[str, ...], value: object) -> None:
    for step in path[:-1]:
        document = document.setdefault(step, {})
    document[path[-1]] = value


def _spelled_recipient(recipient: dict[str, Any], spelling: str) -> dict[str, Any]:
    if spelling != "rest":
        return recipient
    # The REST view writes every key, null when unset (but leaves alternativeNumbers out).
    renamed = {("sentTs" if k == "sentTS" else k): v for k, v in recipient.items()}
    spelled = {key: renamed.get(key) for key in _REST_RECIPIENT_KEYS}
    if "alternativeNumbers" not in renamed:
        del spelled["alternativeNumbers"]
    return spelled


def spell(canonical: dict[str, Any], choices: Mapping[str, str]) -> dict[str, Any]:
    """The canonical JSON document of a report with each top-level field (and the push
    target's ``url``) spelled as ``choices`` says: ``"xml"``, ``"json"`` or ``"rest"``."""
    document: dict[str, Any] = {"jobId": canonical["jobId"]}
    for group in ("reportMail", "httpStatusPush"):
        if group not in canonical:
            continue
        value = dict(canonical[group])
        if group == "httpStatusPush" and choices.get("url") == "rest":
            value = {("targetUrl" if k == "url" else k): v for k, v in value.items()}
        if choices[group] == "rest":
            _put_path(document, ("statusReportOptions", group), value)
        else:
            document[group] = value
    spelling = choices["faxRecipients"]
    document[_RECIPIENT_LISTS[spelling]] = [
        _spelled_recipient(r, spelling) for r in canonical["faxRecipients"]
    ]
    if "documents" in canonical:
        document[_DOCUMENT_LISTS[choices["documents"]]] = canonical["documents"]
    if "options" in canonical:
        if choices["options"] == "rest":
            for name, value in canonical["options"].items():
                _put_path(document, _REST_OPTION_PATHS[name], value)
        else:
            document["options"] = canonical["options"]
    if "pages" in canonical:
        document["pages"] = canonical["pages"]
    return document


def spelling_choices() -> st.SearchStrategy[dict[str, str]]:
    """A spelling for each field that has more than one."""
    fields = ("reportMail", "httpStatusPush", "url", "faxRecipients", "documents", "options")
    return st.fixed_dictionaries({name: st.sampled_from(SPELLINGS) for name in fields})
