"""``faxpush db``: create or upgrade the schema, back up a SQLite outbox, and copy an outbox
into PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated

import typer

from faxpush.cli._options import command_group
from faxpush.cli._runtime import DatabaseOption, load_settings, notice, run_with_store
from faxpush.core.errors import ConfigurationError, InputError
from faxpush.storage.base import Store
from faxpush.storage.cipher import KEY_ENV_VAR, SecretCipher, load_cipher, parse_keys
from faxpush.storage.copy import CopyReport, copy_outbox
from faxpush.storage.factory import secret_key_file, sqlite_path
from faxpush.storage.jobs_factory import open_jobs

_MIGRATE_EXAMPLES = """\
[bold]Examples[/bold]

  faxpush db migrate --database-url sqlite:///var/lib/faxpush/faxpush.db

  FAXPUSH_DATABASE_URL=postgresql://faxpush:secret@db:5432/faxpush faxpush db migrate
"""

_COPY_EXAMPLES = """\
[bold]Examples[/bold]: moving a SQLite installation to PostgreSQL

  # stop the workers first, then:
  faxpush db copy sqlite:///faxpush.db postgresql://faxpush:secret@db:5432/faxpush

  # secrets are copied under the source's key; to re-seal them under another key:
  faxpush db copy --target-key-file new.key sqlite:///faxpush.db postgresql://db/faxpush
"""

_BACKUP_EXAMPLES = """\
[bold]Examples[/bold]

  faxpush db backup /var/backups/faxpush-$(date +%F).db     # while the workers run

  faxpush db backup --database-url sqlite:///faxpush.db copy.db --force
"""

app = command_group(
    "Manage the database: create or upgrade its schema, back up a SQLite outbox, copy an "
    "outbox into PostgreSQL.",
    epilog=_MIGRATE_EXAMPLES
    + "\n  faxpush db backup /var/backups/faxpush.db"
    + "\n\n  faxpush db copy sqlite:///faxpush.db postgresql://db/faxpush\n",
)

_PROGRESS_INTERVAL_S = 1.0


def _describe(url: str) -> str:
    path = sqlite_path(url)
    if path is not None:
        return str(path)
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"


@app.command("migrate", epilog=_MIGRATE_EXAMPLES)
def migrate(database_url: DatabaseOption = None) -> None:
    """Create the schema, or upgrade it to this faxpush version (safe to repeat; several
    processes may run it at once)."""
    settings = load_settings(database_url=database_url)

    async def action(store: Store) -> None:
        await store.migrate()  # opening migrated already; this says so explicitly
        await open_jobs(store)  # the emulator's tables, in the same database

    run_with_store(settings, action)
    typer.echo(f"the schema of {_describe(settings.database_url)} is up to date")


@app.command("backup", epilog=_BACKUP_EXAMPLES)
def backup(
    destination: Annotated[Path, typer.Argument(help="The file to write the copy to.")],
    database_url: DatabaseOption = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Copy a SQLite outbox as of one moment, while workers and servers keep running.

    The copy holds everything the database held at that moment, the write-ahead log
    included; a plain file copy of a database in use may be damaged. The stored credentials
    stay sealed with the secret key: keep the key with the backup. On PostgreSQL, use
    pg_dump."""
    from faxpush._db.sqlite_backup import backup as back_up
    from faxpush.storage.sqlite import DEFAULT_BUSY_TIMEOUT

    settings = load_settings(database_url=database_url)
    source = sqlite_path(settings.database_url)
    if source is None:
        raise InputError(
            f"{_describe(settings.database_url)} is not a SQLite database; back up "
            "PostgreSQL with its own tools (pg_dump, or your provider's snapshots)"
        )
    busy_s = DEFAULT_BUSY_TIMEOUT.total_seconds()
    report = back_up(source, destination, busy_s=busy_s, replace=force)
    typer.echo(
        f"backed up {source} to {report.path} ({report.bytes:,} bytes in {report.seconds:.1f} s)"
    )
    if settings.secret_key is None:
        key_file = secret_key_file(settings.database_url)
        notice(f"the credentials in it are sealed with the key in {key_file}: keep a copy of it")
    else:
        notice("the credentials in it are sealed with FAXPUSH_SECRET_KEY: keep that key")


@app.command("copy", epilog=_COPY_EXAMPLES)
def copy(
    source_url: Annotated[
        str, typer.Argument(help="Database to copy from (sqlite:// or postgresql://).")
    ],
    target_url: Annotated[str, typer.Argument(help="PostgreSQL database to copy into.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace an outbox the target already holds.")
    ] = False,
    target_key_file: Annotated[
        Path | None,
        typer.Option(
            "--target-key-file",
            help="Re-seal the secrets under the key(s) in this file (default: keep the source's).",
            show_default=False,
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print no progress.")] = False,
) -> None:
    """Copy accounts, pushes, attempts, cached tokens, the emulator's jobs, the operator
    API's tokens and receiver counters and the console's users into an empty PostgreSQL
    database.

    Stop the workers on the source first. Pushes in flight become pending on the target;
    the row counts are checked before the copy commits. The source's secret key comes from
    FAXPUSH_SECRET_KEY, else from the key file beside the SQLite database."""
    source_cipher, key_file = _source_cipher(source_url)
    target_cipher = None if target_key_file is None else _read_key_file(target_key_file)
    progress = _ProgressPrinter() if not quiet else None
    report = asyncio.run(
        copy_outbox(
            source_url,
            target_url,
            source_cipher=source_cipher,
            target_cipher=target_cipher,
            force=force,
            progress=progress,
        )
    )
    _summarise(report)
    if target_cipher is None and key_file is not None:
        notice(
            f"the copied secrets are sealed with the key in {key_file}; give the workers on "
            f'PostgreSQL that key: export {KEY_ENV_VAR}="$(cat {key_file})"'
        )


def _source_cipher(source_url: str) -> tuple[SecretCipher, Path | None]:
    """The key that opens the source's secrets, and the key file it came from (if one)."""
    settings = load_settings(database_url=source_url)
    if settings.secret_key is not None:
        return parse_keys(settings.secret_key.reveal()), None
    key_file = secret_key_file(source_url)
    if not key_file.is_file():
        raise ConfigurationError(
            f"no secret key for the source: {KEY_ENV_VAR} is not set and {key_file} does not "
            f"exist; set {KEY_ENV_VAR} to the key the source was written with"
        )
    cipher, _ = load_cipher(None, key_file)
    return cipher, key_file


def _read_key_file(path: Path) -> SecretCipher:
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the key file {path}: {exc}") from None
    return parse_keys(text, source=f"key file {path}")


class _ProgressPrinter:
    """Prints ``table: done / total`` on stderr at the start and end of each table, and at
    most once a second in between."""

    def __init__(self) -> None:
        self._last = 0.0

    def __call__(self, table: str, done: int, total: int) -> None:
        now = time.monotonic()
        if done in (0, total) or now - self._last >= _PROGRESS_INTERVAL_S:
            self._last = now
            typer.echo(f"{table}: {done:,} / {total:,}", err=True)


def _summarise(report: CopyReport) -> None:
    counts = ", ".join(f"{count:,} {table}" for table, count in report.rows.items())
    typer.echo(f"copied {report.source} to {report.target}: {counts} (counts verified)")
    if report.requeued:
        typer.echo(f"{report.requeued:,} push(es) that were in flight are pending again")
    sealing = "re-sealed under the target key" if report.resealed else "kept under the same key"
    typer.echo(f"{report.secrets:,} secret(s) checked and {sealing}")
