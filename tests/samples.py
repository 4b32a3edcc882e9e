"""The spec's golden samples (an in-repo copy) and the same reports built by hand with the models.

The hand-built models are independent of every codec, so golden tests can check parse and
render separately.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from faxpush.core.models import (
    AuthMethod,
    Document,
    FaxJobReport,
    HttpStatusPush,
    ImageFormat,
    ImageMode,
    Options,
    PaperFormat,
    Property,
    RecipientStatus,
    ReportMail,
    Resolution,
)

SAMPLES = Path(__file__).resolve().parent / "data" / "spec_samples"


def sample(name: str) -> bytes:
    """The bytes of one golden sample, e.g. ``sample("report-full.xml")``."""
    return (SAMPLES / name).read_bytes()


FULL_REPORT_MODEL = FaxJobReport(
    jobId="FJ7QK2M9X40ABCDEFGH123",
    reportMail=ReportMail(
        successAddress="fax-ok@example.org",
        failureAddress="fax-failed@example.org",
        attachedFaxImageMode=ImageMode.FAILURE_ONLY,
        attachedFaxImageFormat=ImageFormat.PDF,
    ),
    httpStatusPush=HttpStatusPush(
        url="https://hooks.example.org/fax/status", authMethod=AuthMethod.HTTP_DIGEST
    ),
    faxRecipients=(
        RecipientStatus(
            number="+4930123456789",
            numId="FN7QK2M9X40ABCDEFGH124",
            alternativeNumbers=("+4930123456000",),
            properties=(
                Property(key="ToName", value="Dr. Müller & Partner"),
                Property(key="SubjectTitle", value="Invoice 2024-05"),
            ),
            status="OK",
            reason="OK",
            sentTS=datetime(2024, 5, 6, 9, 14, 3, tzinfo=UTC),
            durationInSecs=31,
            sentToNumber="004930123456000",
            remoteCsid="+49 30 1234560",
        ),
        RecipientStatus(
            number="+4989555000",
            numId="FN7QK2M9X40ABCDEFGH125",
            status="BUSY",
            reason="BUSY",
            sentTS=datetime(2024, 5, 6, 9, 20, 41, tzinfo=UTC),
            durationInSecs=0,
            sentToNumber="004989555000",
            remoteCsid="",
        ),
    ),
    documents=(
        Document(name="invoice-2024-05.pdf", isText=False),
        Document(name="terms.txt", isText=True),
    ),
    options=Options(
        csid="ACME Billing",
        isExpress=True,
        resolution=Resolution.HIGH,
        paperFormat=PaperFormat.A4,
        coverpageTemplate="coverpage-default.ftl.html",
        customerDefinedId="INV-2024-05-0042",
        billingCode="CC-4711",
    ),
    pages=3,
)

MINIMAL_REPORT_MODEL = FaxJobReport(
    jobId="FJ00000000000000000042",
    faxRecipients=(
        RecipientStatus(
            number="+12015551000",
            numId="FN00000000000000000043",
            status="WRONG_NO",
            reason="WRONG_NO",
            durationInSecs=0,
        ),
    ),
    pages=1,
)
