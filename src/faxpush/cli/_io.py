"""Reading the CLI's input files, with failures turned into one-line InputErrors."""

from __future__ import annotations

import errno
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final

from faxpush.core.errors import InputError

if TYPE_CHECKING:
    from faxpush.core.templates import PushTemplate

STDIN: Final = "-"
STDIN_NAME: Final = "<stdin>"
MAX_TEMPLATE_BYTES: Final = 256 * 1024

_PROBLEMS: Final = {
    errno.ENOENT: "file not found; check the path",
    errno.EISDIR: "is a directory; give a file",
    errno.ENOTDIR: "a part of the path is not a directory; check the path",
    errno.EACCES: "permission denied; make the file readable",
    errno.EPERM: "permission denied; make the file readable",
    errno.ELOOP: "too many symbolic links; check the path",
}


def source_name(arg: str) -> str:
    """How errors name an input: the path as given, or ``<stdin>`` for ``-``."""
    return STDIN_NAME if arg == STDIN else arg


def read_input(arg: str, *, limit: int) -> bytes:
    """Read a file (or stdin for ``-``), at most ``limit + 1`` bytes.

    The extra byte lets the parser see that the input is over its size limit and say so,
    without the CLI ever holding more than that in memory.
    """
    try:
        if arg == STDIN:
            return sys.stdin.buffer.read(limit + 1)
        with Path(arg).open("rb") as handle:
            return handle.read(limit + 1)
    except OSError as exc:
        problem = _PROBLEMS.get(exc.errno or 0) or f"cannot read: {exc.strerror or exc}"
        raise InputError(f"{source_name(arg)}: {problem}") from None


def load_template(path: str, content_type: str | None = None) -> PushTemplate:
    """Read and compile a push template file; the content type is guessed from its suffix."""
    # Jinja2 loads only for a command given a template (about 60 ms of start-up).
    from faxpush.core.templates import PushTemplate

    data = read_input(path, limit=MAX_TEMPLATE_BYTES)
    if len(data) > MAX_TEMPLATE_BYTES:
        raise InputError(
            f"{source_name(path)}: template is larger than {MAX_TEMPLATE_BYTES} bytes; "
            "a push layout should be far smaller"
        )
    return PushTemplate.from_bytes(source_name(path), data, content_type)
