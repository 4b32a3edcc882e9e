"""The conformance check of a receiving endpoint (``faxpush check-endpoint``).

It pushes with faxpush's own sender (:func:`faxpush.delivery.send.send_push`), so the
endpoint sees exactly what the dispatcher would send:

1. the golden reports (full and minimal) in XML and in JSON: each must answer 2xx;
2. the first of them again, with the same delivery id: must answer the same 2xx;
3. a body larger than any report (2 MiB): must answer 4xx;
4. a malformed XML body: must answer 4xx;
5. wrong credentials (a wrong password, or an invalid bearer token): must answer 4xx
   (skipped for NONE).

Every answer must also arrive within the timeout. The result is a list of
:class:`CheckResult`; everything passed when :func:`all_passed` says so. An https endpoint is
checked with the same TLS rules as pushes: ``ca_file`` adds trust, ``client_cert`` and
``client_key`` give mutual TLS.
"""

from __future__ import annotations

import secrets
import time
import uuid
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from ipaddress import ip_network
from typing import Final

import aiohttp

from faxpush.core.models import AuthMethod
from faxpush.core.secrets import Secret
from faxpush.core.targets import ClientAuthStyle, PushTarget
from faxpush.core.urls import display_url
from faxpush.delivery.auth import TokenCache
from faxpush.delivery.auth.digest import DigestNonceCache
from faxpush.delivery.guard import IPNetwork
from faxpush.delivery.http import DELIVERY_ID_HEADER, Timeouts, build_session
from faxpush.delivery.send import SendResult, send_push
from faxpush.delivery.tls import TlsContexts

XML_TYPE: Final = "text/xml; charset=UTF-8"
JSON_TYPE: Final = "application/json"
OVERSIZED_BYTES: Final = 2 * 1024 * 1024
EVERYWHERE: Final[tuple[IPNetwork, ...]] = (ip_network("0.0.0.0/0"), ip_network("::/0"))


def golden_report(name: str) -> bytes:
    """A golden report shipped with faxpush (``report-full.xml``, ``report-minimal.json``…).

    They are package data of the receiver toolkit, read from the root package so that the
    checker does not import (and start up) the receiver to find them."""
    return resources.files("faxpush").joinpath("receiver", "golden", name).read_bytes()


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check: what was expected, what came back, and whether that passes."""

    name: str
    expected: str  # "2xx", "4xx", "same as first", "skipped"
    status: int | None
    duration_ms: float
    passed: bool | None  # None: skipped
    detail: str = ""


def all_passed(results: Iterable[CheckResult]) -> bool:
    """True when no check failed (skipped checks do not count)."""
    return all(r.passed is not False for r in results)


class EndpointChecker:
    """Runs the checks against ``url`` authenticated as ``target`` describes."""

    def __init__(
        self,
        url: str,
        *,
        auth_method: AuthMethod = AuthMethod.NONE,
        principal: str | None = None,
        credentials: Secret | None = None,
        token_url: str | None = None,
        client_auth: ClientAuthStyle = ClientAuthStyle.CLIENT_SECRET_BASIC,
        timeout: float = 10.0,
        allowed_networks: Sequence[IPNetwork] = EVERYWHERE,
        ca_file: str | None = None,
        client_cert: str | None = None,
        client_key: Secret | None = None,
    ) -> None:
        self.url = url
        self.target = PushTarget(
            url=url,
            auth_method=auth_method,
            principal=principal,
            credentials=credentials,
            token_url=token_url,
            client_auth=client_auth,
            client_cert=client_cert,
            client_key=client_key,
        )
        self._tls = TlsContexts(ca_file, max_contexts=2, source="--ca-file")
        self._tls.for_target(self.target)  # unusable certificate files: fail before any push
        self.timeouts = Timeouts(connect=min(timeout, 5.0), read=timeout, total=timeout)
        self._allowed = tuple(allowed_networks)
        self._tokens = TokenCache()
        self._nonces = DigestNonceCache()

    async def run(self) -> list[CheckResult]:
        """Run every check, in order."""
        run_id = uuid.uuid4().hex[:12]
        session = build_session(
            limit=4,
            limit_per_host=4,
            timeouts=self.timeouts,
            allowed_networks=self._allowed,
            tls=self._tls,
        )
        results: list[CheckResult] = []
        try:
            first: SendResult | None = None
            first_id = f"check-{run_id}-1"
            goods = [
                ("XML full report", "report-full.xml", XML_TYPE),
                ("XML minimal report", "report-minimal.xml", XML_TYPE),
                ("JSON full report", "report-full.json", JSON_TYPE),
                ("JSON minimal report", "report-minimal.json", JSON_TYPE),
            ]
            for index, (name, sample, content_type) in enumerate(goods, start=1):
                sent = await self._push(
                    session, golden_report(sample), content_type, f"check-{run_id}-{index}"
                )
                first = first or sent
                results.append(_expect_2xx(name, sent))
            assert first is not None
            again = await self._push(session, golden_report("report-full.xml"), XML_TYPE, first_id)
            results.append(_expect_same("duplicate of the XML full report", again, first))
            big = _oversized_body()
            with warnings.catch_warnings():
                # aiohttp warns that a body this large may block the loop: here it is the
                # point of the check, and nothing else runs meanwhile.
                warnings.filterwarnings("ignore", "Sending a large body", ResourceWarning)
                sent = await self._push(session, big, XML_TYPE, f"check-{run_id}-big")
            results.append(_expect_4xx(f"oversized body ({len(big) // 1048576} MiB)", sent))
            broken = golden_report("report-full.xml")[:-40]
            sent = await self._push(session, broken, XML_TYPE, f"check-{run_id}-malformed")
            results.append(_expect_4xx("malformed XML body", sent))
            results.append(await self._wrong_credentials(session, run_id))
        finally:
            await session.close()
        return results

    async def _push(
        self,
        session: aiohttp.ClientSession,
        body: bytes,
        content_type: str,
        delivery_id: str,
        target: PushTarget | None = None,
    ) -> SendResult:
        return await send_push(
            session,
            url=self.url,
            body=body,
            content_type=content_type,
            delivery_id=delivery_id,
            target=target or self.target,
            token_cache=self._tokens,
            timeouts=self.timeouts,
            digest_cache=self._nonces,
        )

    async def _wrong_credentials(self, session: aiohttp.ClientSession, run_id: str) -> CheckResult:
        name = "wrong credentials"
        method = self.target.auth_method
        if method is AuthMethod.NONE:
            return CheckResult(name, "skipped", None, 0.0, None, "the endpoint uses NONE")
        body = golden_report("report-minimal.xml")
        if method is AuthMethod.OAUTH2:
            return await self._bogus_bearer(session, body, run_id)
        wrong = Secret(secrets.token_urlsafe(18))
        fresh = DigestNonceCache()  # a cached nonce must not make this look like a reuse
        sent = await send_push(
            session,
            url=self.url,
            body=body,
            content_type=XML_TYPE,
            delivery_id=f"check-{run_id}-wrong",
            target=replace(self.target, credentials=wrong),
            token_cache=self._tokens,
            timeouts=self.timeouts,
            digest_cache=fresh,
        )
        return _expect_4xx(name, sent, rejected_ok=True)

    async def _bogus_bearer(
        self, session: aiohttp.ClientSession, body: bytes, run_id: str
    ) -> CheckResult:
        name = "invalid bearer token"
        started = time.perf_counter()
        headers = {
            "Content-Type": XML_TYPE,
            DELIVERY_ID_HEADER: f"check-{run_id}-bearer",
            "Authorization": "Bearer " + secrets.token_urlsafe(32),
        }
        try:
            async with session.post(
                self.url,
                data=body,
                headers=headers,
                allow_redirects=False,
                timeout=self.timeouts.client_timeout(),
                ssl=self._tls.for_target(self.target),
            ) as response:
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            elapsed = (time.perf_counter() - started) * 1000
            detail = f"no answer: {type(exc).__name__} ({display_url(self.url)})"
            return CheckResult(name, "4xx", None, elapsed, False, detail)
        elapsed = (time.perf_counter() - started) * 1000
        return CheckResult(name, "4xx", status, elapsed, 400 <= status < 500, "")


def _oversized_body() -> bytes:
    filler = b"<!-- " + b"x" * 1000 + b" -->\n"
    head = golden_report("report-full.xml")
    return head + filler * (OVERSIZED_BYTES // len(filler) + 1)


def _problem(sent: SendResult) -> str:
    return sent.error_message or ""


def _expect_2xx(name: str, sent: SendResult) -> CheckResult:
    status = sent.http_status
    ok = status is not None and 200 <= status < 300 and sent.error_class is None
    return CheckResult(name, "2xx", status, sent.duration_ms, ok, "" if ok else _problem(sent))


def _expect_same(name: str, sent: SendResult, first: SendResult) -> CheckResult:
    status = sent.http_status
    ok = status is not None and status == first.http_status and 200 <= status < 300
    detail = "" if ok else f"first answer was {first.http_status}; {_problem(sent)}".strip("; ")
    return CheckResult(name, "same 2xx", status, sent.duration_ms, ok, detail)


def _expect_4xx(name: str, sent: SendResult, *, rejected_ok: bool = False) -> CheckResult:
    status = sent.http_status
    # For wrong credentials the sender itself reports the 401 as a rejection ("auth").
    clean = sent.error_class is None or (rejected_ok and sent.error_class == "auth")
    ok = status is not None and 400 <= status < 500 and clean
    detail = "" if ok else (_problem(sent) or f"answered {status}")
    return CheckResult(name, "4xx", status, sent.duration_ms, ok, detail)


__all__ = ["CheckResult", "EndpointChecker", "all_passed", "golden_report"]
