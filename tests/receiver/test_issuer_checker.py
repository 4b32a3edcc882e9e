"""The development OAuth2 issuer's endpoints, and the endpoint checker's verdicts."""

from __future__ import annotations

import base64
from ipaddress import ip_network

import requests

from faxpush.core.models import AuthMethod
from faxpush.core.secrets import Secret
from faxpush.delivery.checker import CheckResult, EndpointChecker, all_passed
from faxpush.receiver.app import Receive, Scope, Send
from faxpush.receiver.issuer import DevIssuer
from tests.receiver.serving import serving


def test_token_endpoint() -> None:
    issuer = DevIssuer({"client-1": "s3cret"}, issuer="http://127.0.0.1/oauth2")
    with serving(issuer) as server:
        url = server.url("/oauth2/token")
        form = {"grant_type": "client_credentials"}
        ok = requests.post(url, data=form, auth=("client-1", "s3cret"), timeout=10)
        posted = requests.post(
            url, data={**form, "client_id": "client-1", "client_secret": "s3cret"}, timeout=10
        )
        wrong = requests.post(url, data=form, auth=("client-1", "nope"), timeout=10)
        unknown = requests.post(url, data=form, auth=("mallory", "s3cret"), timeout=10)
        grant = requests.post(
            url, data={"grant_type": "password"}, auth=("client-1", "s3cret"), timeout=10
        )
        repeated = requests.post(
            url,
            data="grant_type=client_credentials&grant_type=x",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            auth=("client-1", "s3cret"),
            timeout=10,
        )
        garbage = requests.post(url, headers={"Authorization": "Basic !!!"}, data=form, timeout=10)
        jwks = requests.get(server.url("/oauth2/jwks.json"), timeout=10).json()
        missing = requests.get(server.url("/oauth2/nothing"), timeout=10)
        token = ok.json()["access_token"]
        active = requests.post(
            server.url("/oauth2/introspect"),
            data={"token": token},
            auth=("client-1", "s3cret"),
            timeout=10,
        ).json()
        inactive = requests.post(
            server.url("/oauth2/introspect"),
            data={"token": "x"},
            auth=("client-1", "s3cret"),
            timeout=10,
        ).json()
    assert ok.status_code == 200
    assert ok.headers["Cache-Control"] == "no-store"
    assert ok.json()["token_type"] == "Bearer"
    assert ok.json()["expires_in"] == 3600
    assert posted.status_code == 200
    assert (wrong.status_code, wrong.json()) == (401, {"error": "invalid_client"})
    assert unknown.status_code == 401
    assert "WWW-Authenticate" in unknown.headers
    assert (grant.status_code, grant.json()) == (400, {"error": "unsupported_grant_type"})
    assert repeated.status_code == 400
    assert garbage.status_code == 401
    assert jwks["keys"][0]["kid"] == issuer.key_id
    assert "d" not in jwks["keys"][0]
    assert missing.status_code == 404
    assert active["active"] is True
    assert active["client_id"] == "client-1"
    assert inactive == {"active": False}


def test_client_ids_and_secrets_are_form_decoded() -> None:
    issuer = DevIssuer({"id with:colon": "s&cret+"}, issuer="http://127.0.0.1/oauth2")
    pair = "id+with%3Acolon:s%26cret%2B"
    with serving(issuer) as server:
        answer = requests.post(
            server.url("/oauth2/token"),
            data={"grant_type": "client_credentials"},
            headers={"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()},
            timeout=10,
        )
    assert answer.status_code == 200


class Endpoint:
    """Answers every request with ``status`` (a receiver that checks nothing, or fails)."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.requests = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                while (await receive())["type"] != "lifespan.shutdown":
                    await send({"type": "lifespan.startup.complete"})
                await send({"type": "lifespan.shutdown.complete"})
            return
        self.requests += 1
        more = True
        while more:
            more = (await receive()).get("more_body", False)
        await send({"type": "http.response.start", "status": self.status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def verdicts(results: list[CheckResult]) -> dict[str, bool | None]:
    return {r.name: r.passed for r in results}


async def test_checker_fails_an_endpoint_that_accepts_everything() -> None:
    endpoint = Endpoint(200)
    with serving(endpoint) as server:
        checker = EndpointChecker(
            server.url("/"),
            auth_method=AuthMethod.HTTP_BASIC,
            principal="u",
            credentials=Secret("p"),
            timeout=5,
            allowed_networks=(ip_network("127.0.0.0/8"),),
        )
        results = await checker.run()
    assert not all_passed(results)
    assert verdicts(results) == {
        "XML full report": True,
        "XML minimal report": True,
        "JSON full report": True,
        "JSON minimal report": True,
        "duplicate of the XML full report": True,
        "oversized body (2 MiB)": False,
        "malformed XML body": False,
        "wrong credentials": False,
    }


async def test_checker_fails_an_endpoint_that_fails() -> None:
    with serving(Endpoint(500)) as server:
        checker = EndpointChecker(server.url("/"), timeout=5)
        results = await checker.run()
    assert [r.passed for r in results[:5]] == [False] * 5
    assert results[0].detail == "receiver answered HTTP 500"
    assert results[-1].passed is None  # NONE: no credentials to get wrong
    assert not all_passed(results)


async def test_checker_reports_an_unreachable_endpoint() -> None:
    with serving(Endpoint(200)) as server:
        url = server.url("/")
    results = await EndpointChecker(url, timeout=2).run()
    assert all(r.passed is False for r in results if r.passed is not None)
    assert "cannot connect" in results[0].detail
