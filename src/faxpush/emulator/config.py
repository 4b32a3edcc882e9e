"""The emulator's TOML configuration file: settings, accounts with logins, simulator rules.

Layout (``docs/faxpush.example.toml`` is the commented reference)::

    sim_speed = 0.1                 # any Settings key at the top level
    [simulator]                     # timings, in real seconds before sim_speed scales them
    [[simulator.rules]]             # number prefix/pattern -> status, reason, duration, CSID
    [[accounts]]                    # customer number + default push settings
    [[accounts.logins]]             # REST API logins of that customer number

Settings precedence, lowest first: built-in defaults, the file, ``FAXPUSH_*`` variables,
command-line flags (:func:`load_layered`). Every command reads the file's settings; only
``serve`` and ``accounts`` read its ``[simulator]`` and ``[[accounts]]``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Final

from faxpush.core.errors import ConfigurationError
from faxpush.core.settings import Settings
from faxpush.core.settings_sources import (
    LoadedSettings,
    SettingSource,
    env_layer,
    file_layer,
    flag_layer,
    layered,
)
from faxpush.core.status_codes import CATALOGUE

TEST_NUMBER_STATUSES: Final = (
    ("01", "BUSY"),
    ("02", "NOFAX"),
    ("03", "WRONG_NO"),
    ("04", "RING_TO"),
    ("05", "NOFAX_TO"),
    ("06", "NO_TRAIN"),
    ("07", "PAGE_SEND_ERROR"),
    ("08", "DIAL_NC"),
    ("09", "BLACKLIST"),
    ("10", "CHANGED_NO"),
    ("11", "EOD_FAILED"),
    ("12", "REM_DIS"),
)
"""Built-in test numbers: ``+1 NXX 555 01xx`` (the North American range reserved for
fiction) with ``xx`` below always answer with the status next to it."""


@dataclass(frozen=True, slots=True)
class Rule:
    """An outcome for numbers that start with ``prefix`` or fully match ``pattern``.

    Numbers are compared in normalised form: ``+`` and digits only (``0049…`` is ``+49…``).
    ``duration`` is the reported ``durationInSecs``; ``seconds`` the length of the call in
    simulated time (both default from the page count and status)."""

    status: str
    prefix: str | None = None
    pattern: re.Pattern[str] | None = None
    reason: str | None = None
    duration: int | None = None
    remote_csid: str | None = None
    seconds: float | None = None

    def matches(self, number: str) -> bool:
        """True when the normalised ``number`` falls under this rule."""
        if self.prefix is not None and not number.startswith(self.prefix):
            return False
        return self.pattern is None or self.pattern.fullmatch(number) is not None


DEFAULT_RULES: Final = tuple(
    Rule(status=status, pattern=re.compile(rf"\+1\d{{3}}55501{suffix}"))
    for suffix, status in TEST_NUMBER_STATUSES
)


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """How transmissions are simulated. Times are real seconds; ``sim_speed`` scales them."""

    rules: tuple[Rule, ...] = DEFAULT_RULES
    default_reason: str = "simulated"
    queue_seconds: float = 2.0  # from acceptance (or jobValid.start) to the first dial
    setup_seconds: float = 8.0  # dialling, ringing and handshake before pages flow
    handshake_seconds: float = 6.0  # part of durationInSecs that is not pages
    seconds_per_page: float = 20.0  # at LOW resolution
    high_resolution_factor: float = 1.5
    alternative_gap_seconds: float = 10.0  # before dialling the next alternative number

    def rule_for(self, number: str) -> Rule | None:
        """The first rule that matches the normalised ``number``."""
        return next((rule for rule in self.rules if rule.matches(number)), None)


@dataclass(frozen=True, slots=True)
class LoginConfig:
    login: str
    password: str | None = None
    password_hash: str | None = None


@dataclass(frozen=True, slots=True)
class AccountConfig:
    """An account as the file describes it; push credentials are plain text in the file."""

    customer_number: str
    push: Mapping[str, Any] = field(default_factory=dict)
    logins: tuple[LoginConfig, ...] = ()


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """Everything the file holds."""

    source: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    simulator: SimulatorConfig = field(default_factory=SimulatorConfig)
    accounts: tuple[AccountConfig, ...] = ()


@dataclass(frozen=True, slots=True)
class AccountChanges:
    """Push settings to change on an account, as ``faxpush accounts`` and the file give them
    (None: unchanged). ``push_template``, ``ca_file``, ``client_cert`` and ``client_key``
    are file paths; an empty string removes what was set."""

    push_format: str | None = None
    push_template: str | None = None
    push_url: str | None = None
    push_auth: str | None = None
    push_principal: str | None = None
    push_credentials: str | None = None
    oauth2_token_url: str | None = None
    oauth2_client_auth: str | None = None
    retry_client_errors: bool | None = None
    ca_file: str | None = None
    client_cert: str | None = None
    client_key: str | None = None

    @classmethod
    def picked(cls, values: Mapping[str, Any]) -> AccountChanges:
        """The changes among ``values`` (other keys are not settings and are ignored)."""
        return cls(**{key: values[key] for key in ACCOUNT_PUSH_KEYS if key in values})


ACCOUNT_PUSH_KEYS: Final = frozenset(item.name for item in fields(AccountChanges))
_SECTIONS: Final = ("simulator", "accounts")
_SIMULATOR_NUMBERS: Final = (
    "queue_seconds",
    "setup_seconds",
    "handshake_seconds",
    "seconds_per_page",
    "high_resolution_factor",
    "alternative_gap_seconds",
)


def _fail(source: str, where: str, problem: str) -> ConfigurationError:
    return ConfigurationError(f"{source}: {where}: {problem}")


def _table(value: Any, source: str, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(source, where, "must be a table")
    return value


def _string(value: Any, source: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(source, where, "must be a non-empty string")
    return value


def _number(value: Any, source: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise _fail(source, where, "must be a number of seconds, zero or more")
    return float(value)


def _unknown(keys: set[str], known: set[str] | frozenset[str], source: str, where: str) -> None:
    extra = sorted(keys - known)
    if extra:
        raise _fail(source, where, f"unknown key(s) {', '.join(extra)}")


def _rule(raw: Any, source: str, where: str) -> Rule:
    table = _table(raw, source, where)
    _unknown(
        set(table),
        {"status", "prefix", "pattern", "reason", "duration", "remote_csid", "seconds"},
        source,
        where,
    )
    status = _string(table.get("status"), source, f"{where}.status").upper()
    if status not in CATALOGUE and status != "EXPIRED":
        raise _fail(source, f"{where}.status", f"unknown status code {status!r}")
    if status == "PENDING":
        raise _fail(source, f"{where}.status", "PENDING is not a final status")
    prefix = table.get("prefix")
    pattern = table.get("pattern")
    if prefix is None and pattern is None:
        raise _fail(source, where, "give a prefix or a pattern")
    try:
        compiled = None if pattern is None else re.compile(_string(pattern, source, where))
    except re.error as exc:
        raise _fail(source, f"{where}.pattern", f"not a regular expression: {exc}") from None
    duration = table.get("duration")
    if duration is not None and (not isinstance(duration, int) or duration < 0):
        raise _fail(source, f"{where}.duration", "must be whole seconds, zero or more")
    csid = table.get("remote_csid")
    if csid is not None and not isinstance(csid, str):
        raise _fail(source, f"{where}.remote_csid", "must be a string")
    seconds = table.get("seconds")
    return Rule(
        status=status,
        prefix=None if prefix is None else _string(prefix, source, f"{where}.prefix"),
        pattern=compiled,
        reason=None if table.get("reason") is None else str(table["reason"]),
        duration=duration,
        remote_csid=csid,
        seconds=None if seconds is None else _number(seconds, source, f"{where}.seconds"),
    )


def _simulator(raw: Any, source: str) -> SimulatorConfig:
    table = _table(raw, source, "[simulator]")
    known = {"rules", "default_reason", "use_default_rules", *_SIMULATOR_NUMBERS}
    _unknown(set(table), known, source, "[simulator]")
    rules = table.get("rules", [])
    if not isinstance(rules, list):
        raise _fail(source, "[simulator].rules", "must be an array of tables")
    parsed = tuple(
        _rule(raw, source, f"[[simulator.rules]] #{i + 1}") for i, raw in enumerate(rules)
    )
    use_defaults = table.get("use_default_rules", True)
    if not isinstance(use_defaults, bool):
        raise _fail(source, "[simulator].use_default_rules", "must be true or false")
    numbers = {
        key: _number(table[key], source, f"[simulator].{key}")
        for key in _SIMULATOR_NUMBERS
        if key in table
    }
    reason = table.get("default_reason", "simulated")
    return SimulatorConfig(
        rules=parsed + (DEFAULT_RULES if use_defaults else ()),
        default_reason=_string(reason, source, "[simulator].default_reason"),
        **numbers,
    )


def _account(raw: Any, source: str, where: str) -> AccountConfig:
    table = _table(raw, source, where)
    _unknown(set(table), {"customer_number", "logins", *ACCOUNT_PUSH_KEYS}, source, where)
    number = _string(table.get("customer_number"), source, f"{where}.customer_number")
    logins = []
    for i, raw_login in enumerate(table.get("logins", [])):
        at = f"{where} login #{i + 1}"
        login = _table(raw_login, source, at)
        _unknown(set(login), {"login", "password", "password_hash"}, source, at)
        if ("password" in login) == ("password_hash" in login):
            raise _fail(source, at, "give either password or password_hash")
        logins.append(
            LoginConfig(
                login=_string(login.get("login"), source, f"{at}.login"),
                password=login.get("password"),
                password_hash=login.get("password_hash"),
            )
        )
    push = {key: value for key, value in table.items() if key in ACCOUNT_PUSH_KEYS}
    return AccountConfig(customer_number=number, push=push, logins=tuple(logins))


def _read_document(source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(Path(source).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"{source}: cannot read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{source}: not valid TOML: {exc}") from None


def _settings_part(document: Mapping[str, Any], source: str) -> dict[str, Any]:
    settings = {k: v for k, v in document.items() if k not in _SECTIONS}
    _unknown(set(settings), set(Settings.model_fields) - {"config_file"}, source, "settings")
    return settings


def load_config(path: str | Path, *, settings_only: bool = False) -> EmulatorConfig:
    """Read and check a TOML configuration file; ``settings_only`` reads just its top-level
    settings (what the commands other than ``serve`` and ``accounts`` use)."""
    source = str(path)
    document = _read_document(source)
    settings = _settings_part(document, source)
    if settings_only:
        return EmulatorConfig(source=source, settings=settings)
    accounts = document.get("accounts", [])
    if not isinstance(accounts, list):
        raise _fail(source, "accounts", "must be an array of tables ([[accounts]])")
    return EmulatorConfig(
        source=source,
        settings=settings,
        simulator=_simulator(document.get("simulator", {}), source),
        accounts=tuple(
            _account(raw, source, f"[[accounts]] #{i + 1}") for i, raw in enumerate(accounts)
        ),
    )


def load_layered(
    environ: Mapping[str, str],
    flags: Mapping[str, Any] | None = None,
    *,
    flag_sources: Mapping[str, SettingSource] | None = None,
    emulator: bool = False,
) -> tuple[LoadedSettings, EmulatorConfig]:
    """The settings every command uses (defaults, the file, ``FAXPUSH_*``, flags) with the
    source of each, and the file they name (``--config`` / ``FAXPUSH_CONFIG_FILE``): all of it
    with ``emulator``, else only its settings."""
    env = env_layer(environ)
    given = flag_layer(flags or {}, flag_sources)
    path = given.values.get("config_file") or env.values.get("config_file")
    if path is None:
        return layered(env, given), EmulatorConfig()
    config = load_config(path, settings_only=not emulator)
    return layered(file_layer(config.settings, str(path)), env, given), config


def load_settings(
    environ: Mapping[str, str], flags: Mapping[str, Any] | None = None
) -> tuple[Settings, EmulatorConfig]:
    """Settings and the whole configuration file they name (``serve``, ``accounts``)."""
    loaded, config = load_layered(environ, flags, emulator=True)
    return loaded.settings, config
