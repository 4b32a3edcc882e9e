"""The rooms of faxpush and their doors, checked on every test run (docs/architecture.md).

* The import contracts in ``pyproject.toml`` (``[tool.importlinter]``: the layers, a pure
  core, a receiver toolkit that stands alone) are run with ``lint-imports``; a broken
  contract fails with import-linter's report, which names every offending import chain.
* A private module (a name starting with ``_``) is used only inside the package that holds
  it. import-linter has no contract for that, so it is checked here on grimp's import graph.
  The top-level private packages in :data:`SHARED_PRIVATE` are the shared plumbing that every
  package may use; their own private modules are theirs again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
# Next to the interpreter running the tests (not resolved: that would leave the venv).
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

SHARED_PRIVATE = frozenset(
    {
        "faxpush._db",
        "faxpush._files",
        "faxpush._loop",
        "faxpush._observe",
        "faxpush._serving",
        "faxpush._signals",
        "faxpush._throttle",
        "faxpush._version",
    }
)

# Imports of another package's private module that are known and on their way out, as
# (importer, imported); each needs a comment saying where it goes. Empty today.
BEING_REMOVED: frozenset[tuple[str, str]] = frozenset()


def private_owner(module: str) -> str | None:
    """The package whose private module ``module`` is (the parent of its innermost private
    part), or None when anyone may import it. An unlisted top-level private module would
    belong to ``faxpush`` as a whole, so a test below requires every one to be listed."""
    parts = module.split(".")
    owner = None
    for index in range(1, len(parts)):
        part = parts[index]
        if not part.startswith("_") or part.startswith("__"):
            continue
        if index == 1 and ".".join(parts[:2]) in SHARED_PRIVATE:
            continue
        owner = ".".join(parts[:index])
    return owner


def private_violations(imports: Iterable[tuple[str, str]]) -> list[str]:
    """The imports (importer, imported) that reach into another package's private module."""
    found = []
    for importer, imported in sorted(imports):
        owner = private_owner(imported)
        if owner is None or importer == owner or importer.startswith(owner + "."):
            continue
        if (importer, imported) not in BEING_REMOVED:
            found.append(f"{importer} imports {imported}, private to {owner}")
    return found


def _all_imports() -> set[tuple[str, str]]:
    graph = grimp.build_graph("faxpush", cache_dir=None)  # no cache directory in the checkout
    return {
        (importer, imported)
        for importer in graph.modules
        for imported in graph.find_modules_directly_imported_by(importer)
    }


def test_import_contracts_are_kept() -> None:
    if not LINT_IMPORTS.exists():
        pytest.fail(f"{LINT_IMPORTS} is missing: install the test extra (pip install -e '.[test]')")
    result = subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache", "--no-logo"],
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "120"},  # the report's lines unwrapped
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"import contracts broken:\n{result.stdout}{result.stderr}"
    assert " 0 broken" in result.stdout


def test_no_module_imports_another_packages_private_module() -> None:
    imports = _all_imports()
    assert len(imports) > 300  # the whole package was read
    assert private_violations(imports) == []
    stale = sorted(BEING_REMOVED - imports)
    assert stale == [], f"these imports are gone: remove them from BEING_REMOVED: {stale}"


def test_every_top_level_private_module_is_listed_as_shared() -> None:
    graph = grimp.build_graph("faxpush", cache_dir=None)
    top_level = {m for m in graph.find_children("faxpush") if m.split(".")[1].startswith("_")}
    assert top_level <= SHARED_PRIVATE


@pytest.mark.parametrize(
    ("importer", "imported", "allowed"),
    [
        ("faxpush.storage.postgres", "faxpush.storage._pg_rows", True),
        ("faxpush.receiver.inbox.postgres", "faxpush.receiver.inbox._pg_rows", True),
        ("faxpush.receiver.inbox.postgres", "faxpush.receiver._deadlines", True),
        ("faxpush.receiver.inbox", "faxpush.receiver._fastjson", True),
        ("faxpush.receiver.app", "faxpush._serving.limits", True),
        ("faxpush.storage.sqlite", "faxpush._db.queries", True),
        ("faxpush.cli.worker", "faxpush._loop", True),
        ("faxpush.cli.main", "faxpush.cli.__main__", True),
        ("faxpush.receiver.inbox._pg_rows", "faxpush.storage._pg_sql", False),
        ("faxpush.cli.push", "faxpush.storage._common", False),
        ("faxpush.receiver.app", "faxpush.receiver.inbox._pg_rows", False),
        ("faxpush.storage.sqlite", "faxpush._db._pool", False),
        ("faxpush.core.models", "faxpush.delivery._private.x", False),
    ],
)
def test_the_private_rule(importer: str, imported: str, allowed: bool) -> None:
    assert (private_violations([(importer, imported)]) == []) is allowed
