"""The console's session cookies and login throttle, without a server."""

from __future__ import annotations

import time

from faxpush.console.security import LoginThrottle, SessionSigner, new_session


def test_a_session_survives_encoding_and_nothing_else_does() -> None:
    signer = SessionSigner(b"k" * 32)
    session = new_session("token", "ops", can_write=True, proof="ab" * 32)
    value = signer.encode(session)
    assert signer.decode(value, now=time.time()) == session
    payload, _, mac = value.rpartition(".")
    assert signer.decode(payload + "x." + mac, now=time.time()) is None  # altered
    assert SessionSigner(b"o" * 32).decode(value, now=time.time()) is None  # another key
    assert signer.decode(value, now=session.expires + 1) is None  # expired
    assert signer.decode("garbage", now=time.time()) is None


def test_csrf_tokens_belong_to_their_session() -> None:
    signer = SessionSigner(b"k" * 32)
    mine, theirs = (new_session("user", name, can_write=True, proof="p") for name in ("a", "b"))
    assert signer.csrf_valid(mine, signer.csrf_token(mine))
    assert not signer.csrf_valid(mine, signer.csrf_token(theirs))
    assert not signer.csrf_valid(mine, None)


def test_failures_double_the_wait_in_bounded_memory() -> None:
    throttle = LoginThrottle(max_entries=3)
    keys = ("addr:127.0.0.1", "user:alice")
    assert throttle.delay(keys) == 0
    throttle.failed(keys)
    throttle.failed(keys)
    assert throttle.delay(keys) == 0.5
    assert throttle.delay(("addr:127.0.0.2", "user:alice")) == 0.5  # the name counts too
    for _ in range(10):
        throttle.failed(keys)
    assert throttle.delay(keys) == 8.0  # capped
    throttle.succeeded("user:alice")
    assert throttle.delay(("user:alice",)) == 0
    for n in range(10):
        throttle.failed((f"addr:10.0.0.{n}",))
    assert len(throttle._failures) == 3


def test_one_attempt_per_name_and_four_per_address_at_a_time() -> None:
    throttle = LoginThrottle()
    alice = ("addr:10.0.0.1", "user:alice")
    assert throttle.admit(alice)
    assert not throttle.admit(("addr:10.0.0.2", "user:alice"))  # the name is busy
    others = [("addr:10.0.0.1", f"user:u{n}") for n in range(4)]
    assert [throttle.admit(keys) for keys in others] == [True, True, True, False]
    assert not throttle.admit(("addr:10.0.0.1",))  # the address has four under way
    throttle.release(alice)
    assert throttle.admit(("addr:10.0.0.3", "user:alice"))
    throttle.release(("addr:10.0.0.3", "user:alice"))
    for keys in others[:3]:
        throttle.release(keys)
    assert throttle._in_flight == {}  # nothing kept once every attempt is over
