"""HTTP_BASIC (RFC 7617) on the receiving side.

Passwords are not kept: each is reduced to an HMAC-SHA256 under a key drawn when the verifier
is built, and a presented password is reduced the same way and compared in constant time. An
unknown user costs the same work as a wrong password and gets the same 401.

A sender presents the same header on every push, so the verifier remembers the last few
headers it accepted, by their keyed BLAKE2b digest under the same key (never the header
itself), and accepts them again at the cost of that digest (a third of an HMAC-SHA256's).
Only an exact, previously accepted header is a hit, so answering it sooner tells a client
nothing the 200 does not; every other header takes the full path above.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping

from faxpush.core.digest import quote_string
from faxpush.core.models import AuthMethod
from faxpush.core.secrets import Secret
from faxpush.receiver.errors import AuthenticationRequiredError
from faxpush.receiver.verify.base import AuthRequest, AuthResult, single_authorization

DEFAULT_REALM = "faxpush"
_MAX_CREDENTIALS = 4096
REMEMBERED_HEADERS = 64  # accepted headers kept; the oldest is forgotten first


class BasicVerifier:
    """Accepts ``Authorization: Basic`` for the given users (user -> password)."""

    def __init__(self, users: Mapping[str, Secret | str], *, realm: str = DEFAULT_REALM) -> None:
        self._key = secrets.token_bytes(32)
        self._users = {
            user: self._seal(p.reveal() if isinstance(p, Secret) else p)
            for user, p in users.items()
        }
        self._dummy = self._seal(secrets.token_urlsafe(16))
        self._accepted: dict[bytes, AuthResult] = {}
        self.realm = realm
        self._challenge = f'Basic realm={quote_string(realm)}, charset="UTF-8"'

    @property
    def method(self) -> AuthMethod:
        return AuthMethod.HTTP_BASIC

    def _seal(self, password: str) -> bytes:
        data = password.encode("utf-8", errors="surrogatepass")
        return hmac.new(self._key, data, hashlib.sha256).digest()

    def _refuse(self, reason: str) -> AuthenticationRequiredError:
        return AuthenticationRequiredError(reason, challenges=[self._challenge])

    async def aclose(self) -> None:
        """Nothing to release."""

    async def verify(self, request: AuthRequest) -> AuthResult:
        """Accept the request when its Basic credentials match a configured user."""
        header = single_authorization(request)
        if header is None:
            raise self._refuse("no credentials" if not request.authorization else "malformed")
        seen = hashlib.blake2b(header.encode("utf-8", "surrogatepass"), key=self._key).digest()
        known = self._accepted.get(seen)
        if known is not None:
            return known
        result = self._check(header)
        if len(self._accepted) >= REMEMBERED_HEADERS:
            del self._accepted[next(iter(self._accepted))]
        self._accepted[seen] = result
        return result

    def _check(self, header: str) -> AuthResult:
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "basic":
            raise self._refuse("expected Basic credentials")  # never echo what was sent
        user, password = _decode(token.strip())
        if user is None or password is None:
            raise self._refuse("malformed Basic credentials")
        expected = self._users.get(user, self._dummy)
        # Evaluate both so that an unknown user takes the same path as a wrong password.
        matches = hmac.compare_digest(self._seal(password), expected)
        if not (matches and user in self._users):
            raise self._refuse("credentials rejected")
        return AuthResult(AuthMethod.HTTP_BASIC, user)


def _decode(token: str) -> tuple[str | None, str | None]:
    if not token or len(token) > _MAX_CREDENTIALS:
        return None, None
    try:
        raw = base64.b64decode(token.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None, None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # what clients without charset support tend to send
    user, sep, password = text.partition(":")
    if not sep:
        return None, None
    return user, password


__all__ = ["DEFAULT_REALM", "REMEMBERED_HEADERS", "BasicVerifier"]
