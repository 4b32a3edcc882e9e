"""Contract: enqueue, claim, leases (renew, expiry, release) and next_due_at."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from faxpush.core.errors import InputError
from faxpush.core.models import AuthMethod
from faxpush.core.secrets import Secret
from faxpush.core.targets import ClientAuthStyle
from faxpush.storage.base import PushState, Store, receiver_key

from .builders import LEASE, NOW, PASSWORD, SOON, claim_all, enqueue_many, new_push


async def test_enqueue_stores_a_pending_push_with_every_field(store: Store) -> None:
    assert isinstance(store, Store)
    record = await store.enqueue(new_push("d1"), now=NOW)

    assert record == await store.get_push("d1")
    assert record.delivery_id == "d1"
    assert record.job_id == "job-d1"
    assert record.customer_number == "4711"
    assert record.target.url == "https://push.example.test/hook"
    assert record.target.auth_method is AuthMethod.OAUTH2
    assert record.target.principal == "client-1"
    assert record.target.credentials == Secret(PASSWORD)
    assert record.target.token_url == "https://auth.example.test/token"
    assert record.target.client_auth is ClientAuthStyle.CLIENT_SECRET_POST
    assert record.content_type == "application/xml"
    assert record.body == b"<faxJobReport/>"
    assert record.retry_client_errors is True
    assert record.max_attempts == 7
    assert record.state is PushState.PENDING
    assert record.attempts == 0
    assert record.next_attempt_at == record.created_at == record.updated_at == NOW
    assert (record.claim_id, record.claimed_until, record.last_error) == (None, None, None)


async def test_enqueue_without_credentials_keeps_none(store: Store) -> None:
    record = await store.enqueue(new_push("d1", credentials=None), now=NOW)
    assert record.target.credentials is None
    fetched = await store.get_push("d1")
    assert fetched is not None
    assert fetched.target.credentials is None


async def test_enqueue_keeps_microseconds_and_arbitrary_bytes(store: Store) -> None:
    when = NOW + timedelta(microseconds=123_457)
    body = bytes(range(256)) * 4
    await store.enqueue(new_push("d1", body=body, not_before=when), now=NOW)
    record = await store.get_push("d1")
    assert record is not None
    assert record.body == body
    assert record.next_attempt_at == when


async def test_enqueue_is_idempotent(store: Store) -> None:
    first = await store.enqueue(new_push("d1"), now=NOW)
    second = await store.enqueue(
        new_push("d1", body=b"other", credentials="other"), now=NOW + timedelta(hours=1)
    )
    assert second == first
    assert (await store.count_by_state())[PushState.PENDING] == 1


async def test_get_push_of_unknown_delivery_is_none(store: Store) -> None:
    assert await store.get_push("nope") is None


async def test_delayed_push_is_not_claimed_before_it_is_due(store: Store) -> None:
    due = NOW + timedelta(minutes=5)
    await store.enqueue(new_push("later", not_before=due), now=NOW)
    await store.enqueue(new_push("now"), now=NOW)

    hour = timedelta(hours=1)
    first = await store.claim(worker_id="w", limit=10, lease=hour, now=NOW)
    assert [c.push.delivery_id for c in first] == ["now"]
    early = due - timedelta(microseconds=1)
    assert await store.claim(worker_id="w", limit=10, lease=hour, now=early) == []
    on_time = await store.claim(worker_id="w", limit=10, lease=hour, now=due)
    assert [c.push.delivery_id for c in on_time] == ["later"]


async def test_claim_takes_oldest_due_first_up_to_the_limit(store: Store) -> None:
    await store.enqueue(new_push("c"), now=NOW)
    await store.enqueue(new_push("a", not_before=NOW - timedelta(minutes=2)), now=NOW)
    await store.enqueue(new_push("b", not_before=NOW - timedelta(minutes=1)), now=NOW)
    await store.enqueue(new_push("d"), now=NOW)  # ties with "c": enqueue order decides

    first = await store.claim(worker_id="w", limit=3, lease=LEASE, now=NOW)
    assert [c.push.delivery_id for c in first] == ["a", "b", "c"]
    rest = await store.claim(worker_id="w", limit=3, lease=LEASE, now=NOW)
    assert [c.push.delivery_id for c in rest] == ["d"]


async def test_claim_leases_each_push_with_a_fresh_claim_id(store: Store) -> None:
    await enqueue_many(store, 5)
    claims = await claim_all(store, worker_id="worker-7")

    assert len(claims) == 5
    assert len({c.claim_id for c in claims}) == 5
    for claim in claims:
        assert claim.claim_id.startswith("worker-7:")
        assert claim.claimed_until == SOON + LEASE
        assert claim.push.state is PushState.IN_FLIGHT
        assert claim.push.claim_id == claim.claim_id
        assert claim.push.target.credentials == Secret(PASSWORD)
        stored = await store.get_push(claim.push.delivery_id)
        assert stored == claim.push
        assert stored.updated_at == SOON


async def test_claimed_push_is_not_claimed_again_while_leased(store: Store) -> None:
    await enqueue_many(store, 3)
    assert len(await claim_all(store)) == 3
    still_leased = SOON + LEASE - timedelta(microseconds=1)
    assert await claim_all(store, worker_id="w2", now=still_leased) == []


async def test_expired_lease_comes_back_with_a_new_claim_id(store: Store) -> None:
    await enqueue_many(store, 1)
    (first,) = await claim_all(store, worker_id="w1")
    expired = first.claimed_until
    (second,) = await claim_all(store, worker_id="w2", now=expired)

    assert second.push.delivery_id == first.push.delivery_id
    assert second.claim_id != first.claim_id
    assert second.claim_id.startswith("w2:")
    assert second.claimed_until == expired + LEASE
    assert second.push.attempts == 0


async def test_claim_merges_expired_leases_and_due_pushes_by_due_time(store: Store) -> None:
    await store.enqueue(new_push("old", not_before=NOW - timedelta(hours=1)), now=NOW)
    (lost,) = await store.claim(worker_id="w1", limit=1, lease=LEASE, now=NOW)
    await store.enqueue(new_push("new"), now=NOW)
    later = NOW + LEASE
    claims = await store.claim(worker_id="w2", limit=1, lease=LEASE, now=later)
    assert [c.push.delivery_id for c in claims] == ["old"]
    assert claims[0].claim_id != lost.claim_id
    claims = await store.claim(worker_id="w2", limit=5, lease=LEASE, now=later)
    assert [c.push.delivery_id for c in claims] == ["new"]


async def test_claim_with_no_room_returns_nothing(store: Store) -> None:
    await enqueue_many(store, 2)
    assert await store.claim(worker_id="w", limit=0, lease=LEASE, now=SOON) == []
    assert len(await claim_all(store)) == 2


@pytest.mark.parametrize("lease", [timedelta(0), timedelta(seconds=-1)])
async def test_claim_refuses_a_lease_that_is_not_positive(store: Store, lease: timedelta) -> None:
    await enqueue_many(store, 1)
    with pytest.raises(InputError, match="lease must be positive"):
        await store.claim(worker_id="w", limit=1, lease=lease, now=SOON)
    assert len(await claim_all(store)) == 1


async def test_naive_timestamps_are_refused(store: Store) -> None:
    naive = datetime(2024, 5, 1, 12, 0)
    with pytest.raises(InputError, match="no time zone"):
        await store.enqueue(new_push("d1"), now=naive)
    with pytest.raises(InputError, match="no time zone"):
        await store.claim(worker_id="w", limit=1, lease=LEASE, now=naive)
    assert await store.get_push("d1") is None


async def test_renew_extends_only_current_claims(store: Store) -> None:
    await enqueue_many(store, 3)
    a, b, c = await claim_all(store)
    later = SOON + timedelta(seconds=20)

    renewed = await store.renew(
        [
            (a.push.delivery_id, a.claim_id),
            (b.push.delivery_id, "w1:stale"),
            ("unknown", c.claim_id),
        ],
        lease=LEASE,
        now=later,
    )
    assert renewed == {a.push.delivery_id}
    pushed_a = await store.get_push(a.push.delivery_id)
    pushed_b = await store.get_push(b.push.delivery_id)
    assert pushed_a is not None
    assert pushed_b is not None
    assert pushed_a.claimed_until == later + LEASE
    assert pushed_b.claimed_until == b.claimed_until
    assert pushed_b.claim_id == b.claim_id


async def test_renewed_lease_is_not_reclaimed_until_it_expires(store: Store) -> None:
    await enqueue_many(store, 1)
    (claim,) = await claim_all(store)
    renew_at = claim.claimed_until - timedelta(seconds=1)
    pair = [(claim.push.delivery_id, claim.claim_id)]
    assert await store.renew(pair, lease=LEASE, now=renew_at) == {claim.push.delivery_id}

    assert await claim_all(store, worker_id="w2", now=claim.claimed_until) == []
    taken = await claim_all(store, worker_id="w2", now=renew_at + LEASE)
    assert [t.push.delivery_id for t in taken] == [claim.push.delivery_id]
    # the first worker's claim is gone now
    assert await store.renew(pair, lease=LEASE, now=renew_at + LEASE) == set()


async def test_renew_of_nothing_is_nothing(store: Store) -> None:
    assert await store.renew([], lease=LEASE, now=NOW) == set()


async def test_release_returns_held_pushes_to_pending_due_now(store: Store) -> None:
    await enqueue_many(store, 2)
    a, b = await claim_all(store)
    release_at = SOON + timedelta(seconds=5)

    released = await store.release(
        [(a.push.delivery_id, a.claim_id), (b.push.delivery_id, "w1:stale")], now=release_at
    )
    assert released == 1
    pushed = await store.get_push(a.push.delivery_id)
    assert pushed is not None
    assert pushed.state is PushState.PENDING
    assert pushed.next_attempt_at == release_at
    assert (pushed.claim_id, pushed.claimed_until, pushed.attempts) == (None, None, 0)
    assert await store.list_attempts(a.push.delivery_id) == []
    untouched = await store.get_push(b.push.delivery_id)
    assert untouched is not None
    assert untouched.state is PushState.IN_FLIGHT
    assert untouched.claim_id == b.claim_id

    again = await claim_all(store, worker_id="w2", now=release_at)
    assert [c.push.delivery_id for c in again] == [a.push.delivery_id]


async def test_release_with_due_at_defers_the_push(store: Store) -> None:
    await enqueue_many(store, 1)
    (claim,) = await claim_all(store)
    later = SOON + timedelta(seconds=30)
    pair = [(claim.push.delivery_id, claim.claim_id)]
    assert await store.release(pair, now=SOON, due_at=later) == 1
    assert await claim_all(store, worker_id="w2", now=later - timedelta(seconds=1)) == []
    assert await store.next_due_at() == later
    again = await claim_all(store, worker_id="w2", now=later)
    assert [c.push.delivery_id for c in again] == [claim.push.delivery_id]


async def test_release_after_takeover_changes_nothing(store: Store) -> None:
    await enqueue_many(store, 1)
    (old,) = await claim_all(store, worker_id="w1")
    (new,) = await claim_all(store, worker_id="w2", now=old.claimed_until)
    assert await store.release([(old.push.delivery_id, old.claim_id)], now=new.claimed_until) == 0
    pushed = await store.get_push(new.push.delivery_id)
    assert pushed is not None
    assert pushed.claim_id == new.claim_id
    assert await store.release([], now=NOW) == 0


async def test_next_due_at(store: Store) -> None:
    assert await store.next_due_at() is None
    later = NOW + timedelta(minutes=10)
    await store.enqueue(new_push("later", not_before=later), now=NOW)
    assert await store.next_due_at() == later
    await store.enqueue(new_push("soon", not_before=NOW + timedelta(minutes=1)), now=NOW)
    assert await store.next_due_at() == NOW + timedelta(minutes=1)

    (claim,) = await store.claim(
        worker_id="w", limit=1, lease=LEASE, now=NOW + timedelta(minutes=1)
    )
    assert await store.next_due_at() == claim.claimed_until  # the lease expires before "later"
    await store.release([(claim.push.delivery_id, claim.claim_id)], now=NOW + timedelta(hours=1))
    assert await store.next_due_at() == later


async def test_claim_skips_excluded_receivers(store: Store) -> None:
    slow, fast = "https://slow.example.test/hook", "https://FAST.example.test:443/x"
    for n in range(3):
        await store.enqueue(new_push(f"s{n}", url=slow), now=NOW + timedelta(microseconds=n))
    await store.enqueue(new_push("f0", url=fast), now=NOW + timedelta(microseconds=9))
    got = await store.claim(
        worker_id="w1",
        limit=10,
        lease=LEASE,
        now=SOON,
        exclude_receivers={receiver_key(slow)},
    )
    assert [c.push.delivery_id for c in got] == ["f0"]
    rest = await claim_all(store, worker_id="w2")
    assert [c.push.delivery_id for c in rest] == ["s0", "s1", "s2"]
    # expired leases of an excluded receiver are skipped too
    later = rest[0].claimed_until
    again = await store.claim(
        worker_id="w3",
        limit=10,
        lease=LEASE,
        now=later,
        exclude_receivers={receiver_key(slow)},
    )
    assert [c.push.delivery_id for c in again] == ["f0"]


def test_receiver_key_normalises_scheme_host_and_port() -> None:
    assert receiver_key("https://Hooks.Example.org/a?b") == "https://hooks.example.org:443"
    assert receiver_key("http://127.0.0.1:8080/x") == "http://127.0.0.1:8080"
    assert receiver_key("http://[::1]/x") == "http://[::1]:80"
