"""Named queries from ``.sql`` files shipped inside a package.

A query file holds blocks like::

    -- name: claim_due
    -- Lease the due pushes to one worker, oldest first.
    SELECT …;

The line after ``-- name:`` is the query's one-line description and is required: a reader of
the file learns what each query is for without reading the code that runs it. Further comment
lines may follow. Text before the first block is the file's own description.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import LiteralString, cast

from faxpush.core.errors import StorageError

_HEADER = re.compile(r"^-- name: (\w+)[ \t]*$", re.MULTILINE)
_DESCRIPTION = re.compile(r"-- (\S[^\n]*)\n")


@dataclass(frozen=True, slots=True)
class Query:
    """One named query: what it is for, and its SQL text (with ``:name`` parameters)."""

    name: str
    description: str
    sql: LiteralString


def read_resource(package: str, path: str) -> str:
    """The text of a file shipped in ``package`` at ``path`` (``/``-separated)."""
    entry = resources.files(package)
    for part in path.split("/"):
        entry = entry.joinpath(part)
    try:
        return entry.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StorageError(
            f"{package}: {path} is missing from the installed faxpush; reinstall faxpush"
        ) from None


@cache
def load_queries(package: str, path: str) -> Mapping[str, Query]:
    """The named queries of the query file ``path`` in ``package``, by name."""
    return parse_queries(read_resource(package, path), f"{package}: {path}")


def parse_queries(text: str, source: str) -> Mapping[str, Query]:
    """Split a query file's text into its named queries; ``source`` names it in errors."""
    parts = _HEADER.split(text)  # a preamble, then alternating names and bodies
    named: dict[str, Query] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in named:
            raise StorageError(f"query {name!r} is defined twice in {source}")
        body = body.lstrip("\n")
        described = _DESCRIPTION.match(body)
        if described is None:
            raise StorageError(
                f"query {name!r} in {source} has no description: the line after "
                f"'-- name: {name}' must say in a '-- ' comment what the query is for"
            )
        sql = body.strip()
        if not _without_comments(sql):
            raise StorageError(f"query {name!r} in {source} has no SQL")
        # The text comes from a file shipped with faxpush, never from a caller: as safe as
        # a literal in the code, which is what LiteralString asks of query text.
        named[name] = Query(name, described.group(1).strip(), cast(LiteralString, sql))
    return MappingProxyType(named)


def _without_comments(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))


def split_statements(script: str) -> list[str]:
    """The statements of a SQL script, each complete by SQLite's parser (which also knows
    that a ``;`` inside a string literal or a trigger body does not end a statement)."""
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if _without_comments(pending).strip():
        statements.append(pending.strip())
    return statements
