"""Every command's --help: examples, the variables its options read, and a section in
docs/cli.md. The command tree is walked, so a new command is checked without listing it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from faxpush.cli.main import app

CLI_DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
WIDE = {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}


def command_tree(command: Any = None, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """(``faxpush report parse``, its click command) for the root and every command under it."""
    command = get_command(app) if command is None else command
    yield " ".join(("faxpush", *path)), command
    if hasattr(command, "list_commands"):
        for name in command.list_commands(None):
            yield from command_tree(command.get_command(None, name), (*path, name))


COMMANDS = dict(command_tree())


def help_text(name: str) -> str:
    result = CliRunner().invoke(app, [*name.split()[1:], "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_has_examples_and_names_every_variable(name: str) -> None:
    shown = help_text(name)
    assert "Examples" in shown
    for param in COMMANDS[name].params:
        # A variable named in an option's help must survive Rich's markup.
        for variable in re.findall(r"FAXPUSH_\w+", getattr(param, "help", None) or ""):
            assert variable in shown, (name, param.name, variable)


GROUPS = sorted(name for name, command in COMMANDS.items() if hasattr(command, "list_commands"))


@pytest.mark.parametrize("name", GROUPS)
def test_a_group_lists_each_command_on_one_line_when_there_is_room(name: str) -> None:
    shown = help_text(name)
    for sub in COMMANDS[name].list_commands(None):
        summary = COMMANDS[f"{name} {sub}"].help.split("\n\n")[0]
        one_line = " ".join(summary.split())
        if len(one_line) < 150:  # the 200 columns hold it, with the panel's frame
            assert one_line in shown, (name, sub)


def test_worker_help_shows_its_variables_through_the_console_script() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "faxpush.cli", "worker", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **WIDE},
    )
    assert result.returncode == 0, result.stderr
    assert "Pushes in flight at once [env FAXPUSH_CONCURRENCY, default 64]." in result.stdout
    assert "FAXPUSH_DATABASE_URL" in result.stdout


def test_root_help_offers_shell_completion() -> None:
    shown = help_text("faxpush")
    assert "--install-completion" in shown
    assert "--show-completion" in shown


def test_every_command_has_a_section_in_docs_cli_md() -> None:
    headings = set(re.findall(r"^#+ `(faxpush[^`]*)`", CLI_DOC.read_text(), flags=re.MULTILINE))
    assert set(COMMANDS) - headings == set(), "commands without a section in docs/cli.md"
    assert headings - set(COMMANDS) == set(), "sections of docs/cli.md for no command"


@pytest.mark.parametrize(
    ("words", "offered"),
    [
        ("faxpush rec", {"receivers"}),
        ("faxpush admin token ", {"create", "list", "revoke"}),
        ("faxpush report sample --status B", {"BUSY", "BAD_LINES", "BLACKLIST"}),
    ],
)
def test_tab_completion_offers_commands_and_status_codes(words: str, offered: set[str]) -> None:
    env = {
        **os.environ,
        "_FAXPUSH_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split(" ")) - 1),
    }
    result = subprocess.run(
        [sys.executable, "-m", "faxpush.cli"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == offered
