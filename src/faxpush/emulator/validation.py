"""The REST v1 ``FaxJobRequest``: parsing and validation with errors that name the field.

:func:`parse_job_request` turns a request body into a :class:`FaxJobRequest` or raises
:class:`JobRequestError` with the field (``documents[0].name``) and the problem; the API
answers that with 400. Unknown keys are ignored (official SDKs send a few, such as
``rendering_options``); ``null`` is the same as an absent key.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Final
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import from_json

from faxpush.core.errors import InputError
from faxpush.core.models import (
    AuthMethod,
    ImageFormat,
    ImageMode,
    OverlayMode,
    PaperFormat,
    Resolution,
    Text,
)
from faxpush.emulator.times import (
    DEFAULT_JOB_VALIDITY,
    LATEST_VALIDITY_END,
    parse_duration,
    parse_timestamp,
    too_late,
)

CHARSETS: Final = {
    "US-ASCII": "ascii",
    "UTF-8": "utf-8",
    "UTF-16": "utf-16",
    "UTF-16BE": "utf-16-be",
    "UTF-16LE": "utf-16-le",
    "ISO-8859-1": "latin-1",
    "WINDOWS-1252": "cp1252",
}
"""Charsets of text documents (case-insensitive) and their Python codec."""
_NAME: Final = re.compile(r"[A-Za-z0-9._-]{1,32}")
_NUMBER: Final = re.compile(r"\+?[0-9 ()./-]{3,64}")
_BASE64_WHITESPACE: Final = re.compile(rb"\s+")
_XML_ILLEGAL: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class JobRequestError(InputError):
    """A fax job request is invalid; ``field`` says where (None: the body as a whole)."""

    def __init__(self, field: str | None, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}" if field else problem)


# --- field types -----------------------------------------------------------------------


def _phone_number(value: str) -> str:
    if not _NUMBER.fullmatch(value) or sum(c.isdigit() for c in value) < 3:
        raise ValueError(
            f"{value!r} is not a fax number; use the international form such as +4989123456"
        )
    return value


def _document_name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid document name: at most 32 characters of "
            "A-Z a-z 0-9 . _ - (no spaces or slashes), with the type as extension"
        )
    return value


def _charset(value: str) -> str:
    if value.upper() not in CHARSETS:
        raise ValueError(f"unknown charset {value!r}; use one of {', '.join(CHARSETS)}")
    return value.upper()


def _http_url(value: str) -> str:
    try:
        parts = urlsplit(value)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid:
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    return value


def _base64(value: Any) -> Any:
    if not isinstance(value, str):
        return value  # pydantic reports the wrong type
    compact = _BASE64_WHITESPACE.sub(b"", value.encode("ascii", errors="replace"))
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(
            "is not valid base64 (only A-Z a-z 0-9 + / and = padding are allowed)"
        ) from None


def _auth_method(value: Any) -> Any:
    if not isinstance(value, str):
        return value  # pydantic reports the wrong type
    try:
        return AuthMethod(value)
    except ValueError:
        raise ValueError(
            f"unknown authMethod {value!r}; use NONE, HTTP_BASIC, HTTP_DIGEST or OAUTH2"
        ) from None


def _end(value: str) -> str:
    if parse_duration(value) is None:
        parse_timestamp(value)  # raises with a clear message
    return value


def _timestamp(value: str) -> str:
    parse_timestamp(value)
    return value


def _xml_text(value: str) -> str:
    bad = _XML_ILLEGAL.search(value)
    if bad is not None:
        raise ValueError(f"character U+{ord(bad.group()):04X} cannot be carried in a report")
    return value


PhoneNumber = Annotated[Text, AfterValidator(_phone_number)]
Csid = Annotated[str, StringConstraints(max_length=20), AfterValidator(_xml_text)]
CustomerDefinedId = Annotated[str, StringConstraints(max_length=256), AfterValidator(_xml_text)]
Billing = Annotated[str, StringConstraints(max_length=80), AfterValidator(_xml_text)]
DocumentName = Annotated[str, AfterValidator(_document_name)]
Base64Data = Annotated[
    bytes,
    BeforeValidator(_base64),
    WithJsonSchema({"type": "string", "format": "byte", "description": "base64 content"}),
]
Timestamp = Annotated[
    str, AfterValidator(_timestamp), WithJsonSchema({"type": "string", "format": "date-time"})
]


# --- the request -------------------------------------------------------------------------


class _In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", ser_json_bytes="base64")


class Reference(_In):
    customerDefinedId: CustomerDefinedId | None = None
    billingCode: Billing | None = None
    billingInfo: Billing | None = None


class PropertyIn(_In):
    key: Text
    value: Text


class RecipientIn(_In):
    number: PhoneNumber
    alternativeNumbers: list[PhoneNumber] | None = None
    properties: list[PropertyIn] | None = None


class DocumentIn(_In):
    name: DocumentName
    charset: Annotated[str, AfterValidator(_charset)] | None = None
    reference: Annotated[str, AfterValidator(_http_url)] | None = None
    data: Base64Data | None = None


class TransportOptions(_In):
    csid: Csid | None = None
    isExpress: bool | None = None
    isBlacklistEnabled: bool | None = None


class OverlayIn(_In):
    name: Text
    mode: OverlayMode | None = None


class RenderingOptions(_In):
    paperFormat: PaperFormat | None = None
    resolution: Resolution | None = None
    coverpageTemplate: Text | None = None
    overlay: OverlayIn | None = None
    header: Text | None = None


class ReportMailIn(_In):
    successAddress: Text | None = None
    failureAddress: Text | None = None
    attachedFaxImageMode: ImageMode | None = None
    attachedFaxImageFormat: ImageFormat | None = None


class HttpStatusPushIn(_In):
    targetUrl: Annotated[Text, AfterValidator(_http_url)]
    principal: str | None = None
    credentials: str | None = None
    authMethod: (
        Annotated[
            AuthMethod,
            BeforeValidator(_auth_method),
            WithJsonSchema({"enum": ["NONE", "HTTP_BASIC", "HTTP_DIGEST", "OAUTH2"]}),
        ]
        | None
    ) = None


class StatusReportOptions(_In):
    reportPurgeTs: Timestamp | None = None
    reportMail: ReportMailIn | None = None
    httpStatusPush: HttpStatusPushIn | None = None


class JobValid(_In):
    start: Timestamp | None = None
    end: (
        Annotated[
            str,
            AfterValidator(_end),
            WithJsonSchema({"type": "string", "description": "timestamp or ISO 8601 duration"}),
        ]
        | None
    ) = None


class Meta(_In):
    customerReference: Text | None = None
    jobValid: JobValid | None = None


class FaxJobRequest(_In):
    """A fax job as the REST API accepts it (spec §7)."""

    reference: Reference | None = None
    recipients: list[RecipientIn] = Field(min_length=1)
    documents: list[DocumentIn] | None = None
    transportOptions: TransportOptions | None = None
    renderingOptions: RenderingOptions | None = None
    statusReportOptions: StatusReportOptions | None = None
    meta: Meta | None = None

    @property
    def push(self) -> HttpStatusPushIn | None:
        """The job's own httpStatusPush, if any."""
        options = self.statusReportOptions
        return None if options is None else options.httpStatusPush

    def validity(self, now: datetime) -> tuple[datetime, datetime]:
        """When the job may be dialled: ``(start, end)``; start defaults to ``now`` and the
        end to one month after it; a duration end counts from the start."""
        valid = self.meta.jobValid if self.meta is not None else None
        start = parse_timestamp(valid.start) if valid and valid.start else now
        end_text = valid.end if valid else None
        if end_text is None:
            return start, start + DEFAULT_JOB_VALIDITY
        duration = parse_duration(end_text)
        return start, start + duration if duration is not None else parse_timestamp(end_text)


# --- parsing -----------------------------------------------------------------------------


def _path(loc: tuple[int | str, ...]) -> str | None:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not part.startswith(("function-", "nullable[")):
            path += f".{part}" if path else part
    return path or None


def _problem(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "missing":
        return "is required"
    if kind == "json_invalid":
        return f"the body is not valid JSON: {error.get('ctx', {}).get('error', 'unreadable')}"
    if kind in ("model_type", "model_attributes_type") and not error.get("loc"):
        return "the body must be a JSON object (a FaxJobRequest)"
    if kind == "too_short" and tuple(error.get("loc", ())) == ("recipients",):
        return "at least one recipient is required"
    return str(error.get("msg", "is invalid")).removeprefix("Value error, ")


def _check_validity(request: FaxJobRequest, now: datetime) -> None:
    valid = request.meta.jobValid if request.meta is not None else None
    if valid is not None and valid.end:
        field, fix = "meta.jobValid.end", "give an earlier end or a shorter duration"
    else:
        days = DEFAULT_JOB_VALIDITY.days
        field, fix = "meta.jobValid.start", f"give an earlier start (the end is {days} days later)"
    try:
        start, end = request.validity(now)
    except OverflowError:
        raise JobRequestError(field, too_late(fix)) from None
    if end >= LATEST_VALIDITY_END:
        raise JobRequestError(field, too_late(fix))
    if end <= start:
        raise JobRequestError("meta.jobValid.end", "the job validity ends before it starts")


def parse_json_body(body: bytes) -> Any:
    """The JSON document of a request body; nesting deeper than 200 levels is invalid."""
    try:
        return from_json(body)
    except ValueError as exc:
        raise JobRequestError(None, f"the body is not valid JSON: {exc}") from None


def _check_recipient_count(document: Any, max_recipients: int | None) -> None:
    recipients = document.get("recipients") if isinstance(document, dict) else None
    if max_recipients is None or not isinstance(recipients, list):
        return
    if len(recipients) > max_recipients:
        raise JobRequestError(
            "recipients",
            f"at most {max_recipients} recipients per job, got {len(recipients)}; split the job",
        )


def parse_job_request(
    body: bytes, *, now: datetime, max_recipients: int | None = None
) -> FaxJobRequest:
    """Parse and validate a FaxJobRequest body; :class:`JobRequestError` names the field.

    The body is parsed first and the recipients counted before any is validated: refusing
    a job of 300,000 recipients then costs the JSON parse (0.1 s), not their validation
    (4 s). CPU-bound in proportion to the body: callers run large bodies in a thread."""
    document = parse_json_body(body)
    _check_recipient_count(document, max_recipients)
    try:
        request = FaxJobRequest.model_validate(document)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = tuple(first["loc"])
        raise JobRequestError(_path(loc), _problem(first)) from None
    documents = request.documents or []
    rendering = request.renderingOptions
    if not documents and (rendering is None or not rendering.coverpageTemplate):
        raise JobRequestError(
            "documents", "the job has neither a document nor a cover page template"
        )
    for index, document in enumerate(documents):
        if document.data is None and document.reference is None:
            raise JobRequestError(f"documents[{index}]", "give the document's data or reference")
    _check_validity(request, now)
    push = request.push
    needs_credentials = push is not None and push.authMethod not in (None, AuthMethod.NONE)
    if push is not None and needs_credentials and not (push.principal and push.credentials):
        raise JobRequestError(
            "statusReportOptions.httpStatusPush",
            f"authMethod {push.authMethod} needs both principal and credentials",
        )
    return request
