"""Planning a simulated transmission: deterministic outcomes, realistic timing, the report.

When a job is accepted its whole future is decided here, from the request, the simulator's
rules and the clock: each recipient is dialled (then its alternative numbers, in order)
after a realistic delay scaled by ``sim_speed``; the outcome comes from the first matching
rule, else ``OK``. The result is a :class:`JobPlan`: the final report and the moment each
recipient's status becomes final. Until then the REST view shows that recipient ``PENDING``
(:meth:`JobPlan.view`); when the last one is final the simulator finishes the job.

Reported durations are in real seconds (a one-page fax takes about half a minute) whatever
the speed; ``sentTS`` is the wall-clock time of the simulated call.
"""

from __future__ import annotations

import json
import math
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from pydantic import ValidationError

from faxpush.core.errors import StorageError
from faxpush.core.models import (
    Document,
    FaxJobReport,
    HttpStatusPush,
    Options,
    Overlay,
    PaperFormat,
    Property,
    RecipientStatus,
    ReportMail,
    Resolution,
)
from faxpush.emulator.config import Rule, SimulatorConfig
from faxpush.emulator.pages import count_pages
from faxpush.emulator.times import parse_timestamp
from faxpush.emulator.validation import CHARSETS, FaxJobRequest, RecipientIn

ID_ALPHABET: Final = string.ascii_uppercase + string.digits
_ID_SPACE: Final = len(ID_ALPHABET) ** 20
PLAN_VERSION: Final = 1
SETUP_SECONDS_BY_STATUS: Final = {
    "RING_TO": 60.0,
    "NOFAX_TO": 45.0,
    "WOUT_TO": 30.0,
    "NOFAX": 20.0,
    "NOFAX_DIS": 15.0,
    "BLACKLIST": 0.0,
    "PBLACKLIST": 0.0,
}
"""Seconds a call takes before it fails, where that differs from ``setup_seconds``."""
_FULL_DURATION: Final = frozenset({"OK", "EOD_FAILED"})
_HALF_DURATION: Final = frozenset({"PAGE_SEND_ERROR", "REM_DIS", "BAD_LINES"})


def _random_id(prefix: str) -> str:
    # one draw from the OS per id instead of one per character: ids were half of planning
    number = secrets.randbelow(_ID_SPACE)
    characters = []
    for _ in range(20):
        number, digit = divmod(number, 36)
        characters.append(ID_ALPHABET[digit])
    return prefix + "".join(characters)


def new_job_id() -> str:
    """A job id: ``FJ`` and 20 upper-case letters or digits."""
    return _random_id("FJ")


def new_num_id() -> str:
    """A recipient id: ``FN`` and 20 upper-case letters or digits."""
    return _random_id("FN")


def normalise_number(number: str) -> str:
    """``+`` and digits: ``+49 (89) 123-45`` and ``004989…`` both become ``+4989…``."""
    digits = "".join(c for c in number if c.isdigit())
    if number.strip().startswith("+"):
        return "+" + digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    return digits


def dialled_number(number: str) -> str:
    """What the carrier dials (``sentToNumber``): the international ``00`` form."""
    normal = normalise_number(number)
    return "00" + normal[1:] if normal.startswith("+") else normal


@dataclass(frozen=True, slots=True)
class PageCount:
    """The fax's pages, or the document status that stops every recipient."""

    pages: int
    failure: str | None = None
    detail: str | None = None


def count_job_pages(request: FaxJobRequest) -> PageCount:
    """Pages of all documents, plus one for a cover page (CPU-bound: run it in a thread)."""
    rendering = request.renderingOptions
    paper = (rendering.paperFormat if rendering else None) or PaperFormat.A4
    total = 1 if rendering is not None and rendering.coverpageTemplate else 0
    for document in request.documents or []:
        data = None if document.reference is not None else document.data
        encoding = CHARSETS[document.charset or "UTF-8"]
        counted = count_pages(document.name, data, encoding=encoding, paper=paper)
        if counted.failure is not None:
            return PageCount(0, counted.failure, counted.detail)
        total += counted.pages
    return PageCount(total)


@dataclass(frozen=True, slots=True)
class JobPlan:
    """The final report of a job and when each recipient's status becomes final."""

    report: FaxJobReport
    final_at: tuple[datetime, ...]

    @property
    def finish_at(self) -> datetime:
        """When every recipient is final."""
        return max(self.final_at)

    def view(self, now: datetime) -> FaxJobReport:
        """The report as it stands at ``now``: recipients not yet final are ``PENDING``."""
        if now >= self.finish_at:
            return self.report
        recipients = tuple(
            recipient
            if final_at <= now
            else recipient.model_copy(
                update={
                    "status": "PENDING",
                    "reason": None,
                    "sentTS": None,
                    "durationInSecs": None,
                    "sentToNumber": None,
                    "remoteCsid": None,
                }
            )
            for recipient, final_at in zip(self.report.faxRecipients, self.final_at, strict=True)
        )
        return self.report.model_copy(update={"faxRecipients": recipients})

    def to_json(self) -> str:
        """The plan as stored with the job."""
        return json.dumps(
            {
                "version": PLAN_VERSION,
                "report": self.report.model_dump(mode="json"),
                "finalAt": [moment.isoformat() for moment in self.final_at],
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> JobPlan:
        """Read a stored plan; a damaged one is a StorageError."""
        try:
            document = json.loads(text)
            version = document.get("version")
            report = FaxJobReport.model_validate(document["report"])
            final_at = tuple(parse_timestamp(moment) for moment in document["finalAt"])
        except (ValueError, KeyError, TypeError, AttributeError, ValidationError) as exc:
            raise StorageError(f"a stored job plan cannot be read: {exc}") from None
        if version != PLAN_VERSION:
            raise StorageError(f"a stored job plan has unknown version {version!r}")
        return cls(report, final_at)


@dataclass(frozen=True, slots=True)
class _Outcome:
    status: str
    reason: str
    sent_at: datetime | None
    duration: int
    sent_to: str | None
    remote_csid: str | None
    final_at: datetime


class _Timeline:
    """Simulated seconds turned into wall-clock instants by the speed factor."""

    def __init__(self, speed: float) -> None:
        self.speed = speed

    def after(self, moment: datetime, seconds: float) -> datetime:
        return moment + timedelta(seconds=seconds * self.speed)


def _duration(
    status: str, rule: Rule | None, pages: int, seconds_per_page: float, handshake: float
) -> int:
    if rule is not None and rule.duration is not None:
        return rule.duration
    full = math.ceil(handshake + pages * seconds_per_page)
    if status in _FULL_DURATION:
        return full
    return full // 2 if status in _HALF_DURATION else 0


def _dial_recipient(
    recipient: RecipientIn,
    *,
    sim: SimulatorConfig,
    clock: _Timeline,
    first_dial: datetime,
    end: datetime,
    pages: int,
    seconds_per_page: float,
    blacklist_enabled: bool,
) -> _Outcome:
    numbers = [recipient.number, *(recipient.alternativeNumbers or [])]
    moment, outcome = first_dial, None
    for index, number in enumerate(numbers):
        if index:
            moment = clock.after(moment, sim.alternative_gap_seconds)
        if moment > end:
            expired_at = end if outcome is None else max(end, outcome.final_at)
            return _Outcome("EXPIRED", sim.default_reason, None, 0, None, None, expired_at)
        normal = normalise_number(number)
        rule = sim.rule_for(normal)
        if rule is not None and rule.status == "BLACKLIST" and not blacklist_enabled:
            rule = None
        status = "OK" if rule is None else rule.status
        duration = _duration(status, rule, pages, seconds_per_page, sim.handshake_seconds)
        call = (
            rule.seconds
            if rule is not None and rule.seconds is not None
            else SETUP_SECONDS_BY_STATUS.get(status, sim.setup_seconds) + duration
        )
        default_csid = normal if status in _FULL_DURATION else ""
        csid = (
            rule.remote_csid if rule is not None and rule.remote_csid is not None else default_csid
        )
        reason = rule.reason if rule is not None and rule.reason is not None else sim.default_reason
        finished = clock.after(moment, call)
        outcome = _Outcome(status, reason, moment, duration, dialled_number(number), csid, finished)
        moment = finished
        if status == "OK":
            break
    assert outcome is not None
    return outcome


def _options(request: FaxJobRequest, now: datetime) -> Options | None:
    transport, rendering = request.transportOptions, request.renderingOptions
    reference, meta = request.reference, request.meta
    valid = meta.jobValid if meta is not None else None
    start, end = request.validity(now)
    options = Options(
        csid=transport.csid if transport else None,
        header=rendering.header if rendering else None,
        isExpress=transport.isExpress if transport else None,
        isBlacklistEnabled=transport.isBlacklistEnabled if transport else None,
        resolution=rendering.resolution if rendering else None,
        paperFormat=rendering.paperFormat if rendering else None,
        coverpageTemplate=rendering.coverpageTemplate if rendering else None,
        overlay=Overlay(name=rendering.overlay.name, mode=rendering.overlay.mode)
        if rendering and rendering.overlay
        else None,
        customerReference=meta.customerReference if meta else None,
        customerDefinedId=reference.customerDefinedId if reference else None,
        billingCode=reference.billingCode if reference else None,
        billingInfo=reference.billingInfo if reference else None,
        jobValidStart=start if valid and valid.start else None,
        jobValidEnd=end if valid and valid.end else None,
    )
    return None if all(v is None for v in options.__dict__.values()) else options


def plan_job(
    request: FaxJobRequest,
    *,
    job_id: str,
    now: datetime,
    pages: PageCount,
    sim: SimulatorConfig,
    speed: float,
) -> JobPlan:
    """Decide how every recipient of ``request`` fares and when (see the module docstring)."""
    clock = _Timeline(speed)
    start, end = request.validity(now)
    first_dial = clock.after(max(now, start), sim.queue_seconds)
    rendering, transport = request.renderingOptions, request.transportOptions
    factor = (
        sim.high_resolution_factor if rendering and rendering.resolution is Resolution.HIGH else 1.0
    )
    blacklist_enabled = transport is None or transport.isBlacklistEnabled is not False
    recipients, final_at = [], []
    for recipient in request.recipients:
        if pages.failure is not None:
            outcome = _Outcome(pages.failure, sim.default_reason, None, 0, None, None, first_dial)
        else:
            outcome = _dial_recipient(
                recipient,
                sim=sim,
                clock=clock,
                first_dial=first_dial,
                end=end,
                pages=pages.pages,
                seconds_per_page=sim.seconds_per_page * factor,
                blacklist_enabled=blacklist_enabled,
            )
        recipients.append(
            RecipientStatus(
                number=recipient.number,
                numId=new_num_id(),
                alternativeNumbers=tuple(recipient.alternativeNumbers or ()),
                properties=tuple(
                    Property(key=p.key, value=p.value) for p in recipient.properties or ()
                ),
                status=outcome.status,
                reason=outcome.reason,
                sentTS=outcome.sent_at,
                durationInSecs=outcome.duration,
                sentToNumber=outcome.sent_to,
                remoteCsid=outcome.remote_csid,
            )
        )
        final_at.append(outcome.final_at)
    options = request.statusReportOptions
    mail = options.reportMail if options else None
    push = request.push
    report = FaxJobReport(
        jobId=job_id,
        reportMail=ReportMail(**mail.model_dump()) if mail else None,
        httpStatusPush=HttpStatusPush(url=push.targetUrl, authMethod=push.authMethod)
        if push
        else None,
        faxRecipients=tuple(recipients),
        documents=tuple(
            Document(name=d.name, isText=d.name.lower().endswith(".txt"))
            for d in request.documents or ()
        ),
        options=_options(request, now),
        pages=pages.pages,
    )
    return JobPlan(report, tuple(final_at))
