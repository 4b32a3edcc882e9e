"""API tokens (scopes, revocation, last use, hash-only storage), Idempotency-Key (replay,
reuse for another request, 20 concurrent identical requests making one push) and the
OpenAPI document (every route, valid 3.1)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import pytest
from schemathesis.specs.openapi import definitions
from starlette.routing import Route

from faxpush.admin import AdminServices, admin_openapi_document, build_admin_app
from faxpush.storage.operator import TokenScope

from .harness import Admin, create_token, json_report, refused_within, xml_report

pytestmark = pytest.mark.asyncio(loop_scope="module")

XML = "text/xml; charset=UTF-8"


async def _count(admin: Admin, job_id: str) -> int:
    status, page, _ = await admin.call("GET", "/api/v1/pushes", params={"jobId": job_id})
    assert status == 200
    return len(page["pushes"])


async def test_tokens_are_stored_only_as_hashes(admin: Admin) -> None:
    await admin.call("GET", "/api/v1/pushes")  # the database has seen it in use too
    database = Path(admin.settings.database_url.removeprefix("sqlite:///"))
    files = [p for p in database.parent.iterdir() if p.name.startswith(database.name)]
    stored = b"".join(p.read_bytes() for p in files)
    for token in (admin.write_token, admin.read_token):
        assert token.encode() not in stored
        assert token.removeprefix("fxp_").encode() not in stored
    digest = hashlib.sha256(admin.write_token.encode()).hexdigest()
    assert digest.encode() in stored


async def test_revoked_token_is_refused_and_last_use_recorded(admin: Admin) -> None:
    token = await create_token(admin.settings, "short-lived", TokenScope.WRITE)
    status, _, _ = await admin.call("GET", "/api/v1/receivers", token=token)
    assert status == 200
    [listed] = [t for t in await admin.store.list_api_tokens() if t.name == "short-lived"]
    assert listed.last_used_at is not None
    assert await admin.store.revoke_api_token("short-lived", now=listed.last_used_at)
    assert await refused_within(admin.session, admin.url + "/api/v1/receivers", token) == 401


async def test_repeat_returns_the_first_answer(admin: Admin) -> None:
    key = {"Idempotency-Key": "order-1"}
    first = await admin.call(
        "POST", "/api/v1/pushes", body=xml_report("idem-1"), content_type=XML, headers=key
    )
    again = await admin.call(
        "POST", "/api/v1/pushes", body=xml_report("idem-1"), content_type=XML, headers=key
    )
    assert first[0] == again[0] == 202
    assert first[1] == again[1]
    assert again[2]["Idempotent-Replayed"] == "true"
    assert again[2]["Location"] == first[2]["Location"]
    assert await _count(admin, "idem-1") == 1
    other = await admin.call(
        "POST", "/api/v1/pushes", body=xml_report("idem-other"), content_type=XML, headers=key
    )
    assert (other[0], other[1]["error"]) == (422, "idempotency_key_reused")
    assert await _count(admin, "idem-other") == 0
    status, body, _ = await admin.call(
        "POST", "/api/v1/pushes", body=b"x", content_type=XML, headers={"Idempotency-Key": " "}
    )
    assert (status, body["field"]) == (400, "Idempotency-Key")


async def test_twenty_concurrent_identical_requests_make_one_push(admin: Admin) -> None:
    key = {"Idempotency-Key": "burst-7"}
    body = json_report("idem-burst")
    answers = await asyncio.gather(
        *(
            admin.call(
                "POST", "/api/v1/pushes", body=body, content_type="application/json", headers=key
            )
            for _ in range(20)
        )
    )
    assert {status for status, _, _ in answers} == {202}
    assert len({json.dumps(answer, sort_keys=True) for _, answer, _ in answers}) == 1
    assert await _count(admin, "idem-burst") == 1


async def test_batch_repeat_returns_the_first_answer(admin: Admin) -> None:
    items = {"items": [json.loads(json_report(f"idem-b{i}")) for i in range(2)]}
    key = {"Idempotency-Key": "batch-1"}
    first = await admin.call("POST", "/api/v1/pushes/batch", json_body=items, headers=key)
    again = await admin.call("POST", "/api/v1/pushes/batch", json_body=items, headers=key)
    assert first[0] == again[0] == 202
    assert first[1] == again[1]
    assert await _count(admin, "idem-b0") == await _count(admin, "idem-b1") == 1


async def test_openapi_lists_every_route_and_is_valid_31(admin: Admin) -> None:
    status, served, _ = await admin.call("GET", "/openapi.json", token=admin.read_token)
    assert status == 200
    document = admin_openapi_document()
    assert served == json.loads(json.dumps(document))
    assert document["openapi"] == "3.1.0"
    errors = list(definitions.OPENAPI_31_VALIDATOR.iter_errors(document))
    assert errors == []
    app = build_admin_app(AdminServices(store=admin.store, settings=admin.settings))
    routes = [r for r in app.routes if isinstance(r, Route)]
    assert routes
    for route in routes:
        for method in route.methods or ():
            if method != "HEAD":
                assert method.lower() in document["paths"][route.path], (method, route.path)
