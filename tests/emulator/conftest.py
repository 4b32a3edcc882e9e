"""Fixtures of the emulator tests: a running emulator on SQLite in a temporary directory.

``emulator`` is fresh for every test. ``shared_emulator`` lives for a whole module (start
and stop cost a few hundred milliseconds); a module using it runs its tests in one event
loop (``pytestmark = pytest.mark.asyncio(loop_scope="module")``) and must not depend on
what other tests left in it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from .harness import Emulator, running_emulator


@pytest.fixture
async def emulator(tmp_path: Path) -> AsyncIterator[Emulator]:
    async with running_emulator(tmp_path) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_emulator(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Emulator]:
    async with running_emulator(tmp_path_factory.mktemp("emulator")) as running:
        yield running
