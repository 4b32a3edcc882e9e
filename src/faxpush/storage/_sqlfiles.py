"""Load a SQL dialect's files shipped in ``faxpush/storage/sql/<dialect>/``.

``NNNN_<name>.sql`` files are migrations, applied in order of their number; ``queries.sql``
holds named queries, each block introduced by a ``-- name: <name>`` line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType

from faxpush.core.errors import StorageError

_MIGRATION_NAME = re.compile(r"(\d{4})_(\w+)\.sql")
_QUERY_HEADER = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def _directory(dialect: str) -> resources.abc.Traversable:
    return resources.files("faxpush.storage").joinpath("sql", dialect)


@cache
def migrations(dialect: str) -> tuple[Migration, ...]:
    """The dialect's migrations, by version."""
    found = []
    for entry in _directory(dialect).iterdir():
        match = _MIGRATION_NAME.fullmatch(entry.name)
        if match is not None:
            sql = entry.read_text(encoding="utf-8")
            found.append(Migration(int(match.group(1)), match.group(2), sql))
    found.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in found]
    if not found or versions != list(range(1, len(found) + 1)):
        raise StorageError(
            f"the {dialect} migrations shipped with faxpush are incomplete (found versions "
            f"{versions}); reinstall faxpush"
        )
    return tuple(found)


@cache
def queries(dialect: str, filename: str = "queries.sql") -> Mapping[str, str]:
    """The named queries of one of the dialect's query files (``queries.sql`` by default)."""
    text = _directory(dialect).joinpath(filename).read_text(encoding="utf-8")
    parts = _QUERY_HEADER.split(text)  # a preamble, then alternating names and bodies
    named: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in named:
            raise StorageError(f"query {name!r} is defined twice in the {dialect} {filename}")
        named[name] = body.strip()
    return MappingProxyType(named)
