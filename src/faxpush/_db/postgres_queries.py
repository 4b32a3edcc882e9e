"""Named queries in asyncpg's form: ``:name`` parameters become ``$1``, ``$2``, ….

The ``.sql`` files use ``:name`` placeholders, as the SQLite ones do, so that the queries read
the same in both dialects; ``::type`` casts are left alone, and ``--`` comments are dropped
first (a placeholder named in a comment is not a parameter). Each query is compiled once.

A store keeps one :class:`PgQueries` per query file and runs
``conn.fetch(*QUERIES.bind("get_entry", {"key": key}))``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from faxpush._db.queries import Query, load_queries
from faxpush.core.errors import StorageError

_PLACEHOLDER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_COMMENT = re.compile(r"--[^\n]*")  # the queries put no "--" inside string literals


@dataclass(frozen=True, slots=True)
class PgQuery:
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

    def bind(self, params: Mapping[str, Any] | None = None) -> list[Any]:
        """The query text followed by its arguments: ``conn.fetch(*query.bind(params))``."""
        return [self.text, *self.args(params or {})]


@cache
def compile_query(query: Query) -> PgQuery:
    """``query`` in asyncpg's form: each distinct ``:name`` becomes ``$1``, ``$2``, … in
    order of first use."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        param = match.group(1)
        if param not in names:
            names.append(param)
        return f"${names.index(param) + 1}"

    text = _PLACEHOLDER.sub(number, _COMMENT.sub("", query.sql)).strip()
    return PgQuery(query.name, text, tuple(names))


class PgQueries:
    """The named queries of one query file shipped in ``package``, compiled on first use."""

    def __init__(self, package: str, path: str) -> None:
        self._package = package
        self._path = path
        self._compiled: dict[str, PgQuery] = {}  # a store's hot paths look up by name only

    def __repr__(self) -> str:
        return f"PgQueries({self._package!r}, {self._path!r})"

    def __getitem__(self, name: str) -> PgQuery:
        compiled = self._compiled.get(name)
        if compiled is None:
            try:
                query = load_queries(self._package, self._path)[name]
            except KeyError:
                raise StorageError(
                    f"no query named {name!r} in {self._package}: {self._path}; this is a bug"
                ) from None
            compiled = self._compiled[name] = compile_query(query)
        return compiled

    def bind(self, name: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        """The named query followed by its positional arguments."""
        return self[name].bind(params)
