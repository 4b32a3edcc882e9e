"""Which extra the CLI names when an optional dependency is missing (the whole path, from a
fresh install, is in tests/acceptance/test_package.py)."""

from __future__ import annotations

import pytest

from faxpush.cli._errors import missing_extra


@pytest.mark.parametrize(
    ("module", "extra"),
    [
        ("asyncpg", "postgres"),
        ("asyncpg.pool", "postgres"),
        ("uvicorn.config", "serve"),
        ("httptools", "serve"),
        ("pypdf", "emulator"),
    ],
)
def test_an_optional_module_names_its_extra(module: str, extra: str) -> None:
    line = missing_extra(ModuleNotFoundError(f"No module named {module!r}", name=module))
    root = module.partition(".")[0]
    assert line == (
        f"faxpush: this command needs {root}, which is not installed; "
        f"install it with: pip install 'faxpush[{extra}]'"
    )


@pytest.mark.parametrize("module", ["pydantic", "lxml.etree", None])
def test_any_other_missing_module_is_not_explained_away(module: str | None) -> None:
    assert missing_extra(ModuleNotFoundError("gone", name=module)) is None
