"""Encryption of stored secrets (push credentials, OAuth2 client secrets, cached tokens).

Secrets are sealed with Fernet (AES-128-CBC + HMAC-SHA256). Several keys may be configured,
primary first: new secrets use the primary key, older ones stay readable with the others
until :meth:`Store.rotate_secrets <faxpush.storage.base.Store.rotate_secrets>` has
re-encrypted them, after which the old keys can be dropped.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from faxpush.core.errors import ConfigurationError
from faxpush.core.secrets import Secret
from faxpush.core.settings import FERNET_KEY_SHAPE

KEY_ENV_VAR = "FAXPUSH_SECRET_KEY"
_KEY_FIX = "generate one with `faxpush secret-key`"
_KEY_SHAPE = FERNET_KEY_SHAPE


def generate_key() -> str:
    """A fresh random key in Fernet format (urlsafe base64 of 32 random bytes)."""
    return Fernet.generate_key().decode("ascii")


def _check_key(key: str, where: str) -> bytes:
    if _KEY_SHAPE.fullmatch(key) is None:
        raise ConfigurationError(
            f"{where} is not a valid secret key (expected urlsafe base64 of 32 bytes, "
            f"44 characters); {_KEY_FIX}"
        )
    return key.encode("ascii")


class SecretCipher:
    """Encrypts and decrypts :class:`Secret` values; the first key is the primary one."""

    __slots__ = ("_fernet", "_key_count", "_primary")

    def __init__(self, keys: Sequence[str], *, source: str = "secret key") -> None:
        if isinstance(keys, str):
            keys = [keys]
        if not keys:
            raise ConfigurationError(f"no {source} given; {_KEY_FIX}")
        checked = [
            _check_key(key.strip(), f"{source} #{n}" if len(keys) > 1 else source)
            for n, key in enumerate(keys, start=1)
        ]
        self._fernet = MultiFernet([Fernet(key) for key in checked])
        self._key_count = len(checked)
        self._primary = checked[0]

    @property
    def key_count(self) -> int:
        """How many keys can decrypt (the primary one plus older ones)."""
        return self._key_count

    def derive_key(self, purpose: str) -> bytes:
        """32 bytes for ``purpose``, derived from the primary key (HMAC-SHA256 of the purpose).

        Every process configured with the same primary key derives the same bytes, and
        nothing about the primary key can be learnt from them.
        """
        return hmac.new(self._primary, f"faxpush {purpose}".encode(), hashlib.sha256).digest()

    def encrypt(self, secret: Secret) -> bytes:
        """Seal ``secret`` under the primary key."""
        return self._fernet.encrypt(secret.reveal().encode("utf-8"))

    def decrypt(self, token: bytes) -> Secret:
        """Open a sealed secret with whichever configured key sealed it."""
        try:
            return Secret(self._fernet.decrypt(token).decode("utf-8"))
        except (InvalidToken, UnicodeDecodeError, TypeError):
            raise _wrong_key() from None

    def rotate(self, token: bytes) -> bytes:
        """Re-seal ``token`` under the primary key."""
        try:
            return self._fernet.rotate(token)
        except (InvalidToken, TypeError):
            raise _wrong_key() from None

    def __repr__(self) -> str:
        return f"SecretCipher(<{self._key_count} key{'s' if self._key_count != 1 else ''}>)"


def _wrong_key() -> ConfigurationError:
    return ConfigurationError(
        "the stored secrets were encrypted with another key than the configured one(s); "
        f"set {KEY_ENV_VAR} to the key used before, or list it after the new key "
        "(comma-separated) until the stored secrets have been rotated"
    )


def parse_keys(value: str, *, source: str = KEY_ENV_VAR) -> SecretCipher:
    """Build a cipher from comma- or newline-separated keys, primary first."""
    keys = [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]
    return SecretCipher(keys, source=source)


def load_cipher(secret_key_env: str | None, key_file: Path) -> tuple[SecretCipher, str | None]:
    """The cipher from ``FAXPUSH_SECRET_KEY``, else from ``key_file`` (created when missing).

    Returns the cipher and a one-time notice when a key file was just created (else None).
    A key file is created with mode 0600 and never overwritten. An existing key file is read
    without trying to create one first, so a full disk or a read-only directory does not
    stop a process whose key is already there.
    """
    if secret_key_env is not None and secret_key_env.strip():
        return parse_keys(secret_key_env), None
    existing = _read_key_file(key_file)
    if existing is not None:
        return existing, None
    try:
        key = generate_key()
        _create_exclusive(key_file, key)
    except FileExistsError:  # another process created it since
        existing = _read_key_file(key_file)
        if existing is None:
            raise ConfigurationError(
                f"the secret key file {key_file} appeared and vanished again; "
                f"set {KEY_ENV_VAR} ({_KEY_FIX})"
            ) from None
        return existing, None
    except OSError as exc:
        raise ConfigurationError(
            f"cannot create the secret key file {key_file}: {exc.strerror}; make its "
            f"directory writable, or set {KEY_ENV_VAR} ({_KEY_FIX})"
        ) from None
    notice = (
        f"created secret key file {key_file} (mode 0600); set {KEY_ENV_VAR} to manage it yourself"
    )
    return SecretCipher([key], source=f"key file {key_file}"), notice


def _create_exclusive(path: Path, key: str) -> None:
    """Create ``path`` holding ``key``, mode 0600; FileExistsError if it exists already.

    The key is written to a private temporary file first and then hard-linked into place,
    which fails rather than replaces: a concurrent reader never sees a half-written file.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise NotADirectoryError(errno.ENOTDIR, "its directory is not a directory") from None
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, f"{key}\n".encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _read_key_file(path: Path) -> SecretCipher | None:
    """The cipher from the key file ``path``; None if there is no such file."""
    try:
        text = path.read_text(encoding="ascii")
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not ASCII text"
        raise ConfigurationError(
            f"cannot read the secret key file {path}: {reason}; fix its permissions or "
            f"set {KEY_ENV_VAR} ({_KEY_FIX})"
        ) from None
    if not text.strip():
        raise ConfigurationError(f"the secret key file {path} is empty; {_KEY_FIX}")
    return parse_keys(text, source=f"key file {path}")
