"""``faxpush secret-key`` and ``faxpush secrets rotate``: the key that encrypts credentials."""

from __future__ import annotations

import typer

from faxpush.cli._options import command_group
from faxpush.cli._runtime import DatabaseOption, load_settings, run_with_store
from faxpush.storage.base import Store
from faxpush.storage.cipher import generate_key
from faxpush.storage.jobs_factory import open_jobs

KEY_EXAMPLES = """\
[bold]Examples[/bold]

  export FAXPUSH_SECRET_KEY="$(faxpush secret-key)"
"""

_ROTATE_EXAMPLES = """\
[bold]Examples[/bold]: rotating to a new key

  NEW="$(faxpush secret-key)"
  FAXPUSH_SECRET_KEY="$NEW,$OLD" faxpush secrets rotate   # new key first, old still readable
  FAXPUSH_SECRET_KEY="$NEW" faxpush worker                  # the old key is no longer needed
"""

app = command_group(
    "Manage the encryption of stored credentials.",
    epilog=_ROTATE_EXAMPLES,
)


def secret_key() -> None:
    """Print a new random key (Fernet format: urlsafe base64 of 32 bytes) for FAXPUSH_SECRET_KEY."""
    typer.echo(generate_key())


@app.command("rotate", epilog=_ROTATE_EXAMPLES)
def rotate(database_url: DatabaseOption = None) -> None:
    """Re-encrypt every stored secret with the first key of FAXPUSH_SECRET_KEY: the
    outbox's and those of the emulator's jobs in the same database."""
    settings = load_settings(database_url=database_url)

    async def action(store: Store) -> tuple[int, int]:
        jobs = await open_jobs(store)
        return await store.rotate_secrets(), await jobs.rotate_secrets()

    outbox, jobs = run_with_store(settings, action)
    typer.echo(
        f"re-encrypted {outbox + jobs} secret(s) with the current key "
        f"({outbox} in the outbox, {jobs} in the emulator's jobs)"
    )
