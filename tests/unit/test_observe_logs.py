"""faxpush._observe.logs: one handler per process, text or JSON lines."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from faxpush._observe.logs import configure_logging, writes_json
from faxpush.core.errors import ConfigurationError
from faxpush.core.outcome import Verdict
from faxpush.core.settings import LogFormat
from faxpush.delivery.hooks import AttemptDetails, log_attempt


@pytest.fixture
def root_logging() -> Iterator[None]:
    """Take the handler configure_logging installs off the root logger after the test, and
    put the levels and uvicorn's loggers back as they were."""
    root, uvicorn = logging.getLogger(), logging.getLogger("uvicorn")
    before, level = set(root.handlers), root.level
    uvicorn_handlers, propagate = uvicorn.handlers[:], uvicorn.propagate
    try:
        yield
    finally:
        for handler in set(root.handlers) - before:
            if type(handler).__module__ == "faxpush._observe.logs":
                root.removeHandler(handler)
        root.setLevel(level)
        uvicorn.handlers[:], uvicorn.propagate = uvicorn_handlers, propagate


def details(**changes: object) -> AttemptDetails:
    values: dict[str, object] = {
        "delivery_id": "d-1",
        "job_id": "J1",
        "url": "https://hooks.example.org/fax",
        "attempt": 2,
        "http_status": None,
        "error_class": "connect",
        "error_message": "cannot connect",
        "duration_ms": 12.5,
        "verdict": Verdict.RETRY,
        "reason": "connection failed",
        "next_attempt_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "auth_steps": ("basic",),
        "auth_method": "HTTP_BASIC",
        "started_at": datetime(2026, 1, 2, 3, 4, 0, tzinfo=UTC),
    }
    values.update(changes)
    return AttemptDetails(**values)  # type: ignore[arg-type]  # keys are the fields


@pytest.mark.usefixtures("root_logging")
def test_json_attempt_line_carries_the_attempt_fields() -> None:
    out = io.StringIO()
    configure_logging("info", LogFormat.JSON, stream=out)
    log_attempt(details())
    (line,) = out.getvalue().splitlines()
    record = json.loads(line)
    assert record["level"] == "INFO"
    assert record["logger"] == "faxpush.delivery"
    assert record["time"].endswith("Z")
    assert datetime.fromisoformat(record["time"]).tzinfo is not None
    assert record["message"].startswith("retry push d-1 job J1 attempt 2")
    assert record["delivery_id"] == "d-1"
    assert record["job_id"] == "J1"
    assert record["url"] == "https://hooks.example.org/fax"
    assert record["attempt"] == 2
    assert record["http_status"] is None
    assert record["error_class"] == "connect"
    assert record["error_message"] == "cannot connect"
    assert record["duration_ms"] == 12.5
    assert record["verdict"] == "retry"
    assert record["next_attempt_at"] == "2026-01-02T03:04:05Z"
    assert record["auth_method"] == "HTTP_BASIC"
    assert record["auth_steps"] == ["basic"]
    assert writes_json()


@pytest.mark.usefixtures("root_logging")
def test_an_exception_stays_on_one_line_and_fields_never_replace_the_base_keys() -> None:
    out = io.StringIO()
    configure_logging("DEBUG", "json", stream=out)
    log = logging.getLogger("faxpush.test")
    try:
        int("bad\nthing")
    except ValueError:
        log.exception("it broke", extra={"faxpush": {"message": "not this", "jobId": "J\u20289"}})
    log.debug("second")
    first, second = out.getvalue().splitlines()
    record = json.loads(first)
    assert record["message"] == "it broke"
    assert record["jobId"] == "J\u20289"
    assert "ValueError: invalid literal" in record["exception"]
    assert "\u2028" not in first  # written as an escape: no reader splits the line there
    assert json.loads(second)["level"] == "DEBUG"


@pytest.mark.usefixtures("root_logging")
def test_text_stays_the_human_line_and_uvicorn_goes_through_the_same_handler() -> None:
    uvicorn = logging.getLogger("uvicorn.error")
    stray = logging.StreamHandler(io.StringIO())
    logging.getLogger("uvicorn").addHandler(stray)
    logging.getLogger("uvicorn").propagate = False
    out = io.StringIO()
    configure_logging("INFO", stream=out)
    uvicorn.warning("from uvicorn")
    assert stray not in logging.getLogger("uvicorn").handlers
    assert out.getvalue().endswith(" WARNING uvicorn.error: from uvicorn\n")
    assert not writes_json()
    configure_logging("INFO", "json", stream=out)  # again: replaces its own handler only
    ours = [h for h in logging.getLogger().handlers if getattr(h, "stream", None) is out]
    assert len(ours) == 1


@pytest.mark.parametrize(
    ("level", "fmt", "setting"),
    [("LOUD", "text", "log_level"), ("NOTSET", "text", "log_level"), ("INFO", "xml", "log_format")],
)
def test_a_bad_level_or_format_names_the_setting(level: str, fmt: str, setting: str) -> None:
    with pytest.raises(ConfigurationError, match=f"setting {setting} .*use one of"):
        configure_logging(level, fmt, stream=sys.stderr)


@pytest.mark.usefixtures("root_logging")
def test_an_attempt_below_the_level_is_not_formatted_at_all() -> None:
    out = io.StringIO()
    configure_logging("WARNING", "json", stream=out)
    log_attempt(details(verdict=Verdict.DELIVERED, http_status=200))
    assert out.getvalue() == ""
    log_attempt(details(verdict=Verdict.FAILED))
    assert json.loads(out.getvalue())["level"] == "WARNING"
