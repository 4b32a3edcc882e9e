"""A report in a foreign XML namespace is refused: by the core parser, the receiver over real
HTTP (400, nothing stored) and ``faxpush report parse`` (exit 2, one line).

The spec's samples use the vendor's namespace as the default one; it also lets a report use
that namespace through a prefix, or no namespace at all. Those are read; any other is not.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from faxpush.core.errors import ReportFormatError
from faxpush.core.xml_codec import NAMESPACE, parse_xml
from faxpush.receiver import PushReceiver, create_app
from faxpush.receiver.fastpath import fast_xml
from faxpush.receiver.parse import parse
from tests.acceptance.test_cli_report import assert_bad_input, faxpush
from tests.receiver.serving import serving
from tests.samples import FULL_REPORT_MODEL, sample

XML_TYPE = "text/xml; charset=UTF-8"
FULL = sample("report-full.xml").decode()
ROOT = f'<faxJobReport xmlns="{NAMESPACE}">'


def _prefixed_root(text: str, namespace: str) -> str:
    return text.replace(ROOT, f'<fx:faxJobReport xmlns:fx="{namespace}">').replace(
        "</faxJobReport>", "</fx:faxJobReport>"
    )


ACCEPTED = {
    "default namespace": FULL,
    "no namespace": FULL.replace(f' xmlns="{NAMESPACE}"', ""),
    "prefixed root, children in no namespace": _prefixed_root(FULL, NAMESPACE),
    "foreign elements of unknown names": FULL.replace(
        "<pages>", '<x:pages2 xmlns:x="urn:x">9</x:pages2><pages>'
    ),
}

REFUSED = {
    "foreign default namespace": (
        FULL.replace(NAMESPACE, "urn:example:other"),
        "line 2",
        "<faxJobReport> is in the namespace 'urn:example:other'",
    ),
    "foreign prefixed root": (
        _prefixed_root(FULL, "urn:example:other"),
        "line 2",
        "<faxJobReport> is in the namespace 'urn:example:other'",
    ),
    "namespace one character longer": (
        FULL.replace(NAMESPACE, NAMESPACE + "/"),
        "line 2",
        f"<faxJobReport> is in the namespace '{NAMESPACE}/'",
    ),
    "a known child in a foreign namespace": (
        FULL.replace("<pages>3</pages>", '<pages xmlns="urn:x">3</pages>'),
        "line 60, pages",
        "<pages> is in the namespace 'urn:x'",
    ),
    "a nested known element in a foreign namespace": (
        FULL.replace("<csid>", '<x:csid xmlns:x="urn:x">').replace("</csid>", "</x:csid>"),
        "line 52, options/csid",
        "<csid> is in the namespace 'urn:x'",
    ),
}


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_the_vendor_namespace_or_none_is_read(name: str) -> None:
    assert parse_xml(ACCEPTED[name].encode()) == FULL_REPORT_MODEL
    assert parse(ACCEPTED[name].encode(), XML_TYPE) == FULL_REPORT_MODEL


@pytest.mark.parametrize("name", list(REFUSED))
def test_a_foreign_namespace_is_refused_naming_the_expected_one(name: str) -> None:
    body, location, problem = REFUSED[name]
    assert fast_xml(body.encode()) is None
    with pytest.raises(ReportFormatError) as refused:
        parse(body.encode(), XML_TYPE)
    assert refused.value.location == location
    message = str(refused.value)
    assert problem in message
    assert f"a report's elements are in the namespace {NAMESPACE} (or in none)" in message


def test_over_http_a_foreign_namespace_is_400_and_nothing_is_stored() -> None:
    receiver = PushReceiver(inbox="memory://")
    with serving(create_app(receiver)) as server:
        answers = [
            requests.post(
                server.url("/push"), data=body.encode(), headers={"Content-Type": ct}, timeout=10
            )
            for body, _, _ in REFUSED.values()
            for ct in (XML_TYPE, "application/xml")
        ]
        stored = server.run(receiver.inbox.count())
        accepted = requests.post(
            server.url("/push"), data=FULL.encode(), headers={"Content-Type": XML_TYPE}, timeout=10
        )
        stored_after = server.run(receiver.inbox.count())
    assert [a.status_code for a in answers] == [400] * len(answers)
    assert all(NAMESPACE in a.text for a in answers)
    assert stored == 0
    assert accepted.status_code == 200
    assert stored_after == 1


def test_report_parse_refuses_a_foreign_namespace_in_one_line(tmp_path: Path) -> None:
    body, _, _ = REFUSED["foreign default namespace"]
    path = tmp_path / "foreign.xml"
    path.write_text(body)
    err = assert_bad_input(faxpush("report", "parse", path), f"faxpush: {path}: line 2: ")
    assert re.search(r"namespace 'urn:example:other'.*namespace http://retarus\.com", err), err
