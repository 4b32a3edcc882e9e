"""The simulator's planning: deterministic outcomes, timing, jobValid, the pending view."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from faxpush.core.errors import StorageError
from faxpush.emulator.config import DEFAULT_RULES, TEST_NUMBER_STATUSES, Rule, SimulatorConfig
from faxpush.emulator.plan import (
    JobPlan,
    PageCount,
    count_job_pages,
    dialled_number,
    new_job_id,
    new_num_id,
    normalise_number,
    plan_job,
)
from faxpush.emulator.validation import parse_job_request

from .harness import HELLO

NOW = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
SIM = SimulatorConfig()


def _request(**extra: Any) -> Any:
    job: dict[str, Any] = {
        "recipients": [{"number": "+4989123456"}],
        "documents": [{"name": "a.txt", "data": HELLO}],
    }
    job.update(extra)
    return parse_job_request(json.dumps(job).encode(), now=NOW)


def _plan(
    request: Any, *, speed: float = 1.0, pages: int = 1, sim: SimulatorConfig = SIM
) -> JobPlan:
    return plan_job(
        request, job_id="FJ" + "T" * 20, now=NOW, pages=PageCount(pages), sim=sim, speed=speed
    )


def test_ids_have_the_documented_shape() -> None:
    assert re.fullmatch(r"FJ[A-Z0-9]{20}", new_job_id())
    assert re.fullmatch(r"FN[A-Z0-9]{20}", new_num_id())
    assert len({new_job_id() for _ in range(100)}) == 100


@pytest.mark.parametrize(
    ("number", "normal", "dialled"),
    [
        ("+49 (89) 1234567-8900", "+498912345678900", "00498912345678900"),
        ("0049 89 123", "+4989123", "004989123"),
        ("089/123 45", "08912345", "08912345"),
    ],
)
def test_numbers_are_normalised_and_dialled_internationally(
    number: str, normal: str, dialled: str
) -> None:
    assert normalise_number(number) == normal
    assert dialled_number(number) == dialled


def test_an_ordinary_number_is_ok_with_realistic_timing() -> None:
    plan = _plan(_request(), speed=1.0, pages=2)

    (recipient,) = plan.report.faxRecipients
    assert recipient.status == "OK"
    assert recipient.reason == "simulated"
    assert recipient.durationInSecs == 46  # 6 s handshake + 2 pages x 20 s
    assert recipient.sentToNumber == "004989123456"
    assert recipient.remoteCsid == "+4989123456"
    assert recipient.sentTS == NOW + timedelta(seconds=2)  # queued 2 s
    assert plan.finish_at == NOW + timedelta(seconds=2 + 8 + 46)
    assert plan.report.pages == 2


def test_speed_scales_wall_time_but_not_reported_durations() -> None:
    fast = _plan(_request(), speed=0.1)
    instant = _plan(_request(), speed=0)

    assert fast.finish_at == NOW + timedelta(seconds=(2 + 8 + 26) * 0.1)
    assert instant.finish_at == NOW
    assert fast.report.faxRecipients[0].durationInSecs == 26
    assert instant.report.faxRecipients[0].durationInSecs == 26


def test_high_resolution_takes_longer() -> None:
    plan = _plan(_request(renderingOptions={"resolution": "HIGH"}), pages=2)
    assert plan.report.faxRecipients[0].durationInSecs == 66  # 6 + 2 x 30


@pytest.mark.parametrize(("suffix", "status"), TEST_NUMBER_STATUSES)
def test_the_built_in_test_numbers_answer_their_status(suffix: str, status: str) -> None:
    plan = _plan(_request(recipients=[{"number": f"+1 212 555 01{suffix}"}]))

    (recipient,) = plan.report.faxRecipients
    assert recipient.status == status
    assert recipient.reason == "simulated"
    assert recipient.sentToNumber == f"0012125550{1}{suffix}"


def test_failures_report_no_duration_and_take_their_own_time() -> None:
    plan = _plan(_request(recipients=[{"number": "+12125550104"}]))  # RING_TO
    (recipient,) = plan.report.faxRecipients
    assert (recipient.status, recipient.durationInSecs, recipient.remoteCsid) == ("RING_TO", 0, "")
    assert plan.finish_at == NOW + timedelta(seconds=2 + 60)


def test_alternative_numbers_are_dialled_in_order_until_one_answers() -> None:
    request = _request(
        recipients=[
            {
                "number": "+12125550101",  # BUSY
                "alternativeNumbers": ["+12125550103", "+4930555", "+4930666"],  # WRONG_NO, OK
            }
        ]
    )
    plan = _plan(request)

    (recipient,) = plan.report.faxRecipients
    assert recipient.status == "OK"
    assert recipient.sentToNumber == "004930555"
    # BUSY 8 s, gap 10, WRONG_NO 8 s, gap 10, then OK dialled at 2 + 36
    assert recipient.sentTS == NOW + timedelta(seconds=38)
    assert plan.finish_at == NOW + timedelta(seconds=38 + 8 + 26)


def test_when_every_number_fails_the_last_one_is_reported() -> None:
    request = _request(
        recipients=[{"number": "+12125550101", "alternativeNumbers": ["+12125550102"]}]
    )
    (recipient,) = _plan(request).report.faxRecipients
    assert (recipient.status, recipient.sentToNumber) == ("NOFAX", "0012125550102")


def test_configured_rules_come_first_and_set_every_field() -> None:
    sim = SimulatorConfig(
        rules=(
            Rule(
                status="NO_TRAIN",
                prefix="+4930",
                reason="modem says no",
                duration=7,
                remote_csid="X",
                seconds=3,
            ),
            Rule(status="DIAL_NC", pattern=re.compile(r"\+49\d+99")),
            *DEFAULT_RULES,
        )
    )
    request = _request(
        recipients=[{"number": "+4930123"}, {"number": "+498912399"}, {"number": "+4989"}]
    )
    first, second, third = _plan(request, sim=sim).report.faxRecipients

    assert (first.status, first.reason, first.durationInSecs, first.remoteCsid) == (
        "NO_TRAIN",
        "modem says no",
        7,
        "X",
    )
    assert second.status == "DIAL_NC"
    assert third.status == "OK"


def test_a_job_is_not_dialled_before_its_start() -> None:
    start = NOW + timedelta(hours=1)
    request = _request(meta={"jobValid": {"start": start.isoformat()}})
    plan = _plan(request, speed=0)

    (recipient,) = plan.report.faxRecipients
    assert recipient.sentTS == start
    assert plan.finish_at == start
    assert plan.view(start - timedelta(seconds=1)).faxRecipients[0].status == "PENDING"
    assert plan.view(start).faxRecipients[0].status == "OK"
    assert plan.report.options is not None
    assert plan.report.options.jobValidStart == start
    assert plan.report.options.jobValidEnd is None  # echoed only when the job gave one


def test_recipients_unsent_at_the_end_expire() -> None:
    start, end = NOW - timedelta(hours=2), NOW - timedelta(hours=1)
    request = _request(
        recipients=[{"number": "+4989"}, {"number": "+4930"}],
        meta={"jobValid": {"start": start.isoformat(), "end": end.isoformat()}},
    )
    plan = _plan(request)

    assert [r.status for r in plan.report.faxRecipients] == ["EXPIRED", "EXPIRED"]
    assert all(r.sentTS is None and r.sentToNumber is None for r in plan.report.faxRecipients)
    assert plan.final_at == (end, end)


def test_an_alternative_number_after_the_end_expires() -> None:
    sim = SimulatorConfig(rules=(Rule(status="BUSY", prefix="+4989", seconds=60),))
    request = _request(
        recipients=[{"number": "+4989", "alternativeNumbers": ["+4930"]}],
        meta={"jobValid": {"end": "PT30S"}},
    )
    plan = _plan(request, sim=sim)

    (recipient,) = plan.report.faxRecipients
    assert recipient.status == "EXPIRED"
    assert plan.finish_at == NOW + timedelta(seconds=62)  # the busy call ended after the end


def test_blacklist_applies_only_when_enabled() -> None:
    number = [{"number": "+12125550109"}]
    assert _plan(_request(recipients=number)).report.faxRecipients[0].status == "BLACKLIST"
    disabled = _request(recipients=number, transportOptions={"isBlacklistEnabled": False})
    assert _plan(disabled).report.faxRecipients[0].status == "OK"


def test_a_document_failure_stops_every_recipient() -> None:
    request = _request(
        recipients=[{"number": "+4989"}, {"number": "+4930"}],
        documents=[{"name": "broken.pdf", "data": HELLO}],
    )
    pages = count_job_pages(request)
    assert pages.failure == "RENDERING_ERROR"

    plan = plan_job(request, job_id="FJX", now=NOW, pages=pages, sim=SIM, speed=1)

    assert [r.status for r in plan.report.faxRecipients] == ["RENDERING_ERROR"] * 2
    assert plan.report.pages == 0


def test_the_pending_view_hides_unfinished_recipients_only() -> None:
    request = _request(recipients=[{"number": "+4989"}, {"number": "+12125550104"}])  # OK, RING_TO
    plan = _plan(request)
    ok_final, ring_final = plan.final_at
    assert ok_final < ring_final

    early = plan.view(NOW)
    assert [r.status for r in early.faxRecipients] == ["PENDING", "PENDING"]
    assert early.faxRecipients[0].sentTS is None
    assert early.faxRecipients[0].numId == plan.report.faxRecipients[0].numId
    middle = plan.view(ok_final)
    assert [r.status for r in middle.faxRecipients] == ["OK", "PENDING"]
    assert plan.view(ring_final) == plan.report


def test_the_plan_survives_storage() -> None:
    plan = _plan(_request(reference={"customerDefinedId": "x"}))
    assert JobPlan.from_json(plan.to_json()) == plan
    with pytest.raises(StorageError, match="cannot be read"):
        JobPlan.from_json('{"version": 1}')
    with pytest.raises(StorageError, match="unknown version"):
        JobPlan.from_json(plan.to_json().replace('"version": 1', '"version": 9'))


def test_the_report_echoes_what_the_job_referenced() -> None:
    request = _request(
        reference={"customerDefinedId": "c-1", "billingInfo": "bi"},
        transportOptions={"csid": "ACME", "isExpress": True},
        renderingOptions={
            "paperFormat": "LETTER",
            "overlay": {"name": "logo", "mode": "FIRST_PAGE"},
        },
        statusReportOptions={
            "reportMail": {"successAddress": "ok@example.org"},
            "httpStatusPush": {
                "targetUrl": "https://hooks.example.org/x",
                "authMethod": "OAUTH",
                "principal": "client",
                "credentials": "secret",
            },
        },
        meta={"customerReference": "case"},
    )
    report = _plan(request).report

    assert report.options is not None
    assert report.options.model_dump(exclude_none=True) == {
        "csid": "ACME",
        "isExpress": True,
        "paperFormat": "LETTER",
        "overlay": {"name": "logo", "mode": "FIRST_PAGE"},
        "customerReference": "case",
        "customerDefinedId": "c-1",
        "billingInfo": "bi",
    }
    assert report.reportMail is not None
    assert report.reportMail.successAddress == "ok@example.org"
    assert report.httpStatusPush is not None
    assert report.httpStatusPush.authMethod == "OAUTH2"
    assert [(d.name, d.isText) for d in report.documents] == [("a.txt", True)]
    minimal = _plan(_request()).report
    assert (minimal.options, minimal.reportMail, minimal.httpStatusPush) == (None, None, None)
