"""The default JSON layout: golden bytes, round trips, strict types and a malformed corpus."""

from __future__ import annotations

import json
import random
import re
import time
import typing
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from faxpush.core.errors import ReportFormatError
from faxpush.core.json_codec import (
    JSON_CONTENT_TYPE,
    REPORT_SHAPE,
    ListShape,
    ObjectShape,
    format_timestamp,
    load_json_object,
    parse_json,
    render_json,
)
from faxpush.core.models import (
    AuthMethod,
    FaxJobReport,
)
from faxpush.core.xml_codec import parse_xml, render_xml
from tests.samples import FULL_REPORT_MODEL, MINIMAL_REPORT_MODEL
from tests.strategies import reports

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "spec_samples"
FULL = (SAMPLES / "report-full.json").read_bytes()
MINIMAL = (SAMPLES / "report-minimal.json").read_bytes()


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- golden vectors and rendering -------------------------------------------------------------


def test_content_type() -> None:
    assert JSON_CONTENT_TYPE == "application/json"


@pytest.mark.parametrize(
    ("built", "golden"),
    [(FULL_REPORT_MODEL, FULL), (MINIMAL_REPORT_MODEL, MINIMAL)],
    ids=["full", "minimal"],
)
def test_render_is_byte_identical_to_golden_sample(built: FaxJobReport, golden: bytes) -> None:
    assert render_json(built) == golden


@pytest.mark.parametrize("golden", [FULL, MINIMAL], ids=["full", "minimal"])
def test_golden_sample_parses_to_hand_built_model_and_back(golden: bytes) -> None:
    expected = FULL_REPORT_MODEL if golden is FULL else MINIMAL_REPORT_MODEL
    assert parse_json(golden) == expected
    assert parse_json(golden.decode("utf-8")) == expected
    assert render_json(parse_json(golden)) == golden


@pytest.mark.parametrize("name", ["report-full", "report-minimal"])
def test_xml_and_json_samples_carry_the_same_report(name: str) -> None:
    xml_bytes = (SAMPLES / f"{name}.xml").read_bytes()
    json_bytes = (SAMPLES / f"{name}.json").read_bytes()
    assert render_json(parse_xml(xml_bytes)) == json_bytes
    assert render_xml(parse_json(json_bytes)) == xml_bytes


def test_options_render_in_spec_order_and_timestamps_in_utc() -> None:
    every_option = {
        "csid": "C",
        "header": "H",
        "isExpress": False,
        "isBlacklistEnabled": True,
        "resolution": "LOW",
        "paperFormat": "LETTER",
        "coverpageTemplate": "t",
        "overlay": {"name": "o", "mode": "FIRST_PAGE"},
        "customerReference": "r",
        "customerDefinedId": "d",
        "billingCode": "b",
        "billingInfo": "i",
        "jobValidStart": "2024-05-06T11:00:00+02:00",
        "jobValidEnd": "2024-06-06T09:00:00Z",
    }
    body = {"jobId": "FJ1", "faxRecipients": [{"number": "+1"}], "options": every_option}
    rendered = json.loads(render_json(parse_json(json.dumps(body))))
    assert list(rendered["options"]) == list(every_option)
    assert rendered["options"]["jobValidStart"] == "2024-05-06T09:00:00Z"
    assert rendered["options"]["overlay"] == {"name": "o", "mode": "FIRST_PAGE"}


def test_format_timestamp_pads_year_and_converts_to_utc() -> None:
    assert format_timestamp(datetime(5, 1, 2, 3, 4, 5, tzinfo=UTC)) == "0005-01-02T03:04:05Z"
    east = timezone(timedelta(hours=2))
    assert format_timestamp(datetime(2024, 5, 6, 11, 0, 0, 999, tzinfo=east)) == (
        "2024-05-06T09:00:00Z"
    )


@settings(max_examples=200, deadline=None)
@given(reports())
def test_render_then_parse_returns_the_same_report(report: FaxJobReport) -> None:
    body = render_json(report)
    assert parse_json(body) == report
    assert body.endswith(b"}\n")
    assert render_json(parse_json(body)) == body


def _shape_names(shape: ObjectShape) -> dict[str, Any]:
    names: dict[str, Any] = {}
    for spec in shape.fields:
        inner = spec.shape.item if isinstance(spec.shape, ListShape) else spec.shape
        names[spec.name] = _shape_names(inner) if isinstance(inner, ObjectShape) else None
    return names


def _model_names(model: type[BaseModel]) -> dict[str, Any]:
    names: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        nested = [
            t
            for t in (info.annotation, *typing.get_args(info.annotation))
            for t in (t, *typing.get_args(t))
            if isinstance(t, type) and issubclass(t, BaseModel)
        ]
        names[name] = _model_names(nested[0]) if nested else None
    return names


def test_parser_reads_every_model_field_in_model_order() -> None:
    assert json.dumps(_shape_names(REPORT_SHAPE)) == json.dumps(_model_names(FaxJobReport))


# --- tolerance: alternative spellings, unknown keys, null -------------------------------------


def full_doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(FULL)
    return doc


def renamed(doc: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    return {new if key == old else key: value for key, value in doc.items()}


def _alternative_spellings() -> Iterator[tuple[str, dict[str, Any]]]:
    doc = full_doc()
    doc["httpStatusPush"] = renamed(doc["httpStatusPush"], "url", "targetUrl")
    yield "targetUrl", doc
    doc = full_doc()
    doc["faxRecipients"] = [renamed(r, "sentTS", "sentTs") for r in doc["faxRecipients"]]
    yield "sentTs", doc
    yield "recipientStatus", renamed(full_doc(), "faxRecipients", "recipientStatus")
    yield "faxRecipient", renamed(full_doc(), "faxRecipients", "faxRecipient")
    yield "document", renamed(full_doc(), "documents", "document")


@pytest.mark.parametrize(("spelling", "doc"), list(_alternative_spellings()))
def test_rest_spellings_are_accepted(spelling: str, doc: dict[str, Any]) -> None:
    assert spelling in json.dumps(doc)
    assert parse_json(json.dumps(doc)) == FULL_REPORT_MODEL


def test_oauth_is_read_as_oauth2() -> None:
    doc = full_doc()
    doc["httpStatusPush"]["authMethod"] = "OAUTH"
    report = parse_json(json.dumps(doc))
    assert report.httpStatusPush is not None
    assert report.httpStatusPush.authMethod is AuthMethod.OAUTH2


def test_unknown_keys_are_ignored_at_every_level() -> None:
    doc = full_doc()
    doc["futureField"] = {"nested": [1, 2.5, None]}
    doc["httpStatusPush"].update(principal="user", credentials="secret")
    doc["faxRecipients"][0]["carrier"] = "x"
    doc["faxRecipients"][0]["properties"][0]["note"] = 1
    doc["documents"][0]["size"] = 12
    doc["options"]["overlay2"] = True
    assert parse_json(json.dumps(doc)) == FULL_REPORT_MODEL


def test_null_counts_as_absent() -> None:
    doc = json.loads(MINIMAL)
    doc.update(reportMail=None, httpStatusPush=None, documents=None, options=None)
    doc["faxRecipients"][0].update(sentTS=None, alternativeNumbers=None, remoteCsid=None)
    assert parse_json(json.dumps(doc)) == MINIMAL_REPORT_MODEL


def test_byte_order_mark_and_buffer_types_are_accepted() -> None:
    assert parse_json(b"\xef\xbb\xbf" + MINIMAL) == MINIMAL_REPORT_MODEL
    assert parse_json(bytearray(MINIMAL)) == MINIMAL_REPORT_MODEL  # type: ignore[arg-type]
    assert parse_json(memoryview(MINIMAL)) == MINIMAL_REPORT_MODEL  # type: ignore[arg-type]


# --- limits -----------------------------------------------------------------------------------


def test_hundred_thousand_deep_array_fails_cleanly_and_fast() -> None:
    for body in (
        b"[" * 100_000,
        b'{"a":' * 100_000,
        b'{"jobId": ' + b"[" * 100_000 + b"]" * 100_000,
    ):
        started = time.perf_counter()
        with pytest.raises(ReportFormatError, match="nested more than 32 levels"):
            parse_json(body)
        assert time.perf_counter() - started < 1.0


def test_depth_limit_is_exact_and_ignores_brackets_in_strings() -> None:
    def nested(depth: int) -> str:
        inner = "[" * (depth - 1) + "]" * (depth - 1)
        return '{"jobId": "FJ1", "faxRecipients": [{"number": "1"}], "extra": ' + inner + "}"

    assert parse_json(nested(32)).jobId == "FJ1"
    with pytest.raises(ReportFormatError, match="nested more than 32"):
        parse_json(nested(33))
    assert parse_json(nested(5), max_depth=5).jobId == "FJ1"
    with pytest.raises(ReportFormatError):
        parse_json(nested(6), max_depth=5)
    tricky = json.dumps("[" * 100 + '\\"{' * 50)
    body = '{"jobId": ' + tricky + ', "faxRecipients": [{"number": "1"}]}'
    assert parse_json(body).jobId == "[" * 100 + '\\"{' * 50


def test_size_limit_counts_utf8_bytes_and_is_checked_first() -> None:
    assert parse_json(MINIMAL, max_bytes=len(MINIMAL)) == MINIMAL_REPORT_MODEL
    with pytest.raises(ReportFormatError, match=f"more than the limit of {len(MINIMAL) - 1}"):
        parse_json(MINIMAL, max_bytes=len(MINIMAL) - 1)
    text = FULL.decode("utf-8")
    assert len(text) < len(FULL)  # the ü takes two bytes
    with pytest.raises(ReportFormatError, match="more than the limit"):
        parse_json(text, max_bytes=len(text))
    with pytest.raises(ReportFormatError, match="more than the limit"):
        parse_json(b"[" * 2_000_000)


def test_load_json_object_returns_the_decoded_object() -> None:
    assert load_json_object(MINIMAL) == json.loads(MINIMAL)
    with pytest.raises(ReportFormatError) as caught:
        load_json_object(b"[1]")
    assert caught.value.location == "$"
    assert "array" in caught.value.problem


def test_duplicate_key_error_names_the_key() -> None:
    with pytest.raises(ReportFormatError, match='duplicate key "number"'):
        parse_json('{"jobId": "x", "faxRecipients": [{"number": "1", "number": "2"}]}')


def test_error_names_the_json_path_in_the_senders_spelling() -> None:
    doc = renamed(json.loads(MINIMAL), "faxRecipients", "recipientStatus")
    doc["recipientStatus"][0]["sentTs"] = "2024-05-06T09:14:03"
    with pytest.raises(ReportFormatError) as caught:
        parse_json(json.dumps(doc))
    assert caught.value.location == "$.recipientStatus[0].sentTs"
    assert "time zone" in caught.value.problem


# --- strict types: every field, every wrong JSON type -----------------------------------------

_BOOLEANS = {"isText", "isExpress", "isBlacklistEnabled"}
_INTEGERS = {"durationInSecs", "pages"}
_TIMESTAMPS = {"sentTS", "jobValidStart", "jobValidEnd"}


def every_field_doc() -> dict[str, Any]:
    """report-full.json with every remaining option set, so each field can be broken."""
    doc = full_doc()
    doc["options"].update(
        header="H",
        isBlacklistEnabled=False,
        overlay={"name": "letterhead", "mode": "ALL_PAGES"},
        customerReference="R",
        billingInfo="I",
        jobValidStart="2024-05-06T09:00:00Z",
        jobValidEnd="2024-06-06T09:00:00Z",
    )
    return doc


def _nodes(
    value: Any, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    children = value.items() if isinstance(value, dict) else enumerate(value[:1])
    for key, child in children:
        yield (*path, key), child
        if isinstance(child, dict | list):
            yield from _nodes(child, (*path, key))


def _wrong_values(path: tuple[str | int, ...], value: Any) -> list[Any]:
    name = path[-1]
    if isinstance(value, dict):
        return ["x", [], 1]
    if isinstance(value, list):
        return ["x", {}, 1]
    if name in _BOOLEANS:
        return ["true", 1, []]
    if name in _INTEGERS:
        return ["3", True, 1.5]
    if name in _TIMESTAMPS:
        return [1714986843, "1714986843", True]
    return [1, True, {}]


def _json_path(path: tuple[str | int, ...]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def wrong_type_cases() -> list[tuple[str, bytes, str]]:
    cases = []
    for path, value in _nodes(every_field_doc()):
        for wrong in _wrong_values(path, value):
            doc = every_field_doc()
            parent: Any = doc
            for part in path[:-1]:
                parent = parent[part]
            parent[path[-1]] = wrong
            body = json.dumps(doc, ensure_ascii=False).encode("utf-8")
            cases.append((f"{_json_path(path)}={wrong!r}", body, _json_path(path)))
    return cases


def test_every_field_doc_is_valid() -> None:
    report = parse_json(json.dumps(every_field_doc()))
    assert report.options is not None
    assert report.options.overlay is not None


@pytest.mark.parametrize(
    ("body", "location"),
    [c[1:] for c in wrong_type_cases()],
    ids=[c[0] for c in wrong_type_cases()],
)
def test_wrong_type_is_reported_at_its_json_path(body: bytes, location: str) -> None:
    with pytest.raises(ReportFormatError) as caught:
        parse_json(body)
    assert caught.value.location == location
    assert caught.value.problem.startswith("expected")


# --- the malformed corpus ---------------------------------------------------------------------


def _structural_positions(body: bytes) -> Iterator[int]:
    in_string = escaped = False
    for index, char in enumerate(body.decode("latin-1")):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
                yield index
        elif char == '"':
            in_string = True
            yield index
        elif char in "{}[]:,":
            yield index


def _line_doubled(body: bytes, key: str) -> bytes:
    lines = body.split(b"\n")
    index = next(i for i, line in enumerate(lines) if line.strip().startswith(f'"{key}":'.encode()))
    assert lines[index].endswith(b",")
    return b"\n".join([*lines[: index + 1], lines[index], *lines[index + 1 :]])


MIN_TEXT = MINIMAL.decode("utf-8")


def rec(fields: str) -> str:
    """A report whose one recipient has ``fields`` besides its number."""
    return '{"jobId": "FJ1", "faxRecipients": [{"number": "+1", ' + fields + "}]}"


def top(fields: str) -> str:
    """A valid report with ``fields`` added at the top level."""
    return '{"jobId": "FJ1", "faxRecipients": [{"number": "+1"}], ' + fields + "}"


def special_cases() -> list[tuple[str, Any, str]]:
    """(id, body, fragment of the expected message)."""
    nan, utf8, bad = "use a finite number", "not valid UTF-8", "Input should be"
    top_level, conflict, deep = "top level must be", "send only one of them", "nested more"
    invalid, missing = "not valid JSON", "required field is missing"
    cut = FULL.index("ü".encode()) + 1
    sent = '"sentTS": "2024-05-06T09:14:03Z"'
    return [
        *[
            (f"dup-{k}", _line_doubled(FULL, k), f'duplicate key "{k}"')
            for k in ("jobId", "successAddress", "url", "number", "key", "status", "name", "csid")
        ],
        ("dup-same-value", b'{"jobId": "a", "jobId": "a"}', "duplicate key"),
        ("dup-escaped", '{"jobId": "a", "\\u006aobId": "a"}', "duplicate key"),
        ("dup-unknown-object", top('"x": {"a": 1, "a": 1}'), "duplicate key"),
        ("nan-pages", top('"pages": NaN'), nan),
        ("inf-duration", rec('"durationInSecs": Infinity'), nan),
        ("neg-inf-unknown", top('"x": -Infinity'), nan),
        ("nan-in-array", top('"x": [1, NaN]'), nan),
        ("deep-arrays", b"[" * 100_000, deep),
        ("deep-objects", b'{"a":' * 100_000, deep),
        ("deep-in-unknown", top('"x": ' + "[" * 40 + "]" * 40), deep),
        ("deep-top-array", b"[" * 33 + b"]" * 33, deep),
        ("latin-1", FULL.decode("utf-8").encode("latin-1"), utf8),
        ("utf-16", MIN_TEXT.encode("utf-16"), utf8),
        ("utf-32", MIN_TEXT.encode("utf-32"), utf8),
        ("overlong", MINIMAL.replace(b"+1201", b"\xc0\xaf1201"), utf8),
        ("surrogate-bytes", MINIMAL.replace(b"+1201", b"\xed\xa0\x801201"), utf8),
        ("beyond-unicode", MINIMAL.replace(b"+1201", b"\xf5\x80\x80\x801201"), utf8),
        ("cut-multibyte", FULL[:cut] + FULL[cut + 1 :], utf8),
        ("lone-ff", b"\xff", utf8),
        ("url-and-targetUrl", top('"httpStatusPush": {"url": "a", "targetUrl": "b"}'), conflict),
        ("same-url-twice", top('"httpStatusPush": {"url": "a", "targetUrl": "a"}'), conflict),
        ("sentTS-and-sentTs", rec(sent + ", " + sent.replace("TS", "Ts")), conflict),
        ("recipients-two-ways", top('"recipientStatus": [{"number": "+1"}]'), conflict),
        ("faxRecipient-recipientStatus", '{"faxRecipient": [], "recipientStatus": []}', conflict),
        ("documents-two-ways", top('"documents": [], "document": []'), conflict),
        ("empty", b"", invalid),
        ("blank", b"  \n\t", invalid),
        ("bom-only", b"\xef\xbb\xbf", invalid),
        ("top-array", b"[]", top_level),
        ("top-string", b'"report"', top_level),
        ("top-number", b"42", top_level),
        ("top-null", b"null", top_level),
        ("top-true", b"true", top_level),
        ("trailing-data", MINIMAL + b"x", "Extra data"),
        ("trailing-comma", b'{"jobId": "x",}', invalid),
        ("single-quotes", b"{'jobId': 'x'}", invalid),
        ("comment", b'// c\n{"jobId": "x"}', invalid),
        ("raw-control-char", b'{"jobId": "a\x01b"}', invalid),
        ("lone-surrogate-str", rec('"status": "\ud800"'), "U+D800"),
        ("escaped-surrogate", rec('"status": "\\ud800"'), "U+D800"),
        ("escaped-control", rec('"reason": "\\u0001"'), "cannot be carried in XML"),
        ("no-jobId", '{"faxRecipients": [{"number": "1"}]}', missing),
        ("no-recipients", '{"jobId": "FJ1"}', missing),
        ("zero-recipients", '{"jobId": "FJ1", "faxRecipients": []}', "at least 1"),
        ("blank-jobId", '{"jobId": "  ", "faxRecipients": [{"number": "1"}]}', "jobId is empty"),
        ("blank-number", '{"jobId": "FJ1", "faxRecipients": [{"number": ""}]}', "number is empty"),
        ("negative-duration", rec('"durationInSecs": -1'), "greater than or equal to 0"),
        ("huge-duration", rec('"durationInSecs": 2147483648'), "less than or equal"),
        ("endless-digits", rec('"durationInSecs": ' + "9" * 5000), "thousands of digits"),
        ("naive-timestamp", rec('"sentTS": "2024-05-06T09:14:03"'), "no time zone"),
        ("epoch-string", rec('"sentTS": "1714986843"'), "ISO 8601"),
        ("month-13", rec('"sentTS": "2024-13-01T00:00:00Z"'), "datetime"),
        ("year-overflow", rec('"sentTS": "0001-01-01T00:00:00+01:00"'), "outside years"),
        ("bad-resolution", top('"options": {"resolution": "MEDIUM"}'), bad),
        ("bad-paper", top('"options": {"paperFormat": "A3"}'), bad),
        ("bad-overlay-mode", top('"options": {"overlay": {"name": "o", "mode": "SOME"}}'), bad),
        ("overlay-no-name", top('"options": {"overlay": {"mode": "ALL_PAGES"}}'), missing),
        ("bad-auth", top('"httpStatusPush": {"url": "u", "authMethod": "TOKEN"}'), bad),
        ("push-without-url", top('"httpStatusPush": {"authMethod": "NONE"}'), missing),
        ("bad-image-mode", top('"reportMail": {"attachedFaxImageMode": "SOMETIMES"}'), bad),
        ("bad-image-format", top('"reportMail": {"attachedFaxImageFormat": "GIF"}'), bad),
        ("document-no-isText", top('"documents": [{"name": "a.pdf"}]'), missing),
        ("property-no-value", rec('"properties": [{"key": "k"}]'), missing),
        ("null-in-list", rec('"alternativeNumbers": [null]'), "got null"),
        ("not-bytes-int", 42, "bytes or str"),
        ("not-bytes-list", [MINIMAL], "bytes or str"),
        ("not-bytes-none", None, "bytes or str"),
    ]


def malformed_corpus() -> list[tuple[str, Any]]:
    last_brace = FULL.rindex(b"}")
    corpus: list[tuple[str, Any]] = [(f"cut-at-{n}", FULL[:n]) for n in range(0, last_brace, 37)]
    corpus += [
        (f"delete-{i}-{chr(FULL[i])}", FULL[:i] + FULL[i + 1 :])
        for i in _structural_positions(FULL)
    ]
    corpus += [(case_id, body) for case_id, body, _ in wrong_type_cases()]
    corpus += [(case_id, body) for case_id, body, _ in special_cases()]
    return corpus


def test_malformed_corpus_is_large_and_distinct() -> None:
    corpus = malformed_corpus()
    assert len(corpus) >= 200
    assert len({case_id for case_id, _ in corpus}) == len(corpus)


@pytest.mark.parametrize(
    ("body"), [c[1] for c in malformed_corpus()], ids=[c[0] for c in malformed_corpus()]
)
def test_malformed_body_raises_report_format_error(body: Any) -> None:
    with pytest.raises(ReportFormatError):
        parse_json(body)


@pytest.mark.parametrize(
    ("body", "fragment"), [c[1:] for c in special_cases()], ids=[c[0] for c in special_cases()]
)
def test_malformed_body_is_explained(body: Any, fragment: str) -> None:
    with pytest.raises(ReportFormatError, match=re.escape(fragment)):
        parse_json(body)


# --- any input: a report or ReportFormatError, nothing else -----------------------------------


def _mutate(body: bytes, rng: random.Random) -> bytes:
    data = bytearray(body)
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(data) + 1)
        operation = rng.choice(["flip", "insert", "delete", "repeat"])
        if operation == "flip" and at < len(data):
            data[at] = rng.randrange(256)
        elif operation == "insert":
            data[at:at] = rng.choice(
                [b"{", b"}", b"[", b"]", b",", b":", b'"', b"\\", b"null", b"\xff", b"1e999", b"-"]
            )
        elif operation == "delete":
            del data[at : at + rng.randint(1, 8)]
        else:
            data[at:at] = data[at : at + rng.randint(1, 40)]
    return bytes(data)


def test_seeded_random_mutations_never_raise_anything_else() -> None:
    rng = random.Random(20240506)
    outcomes = {"report": 0, "error": 0}
    for index in range(600):
        body = _mutate(FULL if index % 2 else MINIMAL, rng)
        try:
            parse_json(body)
        except ReportFormatError:
            outcomes["error"] += 1
        else:
            outcomes["report"] += 1
    assert outcomes["error"] > 300  # the mutations really produce broken bodies


_KEYS = sorted(
    {key for path, _ in _nodes(every_field_doc()) for key in path if isinstance(key, str)}
    | {"targetUrl", "sentTs", "recipientStatus", "faxRecipient", "document"}
)
_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=3), inner, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(_KEYS), _json_values, max_size=8))
def test_arbitrary_json_gives_a_report_or_report_format_error(doc: dict[str, Any]) -> None:
    outcome: FaxJobReport | ReportFormatError
    try:
        outcome = parse_json(json.dumps(doc))
    except ReportFormatError as exc:
        outcome = exc
    assert isinstance(outcome, FaxJobReport | ReportFormatError)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300))
def test_arbitrary_bytes_give_report_format_error(body: bytes | str) -> None:
    with pytest.raises(ReportFormatError):
        parse_json(body)
