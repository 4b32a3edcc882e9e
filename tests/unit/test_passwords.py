"""Password hashes (scrypt, parameters and salt in the stored string) and new passwords."""

from __future__ import annotations

import base64
import hashlib

import pytest

from faxpush.core.errors import InputError
from faxpush.core.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    check_new_password,
    hash_password,
    is_password_hash,
    verify_password,
)

PASSWORD = "corr3ct-Hörse"


def test_a_hash_verifies_its_password_only() -> None:
    stored = hash_password(PASSWORD)

    assert stored.startswith("scrypt$16384$8$1$")
    assert PASSWORD not in stored
    assert verify_password(PASSWORD, stored)
    assert not verify_password(PASSWORD + " ", stored)
    assert not verify_password("", stored)
    assert is_password_hash(stored)


def test_every_hash_has_its_own_salt() -> None:
    assert hash_password(PASSWORD) != hash_password(PASSWORD)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        PASSWORD,
        "scrypt$16384$8$1$c2FsdA==",
        "bcrypt$16384$8$1$c2FsdA==$a2V5",
        "scrypt$1000$8$1$c2FsdA==$" + "A" * 44,  # n not a power of two
        "scrypt$16384$8$1$not*base64$" + "A" * 44,
        "scrypt$16384$8$1$c2FsdA==$a2V5",  # key too short
        "scrypt$1073741824$8$1$c2FsdA==$" + "A" * 44,  # absurd cost
    ],
)
def test_a_malformed_hash_never_verifies(stored: str) -> None:
    assert not verify_password(PASSWORD, stored)
    assert not is_password_hash(stored)


def test_a_hash_made_with_other_parameters_still_verifies() -> None:
    cheaper = "scrypt$1024$8$1$c2FsdHNhbHQ=$"  # salt "saltsalt"
    key = hashlib.scrypt(PASSWORD.encode(), salt=b"saltsalt", n=1024, r=8, p=1, dklen=32)
    stored = cheaper + base64.b64encode(key).decode()
    assert is_password_hash(stored)
    assert verify_password(PASSWORD, stored)
    assert not verify_password("other-password", stored)


@pytest.mark.parametrize(
    "password",
    ["", "x" * (MIN_PASSWORD_LENGTH - 1), "y" * (MAX_PASSWORD_LENGTH + 1)],
)
def test_short_and_absurdly_long_new_passwords_are_refused(password: str) -> None:
    with pytest.raises(InputError, match="password"):
        check_new_password(password)


def test_a_long_enough_new_password_is_taken() -> None:
    check_new_password("x" * MIN_PASSWORD_LENGTH)
    check_new_password("y" * MAX_PASSWORD_LENGTH)
