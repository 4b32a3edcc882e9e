"""Choosing the event loop: ``faxpush._loop`` and the ``event_loop`` setting."""

from __future__ import annotations

import asyncio
import logging
import sys
import warnings
from collections.abc import Coroutine
from typing import Any

import pytest
import uvloop

from faxpush import _loop
from faxpush._serving.server import server_for
from faxpush.core.errors import ConfigurationError
from faxpush.core.settings import EventLoop, Settings


@pytest.fixture
def without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    """``import uvloop`` fails as it does where it is not installed."""
    monkeypatch.setitem(sys.modules, "uvloop", None)


async def _kind() -> str:
    return _loop.running_loop_name()


def test_the_setting_defaults_to_auto_and_reads_the_variable() -> None:
    assert Settings.from_env({}).event_loop is EventLoop.AUTO
    assert Settings.from_env({"FAXPUSH_EVENT_LOOP": "asyncio"}).event_loop is EventLoop.ASYNCIO
    flags = {"event_loop": EventLoop.UVLOOP}
    assert Settings.from_env({"FAXPUSH_EVENT_LOOP": "asyncio"}, flags).event_loop == "uvloop"


def test_a_bad_value_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="FAXPUSH_EVENT_LOOP") as caught:
        Settings.from_env({"FAXPUSH_EVENT_LOOP": "trio"})
    assert "'auto', 'uvloop' or 'asyncio'" in str(caught.value)


def test_auto_takes_uvloop_where_it_is_installed() -> None:
    assert _loop.loop_factory(EventLoop.AUTO) is uvloop.new_event_loop
    assert _loop.loop_name(EventLoop.AUTO) == "uvloop"
    assert _loop.run(_kind, EventLoop.AUTO) == "uvloop"


def test_asyncio_never_takes_uvloop() -> None:
    assert _loop.loop_factory(EventLoop.ASYNCIO) is None
    assert _loop.loop_name(EventLoop.ASYNCIO) == "asyncio"
    assert _loop.run(_kind, EventLoop.ASYNCIO) == "asyncio"


def test_uvloop_takes_uvloop() -> None:
    assert _loop.run(_kind, EventLoop.UVLOOP) == "uvloop"


@pytest.mark.usefixtures("without_uvloop")
def test_auto_without_uvloop_is_asyncio() -> None:
    assert _loop.loop_factory(EventLoop.AUTO) is None
    assert _loop.run(_kind, EventLoop.AUTO) == "asyncio"


@pytest.mark.usefixtures("without_uvloop")
def test_uvloop_without_uvloop_is_a_configuration_error_saying_what_to_do() -> None:
    called = False

    def main() -> Coroutine[Any, Any, str]:
        nonlocal called
        called = True
        return _kind()

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine ... was never awaited" would fail here
        with pytest.raises(ConfigurationError) as caught:
            _loop.run(main, EventLoop.UVLOOP)
        with pytest.raises(ConfigurationError):
            _loop.loop_name(EventLoop.UVLOOP)
    message = str(caught.value)
    assert "uvloop cannot be imported" in message
    assert "pip install uvloop" in message
    assert "FAXPUSH_EVENT_LOOP" in message
    assert "auto or asyncio" in message
    assert not called


@pytest.mark.parametrize(
    ("choice", "shown"), [(EventLoop.AUTO, "uvloop "), (EventLoop.ASYNCIO, "asyncio")]
)
def test_run_logs_the_loop_it_runs_on(
    caplog: pytest.LogCaptureFixture, choice: EventLoop, shown: str
) -> None:
    with caplog.at_level(logging.INFO, logger="faxpush.loop"):
        _loop.run(_kind, choice)
    (record,) = [r for r in caplog.records if r.name == "faxpush.loop"]
    assert record.getMessage().startswith(f"event loop: {shown}")
    assert record.getMessage().endswith(f"(setting: {choice.value})")


def test_run_returns_the_result_and_closes_its_loop() -> None:
    loops: list[asyncio.AbstractEventLoop] = []

    async def main() -> int:
        loops.append(asyncio.get_running_loop())
        return 42

    assert _loop.run(main, EventLoop.AUTO) == 42
    assert loops[0].is_closed()


def test_uvicorn_is_told_the_loop_the_server_is_built_on() -> None:
    async def build() -> str:
        return str(server_for(lambda *_: asyncio.sleep(0)).config.loop)

    assert _loop.run(build, EventLoop.ASYNCIO) == "asyncio"
    assert _loop.run(build, EventLoop.UVLOOP) == "uvloop"
    assert server_for(lambda *_: asyncio.sleep(0)).config.loop == "auto"  # no loop running
    assert server_for(lambda *_: asyncio.sleep(0), loop="asyncio").config.loop == "asyncio"
