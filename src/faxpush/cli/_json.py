"""``--json``: what the listing and showing commands print for scripts instead of tables.

Each command prints one JSON document on stdout (progress and warnings go to stderr), in the
shapes of :mod:`faxpush.storage.json_views` where the operator API shows the same thing.
The shapes are documented in ``docs/cli-json.md``.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

JsonOption = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print one JSON document for scripts instead of text (shapes: docs/cli-json.md).",
    ),
]


def print_json(document: Any) -> None:
    """Write ``document`` to stdout as indented JSON, non-ASCII text kept as it is."""
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


__all__ = ["JsonOption", "print_json"]
