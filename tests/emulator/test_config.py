"""The TOML configuration file: settings precedence, simulator rules, accounts, errors."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from faxpush.core.errors import ConfigurationError
from faxpush.core.passwords import hash_password
from faxpush.core.targets import PushFormat
from faxpush.emulator.config import DEFAULT_RULES, load_config, load_settings

from .harness import MINIMAL_JOB, basic_auth, running_emulator

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "faxpush.example.toml"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "faxpush.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_example_is_valid() -> None:
    config = load_config(EXAMPLE)

    assert config.settings == {"allowed_networks": ["127.0.0.0/8", "::1/128"]}
    custom = config.simulator.rules[: len(config.simulator.rules) - len(DEFAULT_RULES)]
    assert [rule.status for rule in custom] == ["BUSY", "OK"]
    assert config.simulator.rules[len(custom) :] == DEFAULT_RULES
    (account,) = config.accounts
    assert account.customer_number == "99999TE"
    assert [login.login for login in account.logins] == ["alice"]


def test_settings_come_from_file_then_environment_then_flags(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'sim_speed = 0.5\nmax_request_bytes = 4096\nallowed_networks = ["10.0.0.0/8"]\n'
        "duplicate_window_seconds = 0\n",
    )
    environ = {"FAXPUSH_CONFIG_FILE": str(path), "FAXPUSH_SIM_SPEED": "2"}

    settings, config = load_settings(environ, {"max_request_bytes": 8192})

    assert config.source == str(path)
    assert settings.sim_speed == 2  # environment over file
    assert settings.max_request_bytes == 8192  # flag over file
    assert settings.duplicate_window_seconds == 0  # file over default
    assert settings.allowed_networks == (ipaddress.ip_network("10.0.0.0/8"),)
    plain, no_file = load_settings({}, {"sim_speed": 0.0})
    assert (plain.sim_speed, no_file.source) == (0.0, None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sim_sped = 1\n", "unknown key(s) sim_sped"),
        ("sim_speed = -1\n", "sim_speed"),
        ("[simulator]\nqueue_secs = 1\n", "unknown key(s) queue_secs"),
        ("[simulator]\nqueue_seconds = -1\n", "queue_seconds"),
        ("[[simulator.rules]]\nstatus = 'BUSY'\n", "give a prefix or a pattern"),
        (
            "[[simulator.rules]]\nprefix = '+49'\nstatus = 'SLEEPY'\n",
            "unknown status code 'SLEEPY'",
        ),
        ("[[simulator.rules]]\nprefix = '+49'\nstatus = 'PENDING'\n", "not a final status"),
        ("[[simulator.rules]]\npattern = '(+'\nstatus = 'OK'\n", "not a regular expression"),
        ("[[simulator.rules]]\nprefix = '+49'\nstatus = 'OK'\nduration = -3\n", "whole seconds"),
        ("[[accounts]]\npush_url = 'http://x/'\n", "customer_number"),
        (
            "[[accounts]]\ncustomer_number = 'C'\n[[accounts.logins]]\nlogin = 'a'\n",
            "either password or password_hash",
        ),
        ("[[accounts]]\ncustomer_number = 'C'\ncolour = 'red'\n", "unknown key(s) colour"),
        ("sim_speed = \n", "not valid TOML"),
    ],
)
def test_mistakes_in_the_file_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigurationError, match=r"faxpush\.toml") as caught:
        load_settings({}, {"config_file": str(path)})
    assert message in str(caught.value)


def test_a_missing_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_config(tmp_path / "nowhere.toml")


async def test_accounts_logins_and_rules_from_the_file_are_applied(tmp_path: Path) -> None:
    stored_hash = hash_password("from-hash")
    path = _write(
        tmp_path,
        f"""
[simulator]
default_reason = "emulated"

[[simulator.rules]]
prefix = "+4930999"
status = "BUSY"
reason = "always busy"

[[simulator.rules]]
pattern = '\\+49\\d+7777'
status = "OK"
duration = 95
remote_csid = "ACME FAX"

[[accounts]]
customer_number = "99999TE"
push_format = "json"
push_url = "http://127.0.0.1:9/unused"

[[accounts.logins]]
login = "alice"
password = "from-file"

[[accounts.logins]]
login = "carol"
password_hash = "{stored_hash}"
""",
    )
    config = load_config(path)
    credentials = ("99999TE", "alice", "from-file")
    async with running_emulator(tmp_path, config=config, credentials=credentials) as emulator:
        assert emulator.info.first_login is None  # the file made an account
        alice = basic_auth("alice", "from-file")
        assert (await emulator.call("GET", "/reports", auth=basic_auth("carol", "from-hash")))[
            0
        ] == 200
        job = {
            **MINIMAL_JOB,
            "recipients": [
                {"number": "+49309991"},
                {"number": "+49891237777"},
                {"number": "+4989"},
            ],
        }
        status, answer = await emulator.call("POST", body=job, auth=alice)
        assert status == 201
        record = await emulator.finished(answer["jobId"])

        account = await emulator.services.store.get_account("99999TE")
        assert account is not None
        assert account.push_format is PushFormat.JSON
        assert record.report is not None
        busy, special, plain = record.report.faxRecipients
        assert (busy.status, busy.reason) == ("BUSY", "always busy")
        assert (special.status, special.durationInSecs, special.remoteCsid) == (
            "OK",
            95,
            "ACME FAX",
        )
        assert (plain.status, plain.reason) == ("OK", "emulated")
