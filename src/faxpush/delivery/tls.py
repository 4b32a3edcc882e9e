"""TLS for pushes and token requests: what a push trusts, what it presents, how it failed.

Certificates are always verified, host name included. A push trusts the system's CA store
(as :func:`ssl.create_default_context` loads it, which is also aiohttp's default), plus the
PEM file ``FAXPUSH_CA_BUNDLE`` names, plus the CA certificates of the push's account. An
account may also hold a client certificate and its private key (mutual TLS); the key is
sealed at rest like every other credential.

Building a context costs about 40 ms (most of it reading the system store), so
:class:`TlsContexts` builds one per distinct (account CA, client certificate, key) and keeps
it; the cache key holds the certificates and a salted digest of the key, never the key.
The OAuth2 token request of a push uses the same context as the push.
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import ssl
import tempfile
import weakref
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Final

import aiohttp

from faxpush._files import read_limited
from faxpush.core.errors import ConfigurationError, InputError, PermanentDeliveryError
from faxpush.core.secrets import Secret
from faxpush.core.targets import PushTarget

CA_BUNDLE_ENV: Final = "FAXPUSH_CA_BUNDLE"
MAX_PEM_BYTES: Final = 256 * 1024
_UNTRUSTED_FIX = (
    f"; if the receiver uses a private CA, trust it with {CA_BUNDLE_ENV} or the account's --ca-file"
)
# OpenSSL verify codes (x509_vfy.h) with a plain-words reason and how to fix it.
_VERIFY_REASONS: Final[dict[int, tuple[str, str]]] = {
    9: ("certificate is not yet valid", "; check the receiver's certificate dates"),
    10: ("certificate has expired", "; the receiver must renew its certificate"),
    18: ("self-signed certificate (not trusted)", _UNTRUSTED_FIX),
    19: ("self-signed certificate in the chain (unknown CA)", _UNTRUSTED_FIX),
    20: ("certificate issued by an unknown CA", _UNTRUSTED_FIX),
    21: ("certificate issued by an unknown CA", _UNTRUSTED_FIX),
    62: ("hostname mismatch", "; the certificate was issued for another name"),
    64: (
        "IP address mismatch (hostname mismatch)",
        "; the certificate was issued for another name",
    ),
}
# TLS alerts a receiver sends about our client certificate (OpenSSL reason codes).
_CLIENT_CERT_ALERTS: Final = {
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "the receiver requires a client certificate",
    "SSLV3_ALERT_BAD_CERTIFICATE": "the receiver rejected the client certificate",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": "the receiver rejected the client certificate as expired",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": "the receiver rejected the client certificate",
    "TLSV1_ALERT_UNKNOWN_CA": "the receiver does not trust the client certificate's CA",
    "SSLV3_ALERT_HANDSHAKE_FAILURE": (
        "the receiver aborted the TLS handshake (it may require a client certificate, or "
        "share no protocol version or cipher with faxpush)"
    ),
}


# The contexts that present a client certificate (for the hint in a failure message).
_PRESENTING: weakref.WeakSet[ssl.SSLContext] = weakref.WeakSet()


def presents_client_cert(context: ssl.SSLContext | None) -> bool:
    """Whether ``context`` was built with a client certificate."""
    return context is not None and context in _PRESENTING


class TlsError(PermanentDeliveryError):
    """The TLS connection failed for good: certificate rejected, or handshake refused."""


class TlsMaterialError(InputError):
    """A CA certificate, client certificate or private key is not usable PEM."""


def tls_failure(exc: BaseException, host: str | None, *, has_client_cert: bool) -> str | None:
    """A message naming ``host`` and the reason when ``exc`` is a certificate or TLS handshake
    failure that retrying cannot fix; None for anything else (a reset, EOF, timeout)."""
    where = host or "the receiver"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return _verify_failure(exc.certificate_error, where)
    found = _ssl_error(exc)
    if isinstance(found, ssl.SSLCertVerificationError):
        return _verify_failure(found, where)
    if found is None or isinstance(found, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return None
    reason = str(found.reason or "")
    alert = _CLIENT_CERT_ALERTS.get(reason)
    if alert is not None:
        fix = (
            "; check the account's --client-cert and --client-key"
            if has_client_cert
            else "; give the account a client certificate with --client-cert and --client-key"
        )
        return f"TLS handshake with {where} failed: {alert} ({reason}){fix}"
    if not isinstance(exc, aiohttp.ClientConnectorSSLError):
        return None  # after the handshake: a broken connection, retried like any other
    if reason == "WRONG_VERSION_NUMBER":
        return (
            f"TLS handshake with {where} failed: it does not speak TLS on this port; "
            "check whether the URL should start with http://"
        )
    return f"TLS handshake with {where} failed: {reason or found}"


def reset_hint(exc: BaseException, url: str, *, has_client_cert: bool) -> str:
    """A hint to add when an https connection was reset without a client certificate: a
    receiver that requires one may reset the connection instead of sending the alert."""
    if has_client_cert or url[:6].lower() != "https:":
        return ""
    seen: BaseException | None = exc
    for _ in range(6):  # the error, aiohttp's wrapper, the OS error
        if seen is None:
            return ""
        os_error = getattr(seen, "os_error", None)
        for candidate in (seen, os_error):
            if isinstance(candidate, ConnectionResetError) or (
                isinstance(candidate, OSError) and candidate.errno == errno.ECONNRESET
            ):
                return (
                    "; if the receiver requires a client certificate, give the account one "
                    "with --client-cert and --client-key"
                )
        seen = seen.__cause__ or seen.__context__
    return ""


def _verify_failure(error: BaseException, where: str) -> str:
    code = getattr(error, "verify_code", None)
    reason, fix = _VERIFY_REASONS.get(code, ("", "")) if isinstance(code, int) else ("", "")
    if not reason:
        reason = str(getattr(error, "verify_message", "") or error)
    return f"TLS certificate of {where} not accepted: {reason}{fix}"


def _ssl_error(exc: BaseException) -> ssl.SSLError | None:
    """The :class:`ssl.SSLError` behind ``exc`` (aiohttp wraps it once or twice)."""
    seen: BaseException | None = exc
    for _ in range(6):  # a short chain: the error, aiohttp's wrapper, maybe the OS error
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLError):
            return seen
        os_error = getattr(seen, "os_error", None)
        if isinstance(os_error, ssl.SSLError):
            return os_error
        seen = seen.__cause__ or seen.__context__
    return None


class TlsContexts:
    """The SSL contexts of pushes: one default, and one per distinct account material.

    ``ca_bundle`` (FAXPUSH_CA_BUNDLE) is a PEM file added to the system's trust in every
    context. Contexts are kept for the ``max_contexts`` most recently used materials.
    """

    def __init__(
        self,
        ca_bundle: str | None = None,
        *,
        max_contexts: int = 256,
        source: str = CA_BUNDLE_ENV,
    ) -> None:
        self._ca_bundle = ca_bundle or None
        self._source = source  # names the CA bundle in errors
        self._max = max_contexts
        self._salt = secrets.token_bytes(16)  # keyed digests of private keys
        # Keyed by the certificates (public) and a salted digest of the key, never the key.
        self._contexts: OrderedDict[tuple[str | None, str | None, bytes], ssl.SSLContext] = (
            OrderedDict()
        )
        self.default = self._base()

    @property
    def ca_bundle(self) -> str | None:
        return self._ca_bundle

    def __repr__(self) -> str:
        return f"TlsContexts(ca_bundle={self._ca_bundle!r}, cached={len(self._contexts)})"

    def for_target(self, target: PushTarget) -> ssl.SSLContext:
        """The context for ``target``: the default one unless its account brings material."""
        if target.ca_pem is None and target.client_cert is None and target.client_key is None:
            return self.default
        return self.context(target.ca_pem, target.client_cert, target.client_key)

    def context(
        self, ca_pem: str | None, client_cert: str | None, client_key: Secret | None
    ) -> ssl.SSLContext:
        """The (cached) context trusting ``ca_pem`` too and presenting ``client_cert``."""
        if (client_cert is None) != (client_key is None):
            raise TlsMaterialError(
                "a client certificate needs its private key and a key its certificate; "
                "give both --client-cert and --client-key"
            )
        key_digest = (
            b""
            if client_key is None
            else hashlib.sha256(self._salt + client_key.reveal().encode()).digest()
        )
        cache_key = (ca_pem, client_cert, key_digest)
        found = self._contexts.get(cache_key)
        if found is not None:
            self._contexts.move_to_end(cache_key)
            return found
        context = self._base()
        if ca_pem is not None:
            _load_ca(context, ca_pem)
        if client_cert is not None and client_key is not None:
            _load_client_cert(context, client_cert, client_key)
            _PRESENTING.add(context)
        self._contexts[cache_key] = context
        while len(self._contexts) > self._max:
            self._contexts.popitem(last=False)
        return context

    def _base(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self._ca_bundle is not None:
            try:
                context.load_verify_locations(cafile=self._ca_bundle)
            except (OSError, ssl.SSLError) as exc:
                reason = exc.strerror or exc  # an ssl.SSLError has no strerror
                raise ConfigurationError(
                    f"{self._source} {self._ca_bundle}: cannot load CA certificates from it "
                    f"({reason}); point it at a readable PEM file of CA certificates"
                ) from None
        return context


def check_tls_material(
    ca_pem: str | None, client_cert: str | None, client_key: Secret | None
) -> None:
    """Raise :class:`TlsMaterialError` unless the material loads into a context."""
    if ca_pem is None and client_cert is None and client_key is None:
        return
    _checker().context(ca_pem, client_cert, client_key)


@lru_cache(maxsize=1)
def _checker() -> TlsContexts:
    return TlsContexts(max_contexts=8)


def read_pem(path: str, what: str) -> str:
    """The text of a PEM file (``what`` names it in errors)."""
    data = read_limited(path, what, limit=MAX_PEM_BYTES, error=TlsMaterialError)
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise TlsMaterialError(f"{path}: the {what} is not PEM text (DER? convert it)") from None
    if "-----BEGIN " not in text:
        raise TlsMaterialError(f"{path}: the {what} is not PEM (no -----BEGIN line)")
    return text


def _load_ca(context: ssl.SSLContext, ca_pem: str) -> None:
    try:
        context.load_verify_locations(cadata=ca_pem)
    except (ssl.SSLError, ValueError) as exc:
        raise TlsMaterialError(
            f"the account's CA certificates cannot be loaded ({exc}); give a PEM file of "
            "CA certificates with --ca-file"
        ) from None


def _load_client_cert(context: ssl.SSLContext, cert_pem: str, key: Secret) -> None:
    # The ssl module loads certificates and keys from files only: a private directory
    # (mode 0700, files 0600) that is removed as soon as they are loaded.
    with tempfile.TemporaryDirectory(prefix="faxpush-tls-") as directory:
        cert_path = Path(directory, "cert.pem")
        key_path = Path(directory, "key.pem")
        _write_private(cert_path, cert_pem)
        _write_private(key_path, key.reveal())
        try:
            # A password callback so that an encrypted key fails instead of prompting.
            context.load_cert_chain(cert_path, key_path, password=lambda: b"")
        except (ssl.SSLError, ValueError):
            raise TlsMaterialError(
                "the account's client certificate and key cannot be loaded: both must be "
                "PEM, the key unencrypted and belonging to the certificate"
            ) from None


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as file:
        file.write(text)


__all__ = [
    "CA_BUNDLE_ENV",
    "TlsContexts",
    "TlsError",
    "TlsMaterialError",
    "check_tls_material",
    "presents_client_cert",
    "read_pem",
    "reset_hint",
    "tls_failure",
]
