"""Typed models of a Fax4A status report (``faxJobReport``).

Field names are the wire names of the default layouts (``jobId``, ``sentTS``) so the models
read like the spec. ``None`` means "absent from the push" (elements appear only when the job
referenced them); an empty string is an element that is present but empty.

Every string must be representable in XML 1.0, and timestamps are stored in UTC with second
precision, because that is all the wire formats can carry: a model that validates can always
be rendered and parsed back unchanged.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

# XML 1.0 "Char" production: what may appear in a document at all.
_XML_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_safe(value: str) -> str:
    if value.isascii() and value.isprintable():
        return value  # U+0020..U+007E only: all legal, and the common case
    bad = _XML_ILLEGAL.search(value)
    if bad is not None:
        raise ValueError(
            f"character U+{ord(bad.group()):04X} at offset {bad.start()} cannot be carried in XML"
        )
    return value


def _utc_seconds(value: datetime) -> datetime:
    if value.tzinfo is UTC and not value.microsecond:
        return value  # already what the conversion below would produce
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp has no time zone; give an offset such as Z or +02:00")
    try:
        return value.astimezone(UTC).replace(microsecond=0)
    except OverflowError:
        raise ValueError("timestamp falls outside years 1-9999 once converted to UTC") from None


Text = Annotated[str, AfterValidator(_xml_safe)]
Timestamp = Annotated[datetime, AfterValidator(_utc_seconds)]
NonNegativeInt = Annotated[int, Field(ge=0, le=2**31 - 1)]


class AuthMethod(StrEnum):
    """How the push authenticates to the customer's URL (spec §6)."""

    NONE = "NONE"
    HTTP_BASIC = "HTTP_BASIC"
    HTTP_DIGEST = "HTTP_DIGEST"
    OAUTH2 = "OAUTH2"

    @classmethod
    def _missing_(cls, value: object) -> AuthMethod | None:
        # One official SDK sends "OAUTH"; accept it (and any letter case) as an alias.
        if isinstance(value, str):
            upper = value.strip().upper()
            if upper == "OAUTH":
                return cls.OAUTH2
            if upper in cls.__members__:
                return cls[upper]
        return None


class ImageMode(StrEnum):
    """When the report mail carries the fax image."""

    NEVER = "NEVER"
    SUCCESS_ONLY = "SUCCESS_ONLY"
    FAILURE_ONLY = "FAILURE_ONLY"
    ALWAYS = "ALWAYS"


class ImageFormat(StrEnum):
    """Format of the fax image attached to the report mail."""

    TIFF = "TIFF"
    PDF = "PDF"
    PDF_WITH_OCR = "PDF_WITH_OCR"


class Resolution(StrEnum):
    HIGH = "HIGH"
    LOW = "LOW"


class PaperFormat(StrEnum):
    A4 = "A4"
    LETTER = "LETTER"


class OverlayMode(StrEnum):
    ALL_PAGES = "ALL_PAGES"
    NO_OVERLAY = "NO_OVERLAY"
    FIRST_PAGE = "FIRST_PAGE"
    LAST_PAGE = "LAST_PAGE"
    ALL_BUT_FIRST_PAGE = "ALL_BUT_FIRST_PAGE"
    ALL_BUT_LAST_PAGE = "ALL_BUT_LAST_PAGE"
    ALL_BUT_FIRST_AND_LAST_PAGE = "ALL_BUT_FIRST_AND_LAST_PAGE"
    FIRST_FILE = "FIRST_FILE"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)


def _not_blank(value: str, what: str) -> str:
    if not value.strip():
        raise ValueError(f"{what} is empty")
    return value


class ReportMail(_Model):
    successAddress: Text | None = None
    failureAddress: Text | None = None
    attachedFaxImageMode: ImageMode | None = None
    attachedFaxImageFormat: ImageFormat | None = None


class HttpStatusPush(_Model):
    """Where the push went. Credentials are never part of a report."""

    url: Text
    authMethod: AuthMethod | None = None


class Property(_Model):
    key: Text
    value: Text


class RecipientStatus(_Model):
    """One recipient's final (or, in the REST view, pending) status."""

    number: Text
    numId: Text | None = None
    alternativeNumbers: tuple[Text, ...] = ()
    properties: tuple[Property, ...] = ()
    status: Text | None = None
    reason: Text | None = None
    sentTS: Timestamp | None = None
    durationInSecs: NonNegativeInt | None = None
    sentToNumber: Text | None = None
    remoteCsid: Text | None = None

    @field_validator("number")
    @classmethod
    def _number_not_empty(cls, value: str) -> str:
        return _not_blank(value, "recipient number")


class Document(_Model):
    name: Text
    isText: bool


class Overlay(_Model):
    name: Text
    mode: OverlayMode | None = None


class Options(_Model):
    """Job options echoed in the report, in wire order (spec §4)."""

    csid: Text | None = None
    header: Text | None = None
    isExpress: bool | None = None
    isBlacklistEnabled: bool | None = None
    resolution: Resolution | None = None
    paperFormat: PaperFormat | None = None
    coverpageTemplate: Text | None = None
    overlay: Overlay | None = None
    customerReference: Text | None = None
    customerDefinedId: Text | None = None
    billingCode: Text | None = None
    billingInfo: Text | None = None
    jobValidStart: Timestamp | None = None
    jobValidEnd: Timestamp | None = None


def _is_empty(model: BaseModel | None) -> bool:
    return model is not None and all(v is None for v in model.__dict__.values())


class FaxJobReport(_Model):
    """A fax job's status report: the body of one status push."""

    jobId: Text
    reportMail: ReportMail | None = None
    httpStatusPush: HttpStatusPush | None = None
    faxRecipients: tuple[RecipientStatus, ...] = Field(min_length=1)
    documents: tuple[Document, ...] = ()
    options: Options | None = None
    pages: NonNegativeInt | None = None

    @field_validator("jobId")
    @classmethod
    def _job_id_not_empty(cls, value: str) -> str:
        return _not_blank(value, "jobId")

    @model_validator(mode="before")
    @classmethod
    def _drop_empty_groups(cls, data: Any) -> Any:
        # An <options/> or <reportMail/> with no children carries nothing; treat it as absent
        # so that every valid model renders to a body that parses back to the same model.
        if isinstance(data, dict):
            for key in ("options", "reportMail"):
                value = data.get(key)
                if value == {} or _is_empty(value if isinstance(value, BaseModel) else None):
                    data = {**data, key: None}
        return data

    @property
    def is_final(self) -> bool:
        """True when no recipient is still PENDING (a push is only sent then)."""
        return all(r.status not in (None, "PENDING") for r in self.faxRecipients)
