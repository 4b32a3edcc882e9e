"""The field table (``faxpush.core.fields``) agrees with the models, the spec and what is built
from it.

Everything that lists the report's fields is derived from the table: the XML renderer and
reader, the JSON shapes and renderer, the receiver's fast readers and the reverse mapping's
targets. So the checks are: the table against the pydantic models (names, order, nesting, kind,
required, list or not), the table against the spec's samples (element and key order, REST
spellings), and each derived piece against the models, on a report with every field set.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Iterator
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from types import UnionType
from typing import Any

import pytest
from lxml import etree
from pydantic import BaseModel

from faxpush.core.fields import RECIPIENT, REPORT, Field, Kind, walk
from faxpush.core.json_codec import parse_json, render_json
from faxpush.core.models import FaxJobReport, RecipientStatus
from faxpush.core.spellings import REPORT_SHAPE, ListShape, ObjectShape
from faxpush.core.xml_codec import parse_xml, render_xml
from faxpush.receiver import _fastxml
from faxpush.receiver.fastpath import fast_json, fast_xml
from faxpush.receiver.mapping import RECIPIENT_TARGETS, REPORT_TARGETS

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "spec_samples"

# --- the models, read without the table ------------------------------------------------------


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """``Annotated[X, …] | None`` -> (X, False); ``tuple[X, ...]`` -> (X, True)."""
    many = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        elif origin is tuple:
            annotation, many = typing.get_args(annotation)[0], True
        else:
            return annotation, many


def _model_fields(model: type[BaseModel]) -> Iterator[tuple[str, Any, bool, bool]]:
    """(name, type, many, required) of every field of ``model``, in declaration order."""
    hints = typing.get_type_hints(model, include_extras=True)
    for name, info in model.model_fields.items():
        kind, many = _unwrap(hints[name])
        yield name, kind, many, info.is_required()


def _kinds(kind: Any) -> set[Kind]:
    """The table kinds that fit a model type (a free string may be a code: the status)."""
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return {Kind.GROUP}
    if isinstance(kind, type) and issubclass(kind, Enum):
        return {Kind.CODE}
    return {
        str: {Kind.TEXT, Kind.CODE},
        bool: {Kind.BOOLEAN},
        int: {Kind.INTEGER},
        datetime: {Kind.TIMESTAMP},
    }[kind]


def _disagreements(fields: tuple[Field, ...], model: type[BaseModel], at: str) -> list[str]:
    problems: list[str] = []
    declared = list(_model_fields(model))
    names = [spec.name for spec in fields]
    if names != [name for name, *_ in declared]:
        problems.append(f"{at}: the table has {names}, the model {[n for n, *_ in declared]}")
        return problems
    for spec, (name, kind, many, required) in zip(fields, declared, strict=True):
        where = f"{at}{name}"
        if spec.kind not in _kinds(kind):
            problems.append(f"{where}: the table says {spec.kind}, the model {kind}")
        if spec.many != many:
            problems.append(f"{where}: a list in {'the table' if spec.many else 'the model'} only")
        if spec.required != required:
            problems.append(f"{where}: required is {spec.required} in the table, not the model")
        if spec.kind is Kind.GROUP and isinstance(kind, type) and issubclass(kind, BaseModel):
            problems += _disagreements(spec.children, kind, where + ".")
    return problems


def test_the_table_lists_every_model_field_in_model_order() -> None:
    assert _disagreements(REPORT, FaxJobReport, "") == []
    assert _disagreements(RECIPIENT, RecipientStatus, "faxRecipients.") == []


def test_the_check_notices_a_field_out_of_place() -> None:
    swapped = (REPORT[0], REPORT[2], REPORT[1], *REPORT[3:])
    assert _disagreements(swapped, FaxJobReport, "") != []
    assert _disagreements(REPORT[:-1], FaxJobReport, "") != []


def test_spellings_are_unambiguous() -> None:
    for path, spec in walk():
        siblings = next(s.children for p, s in walk() if p == path[:-1]) if path[1:] else REPORT
        others = [s for s in siblings if s is not spec]
        taken = {e for s in others for e in s.xml_elements()}
        assert not taken & set(spec.xml_elements()), path
        if spec.spread:
            assert all(child.rest for child in spec.children), path


# --- the table against the spec's samples ----------------------------------------------------


def _local(tag: object) -> str:
    assert isinstance(tag, str)
    return tag.rpartition("}")[2]


def _check_order(seen: list[str], fields: tuple[Field, ...], spelling: str, at: str) -> None:
    """``seen`` (names in one spelling) are known fields, in table order; only lists repeat."""
    position = {_spelled(spec, spelling): i for i, spec in enumerate(fields)}
    unknown = [name for name in seen if name not in position]
    assert not unknown, f"{at}: not in the table: {unknown}"
    order = [position[name] for name in seen]
    assert order == sorted(order), f"{at}: {seen} is not in table order"
    for name in set(seen):
        assert seen.count(name) == 1 or fields[position[name]].many, f"{at}: {name} repeats"


def _spelled(spec: Field, spelling: str) -> str:
    return {"xml": spec.element, "json": spec.name, "rest": spec.rest or spec.name}[spelling]


def _check_xml(element: etree._Element, fields: tuple[Field, ...], at: str) -> None:
    children = list(element)  # the samples have no comments
    _check_order([_local(child.tag) for child in children], fields, "xml", at)
    by_element = {spec.element: spec for spec in fields}
    for child in children:
        spec = by_element[_local(child.tag)]
        if spec.children:
            _check_xml(child, spec.children, f"{at}/{spec.element}")


@pytest.mark.parametrize("name", ["report-full.xml", "report-minimal.xml"])
def test_xml_samples_follow_the_table(name: str) -> None:
    root = etree.fromstring((SAMPLES / name).read_bytes())
    assert _local(root.tag) == "faxJobReport"
    _check_xml(root, REPORT, name)


def _check_json(
    document: dict[str, Any], fields: tuple[Field, ...], spelling: str, at: str
) -> None:
    by_key = {_spelled(spec, spelling): spec for spec in fields}
    _check_order(list(document), fields, spelling, at)
    for key, value in document.items():
        spec = by_key.get(key)
        if spec is None or not spec.children or value is None:
            continue
        for item in value if spec.many else [value]:
            _check_json(item, spec.children, spelling, f"{at}.{key}")


@pytest.mark.parametrize("name", ["report-full.json", "report-minimal.json"])
def test_json_samples_follow_the_table(name: str) -> None:
    document = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    assert set(document) <= {spec.name for spec in REPORT}
    _check_json(document, REPORT, "json", name)


def _rest_paths() -> dict[str, str]:
    """REST key path -> model path, as the table spells the REST API's fields."""
    paths: dict[str, str] = {}

    def add(fields: tuple[Field, ...], rest_prefix: str, model_prefix: str, spread: bool) -> None:
        for spec in fields:
            rest = spec.rest if spread else rest_prefix + (spec.rest or spec.name)
            model = model_prefix + spec.name
            paths[rest] = model
            if spec.children:
                add(spec.children, "" if spec.spread else rest + "/", model + ".", spec.spread)

    for spec in REPORT:
        rest = spec.rest or spec.name
        paths[rest] = spec.name
        if spec.children:
            add(spec.children, "" if spec.spread else rest + "/", spec.name + ".", spec.spread)
    return paths


def _leaf_paths(value: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _leaf_paths(inner, f"{prefix}{key}/")
    elif isinstance(value, list):
        for item in value:
            yield from _leaf_paths(item, prefix)
    else:
        yield prefix.rstrip("/")


# Keys of a REST job request that a report does not hold (credentials never appear in one).
_REQUEST_ONLY = (
    "recipients/",
    "documents/",
    "statusReportOptions/httpStatusPush/principal",
    "statusReportOptions/httpStatusPush/credentials",
)


def test_rest_samples_use_the_table_spellings() -> None:
    paths = _rest_paths()
    report = json.loads((SAMPLES / "report-rest.json").read_text(encoding="utf-8"))
    blocks = {path.split("/")[0] for path in paths}
    assert set(report) <= blocks, set(report) - blocks
    for recipient in report["recipientStatus"]:
        _check_json(recipient, RECIPIENT, "rest", "recipientStatus")
    for path in _leaf_paths(report):
        if not path.startswith("recipientStatus/"):
            assert path in paths, path
    for name in ("job-request-full.json", "job-request-minimal.json"):
        request = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
        for path in _leaf_paths(request):
            assert path in paths or path.startswith(_REQUEST_ONLY), f"{name}: {path}"


# --- what is built from the table, against the models -------------------------------------------


def _every_field(model: type[BaseModel], path: str = "") -> dict[str, Any]:
    """Data for ``model`` with every field set (lists with two items), read off the model."""
    data: dict[str, Any] = {}
    for name, kind, many, _ in _model_fields(model):
        where = f"{path}{name}"
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            value: Any = _every_field(kind, where + ".")
        elif isinstance(kind, type) and issubclass(kind, Enum):
            value = list(kind)[-1].value
        elif kind is bool:
            value = True
        elif kind is int:
            value = 7
        elif kind is datetime:
            value = datetime(2024, 5, 6, 9, 14, 3, tzinfo=UTC)
        else:
            value = f"{where} & <{where}>"
        data[name] = [value, value] if many else value
    return data


FULL_MODEL = FaxJobReport.model_validate(_every_field(FaxJobReport))


def _model_order(model: type[BaseModel]) -> Iterator[tuple[str, ...]]:
    for name, kind, _, _ in _model_fields(model):
        yield (name,)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            yield from ((name, *inner) for inner in _model_order(kind))


def _xml_order(element: etree._Element, names: dict[str, str]) -> Iterator[tuple[str, ...]]:
    seen: list[str] = []
    for child in element:
        name = names.get(_local(child.tag), _local(child.tag))
        if name not in seen:  # a list's second item
            seen.append(name)
            yield (name,)
            yield from ((name, *inner) for inner in _xml_order(child, names))


def test_the_xml_renderer_writes_every_model_field_in_model_order() -> None:
    names = {spec.element: spec.name for _, spec in walk()}
    root = etree.fromstring(render_xml(FULL_MODEL))
    assert list(_xml_order(root, names)) == list(_model_order(FaxJobReport))


def _json_order(document: dict[str, Any]) -> Iterator[tuple[str, ...]]:
    for key, value in document.items():
        yield (key,)
        inner = value[0] if isinstance(value, list) else value
        if isinstance(inner, dict):
            yield from ((key, *path) for path in _json_order(inner))


def test_the_json_renderer_writes_every_model_field_in_model_order() -> None:
    document = json.loads(render_json(FULL_MODEL))
    assert list(_json_order(document)) == list(_model_order(FaxJobReport))


def _shape_order(shape: ObjectShape) -> Iterator[tuple[str, ...]]:
    for spec in shape.fields:
        yield (spec.name,)
        inner = spec.shape.item if isinstance(spec.shape, ListShape) else spec.shape
        if isinstance(inner, ObjectShape):
            yield from ((spec.name, *path) for path in _shape_order(inner))


def test_the_json_shapes_hold_every_model_field_in_model_order() -> None:
    assert list(_shape_order(REPORT_SHAPE)) == list(_model_order(FaxJobReport))
    spread = [spec for spec in REPORT_SHAPE.fields if spec.spread is not None]
    assert [spec.name for spec in spread] == ["options"]
    assert isinstance(spread[0].shape, ObjectShape)
    spread_names = [spec.name for spec in spread[0].shape.fields]
    assert [spec.name for spec in (spread[0].spread or ObjectShape()).fields] == spread_names


def test_the_core_parsers_read_every_model_field() -> None:
    assert parse_json(render_json(FULL_MODEL)) == FULL_MODEL
    assert parse_xml(render_xml(FULL_MODEL)) == FULL_MODEL


def test_the_fast_readers_read_every_model_field() -> None:
    # Not declined: the fast grammar and checks know every field, in the renderers' order.
    assert fast_xml(render_xml(FULL_MODEL)) == FULL_MODEL
    assert fast_json(render_json(FULL_MODEL)) == FULL_MODEL
    groups = set(_fastxml._DOCUMENT.groupindex)
    leaves = {"__".join(path) for path, spec in walk() if not spec.children}
    first_recipient = {"faxRecipients__" + spec.name for spec in RECIPIENT if not spec.children}
    top = {name for name in leaves if not name.startswith(("faxRecipients__", "documents__"))}
    assert top | first_recipient <= groups


def _targets(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    for name, kind, many, _ in _model_fields(model):
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            if not many:
                yield from _targets(kind, f"{prefix}{name}.")
        else:
            yield prefix + name


def test_the_reverse_mapping_targets_every_single_value_of_the_model() -> None:
    assert set(_targets(FaxJobReport)) == REPORT_TARGETS
    assert set(_targets(RecipientStatus)) == RECIPIENT_TARGETS
