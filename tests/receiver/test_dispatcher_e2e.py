"""The faxpush dispatcher's sender against ``faxpush listen``: all four auth methods, both
formats, over real HTTP on 127.0.0.1."""

from __future__ import annotations

from ipaddress import ip_network
from pathlib import Path

import pytest

from faxpush.core.formats import ReportFormat, render_report
from faxpush.core.models import AuthMethod
from faxpush.core.secrets import Secret
from faxpush.core.targets import PushTarget
from faxpush.delivery.auth import DigestNonceCache, TokenCache
from faxpush.delivery.http import Timeouts, build_session
from faxpush.delivery.send import send_push
from faxpush.receiver.inbox import SqliteInbox
from tests.receiver.cli import listen
from tests.samples import FULL_REPORT_MODEL, MINIMAL_REPORT_MODEL

LOOPBACK = (ip_network("127.0.0.0/8"),)


@pytest.mark.slow
@pytest.mark.parametrize("method", list(AuthMethod))
async def test_dispatcher_pushes_to_listen(tmp_path: Path, method: AuthMethod) -> None:
    credentials = (
        []
        if method is AuthMethod.NONE
        else ["--auth", method.value, "--principal", "client-1", "--credentials", "pw-1"]
    )
    issuer = ["--oauth2-issuer"] if method is AuthMethod.OAUTH2 else []
    inbox_path = tmp_path / "inbox.db"
    with listen(
        tmp_path, "--inbox", f"sqlite:///{inbox_path}", "--json", *credentials, *issuer
    ) as listener:
        target = PushTarget(
            url=listener.url("/fax/status"),
            auth_method=method,
            principal=None if method is AuthMethod.NONE else "client-1",
            credentials=None if method is AuthMethod.NONE else Secret("pw-1"),
            token_url=listener.token_url,
        )
        session = build_session(allowed_networks=LOOPBACK)
        tokens, nonces = TokenCache(), DigestNonceCache()
        results = []
        try:
            for number, (report, fmt) in enumerate(
                [
                    (FULL_REPORT_MODEL, ReportFormat.XML),
                    (MINIMAL_REPORT_MODEL, ReportFormat.JSON),
                    (FULL_REPORT_MODEL, ReportFormat.XML),
                ]  # the last one is a redelivery
            ):
                body, content_type = render_report(report, fmt)
                results.append(
                    await send_push(
                        session,
                        url=target.url,
                        body=body,
                        content_type=content_type,
                        delivery_id="d-1" if number != 1 else "d-2",
                        target=target,
                        token_cache=tokens,
                        timeouts=Timeouts(connect=2, read=5, total=10),
                        digest_cache=nonces,
                    )
                )
        finally:
            await session.close()
        receipts = listener.wait_for(len([r for r in results if r.http_status == 200]))
    assert [(r.http_status, r.error_class) for r in results] == [(200, None)] * 3, results
    accepted = [r for r in receipts if r["status"] == 200]
    assert [r["outcome"] for r in accepted] == ["stored", "stored", "duplicate"]
    expected_auth = "NONE" if method is AuthMethod.NONE else f"{method.value} as client-1"
    assert {r["auth"] for r in accepted} == {expected_auth}
    assert [r["jobId"] for r in accepted] == [
        FULL_REPORT_MODEL.jobId,
        MINIMAL_REPORT_MODEL.jobId,
        FULL_REPORT_MODEL.jobId,
    ]
    inbox = await SqliteInbox.open(inbox_path)
    try:
        entry = await inbox.get("delivery:d-1")
        assert entry is not None
        assert entry.report == FULL_REPORT_MODEL
        assert entry.times_received == 2
        second = await inbox.get("delivery:d-2")
        assert second is not None
        assert second.report == MINIMAL_REPORT_MODEL
    finally:
        await inbox.close()
