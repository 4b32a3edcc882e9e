"""End to end through real sockets: job in, simulated fax, push out to a real receiver.

The receiver must get exactly the bytes the core renders for the job's final report, with
the account's format and the job's authentication; the REST report and the push agree.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from faxpush.core.formats import parse_report
from faxpush.core.json_codec import JSON_CONTENT_TYPE, render_json
from faxpush.core.models import AuthMethod, FaxJobReport
from faxpush.core.rest_view import to_rest_report
from faxpush.core.secrets import Secret
from faxpush.core.targets import Account, PushFormat
from faxpush.core.templates import PushTemplate
from faxpush.core.xml_codec import XML_CONTENT_TYPE, render_xml
from faxpush.storage.base import PushRecord, PushState
from faxpush.storage.jobs_base import JobRecord
from tests.integration.servers import (
    DigestServer,
    LocalServer,
    OAuthServer,
    always_ok,
    basic_protected,
    serve,
)

from .harness import HELLO, Emulator, add_customer

pytestmark = pytest.mark.asyncio(loop_scope="module")

PRINCIPAL, CREDENTIALS = "hook-user", "hook: pässword+%"
_customers = itertools.count(1)


async def _delivered(emulator: Emulator, job_id: str) -> PushRecord:
    async with asyncio.timeout(10):
        while True:
            push = await emulator.services.store.get_push(job_id)
            if push is not None and push.state is PushState.DELIVERED:
                return push
            await asyncio.sleep(0.02)


async def _customer(emulator: Emulator, account: Account) -> tuple[str, str]:
    """A fresh customer number with ``account``'s settings; returns (number, auth header)."""
    number = f"E2E{next(_customers):04d}"
    auth = await add_customer(emulator, number, f"login-{number}", "pw-" + number)
    await emulator.services.store.put_account(
        Account(
            number,
            push_format=account.push_format,
            push_template=account.push_template,
            push_template_content_type=account.push_template_content_type,
            push_url=account.push_url,
            push_auth=account.push_auth,
            push_principal=account.push_principal,
            push_credentials=account.push_credentials,
            oauth2_token_url=account.oauth2_token_url,
        )
    )
    return number, auth


def _job(push: dict[str, Any] | None) -> dict[str, Any]:
    job: dict[str, Any] = {
        "reference": {"customerDefinedId": "order-42", "billingCode": "CC-7"},
        "recipients": [
            {
                "number": "+4930123456789",
                "alternativeNumbers": ["+4930123456000"],
                "properties": [{"key": "ToName", "value": "Dr. Müller & Partner"}],
            },
            {"number": "+12125550101"},
        ],
        "documents": [{"name": "terms.txt", "charset": "UTF-8", "data": HELLO}],
        "transportOptions": {"csid": "ACME Billing", "isExpress": True},
        "renderingOptions": {"resolution": "HIGH", "coverpageTemplate": "cover.ftl.html"},
        "statusReportOptions": {
            "reportMail": {"failureAddress": "fax-failed@example.org"},
        },
        "meta": {"customerReference": "case 7"},
    }
    if push is not None:
        job["statusReportOptions"]["httpStatusPush"] = push
    return job


async def _run_job(
    emulator: Emulator, customer: str, auth: str, job: dict[str, Any]
) -> tuple[JobRecord, FaxJobReport]:
    status, answer = await emulator.call("POST", body=job, auth=auth, customer=customer)
    assert status == 201, answer
    job_id = answer["jobId"]
    async with asyncio.timeout(10):
        while True:
            record = await emulator.services.jobs.get_job(customer, job_id)
            if record is not None and record.report is not None:
                return record, record.report
            await asyncio.sleep(0.02)


def _receiver_for(method: AuthMethod) -> Any:
    if method is AuthMethod.HTTP_BASIC:
        return basic_protected(PRINCIPAL, CREDENTIALS)
    if method is AuthMethod.HTTP_DIGEST:
        return DigestServer(PRINCIPAL, CREDENTIALS, algorithms=("SHA-256", "MD5"))
    if method is AuthMethod.OAUTH2:
        return OAuthServer(PRINCIPAL, CREDENTIALS)
    return always_ok


def _push_requests(receiver: LocalServer) -> list[Any]:
    return [r for r in receiver.requests if r.path == "/fax/status" and r.body]


@pytest.mark.parametrize("push_format", [PushFormat.XML, PushFormat.JSON])
@pytest.mark.parametrize("method", list(AuthMethod))
async def test_the_receiver_gets_exactly_the_rendered_report(
    shared_emulator: Emulator, push_format: PushFormat, method: AuthMethod
) -> None:
    emulator = shared_emulator
    handler = _receiver_for(method)
    async with serve(handler) as receiver:
        token_url = receiver.url("/token") if method is AuthMethod.OAUTH2 else None
        customer, auth = await _customer(
            emulator, Account("x", push_format=push_format, oauth2_token_url=token_url)
        )
        push: dict[str, Any] = {
            "targetUrl": receiver.url("/fax/status"),
            "authMethod": method.value,
        }
        if method is not AuthMethod.NONE:
            push.update(principal=PRINCIPAL, credentials=CREDENTIALS)

        record, report = await _run_job(emulator, customer, auth, _job(push))
        await _delivered(emulator, record.job_id)

    request = _push_requests(receiver)[-1]  # after any authentication round trips
    if method is not AuthMethod.NONE:
        assert "Authorization" in request.headers
    expected, content_type = (
        (render_xml(report), XML_CONTENT_TYPE)
        if push_format is PushFormat.XML
        else (render_json(report), JSON_CONTENT_TYPE)
    )
    assert request.body == expected
    assert request.headers["Content-Type"] == content_type
    assert request.headers["Faxpush-Delivery-Id"] == record.job_id
    assert CREDENTIALS.encode() not in request.body
    assert report.httpStatusPush is not None
    assert report.httpStatusPush.url == receiver.url("/fax/status")
    assert report.httpStatusPush.authMethod is method

    status, rest = await emulator.call(
        "GET", f"/reports/{record.job_id}", auth=auth, customer=customer
    )
    assert status == 200
    assert rest == to_rest_report(parse_report(request.body))


async def test_push_and_rest_report_agree_field_for_field(shared_emulator: Emulator) -> None:
    emulator = shared_emulator
    async with serve(always_ok) as receiver:
        customer, auth = await _customer(emulator, Account("x", push_format=PushFormat.JSON))
        record, report = await _run_job(
            emulator, customer, auth, _job({"targetUrl": receiver.url("/fax/status")})
        )
        await _delivered(emulator, record.job_id)
    (request,) = _push_requests(receiver)
    pushed = parse_report(request.body)
    status, rest = await emulator.call(
        "GET", f"/reports/{record.job_id}", auth=auth, customer=customer
    )

    assert pushed == report
    assert status == 200
    assert rest["jobId"] == pushed.jobId
    assert rest["pages"] == pushed.pages == 2  # one text page and the cover page
    assert rest["reference"] == {"customerDefinedId": "order-42", "billingCode": "CC-7"}
    first, second = pushed.faxRecipients
    assert (first.status, first.sentToNumber) == ("OK", "004930123456789")
    assert (second.status, second.reason, second.durationInSecs) == ("BUSY", "simulated", 0)
    for view, recipient in zip(rest["recipientStatus"], pushed.faxRecipients, strict=True):
        assert view["number"] == recipient.number
        assert view["status"] == recipient.status
        assert view["reason"] == recipient.reason
        assert view["durationInSecs"] == recipient.durationInSecs
        assert view["sentToNumber"] == recipient.sentToNumber
        assert view["remoteCsid"] == recipient.remoteCsid
        assert recipient.sentTS is not None
        assert view["sentTs"] == recipient.sentTS.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert pushed.options is not None
    assert pushed.options.csid == "ACME Billing"
    assert pushed.options.customerReference == "case 7"
    assert pushed.reportMail is not None
    assert pushed.reportMail.failureAddress == "fax-failed@example.org"


async def test_without_httpstatuspush_the_account_default_applies(
    shared_emulator: Emulator,
) -> None:
    emulator = shared_emulator
    source = (
        "<fax job='{{ report.jobId }}'>"
        "{% for r in report.faxRecipients %}{{ r.status }};{% endfor %}</fax>"
    )
    async with serve(basic_protected("acct", "acct-pw")) as receiver:
        customer, auth = await _customer(
            emulator,
            Account(
                "x",
                push_format=PushFormat.TEMPLATE,
                push_template=source,
                push_template_content_type="application/xml",
                push_url=receiver.url("/fax/status"),
                push_auth=AuthMethod.HTTP_BASIC,
                push_principal="acct",
                push_credentials=Secret("acct-pw"),
            ),
        )
        record, report = await _run_job(emulator, customer, auth, _job(None))
        await _delivered(emulator, record.job_id)
    request = _push_requests(receiver)[-1]
    assert report.httpStatusPush is None
    assert request.body == PushTemplate("t", source, "application/xml").render(report)
    assert request.body == f"<fax job='{record.job_id}'>OK;BUSY;</fax>".encode()
    assert request.headers["Content-Type"] == "application/xml"


async def test_no_push_when_neither_job_nor_account_names_a_url(
    shared_emulator: Emulator,
) -> None:
    emulator = shared_emulator
    customer, auth = await _customer(emulator, Account("x"))
    record, report = await _run_job(emulator, customer, auth, _job(None))

    assert report.faxRecipients[0].status == "OK"
    assert await emulator.services.store.get_push(record.job_id) is None
