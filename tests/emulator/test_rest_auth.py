"""REST v1 authentication, not-found answers, request checks and the OpenAPI document."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from faxpush.emulator.accounts import save_login

from .harness import MINIMAL_JOB, Emulator, add_customer, basic_auth

pytestmark = pytest.mark.asyncio(loop_scope="module")

OTHER_CUSTOMER = "12345XY"
OTHER_LOGIN, OTHER_PASSWORD = "bob", "b0b-pw"
OPERATIONS = [
    ("POST", ""),
    ("GET", "/reports"),
    ("POST", "/reports"),
    ("DELETE", "/reports"),
    ("GET", "/reports/FJAAAAAAAAAAAAAAAAAAAA"),
    ("DELETE", "/reports/FJAAAAAAAAAAAAAAAAAAAA"),
]


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
@pytest.mark.parametrize(
    "auth",
    [
        "",
        basic_auth("demo", "wrong password"),
        basic_auth("nobody", "whatever"),
        "Basic !!!not-base64!!!",
        "Bearer abc",
    ],
    ids=["none", "wrong-password", "unknown-login", "garbage", "bearer"],
)
async def test_every_operation_needs_valid_credentials(
    shared_emulator: Emulator, method: str, path: str, auth: str
) -> None:
    emulator = shared_emulator
    status, body = await emulator.call(method, path, body=MINIMAL_JOB, auth=auth)

    assert status == 401
    assert body["error"] == "AUTHENTICATION_FAILURE"


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
async def test_a_login_cannot_use_another_customer_number(
    shared_emulator: Emulator, method: str, path: str
) -> None:
    emulator = shared_emulator
    other = await add_customer(emulator, OTHER_CUSTOMER, OTHER_LOGIN, OTHER_PASSWORD)
    status, _ = await emulator.call(method, path, body=MINIMAL_JOB, auth=other)
    assert status == 401
    assert (
        await emulator.call(method, path, body=MINIMAL_JOB, auth=other, customer=OTHER_CUSTOMER)
    )[0] != 401


async def test_the_unauthorised_answer_carries_a_basic_challenge(shared_emulator: Emulator) -> None:
    emulator = shared_emulator
    async with emulator.session.get(emulator.api("/reports")) as response:
        assert response.status == 401
        assert response.headers["WWW-Authenticate"].startswith('Basic realm="Fax4A"')
        assert response.content_type == "application/json"


async def test_url_safe_base64_credentials_are_accepted(shared_emulator: Emulator) -> None:
    emulator = shared_emulator
    password = "??>>??"  # the standard base64 of "sdk:??>>??" contains "/" and "+"
    await save_login(
        emulator.services.jobs, "sdk", emulator.customer, now=datetime.now(UTC), password=password
    )
    standard = basic_auth("sdk", password)
    url_safe = standard.replace("+", "-").replace("/", "_")
    assert url_safe != standard

    assert (await emulator.call("GET", "/reports", auth=url_safe))[0] == 200
    assert (await emulator.call("GET", "/reports", auth=standard))[0] == 200


async def test_unknown_job_is_404_for_get_and_delete(shared_emulator: Emulator) -> None:
    emulator = shared_emulator
    status, body = await emulator.call("GET", "/reports/FJNOSUCHJOB000000000000")
    assert status == 404
    assert body["jobId"] == "FJNOSUCHJOB000000000000"

    status, body = await emulator.call("DELETE", "/reports/FJNOSUCHJOB000000000000")
    assert (status, body) == (
        404,
        {"jobId": "FJNOSUCHJOB000000000000", "deleted": False, "reason": "NOT_FOUND"},
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "PURGE", "jobIds": []}, "action"),
        ({"jobIds": []}, "action"),
        ({"action": "GET"}, "jobIds"),
        ({"action": "GET", "jobIds": "FJ1"}, "jobIds"),
        ({"action": "GET", "jobIds": [1, 2]}, "jobIds"),
        ({"action": "GET", "jobIds": [f"FJ{n:020d}" for n in range(1001)]}, "jobIds"),
        (b"{not json", None),
        (b"[]", None),
    ],
    ids=[
        "bad-action",
        "no-action",
        "no-ids",
        "ids-not-list",
        "ids-not-strings",
        "1001-ids",
        "json",
        "array",
    ],
)
async def test_bad_bulk_requests_are_400(
    shared_emulator: Emulator, body: dict[str, object] | bytes, field: str | None
) -> None:
    emulator = shared_emulator
    status, answer = await emulator.call("POST", "/reports", body=body)

    assert status == 400
    assert answer["field"] == field


async def test_a_thousand_ids_are_allowed_in_bulk(shared_emulator: Emulator) -> None:
    emulator = shared_emulator
    ids = [f"FJ{n:020d}" for n in range(1000)]
    status, body = await emulator.call("POST", "/reports", body={"action": "GET", "jobIds": ids})
    assert (status, body) == (200, {"reports": []})


async def test_openapi_lists_the_vendor_operation_ids(shared_emulator: Emulator) -> None:
    emulator = shared_emulator
    async with emulator.session.get(f"{emulator.info.url}/openapi.json") as response:
        document = await response.json()
    operation_ids = {
        operation["operationId"]
        for path in document["paths"].values()
        for operation in path.values()
    }
    assert operation_ids == {
        "sendJobRequest",
        "getStatusReport",
        "getAllStatusReports",
        "bulkStatusReports",
        "deleteStatusReport",
        "deleteOldestStatusReports",
    }
    schemas = document["components"]["schemas"]
    assert "recipients" in schemas["FaxJobRequest"]["required"]
    async with emulator.session.get(f"{emulator.info.url}/docs") as response:
        page = await response.text()
        assert response.status == 200
        assert response.content_type == "text/html"
    for operation_id in operation_ids:
        assert operation_id in page
    assert "<script" not in page
