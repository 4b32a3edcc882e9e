"""The PostgreSQL named queries, turned from ``:name`` parameters into asyncpg's ``$n``.

The ``.sql`` files use ``:name`` placeholders, as the SQLite ones do, so that the queries read
the same in both dialects; ``::type`` casts are left alone, and ``--`` comments are dropped
first (a placeholder named in a comment is not a parameter). Each query is compiled once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from faxpush.core.errors import StorageError
from faxpush.storage._sqlfiles import queries

DIALECT = "postgresql"
_PLACEHOLDER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_COMMENT = re.compile(r"--[^\n]*")  # the queries put no "--" inside string literals


@dataclass(frozen=True, slots=True)
class Query:
    """A query in asyncpg's form and the parameter names in ``$n`` order."""

    name: str
    text: str
    names: tuple[str, ...]

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        """The positional arguments for ``params``; every placeholder must be given."""
        missing = [name for name in self.names if name not in params]
        if missing:
            raise StorageError(f"query {self.name!r} needs parameters {missing}; this is a bug")
        return [params[name] for name in self.names]


def compile_query(name: str, sql: str) -> Query:
    """Replace each distinct ``:name`` with ``$1``, ``$2``, … in order of first use."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        param = match.group(1)
        if param not in names:
            names.append(param)
        return f"${names.index(param) + 1}"

    text = _PLACEHOLDER.sub(number, _COMMENT.sub("", sql)).strip()
    return Query(name, text, tuple(names))


@cache
def query(name: str) -> Query:
    """The named PostgreSQL query, compiled."""
    try:
        sql = queries(DIALECT)[name]
    except KeyError:
        raise StorageError(f"no PostgreSQL query named {name!r}; this is a bug") from None
    return compile_query(name, sql)
