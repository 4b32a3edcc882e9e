"""``faxpush.core`` stays pure: no network, database or asyncio code, nothing from outer layers.

Two checks, because each misses something the other sees:

* at run time, every core module is imported in a fresh interpreter and the modules that
  appear are compared with a forbidden list (catches what dependencies drag in);
* statically, every ``import`` statement in the core sources is read with ``ast`` (catches a
  forbidden import even when the stdlib already loaded that module for another reason).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import faxpush.core

CORE_DIR = Path(faxpush.core.__file__).resolve().parent
FORBIDDEN = (
    "socket",
    "asyncio",
    "aiohttp",
    "sqlite3",
    "aiosqlite",
    "psycopg",
    "http.client",
    "urllib.request",
    "ssl",
    "starlette",
    "uvicorn",
)

# pydantic looks for plugins with importlib.metadata, which imports email.utils, which imports
# socket (for email.utils.make_msgid). That is the stdlib's packaging metadata, not network code,
# so it counts as part of the interpreter's baseline; the static scan still forbids `socket`.
BASELINE_SCRIPT = """
import json, sys
import importlib.metadata
print(json.dumps(sorted(sys.modules)))
"""

# The package root is replaced by an empty namespace so that faxpush/__init__.py (which
# re-exports the public API from every layer) does not run: only core's own imports count.
IMPORT_ALL_SCRIPT = """
import sys
before = set(sys.modules)
import importlib, importlib.metadata, pkgutil, types
root = types.ModuleType("faxpush")
root.__path__ = [PACKAGE_DIR]
sys.modules["faxpush"] = root
import faxpush.core as core
names = sorted(m.name for m in pkgutil.walk_packages(core.__path__, "faxpush.core."))
for name in names:
    importlib.import_module(name)
loaded = sorted(set(sys.modules) - before)
import json
print(json.dumps({"modules": names, "loaded": loaded}))
"""


def _run(script: str) -> Any:
    # -I: no environment variables, user site or current directory; the tested sources are
    # put first on the path explicitly (sys.path changes import nothing by themselves).
    prologue = f"import sys; sys.path.insert(0, {str(CORE_DIR.parents[1])!r})\n"
    result = subprocess.run(
        [sys.executable, "-I", "-c", prologue + script],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


def _baseline() -> set[str]:
    modules = _run(BASELINE_SCRIPT)
    assert isinstance(modules, list)
    return {str(m) for m in modules}


def _is_forbidden(module: str) -> bool:
    if module.startswith("faxpush.") and not (
        module == "faxpush.core" or module.startswith("faxpush.core.")
    ):
        return True
    return any(module == name or module.startswith(name + ".") for name in FORBIDDEN)


def _core_sources() -> list[Path]:
    return sorted(CORE_DIR.rglob("*.py"))


def test_forbidden_list_matches_what_it_should() -> None:
    assert _is_forbidden("asyncio.events")
    assert _is_forbidden("http.client")
    assert _is_forbidden("faxpush.storage.base")
    assert _is_forbidden("faxpush.cli")
    assert not _is_forbidden("faxpush.core.models")
    assert not _is_forbidden("http")
    assert not _is_forbidden("urllib.parse")
    assert not _is_forbidden("sslx")


def test_importing_every_core_module_loads_nothing_forbidden() -> None:
    baseline = _baseline()
    outcome = _run(IMPORT_ALL_SCRIPT.replace("PACKAGE_DIR", repr(str(CORE_DIR.parent))))
    assert isinstance(outcome, dict)

    modules = outcome["modules"]
    # the walk must really have found the core (and this very set of modules)
    expected = {f"faxpush.core.{p.stem}" for p in CORE_DIR.glob("*.py") if p.stem != "__init__"}
    assert expected <= set(modules)
    assert {"faxpush.core.models", "faxpush.core.templates", "faxpush.core.formats"} <= set(modules)

    newly_loaded = set(outcome["loaded"]) - baseline
    assert set(modules) <= newly_loaded
    offenders = sorted(m for m in newly_loaded if _is_forbidden(m))
    assert offenders == [], f"faxpush.core imports {offenders}"


def test_baseline_preloads_no_forbidden_module_except_the_documented_socket() -> None:
    baseline = _baseline()
    assert sorted(m for m in baseline if _is_forbidden(m)) in ([], ["socket"])


def _imported_names(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level > 0:
                # relative: resolve against faxpush.core (modules live directly in it)
                base = "faxpush.core" if node.level == 1 else "faxpush"
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            found.extend((node.lineno, f"{module}.{alias.name}") for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return found


@pytest.mark.parametrize("source", _core_sources(), ids=lambda p: p.name)
def test_core_source_has_no_forbidden_import_statement(source: Path) -> None:
    tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    offenders = [
        f"line {line}: {name}" for line, name in _imported_names(tree) if _is_forbidden(name)
    ]
    assert offenders == []


def test_static_scan_catches_forbidden_imports() -> None:
    sample = (
        "import socket\n"
        "from asyncio import sleep\n"
        "from http import client\n"
        "from urllib.request import urlopen\n"
        "from faxpush.storage import base\n"
        "from ..delivery import worker\n"
        "import importlib\nimportlib.import_module('sqlite3')\n"
        "import json\nfrom urllib.parse import quote\nfrom .models import FaxJobReport\n"
    )
    names = [name for _, name in _imported_names(ast.parse(sample)) if _is_forbidden(name)]
    assert sorted(names) == sorted(
        [
            "socket",
            "asyncio",
            "asyncio.sleep",
            "http.client",
            "urllib.request",
            "urllib.request.urlopen",
            "faxpush.storage",
            "faxpush.storage.base",
            "faxpush.delivery",
            "faxpush.delivery.worker",
            "sqlite3",
        ]
    )
