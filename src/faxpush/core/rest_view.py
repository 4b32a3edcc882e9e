"""The REST API v1 ``FaxReport`` view of a report (spec §7).

The REST view is what ``GET /rest/v1/{custNr}/fax/reports/{jobId}`` returns::

    {jobId, recipientStatus: [{number, alternativeNumbers?, properties, status, reason,
     sentTs, durationInSecs, sentToNumber, remoteCsid}], pages, reference}

How absent values appear (the vendor's service writes every recipient key, ``null`` when
unset, as the sample shows for ``properties``):

* every recipient key is always present, ``null`` when the report has no value, except
  ``alternativeNumbers``, which appears only when the job gave any;
* ``properties`` is a list of ``{"key", "value"}``, or ``null`` when there are none;
* ``pages`` is ``null`` when unknown; ``reference`` holds those of ``customerDefinedId``,
  ``billingCode`` and ``billingInfo`` that are set, and is ``null`` when none is.

The REST view carries less than a push: no ``numId``, documents, report mail, push target or
options other than the reference. :func:`from_rest_report` reads the reference into
``options``; like every parser it reads all spellings (:mod:`faxpush.core.spellings`), so a
push field given next to the REST ones is kept, never dropped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from faxpush.core.json_codec import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_DEPTH,
    format_timestamp,
    load_json_object,
    report_from_mapping,
)
from faxpush.core.models import FaxJobReport, Options, RecipientStatus

__all__ = ["from_rest_report", "render_rest_json", "to_rest_report"]

_REFERENCE_KEYS = ("customerDefinedId", "billingCode", "billingInfo")


def _rest_recipient(recipient: RecipientStatus) -> dict[str, Any]:
    view: dict[str, Any] = {"number": recipient.number}
    if recipient.alternativeNumbers:
        view["alternativeNumbers"] = list(recipient.alternativeNumbers)
    view["properties"] = [
        {"key": prop.key, "value": prop.value} for prop in recipient.properties
    ] or None
    view["status"] = recipient.status
    view["reason"] = recipient.reason
    view["sentTs"] = None if recipient.sentTS is None else format_timestamp(recipient.sentTS)
    view["durationInSecs"] = recipient.durationInSecs
    view["sentToNumber"] = recipient.sentToNumber
    view["remoteCsid"] = recipient.remoteCsid
    return view


def _reference(options: Options | None) -> dict[str, str] | None:
    if options is None:
        return None
    present = {key: getattr(options, key) for key in _REFERENCE_KEYS}
    reference = {key: value for key, value in present.items() if value is not None}
    return reference or None


def to_rest_report(report: FaxJobReport) -> dict[str, Any]:
    """The REST ``FaxReport`` of ``report`` as JSON-ready data (see the module docstring)."""
    return {
        "jobId": report.jobId,
        "recipientStatus": [_rest_recipient(r) for r in report.faxRecipients],
        "pages": report.pages,
        "reference": _reference(report.options),
    }


def render_rest_json(report: FaxJobReport) -> bytes:
    """The REST ``FaxReport`` of ``report`` as UTF-8 JSON, two-space indent, final newline."""
    text = json.dumps(to_rest_report(report), indent=2, ensure_ascii=False)
    return (text + "\n").encode("utf-8")


def from_rest_report(
    data: Mapping[str, Any] | bytes | str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> FaxJobReport:
    """Read a REST ``FaxReport`` (decoded, or a JSON body) into the push model.

    The same reader as :func:`faxpush.core.json_codec.parse_json`: every spelling, exact types,
    ``null`` absent, unknown keys ignored. Raises ``ReportFormatError`` and nothing else.
    """
    document = (
        data
        if isinstance(data, Mapping)
        else load_json_object(data, max_bytes=max_bytes, max_depth=max_depth)
    )
    return report_from_mapping(document)
