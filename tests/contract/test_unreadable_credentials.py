"""Contract: a claimed push whose credentials the configured keys cannot open comes back
marked, alone, so that it can fail without stopping the others; fixed keys make it readable."""

from __future__ import annotations

from faxpush.core.secrets import Secret
from faxpush.storage.base import PushState, Store, Verdict
from faxpush.storage.cipher import SecretCipher, generate_key

from .builders import NOW, PASSWORD, SOON, claim_all, new_push, result
from .conftest import TrackingBackend


async def test_only_the_push_sealed_with_another_key_is_marked_unreadable(
    backend: TrackingBackend,
) -> None:
    old_key, new_key = generate_key(), generate_key()
    before = await backend.open(SecretCipher([old_key]))
    await before.enqueue(new_push("sealed-old"), now=NOW)
    after = await backend.open(SecretCipher([new_key]))
    await after.enqueue(new_push("sealed-new"), now=NOW)
    await after.enqueue(new_push("no-secret", credentials=None), now=NOW)

    claims = {c.push.delivery_id: c for c in await claim_all(after)}

    assert sorted(claims) == ["no-secret", "sealed-new", "sealed-old"]
    bad = claims["sealed-old"]
    assert bad.push.target.credentials is None
    assert bad.unreadable is not None
    assert "cannot be decrypted with the configured secret key(s)" in bad.unreadable
    assert "FAXPUSH_SECRET_KEY" in bad.unreadable
    assert "faxpush pushes redeliver sealed-old" in bad.unreadable
    assert PASSWORD not in bad.unreadable
    assert bad.push.target.url == new_push("x").target.url
    assert claims["sealed-new"].unreadable is None
    assert claims["sealed-new"].push.target.credentials == Secret(PASSWORD)
    assert claims["no-secret"].unreadable is None


async def test_after_the_old_key_is_added_a_redelivered_push_is_readable(
    backend: TrackingBackend,
) -> None:
    old_key, new_key = generate_key(), generate_key()
    await (await backend.open(SecretCipher([old_key]))).enqueue(new_push("d1"), now=NOW)
    wrong: Store = await backend.open(SecretCipher([new_key]))
    (claim,) = await claim_all(wrong)
    assert claim.unreadable is not None
    failed = result(claim, Verdict.FAILED, error=claim.unreadable)
    assert await wrong.finish([failed], now=SOON) == {"d1"}
    push = await wrong.list_attempts("d1")
    assert len(push) == 1

    fixed = await backend.open(SecretCipher([new_key, old_key]))
    assert await fixed.redeliver(delivery_ids=["d1"], now=SOON) == 1
    (again,) = await claim_all(fixed, now=SOON)
    assert again.unreadable is None
    assert again.push.target.credentials == Secret(PASSWORD)
    assert again.push.state is PushState.IN_FLIGHT
