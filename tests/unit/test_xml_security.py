"""Hostile XML: entity expansion, external entities and DTDs must be refused without I/O.

Two probes watch for I/O: a named pipe that records whether anything opened it for reading
(a regular file's atime is not a reliable witness), and a TCP listener on 127.0.0.1 that counts
connections. Control tests show that a permissive parser does trip the pipe probe, so a
refusal that still read the file would fail these tests.
"""

from __future__ import annotations

import errno
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from faxpush.core.errors import UnsafeXmlError
from faxpush.core.xml_codec import NAMESPACE, parse_xml

SECRET = "TOP-SECRET-CONTENT-7f3a"
QUICK = 1.0  # seconds: a refusal must not do any real work

REPORT_BODY = (
    f'<faxJobReport xmlns="{NAMESPACE}"><jobId>{{job}}</jobId>'
    "<faxRecipient><number>+1</number><reason>{reason}</reason></faxRecipient></faxJobReport>"
)


def _report(job: str = "FJ1", reason: str = "r") -> str:
    return REPORT_BODY.format(job=job, reason=reason)


class PipeProbe:
    """A FIFO whose readers are counted: opening it for reading blocks until a writer comes,
    and the watcher only manages to open it for writing while a reader has it open."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.reads = 0
        os.mkfifo(path)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        deadline = time.monotonic() + 30
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # ENXIO: no reader has it open
                    raise
                time.sleep(0.002)
                continue
            self.reads += 1
            try:
                os.write(fd, SECRET.encode())
            finally:
                os.close(fd)
            time.sleep(0.05)  # let the reader see end of file before offering again

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class ConnectionCounter:
    """A TCP listener on 127.0.0.1 that counts accepted connections and serves a tiny DTD."""

    def __init__(self) -> None:
        self.connections = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.05)
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def _serve(self) -> None:
        deadline = time.monotonic() + 30
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            self.connections += 1
            with conn:
                conn.settimeout(1)
                body = f'<!ENTITY leak "{SECRET}">'.encode()
                conn.sendall(
                    b"HTTP/1.0 200 OK\r\nContent-Type: application/xml-dtd\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._server.close()


@pytest.fixture
def pipe(tmp_path: Path) -> Iterator[PipeProbe]:
    probe = PipeProbe(tmp_path / "secret.pipe")
    yield probe
    probe.close()


@pytest.fixture
def counter() -> Iterator[ConnectionCounter]:
    server = ConnectionCounter()
    yield server
    server.close()


def _assert_refused(body: bytes | str) -> UnsafeXmlError:
    started = time.perf_counter()
    with pytest.raises(UnsafeXmlError) as caught:
        parse_xml(body)
    assert time.perf_counter() - started < QUICK
    assert SECRET not in str(caught.value)
    assert "DOCTYPE" in caught.value.problem
    return caught.value


# ------------------------------------------------------------------------------------------
# The probes themselves work (otherwise "0 reads" would prove nothing)
# ------------------------------------------------------------------------------------------


def test_pipe_probe_sees_a_permissive_parser_read_the_file(pipe: PipeProbe) -> None:
    body = f'<!DOCTYPE r [<!ENTITY x SYSTEM "{pipe.path.as_uri()}">]><r>&x;</r>'.encode()
    permissive = etree.XMLParser(resolve_entities=True, load_dtd=True, no_network=True)
    root = etree.fromstring(body, permissive)
    assert SECRET in "".join(str(text) for text in root.itertext())
    assert pipe.reads >= 1


def test_connection_counter_counts(counter: ConnectionCounter) -> None:
    with socket.create_connection(("127.0.0.1", counter.port), timeout=2) as conn:
        conn.settimeout(2)
        assert SECRET.encode() in conn.recv(4096)
    deadline = time.monotonic() + 2
    while counter.connections == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert counter.connections == 1


# ------------------------------------------------------------------------------------------
# Refusals
# ------------------------------------------------------------------------------------------

BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE faxJobReport [\n<!ENTITY lol "lol">\n'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
        for i in range(1, 10)
    )
    + "]>\n"
    + _report(job="&lol9;")
)


def test_billion_laughs_is_refused_quickly() -> None:
    assert "&lol8;&lol8;" in BILLION_LAUGHS
    _assert_refused(BILLION_LAUGHS.encode())
    _assert_refused(BILLION_LAUGHS)


def test_quadratic_blowup_is_refused_quickly() -> None:
    body = f'<!DOCTYPE faxJobReport [<!ENTITY a "{"x" * 50_000}">]>' + _report(reason="&a;" * 10)
    _assert_refused(body.encode())


def test_external_entity_to_a_local_file_is_refused_unread(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(SECRET)
    body = (
        f'<!DOCTYPE faxJobReport [<!ENTITY x SYSTEM "{secret_file.as_uri()}">]>'
        + _report(job="&x;")
    ).encode()
    _assert_refused(body)


def test_external_entity_does_not_open_the_file(pipe: PipeProbe) -> None:
    for body in (
        f'<!DOCTYPE faxJobReport [<!ENTITY x SYSTEM "{pipe.path.as_uri()}">]>' + _report(job="&x;"),
        f'<!DOCTYPE faxJobReport [<!ENTITY x SYSTEM "{pipe.path}">]>' + _report(reason="&x;"),
    ):
        _assert_refused(body.encode())
    time.sleep(0.05)  # a read would have been seen by now: the reader blocks until served
    assert pipe.reads == 0


def test_external_dtd_makes_no_connection(counter: ConnectionCounter) -> None:
    url = counter.url("evil.dtd")
    for body in (
        f'<!DOCTYPE faxJobReport SYSTEM "{url}">' + _report(job="&leak;"),
        f'<!DOCTYPE faxJobReport PUBLIC "-//X//EN" "{url}">' + _report(),
        f'<?xml version="1.0" standalone="no"?>\n<!DOCTYPE faxJobReport SYSTEM "{url}">'
        + _report(),
    ):
        _assert_refused(body.encode())
    time.sleep(0.1)
    assert counter.connections == 0


def test_parameter_entities_are_refused(counter: ConnectionCounter, pipe: PipeProbe) -> None:
    bodies = [
        # internal parameter entity defining a general one
        "<!DOCTYPE faxJobReport [<!ENTITY % p \"<!ENTITY g 'boom'>\"> %p;]>" + _report(job="&g;"),
        # external parameter entities over the network and from a file
        f'<!DOCTYPE faxJobReport [<!ENTITY % remote SYSTEM "{counter.url("p.dtd")}"> %remote;]>'
        + _report(job="&leak;"),
        f'<!DOCTYPE faxJobReport [<!ENTITY % file SYSTEM "{pipe.path.as_uri()}">'
        f"<!ENTITY % wrap \"<!ENTITY send SYSTEM '{counter.url('x?%file;')}'>\"> %wrap;]>"
        + _report(job="&send;"),
    ]
    for body in bodies:
        _assert_refused(body.encode())
    time.sleep(0.1)
    assert counter.connections == 0
    assert pipe.reads == 0


def test_any_doctype_is_refused_even_a_harmless_one() -> None:
    _assert_refused(("<!DOCTYPE faxJobReport>" + _report()).encode())
    _assert_refused("<!DOCTYPE faxJobReport [<!ELEMENT faxJobReport ANY>]>" + _report())


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-7"])
def test_dtds_in_other_encodings_are_refused_without_io(
    encoding: str, counter: ConnectionCounter, pipe: PipeProbe
) -> None:
    # The byte scan before parsing knows the UTF-8 and UTF-16 spellings of "<!DOCTYPE" only;
    # for UTF-32 and UTF-7 the check of the parsed document and the parser settings must hold.
    label = encoding.upper().replace("-LE", "LE").replace("-BE", "BE")
    declaration = f'<?xml version="1.0" encoding="{label}"?>'
    for dtd, job in (
        (f'<!DOCTYPE faxJobReport [<!ENTITY x SYSTEM "{pipe.path.as_uri()}">]>', "&x;"),
        (f'<!DOCTYPE faxJobReport SYSTEM "{counter.url("enc.dtd")}">', "FJ1"),
    ):
        if encoding == "utf-7":
            # Spell every "<" as the UTF-7 shift sequence so no ASCII "<!DOCTYPE" remains.
            body = declaration.encode() + (dtd + _report(job=job)).encode("utf-7").replace(
                b"<", b"+ADw-"
            )
            assert b"<!DOCTYPE" not in body
        else:
            body = (declaration + dtd + _report(job=job)).encode(encoding)
        _assert_refused(body)
    time.sleep(0.1)
    assert counter.connections == 0
    assert pipe.reads == 0


def test_xinclude_is_not_processed(pipe: PipeProbe) -> None:
    body = _report(
        reason=f'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{pipe.path.as_uri()}"'
        ' parse="text"/>'
    )
    report = parse_xml(body)
    assert report.faxRecipients[0].reason == ""
    time.sleep(0.05)
    assert pipe.reads == 0
