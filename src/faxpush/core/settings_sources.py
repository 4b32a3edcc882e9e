"""Settings in layers, each value remembering where it came from.

Lowest first: built-in defaults, the configuration file, ``FAXPUSH_*`` variables, command-line
flags. Every value of every layer is checked, even one a later layer overrides, so that a
mistake in a file or a variable is reported where it was made rather than when it next wins.
A bad value is one :class:`ConfigurationError` line naming the setting and its source.

The layering is written here rather than left to pydantic-settings: ``faxpush config show``
and the error messages need the source of each single value, which pydantic-settings merges
away, and its environment source decodes list settings as JSON (``FAXPUSH_ALLOWED_NETWORKS``
and ``FAXPUSH_RETRY_DELAYS`` are comma-separated). Reading the variables and the file stays
at the edge (the CLI); this module only combines mappings.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any, Final

from pydantic import ValidationError

from faxpush.core.errors import ConfigurationError
from faxpush.core.secrets import Secret
from faxpush.core.settings import ENV_PREFIX, Settings

MASK: Final = "********"
_CREDENTIAL_ENDINGS: Final = ("secret", "password", "credentials", "token", "key")


class SourceKind(StrEnum):
    DEFAULT = "default"
    FILE = "file"
    ENV = "env"
    FLAG = "flag"


@dataclass(frozen=True, slots=True)
class SettingSource:
    """Where one value came from: ``default``, ``file faxpush.toml``, ``env FAXPUSH_X`` or
    ``flag --x``."""

    kind: SourceKind
    where: str = ""

    def __str__(self) -> str:
        return f"{self.kind.value} {self.where}" if self.where else self.kind.value


DEFAULT_SOURCE: Final = SettingSource(SourceKind.DEFAULT)
A_FLAG: Final = SettingSource(SourceKind.FLAG, "(command line)")


@dataclass(frozen=True, slots=True)
class Layer:
    """Values of one source, keyed by setting name, and the source of each."""

    values: Mapping[str, Any]
    sources: Mapping[str, SettingSource]


@dataclass(frozen=True, slots=True)
class LoadedSettings:
    """The settings every command uses, and where each value came from."""

    settings: Settings
    sources: Mapping[str, SettingSource]

    def source_of(self, name: str) -> SettingSource:
        return self.sources.get(name, DEFAULT_SOURCE)


def env_name(name: str) -> str:
    """The variable of setting ``name``: ``FAXPUSH_<NAME>``."""
    return ENV_PREFIX + name.upper()


def env_layer(environ: Mapping[str, str]) -> Layer:
    """The known ``FAXPUSH_<KEY>`` variables; unknown ones are left alone (other tools may
    share the prefix) and empty ones count as unset."""
    values: dict[str, Any] = {}
    for name in Settings.model_fields:
        raw = environ.get(env_name(name))
        if raw is not None and raw != "":
            values[name] = raw
    return Layer(values, {name: SettingSource(SourceKind.ENV, env_name(name)) for name in values})


def file_layer(values: Mapping[str, Any], path: str) -> Layer:
    """The settings part of a configuration file (unknown keys are checked by its reader)."""
    source = SettingSource(SourceKind.FILE, path)
    return Layer(dict(values), dict.fromkeys(values, source))


def flag_layer(
    values: Mapping[str, Any], sources: Mapping[str, SettingSource] | None = None
) -> Layer:
    """Flags given on the command line (None: not given); ``sources`` may spell each one."""
    given = {name: value for name, value in values.items() if value is not None}
    known = sources or {}
    return Layer(given, {name: known.get(name, A_FLAG) for name in given})


def layered(*layers: Layer) -> LoadedSettings:
    """Check each layer, then merge them, later layers winning."""
    merged: dict[str, Any] = {}
    sources: dict[str, SettingSource] = {}
    for layer in layers:
        _validate(layer.values, layer.sources)
        merged.update(layer.values)
        sources.update(layer.sources)
    return LoadedSettings(_validate(merged, sources), sources)


def _validate(values: Mapping[str, Any], sources: Mapping[str, SettingSource]) -> Settings:
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        name = str(first["loc"][0]) if first["loc"] else "?"
        problem = str(first["msg"]).removeprefix("Value error, ")
        source = sources.get(name, DEFAULT_SOURCE)
        given = values.get(name)
        got = "" if is_credential(name) or given is None else f" (got {_brief(name, given)})"
        raise ConfigurationError(f"setting {name} ({source}): {problem}{got}") from None


def _brief(name: str, value: Any) -> str:
    text = repr(shown_value(name, value))
    return text if len(text) <= 80 else text[:77] + "..."


def is_credential(name: str) -> bool:
    """True for settings whose value is never shown (the secret key and the like)."""
    field = Settings.model_fields.get(name)
    if field is not None and "Secret" in str(field.annotation):
        return True
    return name.endswith(_CREDENTIAL_ENDINGS)


def masked_url(url: str) -> str:
    """``url`` with the password of its user info replaced by the mask."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url
    authority, slash, tail = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.partition(":")[0]
    return f"{scheme}://{user}:{MASK}@{host}{slash}{tail}"


def shown_value(name: str, value: Any) -> Any:
    """``value`` as ``config show`` prints it: JSON-ready, credentials masked."""
    if value is None:
        return None
    if is_credential(name) or isinstance(value, Secret):
        return MASK
    if isinstance(value, str):
        return masked_url(value) if "://" in value else value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return str(value)
    if isinstance(value, tuple | list):
        return [shown_value(name, item) for item in value]
    return value


def described(loaded: LoadedSettings) -> list[tuple[str, Any, SettingSource]]:
    """Every setting: name, shown value and source, in the model's order."""
    settings = loaded.settings
    return [
        (name, shown_value(name, getattr(settings, name)), loaded.source_of(name))
        for name in Settings.model_fields
    ]


__all__ = [
    "DEFAULT_SOURCE",
    "MASK",
    "Layer",
    "LoadedSettings",
    "SettingSource",
    "SourceKind",
    "described",
    "env_layer",
    "env_name",
    "file_layer",
    "flag_layer",
    "is_credential",
    "layered",
    "masked_url",
    "shown_value",
]
