"""Reading a customer's individual push layout back into a report: the reverse mapping.

A customer template (:class:`~faxpush.core.templates.PushTemplate`) can lay a report out any
way it likes, so parsing it needs to be told where each field went. A
:class:`ReverseMapping` lists, for the report fields the layout carries, the *location* of
each one: ``/``-separated steps from the top of the document.

* JSON: each step is an object key (or an array index); the document is an object.
* XML: each step is an element's local name (namespaces are ignored), starting below the
  root element; a last step ``@name`` reads an attribute.

Recipients are repeated: ``recipients`` locates the list of recipient items (a JSON array,
or every XML element the path reaches) and ``recipient_fields`` locates each field relative
to one item. ``alternativeNumbers`` may be mapped to a list (or repeated elements).

Example, for a JSON layout ``{"fax": {"id": …, "pageCount": …}, "results": [{"to": …,
"state": …}]}``::

    ReverseMapping(
        fields={"jobId": "fax/id", "pages": "fax/pageCount"},
        recipients="results",
        recipient_fields={"number": "to", "status": "state"},
    )
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Protocol

from lxml import etree

from faxpush.core.errors import ConfigurationError, ReportFormatError
from faxpush.core.fields import RECIPIENT, REPORT, Field
from faxpush.core.models import FaxJobReport
from faxpush.core.validation import validate_report
from faxpush.core.xml_safety import parse_untrusted


def _targets(fields: tuple[Field, ...], prefix: str = "") -> Iterator[str]:
    # One value per target: lists of groups (recipients, documents, properties) are not
    # mapped field by field here; the recipients are, by recipients and recipient_fields.
    for spec in fields:
        if spec.children and not spec.many:
            yield from _targets(spec.children, f"{prefix}{spec.name}.")
        elif not spec.children:
            yield prefix + spec.name


REPORT_TARGETS: Final = frozenset(_targets(REPORT))
RECIPIENT_TARGETS: Final = frozenset(_targets(RECIPIENT))
_LIST_TARGETS: Final = frozenset(spec.name for spec in RECIPIENT if spec.many and not spec.children)


def _steps(location: str, what: str) -> tuple[str, ...]:
    steps = tuple(s for s in location.strip().split("/") if s)
    if not steps:
        raise ConfigurationError(f"reverse mapping: the location of {what} is empty")
    return steps


@dataclass(frozen=True)
class ReverseMapping:
    """Where a customer layout keeps each report field (see the module docstring)."""

    fields: Mapping[str, str]
    recipients: str
    recipient_fields: Mapping[str, str]
    _report_steps: Mapping[str, tuple[str, ...]] = field(init=False, repr=False)
    _recipient_steps: Mapping[str, tuple[str, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.fields) - REPORT_TARGETS)
        unknown += sorted(set(self.recipient_fields) - RECIPIENT_TARGETS)
        if unknown:
            raise ConfigurationError(
                f"reverse mapping: unknown report fields {', '.join(unknown)}; map "
                f"{', '.join(sorted(REPORT_TARGETS))} and, per recipient, "
                f"{', '.join(sorted(RECIPIENT_TARGETS))}"
            )
        if "jobId" not in self.fields or "number" not in self.recipient_fields:
            raise ConfigurationError(
                "reverse mapping: jobId and the recipients' number must be mapped"
            )
        report = {k: _steps(v, k) for k, v in self.fields.items()}
        recipient = {k: _steps(v, k) for k, v in self.recipient_fields.items()}
        _steps(self.recipients, "recipients")
        object.__setattr__(self, "_report_steps", MappingProxyType(report))
        object.__setattr__(self, "_recipient_steps", MappingProxyType(recipient))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReverseMapping:
        """Build from ``{"fields": {…}, "recipients": "…", "recipientFields": {…}}``."""
        try:
            fields, recipients = data["fields"], data["recipients"]
            recipient_fields = data["recipientFields"]
        except (KeyError, TypeError):
            raise ConfigurationError(
                "reverse mapping: expected an object with fields, recipients and recipientFields"
            ) from None
        for value in (fields, recipient_fields):
            if not isinstance(value, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                raise ConfigurationError("reverse mapping: fields map field names to locations")
        if not isinstance(recipients, str):
            raise ConfigurationError("reverse mapping: recipients is a location string")
        return cls(dict(fields), recipients, dict(recipient_fields))

    def read_json(self, document: Mapping[str, Any]) -> FaxJobReport:
        """The report in an already decoded JSON layout."""
        return self._build(_JsonDocument(document))

    def read_xml(self, body: bytes) -> FaxJobReport:
        """The report in an XML layout (DTDs and entities refused, as everywhere)."""
        return self._build(_XmlDocument(parse_untrusted(body, force_utf8=False)))

    def _build(self, doc: _Document) -> FaxJobReport:
        data: dict[str, Any] = {}
        places: dict[tuple[int | str, ...], str] = {}
        for target, steps in self._report_steps.items():
            found = doc.find(doc.top, steps, many=False)
            if found is not None:
                *parents, leaf = target.split(".")
                _put(data, parents, leaf, found)
                places[tuple(target.split("."))] = "/".join(steps)
        items = doc.items(_steps(self.recipients, "recipients"))
        recipients = []
        for index, item in enumerate(items):
            recipient: dict[str, Any] = {}
            for target, steps in self._recipient_steps.items():
                found = doc.find(item, steps, many=target in _LIST_TARGETS)
                if found is not None:
                    recipient[target] = found
                where = f"{self.recipients}[{index + 1}]/{'/'.join(steps)}"
                places[("faxRecipients", index, target)] = where
            recipients.append(recipient)
        data["faxRecipients"] = recipients
        places[("faxRecipients",)] = self.recipients

        def locate(loc: tuple[int | str, ...]) -> str:
            for depth in range(len(loc), 0, -1):
                if loc[:depth] in places:
                    return places[loc[:depth]]
            return "document"

        return validate_report(data, locate=locate)


def _put(data: dict[str, Any], parents: list[str], leaf: str, value: Any) -> None:
    for name in parents:
        data = data.setdefault(name, {})
    data[leaf] = value


class _Document(Protocol):
    """A decoded layout: ``find`` reads a value below ``start``, ``items`` the recipients."""

    @property
    def top(self) -> Any: ...

    def find(self, start: Any, steps: tuple[str, ...], *, many: bool) -> Any: ...

    def items(self, steps: tuple[str, ...]) -> list[Any]: ...


class _JsonDocument:
    def __init__(self, document: Mapping[str, Any]) -> None:
        self.top = document

    @staticmethod
    def _walk(start: Any, steps: tuple[str, ...]) -> Any:
        node = start
        for step in steps:
            if isinstance(node, Mapping) and step in node:
                node = node[step]
            elif isinstance(node, list) and step.isdigit() and int(step) < len(node):
                node = node[int(step)]
            else:
                return None
        return node

    def find(self, start: Any, steps: tuple[str, ...], *, many: bool) -> Any:
        # Type problems (an object where a string belongs) are left to the model's validation.
        return self._walk(start, steps)

    def items(self, steps: tuple[str, ...]) -> list[Any]:
        found = self._walk(self.top, steps)
        if not isinstance(found, list):
            raise ReportFormatError(
                "expected a list of recipients here", location="/".join(steps) or "$"
            )
        return found


def _local(tag: object) -> str | None:
    return tag.rpartition("}")[2] if isinstance(tag, str) else None


class _XmlDocument:
    def __init__(self, root: etree._Element) -> None:
        self.top = root

    @staticmethod
    def _select(start: etree._Element, steps: tuple[str, ...]) -> list[etree._Element]:
        nodes = [start]
        for step in steps:
            nodes = [child for node in nodes for child in node if _local(child.tag) == step]
        return nodes

    def find(self, start: Any, steps: tuple[str, ...], *, many: bool) -> Any:
        if steps[-1].startswith("@"):
            owners = self._select(start, steps[:-1])
            values = [o.get(steps[-1][1:]) for o in owners if o.get(steps[-1][1:]) is not None]
        else:
            values = ["".join(str(t) for t in n.itertext()) for n in self._select(start, steps)]
        if many:
            return values or None
        if len(values) > 1:
            raise ReportFormatError(
                f"{len(values)} elements found where one value belongs", location="/".join(steps)
            )
        return values[0] if values else None

    def items(self, steps: tuple[str, ...]) -> list[Any]:
        return list(self._select(self.top, steps))


__all__ = ["RECIPIENT_TARGETS", "REPORT_TARGETS", "ReverseMapping"]
