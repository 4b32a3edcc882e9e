"""Hostile and broken input over real HTTP: only 4xx answers, quickly, and no crash.

The malformed corpus is generated from a fixed seed: bodies are mutations of the golden
samples that the core parser refuses (the core is the oracle for "malformed"), headers are
random and broken in the ways peers get them wrong.
"""

from __future__ import annotations

import base64
import random
import socket
import time
from collections.abc import Iterator

import pytest

from faxpush.core.errors import ReportFormatError
from faxpush.core.formats import ReportFormat, parse_report
from faxpush.receiver import BasicVerifier, DigestUser, DigestVerifier, PushReceiver, create_app
from faxpush.receiver.verify import Verifier
from tests.receiver.serving import Served, serving
from tests.samples import sample

SEED = 5_0_5
CONTENT_TYPES = [
    "text/xml",
    "application/xml",
    "application/json",
    "text/xml; charset=UTF-8",
    "APPLICATION/JSON",
    "text/plain",
    "",
    "application/json; charset=latin-1",
    "text/xml;;;",
    "multipart/form-data; boundary=--x",
    "\u00e9/\u00e9",
    "*/*",
]


def exchange(server: Served, request: bytes, timeout: float = 10.0) -> int:
    """Send one raw HTTP/1.1 request on its own connection; the final answer's status code
    (interim 1xx answers, such as 100 Continue, are skipped)."""
    with socket.create_connection((server.host, server.port), timeout=timeout) as sock:
        sock.sendall(request)
        answer = b""
        while True:
            head, sep, rest = answer.partition(b"\r\n\r\n")
            parts = head.split(b" ", 2)
            if sep and len(parts) >= 2 and parts[1].isdigit():
                if not parts[1].startswith(b"1"):
                    return int(parts[1])
                answer = rest
                continue
            chunk = sock.recv(4096)
            if not chunk:
                raise AssertionError(f"no final HTTP answer: {answer[:80]!r}")
            answer += chunk


def build(headers: list[tuple[bytes, bytes]], body: bytes, target: bytes = b"/push") -> bytes:
    lines = [
        b"POST " + target + b" HTTP/1.1",
        b"Host: 127.0.0.1",
        b"Connection: close",
        b"Content-Length: " + str(len(body)).encode(),
    ]
    lines += [name + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def refused_by_core(body: bytes) -> bool:
    for fmt in (ReportFormat.XML, ReportFormat.JSON):
        try:
            parse_report(body, fmt)
        except ReportFormatError:
            continue
        return False
    return True


def malformed_bodies(rng: random.Random, count: int) -> Iterator[bytes]:
    seeds = [
        sample(n)
        for n in (
            "report-full.xml",
            "report-full.json",
            "report-minimal.xml",
            "report-minimal.json",
        )
    ]
    made = 0
    while made < count:
        body = bytearray(rng.choice(seeds))
        kind = rng.randrange(7)
        if kind == 0:
            del body[rng.randrange(len(body)) :]
        elif kind == 1:
            for _ in range(rng.randint(1, 20)):
                body[rng.randrange(len(body))] = rng.randrange(256)
        elif kind == 2:
            at = rng.randrange(len(body))
            body[at:at] = rng.choice(
                [
                    b"<",
                    b"&",
                    b"]]>",
                    b"\x00",
                    b"{",
                    b'"',
                    b"\xff\xfe",
                    b"<!DOCTYPE x>",
                    b"&ent;",
                    b"\\u0000",
                    b"null",
                    b"\x85",
                ]
            )
        elif kind == 3:
            body = bytearray(rng.randbytes(rng.randint(0, 300)))
        elif kind == 4:
            body = bytearray(
                rng.choice(
                    [
                        b"[]",
                        b"{}",
                        b"null",
                        b"<a/>",
                        b"1",
                        b'"x"',
                        b"",
                        b"<faxJobReport/>",
                        b'{"jobId": 1}',
                        b"\xef\xbb\xbf",
                    ]
                )
            )
        elif kind == 5:
            text = body.decode("utf-8", "replace")
            body = bytearray(text.replace("jobId", rng.choice(["jobid", "", "job Id"]), 1).encode())
        else:
            body = bytearray(
                body.replace(b"faxRecipient", b"faxRecipient" + bytes([rng.randrange(65, 91)]))
            )
        if refused_by_core(bytes(body)):
            made += 1
            yield bytes(body)


def random_headers(rng: random.Random) -> list[tuple[bytes, bytes]]:
    headers = [(b"Content-Type", rng.choice(CONTENT_TYPES).encode("utf-8"))]
    for _ in range(rng.randint(0, 4)):
        choice = rng.randrange(6)
        if choice == 0:
            value = rng.choice([b"", b"x" * 300, b"a b", b"\xc3\xa9", b"ok-id", b"\t"])
            headers.append((b"Faxpush-Delivery-Id", value))
        elif choice == 1:
            headers.append(
                (
                    b"Authorization",
                    rng.choice(
                        [
                            b"Basic",
                            b"Basic " + base64.b64encode(rng.randbytes(12)),
                            b"Digest",
                            b'Digest username="x", nonce="'
                            + rng.randbytes(8).hex().encode()
                            + b'"',
                            b"Bearer " + rng.randbytes(6).hex().encode(),
                            b"\xff\xfe",
                            b"Negotiate abc",
                        ]
                    ),
                )
            )
        elif choice == 2:
            headers.append(
                (b"X-" + rng.randbytes(4).hex().encode(), rng.randbytes(8).hex().encode())
            )
        elif choice == 3:
            headers.append((b"Content-Type", rng.choice(CONTENT_TYPES).encode("utf-8")))
        elif choice == 4:
            headers.append((b"Transfer-Encoding", b"identity"))
        else:
            headers.append((b"Expect", rng.choice([b"100-continue", b"nonsense"])))
    return headers


@pytest.fixture(scope="module", params=["none", "basic", "digest"])
def server(request: pytest.FixtureRequest) -> Iterator[Served]:
    verifier: Verifier | None = None
    if request.param == "basic":
        verifier = BasicVerifier({"alice": "s3cret"})
    elif request.param == "digest":
        verifier = DigestVerifier([DigestUser.from_password("alice", "s3cret")])
    with serving(create_app(PushReceiver(verifier=verifier, inbox="memory://"))) as served:
        yield served


@pytest.mark.slow
def test_generated_malformed_requests_only_get_4xx(server: Served) -> None:
    rng = random.Random(SEED)
    statuses: dict[int, int] = {}
    # 1,000 in all: 334 per auth method.
    for body in malformed_bodies(rng, 334):
        status = exchange(server, build(random_headers(rng), body))
        statuses[status] = statuses.get(status, 0) + 1
    assert all(400 <= status < 500 for status in statuses), statuses
    # The server is still there and still accepts a good push.
    ok = build(
        [(b"Content-Type", b"text/xml"), (b"Authorization", b"Basic YWxpY2U6czNjcmV0")],
        sample("report-minimal.xml"),
    )
    assert exchange(server, ok) in (200, 401)  # 401 for digest, which needs a challenge


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">]>
<faxJobReport><jobId>&lol9;</jobId></faxJobReport>"""
QUADRATIC = (
    b'<?xml version="1.0"?><!DOCTYPE q [<!ENTITY a "' + b"a" * 50_000 + b'">]>'
    b"<faxJobReport><jobId>" + b"&a;" * 10_000 + b"</jobId></faxJobReport>"
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<faxJobReport><jobId>&x;</jobId></faxJobReport>"
)
EXTERNAL_DTD = (
    b'<?xml version="1.0"?><!DOCTYPE faxJobReport SYSTEM "http://127.0.0.1:9/x.dtd"><faxJobReport/>'
)
PARAMETER_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "file:///etc/hosts"> %p;]>'
    b"<faxJobReport/>"
)
UTF16_DOCTYPE = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY b "c">]><a/>'.encode(
    "utf-16"
)
XINCLUDE = (
    b'<faxJobReport xmlns:xi="http://www.w3.org/2001/XInclude">'
    b'<jobId><xi:include href="file:///etc/passwd" parse="text"/></jobId></faxJobReport>'
)
DEEP_JSON = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
DEEP_XML = b"<a>" * 100_000 + b"</a>" * 100_000


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (BILLION_LAUGHS, "text/xml"),
        (QUADRATIC, "text/xml"),
        (EXTERNAL_ENTITY, "application/xml"),
        (EXTERNAL_DTD, "text/xml"),
        (PARAMETER_ENTITY, "text/xml"),
        (UTF16_DOCTYPE, "text/xml"),
        (XINCLUDE, "text/xml"),
        (DEEP_JSON, "application/json"),
        (DEEP_OBJECT, "application/json"),
        (DEEP_XML, "text/xml"),
    ],
    ids=[
        "billion-laughs",
        "quadratic",
        "external-entity",
        "external-dtd",
        "parameter-entity",
        "utf16-doctype",
        "xinclude",
        "deep-json-array",
        "deep-json-object",
        "deep-xml",
    ],
)
def test_attacks_are_400_within_100_ms(body: bytes, content_type: str) -> None:
    with serving(create_app(PushReceiver(inbox="memory://"))) as server:
        request = build([(b"Content-Type", content_type.encode())], body)
        exchange(server, build([(b"Content-Type", b"text/xml")], b"<warm-up/>"))
        started = time.perf_counter()
        status = exchange(server, request)
        elapsed = time.perf_counter() - started
    assert status == 400
    assert elapsed < 0.1, f"{elapsed * 1000:.1f} ms"
