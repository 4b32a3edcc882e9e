"""Settings in layers: defaults < file < FAXPUSH_* variables < flags, each value with its
source; one line naming the setting and its source for any bad value; credentials masked."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest

from faxpush.core.errors import ConfigurationError
from faxpush.core.settings import Settings
from faxpush.core.settings_sources import (
    MASK,
    SettingSource,
    SourceKind,
    described,
    env_layer,
    file_layer,
    flag_layer,
    is_credential,
    layered,
    masked_url,
    shown_value,
)
from faxpush.emulator.config import load_layered
from faxpush.storage.cipher import generate_key


def test_each_layer_overrides_the_one_below() -> None:
    loaded = layered(
        file_layer({"concurrency": 2, "claim_batch": 3, "poll_interval": 4}, "site.toml"),
        env_layer({"FAXPUSH_CLAIM_BATCH": "30", "FAXPUSH_POLL_INTERVAL": "40"}),
        flag_layer(
            {"poll_interval": 0.5, "log_level": None},
            {"poll_interval": SettingSource(SourceKind.FLAG, "--poll-interval")},
        ),
    )
    settings = loaded.settings
    assert (settings.concurrency, settings.claim_batch, settings.poll_interval) == (2, 30, 0.5)
    assert settings.log_level == "INFO"  # a flag that was not given (None) is no value
    assert str(loaded.source_of("concurrency")) == "file site.toml"
    assert str(loaded.source_of("claim_batch")) == "env FAXPUSH_CLAIM_BATCH"
    assert str(loaded.source_of("poll_interval")) == "flag --poll-interval"
    assert str(loaded.source_of("log_level")) == "default"


def test_the_file_is_found_by_flag_or_variable_and_the_flag_wins(tmp_path: Path) -> None:
    by_env = tmp_path / "env.toml"
    by_env.write_text("concurrency = 5\n", encoding="utf-8")
    by_flag = tmp_path / "flag.toml"
    by_flag.write_text("concurrency = 6\n[simulator]\nnot_checked_here = 1\n", encoding="utf-8")
    environ = {"FAXPUSH_CONFIG_FILE": str(by_env)}

    from_env, _ = load_layered(environ)
    from_flag, config = load_layered(environ, {"config_file": str(by_flag)})

    assert from_env.settings.concurrency == 5
    assert from_env.settings.config_file == str(by_env)
    assert str(from_env.source_of("config_file")) == "env FAXPUSH_CONFIG_FILE"
    assert from_flag.settings.concurrency == 6
    assert str(from_flag.source_of("concurrency")) == f"file {by_flag}"
    assert config.accounts == ()  # the settings part only: [simulator] is serve's business
    with pytest.raises(ConfigurationError, match="not_checked_here"):
        load_layered(environ, {"config_file": str(by_flag)}, emulator=True)


def test_file_values_keep_their_toml_types(tmp_path: Path) -> None:
    path = tmp_path / "faxpush.toml"
    path.write_text(
        'allowed_networks = ["127.0.0.0/8", "::1"]\nretry_delays = [0, 30, 120]\n'
        'sqlite_store_process = false\nlog_level = "debug"\nworker_http = "[::1]:9464"\n',
        encoding="utf-8",
    )
    settings = load_layered({"FAXPUSH_CONFIG_FILE": str(path)})[0].settings
    assert settings.allowed_networks == (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    )
    assert settings.retry_delays == (0, 30, 120)
    assert settings.sqlite_store_process is False
    assert settings.log_level == "DEBUG"
    assert settings.worker_http == "[::1]:9464"


BAD_VALUES = [
    ("log_level", "LOUD", "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    ("concurrency", "lots", "valid integer"),
    ("lease_seconds", "-5", "greater than 0"),
    ("retry_delays", "1,soon", "retry delay 'soon'"),
    ("allowed_networks", "10.0.0.0/33", "10.0.0.0/33"),
    ("log_format", "xml", "'text' or 'json'"),
    ("event_loop", "trio", "'auto', 'uvloop' or 'asyncio'"),
    ("worker_http", "9464", "must be host:port"),
    ("admin_listen", "localhost:99999", "must be host:port"),
    ("database_url", "mysql://u:hunter2@db/x", "must start with one of sqlite:///"),
    ("secret_key", "hunter2", "not a valid secret key"),
    ("sqlite_store_process", "perhaps", "valid boolean"),
]


def _layer(kind: str, name: str, value: str) -> Any:
    if kind == "env":
        return env_layer({f"FAXPUSH_{name.upper()}": value})
    if kind == "file":
        return file_layer({name: value}, "/etc/faxpush.toml")
    return flag_layer({name: value}, {name: SettingSource(SourceKind.FLAG, "--x")})


@pytest.mark.parametrize("kind", ["env", "file", "flag"])
@pytest.mark.parametrize(("name", "value", "problem"), BAD_VALUES, ids=[b[0] for b in BAD_VALUES])
def test_a_bad_value_is_one_line_naming_setting_and_source(
    kind: str, name: str, value: str, problem: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        layered(_layer(kind, name, value))
    message = str(caught.value)
    where = {"env": f"env FAXPUSH_{name.upper()}", "file": "file /etc/faxpush.toml"}
    assert message.startswith(f"setting {name} ({where.get(kind, 'flag --x')}): ")
    assert problem in message
    assert "\n" not in message
    assert "hunter2" not in message


def test_a_bad_value_is_reported_even_when_a_later_layer_overrides_it() -> None:
    with pytest.raises(ConfigurationError, match=r"log_level \(env FAXPUSH_LOG_LEVEL\)"):
        layered(env_layer({"FAXPUSH_LOG_LEVEL": "LOUD"}), flag_layer({"log_level": "DEBUG"}))


def test_from_env_still_layers_variables_under_flags() -> None:
    settings = Settings.from_env({"FAXPUSH_CONCURRENCY": "8"}, {"concurrency": 4})
    assert settings.concurrency == 4
    with pytest.raises(ConfigurationError, match=r"\(env FAXPUSH_LOG_LEVEL\)"):
        Settings.from_env({"FAXPUSH_LOG_LEVEL": "LOUD"})


def test_credentials_are_masked_and_everything_else_shown() -> None:
    key = generate_key()
    loaded = layered(
        env_layer(
            {
                "FAXPUSH_SECRET_KEY": key,
                "FAXPUSH_DATABASE_URL": "postgresql://fax:pa:ss@db.example:5432/fax",
                "FAXPUSH_ALLOWED_NETWORKS": "10.0.0.0/8",
            }
        )
    )
    rows = {name: (value, str(source)) for name, value, source in described(loaded)}
    assert set(rows) == set(Settings.model_fields)
    assert rows["secret_key"] == (MASK, "env FAXPUSH_SECRET_KEY")
    assert rows["database_url"][0] == f"postgresql://fax:{MASK}@db.example:5432/fax"
    assert rows["allowed_networks"][0] == ["10.0.0.0/8"]
    assert rows["log_format"] == ("text", "default")
    assert key not in repr(rows)
    assert "pa:ss" not in repr(rows)


@pytest.mark.parametrize(
    ("name", "credential"),
    [
        ("secret_key", True),
        ("push_credentials", True),
        ("api_token", True),
        ("token_expiry_margin", False),
        ("database_url", False),
    ],
)
def test_what_counts_as_a_credential(name: str, credential: bool) -> None:
    assert is_credential(name) is credential


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:p@h/db", f"postgresql://u:{MASK}@h/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("postgresql://u:p@[::1]:5432/db?sslmode=require", f"postgresql://u:{MASK}@[::1]:5432/db?sslmode=require"),
        ("sqlite:////var/lib/faxpush.db", "sqlite:////var/lib/faxpush.db"),
        ("memory://", "memory://"),
    ],
)  # fmt: skip
def test_masked_url(url: str, shown: str) -> None:
    assert masked_url(url) == shown
    assert shown_value("database_url", url) == shown


def test_every_setting_is_documented_with_its_variable() -> None:
    reference = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
    text = reference.read_text(encoding="utf-8")
    missing = [name for name in Settings.model_fields if f"`FAXPUSH_{name.upper()}`" not in text]
    assert missing == [], "add these to docs/configuration.md"


@pytest.mark.parametrize("value", [5, "x", True, [1], ["x"], {"a": 1}, 1.5, [], "1,2", -1])
def test_any_value_of_any_type_is_one_line_or_accepted(value: object) -> None:
    messages: dict[str, str] = {}
    for name in Settings.model_fields:
        for layer in (
            file_layer({name: value}, "f.toml"),
            env_layer({f"FAXPUSH_{name.upper()}": str(value)}),
        ):
            try:
                layered(layer)
            except ConfigurationError as exc:
                messages[name] = str(exc)
    for name, message in messages.items():
        assert message.startswith(f"setting {name} (")
        assert "\n" not in message
