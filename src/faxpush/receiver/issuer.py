"""A development OAuth2 issuer: client-credentials token endpoint, JWKS and introspection.

``faxpush listen --oauth2-issuer`` mounts it under ``/oauth2`` so OAUTH2 pushes can be tried
end to end on one machine:

=========================  ================================================================
``POST /oauth2/token``     RFC 6749 §4.4; client_secret_basic or client_secret_post
``GET /oauth2/jwks.json``  the public signing key (ES256, a new key per process)
``POST /oauth2/introspect`` RFC 7662, for any registered client
=========================  ================================================================

Tokens are ES256 JWTs (issuer, audience, expiry, ``client_id``) or, with ``opaque=True``,
random strings only this issuer knows. The issuer is also a token validator for the
receiver it runs in. It keeps everything in memory: a development tool, not a server.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final
from urllib.parse import parse_qs, unquote_plus

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from faxpush.core.secrets import Secret
from faxpush.receiver.app import Receive, Scope, Send
from faxpush.receiver.verify.bearer import InvalidTokenError
from faxpush.receiver.verify.jwks import StaticJwks

DEFAULT_AUDIENCE: Final = "faxpush-receiver"
MAX_FORM_BYTES: Final = 64 * 1024
_JSON: Final = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]


class DevIssuer:
    """Issues tokens to the registered ``clients`` (client id -> secret)."""

    def __init__(
        self,
        clients: Mapping[str, Secret | str],
        *,
        issuer: str,
        audience: str = DEFAULT_AUDIENCE,
        token_lifetime: int = 3600,
        opaque: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clients = {
            cid: (s.reveal() if isinstance(s, Secret) else s).encode("utf-8")
            for cid, s in clients.items()
        }
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.token_lifetime = token_lifetime
        self.opaque = opaque
        self._clock = clock
        self._key = ec.generate_private_key(ec.SECP256R1())
        self.key_id = secrets.token_urlsafe(8)
        self._opaque_tokens: dict[str, tuple[str, float]] = {}
        self.issued = 0

    @property
    def token_url(self) -> str:
        return f"{self.issuer}/token"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/jwks.json"

    @property
    def introspection_url(self) -> str:
        return f"{self.issuer}/introspect"

    def jwks(self) -> dict[str, Any]:
        """The public key set."""
        public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self._key.public_key()))
        public.update({"kid": self.key_id, "use": "sig", "alg": "ES256"})
        return {"keys": [public]}

    def key_source(self) -> StaticJwks:
        """The public keys as a key source for a JwtValidator."""
        return StaticJwks(self.jwks())

    def issue(self, client_id: str) -> str:
        """A new access token for ``client_id``."""
        now = self._clock()
        self.issued += 1
        if self.opaque:
            token = secrets.token_urlsafe(32)
            self._opaque_tokens[token] = (client_id, now + self.token_lifetime)
            return token
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": client_id,
            "client_id": client_id,
            "iat": int(now),
            "exp": int(now) + self.token_lifetime,
            "jti": secrets.token_urlsafe(12),
        }
        return jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self.key_id})

    def introspect(self, token: str) -> dict[str, Any]:
        """The RFC 7662 answer for ``token``."""
        now = self._clock()
        if token in self._opaque_tokens:
            client_id, expires = self._opaque_tokens[token]
            if expires <= now:
                return {"active": False}
            return {
                "active": True,
                "client_id": client_id,
                "sub": client_id,
                "iss": self.issuer,
                "aud": self.audience,
                "exp": int(expires),
                "token_type": "Bearer",
            }
        try:
            claims = jwt.decode(
                token,
                self._key.public_key(),
                algorithms=["ES256"],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError:
            return {"active": False}
        return {"active": True, "token_type": "Bearer", **claims}

    async def validate(self, token: str) -> str | None:
        """Token validator for a receiver in the same process."""
        answer = self.introspect(token)
        if not answer.get("active"):
            raise InvalidTokenError("not issued by this issuer, or expired")
        client_id = answer.get("client_id")
        return client_id if isinstance(client_id, str) else None

    async def aclose(self) -> None:
        """Nothing to release."""

    def _client(self, headers: Mapping[str, str], form: Mapping[str, str]) -> str | None:
        """The authenticated client id, or None."""
        header = headers.get("authorization", "")
        if header[:6].lower() == "basic ":
            try:
                raw = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
            except (binascii.Error, ValueError):
                return None
            encoded_id, _, encoded_secret = raw.partition(":")
            client_id, secret = unquote_plus(encoded_id), unquote_plus(encoded_secret)
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        expected = self._clients.get(client_id)
        given = secret.encode("utf-8", errors="surrogatepass")
        # An unknown client costs the same comparison as a wrong secret.
        matches = hmac.compare_digest(given, expected if expected is not None else given + b"!")
        return client_id if matches and expected is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # served on its own: nothing to start or stop
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        method: str = scope["method"]
        if path.endswith("/jwks.json") and method == "GET":
            await _reply(send, 200, self.jwks())
            return
        if method != "POST" or not path.endswith(("/token", "/introspect")):
            await _reply(send, 404, {"error": "not_found"})
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        form = await _read_form(receive)
        if form is None:
            await _reply(send, 400, {"error": "invalid_request"})
            return
        client_id = self._client(headers, form)
        if client_id is None:
            challenge = [(b"www-authenticate", b'Basic realm="faxpush-dev-issuer"')]
            await _reply(send, 401, {"error": "invalid_client"}, challenge)
            return
        if path.endswith("/introspect"):
            await _reply(send, 200, self.introspect(form.get("token", "")))
            return
        if form.get("grant_type") != "client_credentials":
            await _reply(send, 400, {"error": "unsupported_grant_type"})
            return
        answer = {
            "access_token": self.issue(client_id),
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
        }
        await _reply(send, 200, answer)


async def _read_form(receive: Receive) -> dict[str, str] | None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if len(body) > MAX_FORM_BYTES:
            return None
        if not message.get("more_body", False):
            break
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return None
    if any(len(values) != 1 for values in parsed.values()):
        return None  # RFC 6749 §3.2: parameters must not be repeated
    return {name: values[0] for name, values in parsed.items()}


async def _reply(
    send: Send,
    status: int,
    document: Mapping[str, Any],
    extra: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    body = json.dumps(document).encode("utf-8")
    headers = [*_JSON, *extra, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


__all__ = ["DEFAULT_AUDIENCE", "DevIssuer"]
