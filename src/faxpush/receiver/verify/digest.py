"""HTTP_DIGEST (RFC 7616) on the receiving side.

* Offers one challenge per configured algorithm (SHA-256, then MD5, by default), all with
  ``qop="auth"`` and the same nonce; a response with an algorithm not offered is refused.
* Nonces are stateless: issue time and salt signed with the server key
  (:mod:`faxpush.core.digest_server`). Past ``nonce_lifetime`` a nonce is stale: a correct
  response then gets a new challenge with ``stale=true``.
* The nonce count must increase with every request on a nonce; a replayed or smaller ``nc``
  is refused. Counts are tracked in memory (per process), bounded: when the table is full the
  oldest nonces are dropped and every nonce issued before them is answered as stale, so a
  forgotten count can never let a replay through.
* ``uri`` must be the request target exactly as sent.
* Users are stored as H(A1) per algorithm (:class:`DigestUser`), never as passwords; an
  unknown user is checked against a dummy H(A1) and refused exactly like a wrong password.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType
from typing import Protocol

from faxpush.core.digest import DigestCredentials, format_challenge, parse_authorization
from faxpush.core.digest_math import canonical_algorithm, response_from_ha1, user_ha1
from faxpush.core.digest_server import issue_nonce, open_nonce, parse_nc
from faxpush.core.errors import ConfigurationError, InputError
from faxpush.core.models import AuthMethod
from faxpush.core.secrets import Secret
from faxpush.receiver.errors import AuthenticationRequiredError
from faxpush.receiver.verify.base import AuthRequest, AuthResult, single_authorization

DEFAULT_ALGORITHMS: tuple[str, ...] = ("SHA-256", "MD5")
DEFAULT_REALM = "faxpush"
DEFAULT_NONCE_LIFETIME = timedelta(minutes=5)
DEFAULT_MAX_TRACKED_NONCES = 100_000


@dataclass(frozen=True, slots=True)
class DigestUser:
    """A digest user as stored: H(A1) by base algorithm (``MD5``, ``SHA-256``), no password."""

    username: str
    ha1: Mapping[str, str]

    @classmethod
    def from_password(
        cls,
        username: str,
        password: Secret | str,
        *,
        realm: str = DEFAULT_REALM,
        algorithms: Iterable[str] = DEFAULT_ALGORITHMS,
    ) -> DigestUser:
        """Compute the H(A1) values and forget the password."""
        plain = password.reveal() if isinstance(password, Secret) else password
        ha1 = {}
        for algorithm in algorithms:
            base = _base(algorithm)
            ha1[base] = user_ha1(base, username=username, realm=realm, password=plain)
        return cls(username, MappingProxyType(ha1))


def _base(algorithm: str) -> str:
    canonical = canonical_algorithm(algorithm)
    if canonical is None:
        raise ConfigurationError(
            f"digest algorithm {algorithm!r} is not supported; use SHA-256, MD5 or their -sess"
        )
    return canonical.removesuffix("-sess")


class NonceSource(Protocol):
    """Issues nonces and tells when one of its nonces was issued (None: not ours)."""

    def issue(self, now_ms: int) -> str: ...

    def issued_at(self, nonce: str) -> int | None: ...


class SignedNonces:
    """Stateless nonces signed with ``key`` (random per process when not given)."""

    def __init__(self, realm: str, key: bytes | None = None) -> None:
        if key is not None and len(key) < 16:
            raise ConfigurationError("the digest nonce key must be at least 16 bytes")
        self._key = key if key is not None else secrets.token_bytes(32)
        self._realm = realm

    def issue(self, now_ms: int) -> str:
        """A fresh nonce stamped ``now_ms``."""
        return issue_nonce(
            self._key, realm=self._realm, issued_at_ms=now_ms, salt=secrets.token_bytes(12)
        )

    def issued_at(self, nonce: str) -> int | None:
        """The stamp of a nonce signed with this key for this realm."""
        return open_nonce(self._key, nonce, realm=self._realm)


class NonceCounter:
    """The highest nonce count accepted per nonce, for at most ``max_entries`` nonces."""

    def __init__(self, max_entries: int = DEFAULT_MAX_TRACKED_NONCES) -> None:
        if max_entries < 1:
            raise ConfigurationError("the digest nonce table needs room for at least one nonce")
        self._max = max_entries
        self._last: OrderedDict[str, tuple[int, int]] = OrderedDict()  # nonce -> (issued, nc)
        self.floor_ms = -1  # nonces issued at or before this may have been forgotten

    def __len__(self) -> int:
        return len(self._last)

    def forgotten(self, issued_ms: int) -> bool:
        """True when the count of a nonce issued at ``issued_ms`` may have been dropped."""
        return issued_ms <= self.floor_ms

    def advance(self, nonce: str, issued_ms: int, count: int) -> bool:
        """Record ``count`` if it is higher than any seen on ``nonce``; False for a replay."""
        seen = self._last.get(nonce)
        if seen is not None and count <= seen[1]:
            return False
        self._last[nonce] = (issued_ms, count)
        while len(self._last) > self._max:
            _nonce, (dropped_issued, _count) = self._last.popitem(last=False)
            self.floor_ms = max(self.floor_ms, dropped_issued)
        return True

    def expire(self, issued_before_ms: int) -> None:
        """Forget nonces issued before ``issued_before_ms``: they are stale anyway."""
        for nonce in [n for n, (issued, _) in self._last.items() if issued < issued_before_ms]:
            del self._last[nonce]


class DigestVerifier:
    """Accepts ``Authorization: Digest`` (qop=auth) for the given users."""

    def __init__(
        self,
        users: Iterable[DigestUser],
        *,
        realm: str = DEFAULT_REALM,
        algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
        nonce_lifetime: timedelta = DEFAULT_NONCE_LIFETIME,
        nonces: NonceSource | None = None,
        counter: NonceCounter | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        offered = []
        for algorithm in algorithms:
            canonical = canonical_algorithm(algorithm)
            if canonical is None:
                raise ConfigurationError(
                    f"digest algorithm {algorithm!r} is not supported; use SHA-256 or MD5"
                )
            offered.append(canonical)
        if not offered:
            raise ConfigurationError("offer at least one digest algorithm")
        self._users = {user.username: user for user in users}
        for user in self._users.values():
            missing = {_base(a) for a in offered} - set(user.ha1)
            if missing:
                raise ConfigurationError(
                    f"digest user {user.username!r} has no H(A1) for {', '.join(sorted(missing))}"
                )
        self.realm = realm
        self.algorithms = tuple(offered)
        self._lifetime_ms = int(nonce_lifetime.total_seconds() * 1000)
        self._nonces = nonces if nonces is not None else SignedNonces(realm)
        self._counter = counter if counter is not None else NonceCounter()
        self._clock = clock
        self._dummy = {_base(a): secrets.token_hex(32) for a in offered}
        self._last_expiry_ms = 0

    @property
    def method(self) -> AuthMethod:
        return AuthMethod.HTTP_DIGEST

    def challenges(self, *, stale: bool = False) -> list[str]:
        """``WWW-Authenticate`` values offering every algorithm with one fresh nonce."""
        nonce = self._nonces.issue(self._now_ms())
        return [
            format_challenge(realm=self.realm, nonce=nonce, algorithm=a, stale=stale)
            for a in self.algorithms
        ]

    def _refuse(self, reason: str, *, stale: bool = False) -> AuthenticationRequiredError:
        return AuthenticationRequiredError(reason, challenges=self.challenges(stale=stale))

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def aclose(self) -> None:
        """Nothing to release."""

    async def verify(self, request: AuthRequest) -> AuthResult:
        """Accept the request when its digest response is right, fresh and not replayed."""
        header = single_authorization(request)
        if header is None:
            raise self._refuse("no credentials" if not request.authorization else "malformed")
        if header.strip().partition(" ")[0].lower() != "digest":
            raise self._refuse("expected Digest credentials")
        try:
            creds = parse_authorization(header)
        except InputError:
            raise self._refuse("malformed Digest credentials") from None
        algorithm, count = self._check_parameters(creds, request)
        issued = self._nonces.issued_at(creds.nonce)
        if issued is None:
            raise self._refuse("unknown nonce")
        user = self._users.get(creds.username)
        base = algorithm.removesuffix("-sess")
        ha1 = user.ha1[base] if user is not None else self._dummy[base]
        expected = response_from_ha1(
            algorithm=algorithm,
            ha1=ha1,
            method=request.method,
            uri=creds.uri,
            nonce=creds.nonce,
            nc=creds.nc or "",
            cnonce=creds.cnonce or "",
        )
        matches = hmac.compare_digest(expected.encode(), creds.response.encode("utf-8"))
        if not matches or user is None:
            raise self._refuse("credentials rejected")
        now = self._now_ms()
        self._expire(now)
        if now - issued > self._lifetime_ms or self._counter.forgotten(issued):
            raise self._refuse("nonce expired", stale=True)
        if not self._counter.advance(creds.nonce, issued, count):
            raise self._refuse("nonce count replayed or not increasing", stale=True)
        return AuthResult(AuthMethod.HTTP_DIGEST, user.username)

    def _check_parameters(self, creds: DigestCredentials, request: AuthRequest) -> tuple[str, int]:
        algorithm = canonical_algorithm(creds.algorithm)
        if algorithm is None or algorithm not in self.algorithms:
            raise self._refuse("algorithm not offered")
        if creds.realm != self.realm:
            raise self._refuse("wrong realm")
        if creds.qop is None or creds.qop.lower() != "auth":
            raise self._refuse("qop=auth is required")
        count = parse_nc(creds.nc)
        if count is None or not creds.cnonce:
            raise self._refuse("nc and cnonce are required")
        if creds.uri != request.target:
            raise self._refuse("uri is not the request target")
        return algorithm, count

    def _expire(self, now_ms: int) -> None:
        # Sweep at most once a second; a sweep is linear in the table size.
        if now_ms - self._last_expiry_ms >= 1000:
            self._last_expiry_ms = now_ms
            self._counter.expire(now_ms - self._lifetime_ms)


__all__ = [
    "DEFAULT_ALGORITHMS",
    "DEFAULT_NONCE_LIFETIME",
    "DEFAULT_REALM",
    "DigestUser",
    "DigestVerifier",
    "NonceCounter",
    "NonceSource",
    "SignedNonces",
]
