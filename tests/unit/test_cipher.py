"""SecretCipher, key generation and key loading (environment or key file)."""

from __future__ import annotations

import errno
import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from faxpush.core.errors import ConfigurationError
from faxpush.core.secrets import Secret
from faxpush.storage.cipher import SecretCipher, generate_key, load_cipher

PLAINTEXT = "s3cret-pässword-Ω"


def test_generate_key_is_a_fresh_fernet_key() -> None:
    keys = {generate_key() for _ in range(20)}
    assert len(keys) == 20
    for key in keys:
        assert len(key) == 44
        Fernet(key)  # accepted by the reference implementation


def test_encrypt_decrypt_roundtrip_hides_the_plaintext() -> None:
    cipher = SecretCipher([generate_key()])
    token = cipher.encrypt(Secret(PLAINTEXT))
    assert isinstance(token, bytes)
    assert PLAINTEXT.encode() not in token
    assert cipher.encrypt(Secret(PLAINTEXT)) != token  # random IV per encryption
    assert cipher.decrypt(token) == Secret(PLAINTEXT)
    assert cipher.decrypt(cipher.encrypt(Secret(""))).reveal() == ""


def test_old_keys_still_decrypt_and_rotate_moves_to_the_primary() -> None:
    old_key, new_key = generate_key(), generate_key()
    old_token = SecretCipher([old_key]).encrypt(Secret(PLAINTEXT))
    both = SecretCipher([new_key, old_key])
    assert both.key_count == 2
    assert both.decrypt(old_token) == Secret(PLAINTEXT)

    rotated = both.rotate(old_token)
    assert SecretCipher([new_key]).decrypt(rotated) == Secret(PLAINTEXT)
    with pytest.raises(ConfigurationError):
        SecretCipher([old_key]).decrypt(rotated)


def test_new_secrets_use_the_primary_key() -> None:
    primary, secondary = generate_key(), generate_key()
    token = SecretCipher([primary, secondary]).encrypt(Secret(PLAINTEXT))
    assert SecretCipher([primary]).decrypt(token) == Secret(PLAINTEXT)
    with pytest.raises(ConfigurationError):
        SecretCipher([secondary]).decrypt(token)


def test_a_wrong_key_names_the_problem_not_the_secret() -> None:
    token = SecretCipher([generate_key()]).encrypt(Secret(PLAINTEXT))
    stranger = SecretCipher([generate_key()])
    with pytest.raises(ConfigurationError, match="encrypted with another key") as caught:
        stranger.decrypt(token)
    assert PLAINTEXT not in str(caught.value)
    with pytest.raises(ConfigurationError, match="encrypted with another key"):
        stranger.rotate(token)
    with pytest.raises(ConfigurationError, match="encrypted with another key"):
        stranger.decrypt(b"not a token at all")


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "too-short",
        "A" * 44,  # no padding
        generate_key()[:-2] + "!=",
        "é" * 43 + "=",
        generate_key() + "A",
    ],
    ids=["empty", "too-short", "no-padding", "bad-character", "not-ascii", "too-long"],
)
def test_a_bad_key_says_how_to_get_a_good_one(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="faxpush secret-key") as caught:
        SecretCipher([bad])
    if bad:
        assert bad not in str(caught.value)


def test_no_keys_at_all_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="faxpush secret-key"):
        SecretCipher([])


def test_repr_shows_no_key() -> None:
    key = generate_key()
    cipher = SecretCipher([key, generate_key()])
    assert key not in repr(cipher)
    assert repr(cipher) == "SecretCipher(<2 keys>)"


def test_environment_keys_primary_first(tmp_path: Path) -> None:
    old_key, new_key = generate_key(), generate_key()
    old_token = SecretCipher([old_key]).encrypt(Secret(PLAINTEXT))
    key_file = tmp_path / "faxpush.key"

    cipher, notice = load_cipher(f" {new_key} , {old_key} ", key_file)

    assert notice is None
    assert not key_file.exists()  # the environment wins; no file is written
    assert cipher.key_count == 2
    assert cipher.decrypt(old_token) == Secret(PLAINTEXT)
    assert SecretCipher([new_key]).decrypt(cipher.encrypt(Secret("x"))) == Secret("x")


def test_a_bad_environment_key_names_its_position(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"FAXPUSH_SECRET_KEY #2 .*faxpush secret-key"):
        load_cipher(f"{generate_key()},nonsense", tmp_path / "faxpush.key")


def test_missing_key_file_is_created_private_once(tmp_path: Path) -> None:
    key_file = tmp_path / "faxpush.key"
    cipher, notice = load_cipher(None, key_file)

    assert notice is not None
    assert str(key_file) in notice
    assert "0600" in notice
    assert "FAXPUSH_SECRET_KEY" in notice
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    token = cipher.encrypt(Secret(PLAINTEXT))

    content = key_file.read_bytes()
    again, second_notice = load_cipher("  ", key_file)  # blank counts as unset
    assert second_notice is None
    assert key_file.read_bytes() == content
    assert again.decrypt(token) == Secret(PLAINTEXT)


def test_key_file_may_hold_several_keys(tmp_path: Path) -> None:
    old_key, new_key = generate_key(), generate_key()
    key_file = tmp_path / "faxpush.key"
    key_file.write_text(f"{new_key}\n{old_key}\n")
    cipher, notice = load_cipher(None, key_file)
    assert notice is None
    assert cipher.key_count == 2


def test_racing_starts_share_one_key_file(tmp_path: Path) -> None:
    key_file = tmp_path / "faxpush.key"
    outcomes: list[tuple[SecretCipher, str | None]] = []
    lock = threading.Lock()

    def start() -> None:
        loaded = load_cipher(None, key_file)
        with lock:
            outcomes.append(loaded)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(outcomes) == 8
    assert sum(notice is not None for _, notice in outcomes) == 1
    token = outcomes[0][0].encrypt(Secret(PLAINTEXT))
    assert all(cipher.decrypt(token) == Secret(PLAINTEXT) for cipher, _ in outcomes)


def test_an_empty_key_file_is_refused(tmp_path: Path) -> None:
    key_file = tmp_path / "faxpush.key"
    key_file.write_text("\n")
    with pytest.raises(ConfigurationError, match=r"is empty.*faxpush secret-key"):
        load_cipher(None, key_file)


def test_a_garbled_key_file_is_refused_without_echoing_it(tmp_path: Path) -> None:
    key_file = tmp_path / "faxpush.key"
    key_file.write_text("definitely-not-a-key\n")
    with pytest.raises(ConfigurationError, match="faxpush secret-key") as caught:
        load_cipher(None, key_file)
    assert str(key_file) in str(caught.value)
    assert "definitely-not-a-key" not in str(caught.value)


def test_an_uncreatable_key_file_is_a_configuration_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    with pytest.raises(ConfigurationError, match="cannot create the secret key file"):
        load_cipher(None, blocker / "faxpush.key")


def test_key_file_directory_is_created(tmp_path: Path) -> None:
    key_file = tmp_path / "state" / "faxpush.key"
    _, notice = load_cipher(None, key_file)
    assert notice is not None
    assert key_file.is_file()


def _disk_full_below(directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Creating any file under ``directory`` fails as on a full disk (ENOSPC)."""
    real_open = os.open

    def full_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_CREAT and Path(path).is_relative_to(directory):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", full_open)


def test_an_existing_key_file_is_read_on_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = generate_key()
    key_file = tmp_path / "faxpush.key"
    key_file.write_text(key + "\n")
    _disk_full_below(tmp_path, monkeypatch)
    cipher, notice = load_cipher(None, key_file)
    assert notice is None
    assert SecretCipher([key]).decrypt(cipher.encrypt(Secret(PLAINTEXT))) == Secret(PLAINTEXT)


def test_a_missing_key_file_on_a_full_disk_is_a_clean_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "faxpush.key"
    _disk_full_below(tmp_path, monkeypatch)
    with pytest.raises(ConfigurationError) as caught:
        load_cipher(None, key_file)
    message = str(caught.value)
    assert f"cannot create the secret key file {key_file}: No space left on device" in message
    assert "FAXPUSH_SECRET_KEY" in message
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind
