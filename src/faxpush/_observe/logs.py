"""How every command writes its log: one handler on stderr, text lines or JSON lines.

A command calls :func:`configure_logging` once, before anything logs. The handler sits on
the root logger; uvicorn's loggers, which get handlers of their own and stop propagating
when uvicorn configures logging itself, are pointed back at it, so that a process writes
one format only (the servers are built with ``log_config=None`` for the same reason).

``text`` is one human line per event. ``json`` is one object per line for log pipelines:
``time`` (RFC 3339, UTC), ``level``, ``logger``, ``message``, then the machine-readable
fields a record carries as ``extra={"faxpush": {...}}`` (an attempt's delivery id, job id,
URL and so on, see ``faxpush.delivery.hooks``), and ``exception`` with the formatted
traceback when there is one; newlines inside values are escaped, so a record is one line.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Final, TextIO

from faxpush.core.errors import ConfigurationError
from faxpush.core.settings import LogFormat

TEXT_FORMAT: Final = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
TEXT_DATE_FORMAT: Final = "%Y-%m-%dT%H:%M:%S"
FIELDS_ATTRIBUTE: Final = "faxpush"  # records carry their fields as extra={"faxpush": {...}}
LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# uvicorn's own loggers; uvicorn's dictConfig gives them handlers and propagate=False.
_UVICORN_LOGGERS: Final = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


class JsonLineFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, FIELDS_ATTRIBUTE, None)
        if isinstance(fields, Mapping):
            for key, value in fields.items():
                line.setdefault(str(key), value)  # the four keys above always win
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        # ensure_ascii: no raw U+2028 or other separator a reader might split a line at.
        return json.dumps(line, default=_plain, separators=(",", ":"))


def _plain(value: object) -> object:
    """What a field that JSON cannot hold is written as."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)


class _ProcessHandler(logging.StreamHandler[TextIO]):
    """The handler :func:`configure_logging` installs (found again by its class)."""


def formatter_for(fmt: LogFormat) -> logging.Formatter:
    if fmt is LogFormat.JSON:
        return JsonLineFormatter()
    return logging.Formatter(TEXT_FORMAT, datefmt=TEXT_DATE_FORMAT)


def configure_logging(
    level: str, fmt: LogFormat | str = LogFormat.TEXT, *, stream: TextIO | None = None
) -> None:
    """Send every log record of the process to ``stream`` (stderr) in ``fmt``, from ``level``.

    Called again, it replaces its own handler and leaves other handlers alone. A level or
    format that does not exist is a :class:`ConfigurationError` naming the setting.
    """
    name = level.strip().upper()
    if name not in logging.getLevelNamesMapping() or name == "NOTSET":
        raise ConfigurationError(
            f"setting log_level (env FAXPUSH_LOG_LEVEL): {level!r} is not a log level; "
            f"use one of {', '.join(LEVELS)}"
        )
    try:
        log_format = LogFormat(str(fmt).strip().lower())
    except ValueError:
        choices = ", ".join(f.value for f in LogFormat)
        raise ConfigurationError(
            f"setting log_format (env FAXPUSH_LOG_FORMAT): {fmt!r} is not a log format; "
            f"use one of {choices}"
        ) from None
    handler = _ProcessHandler(sys.stderr if stream is None else stream)
    handler.setFormatter(formatter_for(log_format))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _ProcessHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(name)
    for uvicorn_name in _UVICORN_LOGGERS:
        uvicorn_logger = logging.getLogger(uvicorn_name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True


def writes_json() -> bool:
    """Whether :func:`configure_logging` set this process to JSON lines: then a command's
    notices go through the log too, so that stderr holds nothing but JSON."""
    return any(
        isinstance(h, _ProcessHandler) and isinstance(h.formatter, JsonLineFormatter)
        for h in logging.getLogger().handlers
    )


__all__ = [
    "FIELDS_ATTRIBUTE",
    "LEVELS",
    "JsonLineFormatter",
    "configure_logging",
    "formatter_for",
    "writes_json",
]
