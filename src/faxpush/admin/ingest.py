"""What ``POST /api/v1/pushes`` (and its batch form) reads: reports, in the vendor's
default XML or JSON layout or in a JSON envelope ``{"report": {...}, "target": {...}}``.

Everything is checked before anything is stored: a refused request leaves no push behind.
A report must be final (no recipient still PENDING): a status push carries a finished job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from faxpush.admin.errors import AdminError, bad_request
from faxpush.admin.targets import (
    TargetSpec,
    envelope_target,
    push_target,
    render_body,
    report_target,
)
from faxpush.core.errors import ReportFormatError
from faxpush.core.json_codec import load_json_object, report_from_mapping
from faxpush.core.models import FaxJobReport
from faxpush.core.targets import Account
from faxpush.core.xml_codec import parse_xml
from faxpush.core.xml_safety import parse_untrusted
from faxpush.storage.base import NewPush

_SECRET_KEYS: Final = ("principal", "credentials")


@dataclass(frozen=True, slots=True)
class IngestItem:
    """One report to push, and the target its request named (None: the account's)."""

    report: FaxJobReport
    target: TargetSpec | None


def media_type(content_type: str | None) -> str:
    """``application/json`` of ``application/json; charset=utf-8``."""
    return (content_type or "").partition(";")[0].strip().lower()


def is_xml(kind: str) -> bool:
    return kind in ("text/xml", "application/xml") or kind.endswith("+xml")


def is_json(kind: str) -> bool:
    return kind == "application/json" or kind.endswith("+json")


def _unsupported(kind: str) -> AdminError:
    return AdminError(
        415,
        "unsupported_media_type",
        f"Content-Type {kind or '(none)'} is not accepted; send a report as text/xml or "
        "application/json",
        field="Content-Type",
    )


def _field(prefix: str, location: str | None) -> str:
    """A report error's location as a field path under ``prefix``."""
    if not location:
        return prefix or "report"
    if location.startswith("$"):
        return (prefix or "report") + location[1:] if prefix else location[2:] or "report"
    return f"{prefix}: {location}" if prefix else location


def _report_error(exc: ReportFormatError, prefix: str) -> AdminError:
    return bad_request(exc.problem, _field(prefix, exc.location))


def _check_final(report: FaxJobReport, prefix: str) -> None:
    for index, recipient in enumerate(report.faxRecipients):
        if recipient.status in (None, "PENDING"):
            where = (
                f"{prefix}.faxRecipients[{index}].status"
                if prefix
                else (f"faxRecipients[{index}].status")
            )
            raise bad_request(
                "a status push carries a finished job: every recipient needs a final status "
                "(not PENDING or missing)",
                where,
            )


def _push_secrets(data: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The principal and credentials beside a JSON report's push URL (the report model
    never holds them)."""
    push = data.get("httpStatusPush")
    if push is None:
        options = data.get("statusReportOptions")
        push = options.get("httpStatusPush") if isinstance(options, Mapping) else None
    if not isinstance(push, Mapping):
        return None, None
    found = [push.get(key) for key in _SECRET_KEYS]
    return (
        found[0] if isinstance(found[0], str) and found[0] else None,
        found[1] if isinstance(found[1], str) and found[1] else None,
    )


def _xml_push_secrets(body: bytes) -> tuple[str | None, str | None]:
    """The principal and credentials inside an XML report's ``<httpStatusPush>``."""
    if b"principal" not in body and b"credentials" not in body:
        return None, None  # the common case: no second parse
    root = parse_untrusted(body, force_utf8=False)
    values: dict[str, str] = {}
    for push in root:
        push_tag: object = push.tag  # comments have no str tag; the stubs do not say so
        if isinstance(push_tag, str) and push_tag.rpartition("}")[2] == "httpStatusPush":
            for child in push:
                tag: object = child.tag
                name = tag.rpartition("}")[2] if isinstance(tag, str) else ""
                if name in _SECRET_KEYS and child.text and child.text.strip():
                    values[name] = child.text.strip()
    return values.get("principal"), values.get("credentials")


def _json_item(data: Mapping[str, Any], prefix: str) -> IngestItem:
    """A report mapping, or an envelope ``{"report", "target"}``, at ``prefix``."""
    envelope = isinstance(data.get("report"), Mapping)
    report_prefix = f"{prefix}.report" if prefix and envelope else "report" if envelope else prefix
    raw = data["report"] if envelope else data
    try:
        report = report_from_mapping(raw)
    except ReportFormatError as exc:
        raise _report_error(exc, report_prefix) from None
    _check_final(report, report_prefix)
    if envelope and data.get("target") is not None:
        target_where = f"{prefix}.target" if prefix else "target"
        return IngestItem(report, envelope_target(data["target"], target_where))
    principal, credentials = _push_secrets(raw)
    push_where = f"{report_prefix}.httpStatusPush" if report_prefix else "httpStatusPush"
    return IngestItem(report, report_target(report, principal, credentials, push_where))


def read_single(body: bytes, content_type: str | None, *, max_bytes: int) -> IngestItem:
    """The one report of ``POST /api/v1/pushes``."""
    kind = media_type(content_type)
    if is_xml(kind):
        try:
            report = parse_xml(body, max_bytes=max_bytes)
            principal, credentials = _xml_push_secrets(body)
        except ReportFormatError as exc:
            raise _report_error(exc, "") from None
        _check_final(report, "")
        return IngestItem(report, report_target(report, principal, credentials, "httpStatusPush"))
    if is_json(kind):
        try:
            document = load_json_object(body, max_bytes=max_bytes)
        except ReportFormatError as exc:
            raise _report_error(exc, "") from None
        return _json_item(document, "")
    raise _unsupported(kind)


def read_batch(
    body: bytes, content_type: str | None, *, max_bytes: int, max_items: int
) -> list[IngestItem]:
    """The reports of the batch form: JSON ``{"items": [report or envelope, ...]}``."""
    kind = media_type(content_type)
    if not is_json(kind):
        raise _unsupported(kind)
    try:
        document = load_json_object(body, max_bytes=max_bytes)
    except ReportFormatError as exc:
        raise _report_error(exc, "") from None
    items = document.get("items")
    if not isinstance(items, list) or not items:
        raise bad_request("must be a non-empty array of reports or envelopes", "items")
    if len(items) > max_items:
        raise bad_request(
            f"at most {max_items} items per batch (admin_max_batch), got {len(items)}", "items"
        )
    parsed: list[IngestItem] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise bad_request("must be a report object or an envelope", f"items[{index}]")
        parsed.append(_json_item(item, f"items[{index}]"))
    return parsed


def build_push(
    item: IngestItem,
    account: Account | None,
    *,
    delivery_id: str,
    max_push_bytes: int,
    where: str = "report",
) -> NewPush:
    """The push of ``item``, rendered once; a 400 when its target or size is unusable."""
    target = push_target(item.target, account)
    body, content_type = render_body(item.report, item.target, account)
    if len(body) > max_push_bytes:
        raise bad_request(
            f"the push would be {len(body)} bytes, more than max_push_bytes ({max_push_bytes})",
            where,
        )
    return NewPush(
        delivery_id=delivery_id,
        job_id=item.report.jobId,
        target=target,
        content_type=content_type,
        body=body,
        customer_number=account.customer_number if account is not None else None,
        retry_client_errors=account.retry_client_errors if account is not None else False,
    )


def build_pushes(
    items: Sequence[IngestItem],
    account: Account | None,
    delivery_ids: Sequence[str],
    *,
    max_push_bytes: int,
) -> list[NewPush]:
    """The pushes of a batch; errors name the item."""
    pushes: list[NewPush] = []
    for index, (item, delivery_id) in enumerate(zip(items, delivery_ids, strict=True)):
        try:
            pushes.append(
                build_push(
                    item,
                    account,
                    delivery_id=delivery_id,
                    max_push_bytes=max_push_bytes,
                    where=f"items[{index}]",
                )
            )
        except AdminError as exc:
            if exc.field is not None and not exc.field.startswith("items["):
                exc.field = f"items[{index}].{exc.field}"
            raise
    return pushes


__all__ = ["IngestItem", "build_push", "build_pushes", "read_batch", "read_single"]
