"""The framework integrations: FastAPI (over real HTTP), Flask and Django (their test
clients), each receiving, authenticating and storing a push and refusing a bad one."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
import requests
from requests.auth import HTTPDigestAuth

from faxpush.receiver import BasicVerifier, DigestUser, DigestVerifier, PushReceiver
from faxpush.receiver.sync import SyncReceiver
from tests.receiver.serving import basic, serving
from tests.samples import sample

XML = "text/xml; charset=UTF-8"


def test_fastapi_router(tmp_path: Path) -> None:
    fastapi = pytest.importorskip("fastapi")
    from faxpush.receiver.fastapi import create_router

    user = DigestUser.from_password("alice", "s3cret")
    receiver = PushReceiver(verifier=DigestVerifier([user]), inbox=f"sqlite:///{tmp_path / 'i.db'}")
    app = fastapi.FastAPI()
    app.include_router(create_router(receiver, "/fax/status"))
    try:
        with serving(app) as server:
            ok = requests.post(
                server.url("/fax/status?x=1"),
                data=sample("report-full.xml"),
                headers={"Content-Type": XML},
                auth=HTTPDigestAuth("alice", "s3cret"),
                timeout=10,
            )
            bad = requests.post(
                server.url("/fax/status"),
                data=b"<faxJobReport/>",
                headers={"Content-Type": XML},
                timeout=10,
            )
            schema = requests.get(server.url("/openapi.json"), timeout=10).json()
            count = server.run(receiver.inbox.count())
    finally:
        import asyncio

        asyncio.run(receiver.stop())
    assert ok.status_code == 200
    assert ok.json()["status"] == "stored"
    assert bad.status_code == 401
    assert len(bad.headers["WWW-Authenticate"].split("Digest ")) == 3  # SHA-256 and MD5
    operation = schema["paths"]["/fax/status"]["post"]
    assert set(operation["requestBody"]["content"]) == {
        "text/xml",
        "application/xml",
        "application/json",
    }
    assert count == 1


def test_flask_blueprint() -> None:
    flask = pytest.importorskip("flask")
    from faxpush.receiver.flask import create_blueprint

    receiver = PushReceiver(
        verifier=BasicVerifier({"alice": "s3cret"}), inbox="memory://", max_body_bytes=8000
    )
    bridge = SyncReceiver(receiver)
    blueprint = create_blueprint(bridge, "/fax/status")
    app = flask.Flask(__name__)
    app.register_blueprint(blueprint)
    client = app.test_client()
    try:
        auth = dict([basic("alice", "s3cret")])
        ok = client.post(
            "/fax/status",
            data=sample("report-full.json"),
            headers={"Content-Type": "application/json", **auth},
        )
        again = client.post(
            "/fax/status",
            data=sample("report-full.json"),
            headers={"Content-Type": "application/json", **auth},
        )
        refused = client.post(
            "/fax/status",
            data=sample("report-full.json"),
            headers={"Content-Type": "application/json"},
        )
        too_big = client.post(
            "/fax/status", data=b"<a>" + b" " * 9000, headers={"Content-Type": XML, **auth}
        )
        wrong_type = client.post(
            "/fax/status", data=b"x", headers={"Content-Type": "text/plain", **auth}
        )
    finally:
        bridge.close()
    assert (ok.status_code, ok.get_json()["status"]) == (200, "stored")
    assert again.get_json()["status"] == "duplicate"
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert (too_big.status_code, wrong_type.status_code) == (413, 415)


@pytest.fixture(scope="module")
def django_settings() -> None:
    pytest.importorskip("django")
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DEBUG=False,
            ALLOWED_HOSTS=["testserver"],
            ROOT_URLCONF=__name__,
            MIDDLEWARE=["django.middleware.csrf.CsrfViewMiddleware"],
            SECRET_KEY="tests-only",
            USE_TZ=True,
        )
        django.setup()


def test_django_view(django_settings: None) -> None:
    from django.test import Client
    from django.urls import path

    from faxpush.receiver.django import create_view

    user = DigestUser.from_password("alice", "s3cret", algorithms=["MD5"])
    bridge = SyncReceiver(
        PushReceiver(verifier=DigestVerifier([user], algorithms=["MD5"]), inbox="memory://")
    )
    view = create_view(bridge)
    module = types.ModuleType("django_push_urls")
    module.__dict__["urlpatterns"] = [path("fax/status", view)]
    sys.modules["django_push_urls"] = module
    from django.test.utils import override_settings

    try:
        with override_settings(ROOT_URLCONF="django_push_urls"):
            client = Client(enforce_csrf_checks=True)
            challenge = client.post("/fax/status", data=sample("report-full.xml"), content_type=XML)
            assert challenge.status_code == 401
            from faxpush.core.digest import (
                choose_challenge,
                format_authorization,
                parse_auth_header,
            )

            chosen = choose_challenge(parse_auth_header([challenge["WWW-Authenticate"]]))
            assert chosen is not None
            header = format_authorization(
                chosen,
                username="alice",
                password="s3cret",
                method="POST",
                uri="/fax/status",
                nc=1,
                cnonce="c1",
            )
            ok = client.post(
                "/fax/status",
                data=sample("report-full.xml"),
                content_type=XML,
                HTTP_AUTHORIZATION=header,
            )
            get = client.get("/fax/status")
    finally:
        bridge.close()
        del sys.modules["django_push_urls"]
    assert ok.status_code == 200, ok.content
    assert json.loads(ok.content)["status"] == "stored"
    assert get.status_code == 405


urlpatterns: list[object] = []


async def test_starlette_mount() -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from faxpush.receiver import create_app
    from tests.receiver.asgi import call

    receiver = PushReceiver(inbox="memory://")
    app = Starlette(routes=[Mount("/fax", app=create_app(receiver))])
    try:
        answer = await call(
            app,
            target="/fax/status",
            body=sample("report-minimal.xml"),
            headers=[("content-type", XML)],
        )
        document = await call(app, "GET", "/fax/openapi.json")
    finally:
        await receiver.stop()
    assert (answer.status, json.loads(answer.body)["status"]) == (200, "stored")
    assert document.status == 200
