"""How the CLI turns faxpush errors into one line on stderr and an exit code.

Every command raises :class:`~faxpush.core.errors.FaxpushError` subclasses and never prints
its own failures; :func:`run` is the single place that reports them, so a user never sees a
traceback for bad input. Anything else escaping a command is a bug and keeps its traceback.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Final, NoReturn

import typer

from faxpush.core.errors import ConfigurationError, FaxpushError, InputError

PROG_NAME: Final = "faxpush"
EXIT_FAILURE: Final = 1
EXIT_BAD_INPUT: Final = 2
EXIT_INTERRUPTED: Final = 130
# The optional dependencies a plain `pip install faxpush` leaves out, by the module a
# command fails to import, and the extra of pyproject.toml that installs each.
EXTRA_FOR_MODULE: Final = {
    "asyncpg": "postgres",
    "uvicorn": "serve",
    "httptools": "serve",
    "pypdf": "emulator",
}


def exit_code_for(exc: FaxpushError) -> int:
    """2 for problems the user fixes (input, configuration), 1 for everything else."""
    return EXIT_BAD_INPUT if isinstance(exc, InputError | ConfigurationError) else EXIT_FAILURE


def one_line(exc: BaseException) -> str:
    """The error's message on one line, prefixed with the program name."""
    message = " ".join(str(exc).split()) or type(exc).__name__
    return f"{PROG_NAME}: {message}"


def print_error(exc: BaseException) -> None:
    """Write :func:`one_line` to stderr; styled when stderr is a terminal, never wrapped.
    A process whose log is JSON lines reports it as one more log record."""
    # Imported here: they load the settings (pydantic) and rich, which a command that
    # succeeds, and `faxpush --help`, may not need.
    from rich.console import Console
    from rich.text import Text

    from faxpush._observe import logs

    line = one_line(exc)
    if logs.writes_json():
        logging.getLogger("faxpush.cli").error(line.removeprefix(f"{PROG_NAME}: "))
        return
    if sys.stderr.isatty():
        console = Console(stderr=True, soft_wrap=True, highlight=False)
        text = Text(line)
        text.stylize("bold red", 0, len(PROG_NAME) + 1)
        console.print(text)
    else:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """The line that names the extra to install when ``exc`` is an optional dependency
    missing, else None (any other missing module is a broken install, with its traceback)."""
    module = (exc.name or "").partition(".")[0]
    extra = EXTRA_FOR_MODULE.get(module)
    if extra is None:
        return None
    return (
        f"{PROG_NAME}: this command needs {module}, which is not installed; "
        f"install it with: pip install 'faxpush[{extra}]'"
    )


def run(app: typer.Typer, argv: Sequence[str] | None = None) -> NoReturn:
    """Run ``app`` and exit: FaxpushError becomes one stderr line and its exit code."""
    try:
        app(args=list(argv) if argv is not None else None, prog_name=PROG_NAME)
    except FaxpushError as exc:
        print_error(exc)
        raise SystemExit(exit_code_for(exc)) from None
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG_NAME}: interrupted\n")
        raise SystemExit(EXIT_INTERRUPTED) from None
    except ModuleNotFoundError as exc:
        line = missing_extra(exc)
        if line is None:
            raise
        sys.stderr.write(line + "\n")
        raise SystemExit(EXIT_BAD_INPUT) from None
    raise SystemExit(0)
