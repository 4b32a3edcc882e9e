from __future__ import annotations

import ipaddress

import pytest

from faxpush.core.errors import ConfigurationError
from faxpush.core.settings import Settings
from faxpush.storage.cipher import generate_key


def test_defaults_without_environment() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite:///faxpush.db"
    assert settings.attempt_deadline == 15
    assert settings.allowed_networks == ()
    assert settings.retry_schedule.max_attempts == 11


def test_environment_and_overrides() -> None:
    env = {
        "FAXPUSH_DATABASE_URL": "sqlite:///x.db",
        "FAXPUSH_ALLOWED_NETWORKS": "127.0.0.0/8, ::1",
        "FAXPUSH_RETRY_DELAYS": "0,1s,1m",
        "FAXPUSH_CONCURRENCY": "8",
        "FAXPUSH_UNRELATED": "ignored",
    }
    settings = Settings.from_env(env, {"concurrency": 4, "database_url": None})
    assert settings.database_url == "sqlite:///x.db"
    assert settings.concurrency == 4
    assert settings.retry_delays == (0, 1, 60)
    assert settings.allowed_networks == (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    )


def test_secret_key_is_never_shown() -> None:
    key = generate_key()
    settings = Settings.from_env({"FAXPUSH_SECRET_KEY": key})
    assert settings.secret_key is not None
    assert settings.secret_key.reveal() == key
    assert key not in repr(settings)
    assert key not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("FAXPUSH_CONCURRENCY", "lots", "FAXPUSH_CONCURRENCY"),
        ("FAXPUSH_CONCURRENCY", "0", "FAXPUSH_CONCURRENCY"),
        ("FAXPUSH_ALLOWED_NETWORKS", "10.0.0.0/33", "FAXPUSH_ALLOWED_NETWORKS"),
        ("FAXPUSH_RETRY_DELAYS", "1,soon", "FAXPUSH_RETRY_DELAYS"),
        ("FAXPUSH_ATTEMPT_DEADLINE", "-1", "FAXPUSH_ATTEMPT_DEADLINE"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment):
        Settings.from_env({name: value})
