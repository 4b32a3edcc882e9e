"""Values from the outbox and from endpoints are printed as they are, never read as markup."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from faxpush.cli.check_endpoint import render_table
from faxpush.core.targets import PushTarget
from faxpush.delivery.checker import CheckResult
from faxpush.storage.base import NewPush
from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.sqlite import SqliteStore
from tests.acceptance.test_cli_delivery import cli_env, faxpush

IPV6_URL = "http://[fd00:ec2::254]/meta"
JOB_ID = "[bold]FJ-1[/bold]"


async def _stored_push(database: Path, key: str) -> None:
    """Enqueue one push straight into the outbox; no worker runs, nothing is sent."""
    store = await SqliteStore.open(database, SecretCipher([key]))
    try:
        await store.migrate()
        push = NewPush(
            delivery_id="d-[red]1",
            job_id=JOB_ID,
            target=PushTarget(url=IPV6_URL),
            content_type="application/xml",
            body=b"<faxJobReport/>",
        )
        await store.enqueue(push, now=datetime.now(UTC))
    finally:
        await store.close()


async def test_pushes_list_and_show_print_urls_and_ids_verbatim(tmp_path: Path) -> None:
    key = generate_key()
    await _stored_push(tmp_path / "outbox.db", key)
    env = cli_env(tmp_path) | {"FAXPUSH_SECRET_KEY": key}

    code, listed, err = await faxpush(env, "pushes", "list")
    assert code == 0, err
    assert IPV6_URL in listed
    assert JOB_ID in listed
    assert "d-[red]1" in listed

    code, shown, err = await faxpush(env, "pushes", "show", "d-[red]1")
    assert code == 0, err
    assert f"  url        {IPV6_URL}  auth NONE" in shown
    assert f"push d-[red]1  job {JOB_ID}" in shown


def test_check_endpoint_details_are_printed_verbatim() -> None:
    detail = "POST http://[::1]:8080/hook answered [bold]nope[/bold]"
    result = CheckResult("valid push", "2xx", 500, 12.0, passed=False, detail=detail)
    assert detail in render_table([result], width=200)
