"""POST /api/v1/pushes and its batch form, through real HTTP against a SQLite file: every
layout, every source of the target, and every refusal (with nothing stored for it)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from faxpush.core.models import AuthMethod
from faxpush.core.secrets import Secret
from faxpush.core.targets import Account, PushFormat

from .conftest import MAX_BATCH, MAX_REQUEST_BYTES
from .harness import Admin, json_report, report, xml_report

pytestmark = pytest.mark.asyncio(loop_scope="module")

XML = "text/xml; charset=UTF-8"
JSON = "application/json"
PASSWORD = "pa55-ingest-Wörd-91c2"


async def _stored(admin: Admin, job_id: str) -> list[dict[str, Any]]:
    status, page, _ = await admin.call("GET", "/api/v1/pushes", params={"jobId": job_id})
    assert status == 200
    pushes: list[dict[str, Any]] = page["pushes"]
    return pushes


async def test_xml_report_is_queued_with_its_own_target(admin: Admin) -> None:
    status, body, headers = await admin.call(
        "POST", "/api/v1/pushes", body=xml_report("x-1"), content_type=XML
    )
    assert status == 202, body
    assert body["jobId"] == "x-1"
    assert headers["Location"] == f"/api/v1/pushes/{body['deliveryId']}" == body["location"]
    status, push, _ = await admin.call("GET", headers["Location"])
    assert status == 200
    assert push["state"] == "pending"
    assert push["target"]["url"] == "https://hooks.example.test/fax"
    assert push["contentType"].startswith("text/xml")
    assert push["body"].startswith("<?xml")
    assert push["attemptList"] == []


async def test_principal_and_credentials_beside_the_report_url(admin: Admin) -> None:
    document = json.loads(json_report("j-1", auth=AuthMethod.HTTP_BASIC))
    document["httpStatusPush"] |= {"principal": "alice", "credentials": PASSWORD}
    status, body, _ = await admin.call("POST", "/api/v1/pushes", json_body=document)
    assert status == 202, body
    status, push, _ = await admin.call("GET", body["location"])
    assert push["target"] == {
        "url": "https://hooks.example.test/fax",
        "authMethod": "HTTP_BASIC",
        "principal": "alice",
        "hasCredentials": True,
    }
    stored = await admin.store.get_push(body["deliveryId"])
    assert stored is not None
    assert stored.target.credentials == Secret(PASSWORD)
    assert PASSWORD not in json.dumps(push)


async def test_xml_credentials_and_the_rest_spelling(admin: Admin) -> None:
    xml = xml_report("x-2", auth=AuthMethod.HTTP_DIGEST).replace(
        b"</httpStatusPush>",
        b"<principal>bob</principal><credentials>" + PASSWORD.encode() + b"</credentials>"
        b"</httpStatusPush>",
    )
    status, body, _ = await admin.call("POST", "/api/v1/pushes", body=xml, content_type=XML)
    assert status == 202, body
    stored = await admin.store.get_push(body["deliveryId"])
    assert stored is not None
    assert (stored.target.principal, stored.target.credentials) == ("bob", Secret(PASSWORD))
    rest = json.loads(json_report("j-2", url=None))
    rest["statusReportOptions"] = {"httpStatusPush": {"targetUrl": "https://rest.example.test/"}}
    status, body, _ = await admin.call("POST", "/api/v1/pushes", json_body=rest)
    assert status == 202, body
    assert (await _stored(admin, "j-2"))[0]["target"]["url"] == "https://rest.example.test/"


async def test_envelope_target_wins_and_picks_the_format(admin: Admin) -> None:
    envelope = {
        "report": json.loads(json_report("e-1")),
        "target": {
            "targetUrl": "https://envelope.example.test/in",
            "authMethod": "HTTP_BASIC",
            "principal": "carol",
            "credentials": PASSWORD,
            "format": "json",
        },
    }
    status, body, _ = await admin.call("POST", "/api/v1/pushes", json_body=envelope)
    assert status == 202, body
    [push] = await _stored(admin, "e-1")
    assert push["target"]["url"] == "https://envelope.example.test/in"
    assert push["contentType"] == "application/json"
    assert push["receiver"] == "https://envelope.example.test:443"


async def _put_account(admin: Admin) -> None:
    await admin.store.put_account(
        Account(
            customer_number="C-100",
            push_format=PushFormat.JSON,
            push_url="https://account.example.test/push",
            push_auth=AuthMethod.HTTP_BASIC,
            push_principal="acct",
            push_credentials=Secret(PASSWORD),
        )
    )


async def test_account_gives_the_target_and_its_format(admin: Admin) -> None:
    await _put_account(admin)
    status, body, _ = await admin.call(
        "POST",
        "/api/v1/pushes?account=C-100",
        body=xml_report("a-1", url=None),
        content_type=XML,
    )
    assert status == 202, body
    [push] = await _stored(admin, "a-1")
    assert push["customerNumber"] == "C-100"
    assert push["target"]["url"] == "https://account.example.test/push"
    assert push["target"]["authMethod"] == "HTTP_BASIC"
    assert push["contentType"] == "application/json"


async def test_report_auth_method_takes_the_account_credentials(admin: Admin) -> None:
    await _put_account(admin)
    payload = xml_report("a-2", auth=AuthMethod.HTTP_DIGEST)
    status, body, _ = await admin.call("POST", "/api/v1/pushes", body=payload, content_type=XML)
    assert (status, body["field"]) == (400, "httpStatusPush"), body
    assert await _stored(admin, "a-2") == []
    status, body, _ = await admin.call(
        "POST", "/api/v1/pushes?account=C-100", body=payload, content_type=XML
    )
    assert status == 202, body
    stored = await admin.store.get_push(body["deliveryId"])
    assert stored is not None
    assert stored.target.url == "https://hooks.example.test/fax"
    assert stored.target.auth_method is AuthMethod.HTTP_DIGEST
    assert (stored.target.principal, stored.target.credentials) == ("acct", Secret(PASSWORD))


@pytest.mark.parametrize(
    ("job_id", "content_type", "payload", "status", "field"),
    [
        ("r-bad-xml", XML, b"<faxJobReport><jobId>r-bad-xml</jobId>", 400, "line 1, column 39"),
        (
            "r-no-number",
            JSON,
            b'{"jobId":"r-no-number","faxRecipients":[{"status":"OK"}]}',
            400,
            "faxRecipients[0].number",
        ),
        ("r-pending", JSON, None, 400, "faxRecipients[0].status"),
        ("r-no-target", JSON, None, 400, "target"),
        ("r-bad-url", JSON, None, 400, "httpStatusPush.url"),
        ("r-type", "text/plain", b"hello", 415, "Content-Type"),
    ],
)
async def test_refusals_name_the_field_and_store_nothing(
    admin: Admin, job_id: str, content_type: str, payload: bytes | None, status: int, field: str
) -> None:
    if payload is None:
        variants: dict[str, dict[str, Any]] = {
            "r-pending": {"status": "PENDING"},
            "r-no-target": {"url": None},
            "r-bad-url": {"url": "ftp://files.example.test/"},
        }
        payload = json_report(job_id, **variants[job_id])
    got, body, _ = await admin.call(
        "POST", "/api/v1/pushes", body=payload, content_type=content_type
    )
    assert got == status, body
    assert body["field"] == field, body
    assert body["message"]
    assert await _stored(admin, job_id) == []


async def test_unknown_account_is_404(admin: Admin) -> None:
    status, body, _ = await admin.call(
        "POST", "/api/v1/pushes?account=nobody", body=xml_report("r-acct"), content_type=XML
    )
    assert (status, body["error"], body["field"]) == (404, "not_found", "account")
    assert await _stored(admin, "r-acct") == []


async def test_over_the_size_limit_is_413(admin: Admin) -> None:
    huge = json.loads(json_report("r-huge"))
    huge["padding"] = "x" * (MAX_REQUEST_BYTES + 1)
    status, body, _ = await admin.call("POST", "/api/v1/pushes", json_body=huge)
    assert (status, body["error"]) == (413, "payload_too_large")
    assert await _stored(admin, "r-huge") == []


async def test_tokens_missing_wrong_and_read_only(admin: Admin) -> None:
    url = admin.url + "/api/v1/pushes"
    payload = xml_report("r-auth")
    async with admin.session.post(url, data=payload, headers={"Content-Type": XML}) as answer:
        assert answer.status == 401
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await answer.json())["field"] == "Authorization"
    status, _, _ = await admin.call(
        "POST", "/api/v1/pushes", token="fxp_not-a-token", body=payload, content_type=XML
    )
    assert status == 401
    status, body, _ = await admin.call(
        "POST", "/api/v1/pushes", token=admin.read_token, body=payload, content_type=XML
    )
    assert (status, body["error"]) == (403, "forbidden")
    assert await _stored(admin, "r-auth") == []
    status, _, _ = await admin.call("GET", "/api/v1/pushes", token=admin.read_token)
    assert status == 200


async def test_batch_is_all_or_nothing_and_names_the_item(admin: Admin) -> None:
    items: list[Any] = [json.loads(json_report(f"b-{i}")) for i in range(3)]
    status, body, _ = await admin.call("POST", "/api/v1/pushes/batch", json_body={"items": items})
    assert status == 202, body
    assert [p["jobId"] for p in body["pushes"]] == ["b-0", "b-1", "b-2"]
    bad = [json.loads(json_report(f"bb-{i}")) for i in range(3)]
    bad[1]["faxRecipients"][0]["number"] = 5
    status, body, _ = await admin.call("POST", "/api/v1/pushes/batch", json_body={"items": bad})
    assert (status, body["field"]) == (400, "items[1].faxRecipients[0].number"), body
    bad[1] = {"report": report("bb-1").model_dump(mode="json"), "target": {"targetUrl": "x"}}
    status, body, _ = await admin.call("POST", "/api/v1/pushes/batch", json_body={"items": bad})
    assert (status, body["field"]) == (400, "items[1].target.targetUrl"), body
    for i in range(3):
        assert await _stored(admin, f"bb-{i}") == []


async def test_batch_over_the_limit(admin: Admin) -> None:
    items = [json.loads(json_report(f"bl-{i}")) for i in range(MAX_BATCH + 1)]
    status, body, _ = await admin.call("POST", "/api/v1/pushes/batch", json_body={"items": items})
    assert (status, body["field"]) == (400, "items")
    assert await _stored(admin, "bl-0") == []
