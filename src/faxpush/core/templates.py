"""Customer-defined push layouts: Jinja2 templates rendered in a sandbox.

A customer may get an individual layout instead of the default XML or JSON one (spec §1).
Templates are compiled from their source string only (no loader, so nothing is read from disk)
in an immutable sandbox: underscore attributes, mutating methods, ``include``/``import``/
``extend`` and access to anything but the report data are refused.

The template sees:

``report``
    the report as plain data (``FaxJobReport.model_dump(mode="json")``): dicts, lists, strings,
    numbers, booleans and ``None`` for absent elements; timestamps as ``2024-05-06T09:14:03Z``.

Filters (autoescape is off, so authors escape explicitly):

``xml_escape``  text for XML content or attributes (``None`` becomes empty)
``json_str``    a string as a JSON string literal, quotes included (``None`` becomes ``null``)
``json_value``  any value as JSON (numbers, booleans, lists, objects)
``status_class`` a status code's class: ``success``, ``line``, ``number``, ``document``, …
``status_meaning`` a status code's meaning in words

The sandbox keeps templates away from the system; it does not make a hostile template cheap
to run. Output is capped (``max_output_bytes``), as are ``*`` and ``**`` on large operands.
"""

from __future__ import annotations

import json
import traceback
from pathlib import PurePath
from typing import Any, Final

from jinja2 import StrictUndefined, Undefined, nodes
from jinja2 import TemplateError as JinjaTemplateError
from jinja2 import TemplateSyntaxError as JinjaSyntaxError
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace
from lxml import etree

from faxpush.core.errors import TemplateError
from faxpush.core.json_codec import JSON_CONTENT_TYPE
from faxpush.core.models import FaxJobReport
from faxpush.core.status_codes import lookup
from faxpush.core.xml_codec import XML_CONTENT_TYPE

TEXT_CONTENT_TYPE: Final = "text/plain; charset=UTF-8"
DEFAULT_MAX_OUTPUT_BYTES: Final = 1024 * 1024

_CONTENT_TYPES_BY_SUFFIX: Final = {
    ".xml": XML_CONTENT_TYPE,
    ".json": JSON_CONTENT_TYPE,
    ".txt": TEXT_CONTENT_TYPE,
}
_TEMPLATE_SUFFIXES: Final = frozenset({".j2", ".jinja", ".jinja2", ".tpl", ".tmpl"})
_MAX_POWER_BITS: Final = 4096
_MAX_REPEAT_ITEMS: Final = DEFAULT_MAX_OUTPUT_BYTES
_XML_ESCAPES: Final = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "'": "&apos;",
        "\t": "&#9;",
        "\n": "&#10;",
        "\r": "&#13;",
    }
)
_REFUSED_NODES: Final = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)


def guess_content_type(filename: str) -> str | None:
    """Content type for a template file name: ``acme.xml.j2`` -> XML; ``None`` if unknown.

    A trailing template suffix (``.j2``, ``.jinja``, ``.jinja2``, ``.tpl``, ``.tmpl``) is skipped.
    """
    suffixes = [s.lower() for s in PurePath(filename).suffixes]
    while suffixes and suffixes[-1] in _TEMPLATE_SUFFIXES:
        suffixes.pop()
    return _CONTENT_TYPES_BY_SUFFIX.get(suffixes[-1]) if suffixes else None


def xml_escape(value: object) -> str:
    """Escape text for XML element content and attribute values; ``None`` becomes ``""``.

    Tab, line feed and carriage return become character references: a parser would turn
    them into spaces in attribute values, and a carriage return into a line feed anywhere.
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else _scalar_text(value)
    return text.translate(_XML_ESCAPES)


def json_str(value: object) -> str:
    """A JSON string literal for ``value`` (quotes included); ``None`` becomes ``null``."""
    if value is None:
        return "null"
    text = value if isinstance(value, str) else _scalar_text(value)
    return json.dumps(text, ensure_ascii=False)


def json_value(value: object) -> str:
    """Any report value (number, boolean, list, object, string, ``None``) as JSON."""
    if isinstance(value, Undefined):
        return str(value)
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise SecurityError(f"json_value cannot encode {type(value).__name__}: {exc}") from None


def status_class(code: object) -> str:
    """The class of a status code (``success``, ``line``, ``number``, ``document``, …)."""
    return "pending" if code is None else str(lookup(str(code)).status_class)


def status_meaning(code: object) -> str:
    """A status code's meaning in words."""
    return "" if code is None else lookup(str(code)).meaning


def _scalar_text(value: object) -> str:
    if isinstance(value, Undefined):
        return str(value)  # a StrictUndefined raises its own "'x' is undefined" here
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise SecurityError(f"expected text, got {type(value).__name__}")


def _xml_problem(body: bytes) -> str | None:
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        line = f"line {exc.lineno}: " if exc.lineno else ""
        return f"well-formed XML: {line}{exc.msg}"
    return None


def _json_problem(body: bytes) -> str | None:
    try:
        json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return f"UTF-8 (byte {exc.start})"
    except json.JSONDecodeError as exc:
        return f"valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}"
    except ValueError as exc:
        return f"valid JSON: {exc}"
    return None


class _PushSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with ``*`` and ``**`` refusing results that would be huge."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            _check_power(left, right)
        elif operator == "*":
            _check_repeat(left, right)
            _check_repeat(right, left)
        return super().call_binop(context, operator, left, right)


def _check_power(base: Any, exponent: Any) -> None:
    if not (isinstance(base, int) and isinstance(exponent, int)):
        return
    if exponent > 0 and max(abs(base).bit_length(), 1) * exponent > _MAX_POWER_BITS:
        raise SecurityError(f"{base} ** {exponent} is too large for a template")


def _check_repeat(sequence: Any, times: Any) -> None:
    if not (isinstance(sequence, str | list | tuple) and isinstance(times, int)):
        return
    if len(sequence) * times > _MAX_REPEAT_ITEMS:
        raise SecurityError(
            f"repeating a sequence to more than {_MAX_REPEAT_ITEMS} items is not allowed"
        )


def _make_environment() -> _PushSandbox:
    env = _PushSandbox(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    # Keep the sandbox's bounded range(); drop lipsum/cycler/joiner, which reports never need.
    safe_range = env.globals["range"]
    env.globals.clear()
    env.globals.update(range=safe_range, dict=dict, namespace=Namespace)
    env.filters.update(
        xml_escape=xml_escape,
        json_str=json_str,
        json_value=json_value,
        status_class=status_class,
        status_meaning=status_meaning,
    )
    return env


_ENV: Final = _make_environment()


class PushTemplate:
    """A compiled customer push layout.

    ``name`` identifies the template in error messages (usually its file name),
    ``content_type`` is sent as the push's Content-Type header.
    """

    def __init__(
        self,
        name: str,
        source: str,
        content_type: str,
        *,
        max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
    ) -> None:
        if not content_type.strip():
            raise TemplateError(f"template {name!r}: the content type is empty")
        self.name = name
        self.source = source
        self.content_type = content_type
        self.max_output_bytes = max_output_bytes
        self._template = self._compile()

    @classmethod
    def from_bytes(
        cls,
        name: str,
        data: bytes,
        content_type: str | None = None,
        *,
        max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
    ) -> PushTemplate:
        """Build a template from a file's bytes (UTF-8); the type is guessed from ``name``."""
        try:
            source = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise TemplateError(
                f"template {name!r}, line {line}: not valid UTF-8 (byte {exc.start}); "
                "save the template as UTF-8"
            ) from None
        resolved = content_type or guess_content_type(name)
        if resolved is None:
            raise TemplateError(
                f"template {name!r}: cannot tell its content type from the file name; "
                "name it *.xml, *.json or *.txt (optionally + .j2) or give the content type"
            )
        return cls(name, source, resolved, max_output_bytes=max_output_bytes)

    def __repr__(self) -> str:
        return f"PushTemplate(name={self.name!r}, content_type={self.content_type!r})"

    def render(self, report: FaxJobReport) -> bytes:
        """Render ``report`` to the push body (UTF-8); failures raise :class:`TemplateError`."""
        context = {"report": report.model_dump(mode="json")}
        try:
            return self._generate(context)
        except TemplateError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure inside a template is the template's
            raise TemplateError(self._describe(exc, self._render_line(exc))) from None

    def _generate(self, context: dict[str, Any]) -> bytes:
        chunks: list[bytes] = []
        size = 0
        for piece in self._template.generate(context):
            chunk = piece.encode("utf-8", errors="surrogatepass")
            size += len(chunk)
            if size > self.max_output_bytes:
                raise SecurityError(
                    f"output exceeds {self.max_output_bytes} bytes; check the template's loops"
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def check_output(self, body: bytes) -> None:
        """Raise :class:`TemplateError` unless ``body`` is well-formed for the content type.

        XML content types (``*/xml``, ``*+xml``) must be well-formed XML, JSON ones
        (``application/json``, ``*+json``) valid JSON; other types are not checked.
        """
        media_type = self.content_type.split(";", 1)[0].strip().lower()
        if media_type.endswith(("/xml", "+xml")):
            problem = _xml_problem(body)
        elif media_type.endswith(("/json", "+json")):
            problem = _json_problem(body)
        else:
            return
        if problem is not None:
            raise TemplateError(f"template {self.name!r}: the output is not {problem}")

    def _compile(self) -> Any:
        try:
            tree = _ENV.parse(self.source, name=self.name, filename=self.name)
            for node in tree.find_all(_REFUSED_NODES):
                raise TemplateError(
                    f"template {self.name!r}, line {node.lineno}: templates cannot include, "
                    "import or extend other templates; put everything in one template"
                )
            code = _ENV.compile(tree, name=self.name, filename=self.name)
            return _ENV.template_class.from_code(_ENV, code, _ENV.make_globals(None))
        except JinjaSyntaxError as exc:
            raise TemplateError(self._describe(exc, exc.lineno)) from None
        except JinjaTemplateError as exc:
            raise TemplateError(self._describe(exc, None)) from None

    def _render_line(self, exc: BaseException) -> int | None:
        # Jinja rewrites tracebacks so that template frames carry the template's file name
        # and source line; the innermost such frame is where the failure happened.
        line = None
        for frame in traceback.extract_tb(exc.__traceback__):
            if frame.filename == self.name and frame.lineno is not None:
                line = frame.lineno
        return line

    def _describe(self, exc: BaseException, line: int | None) -> str:
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        if isinstance(exc, ArithmeticError | TypeError | ValueError | LookupError):
            message = f"{type(exc).__name__}: {message}"
        where = f"template {self.name!r}" + (f", line {line}" if line else "")
        return f"{where}: {' '.join(str(message).split())}"
