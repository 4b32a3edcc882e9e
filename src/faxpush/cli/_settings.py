"""How every command gets its settings: one loader, the root ``--config`` option, and the
spelling of each flag for ``faxpush config show`` and the error messages.

Order, lowest first: defaults, the configuration file (``faxpush --config FILE``, a command's
own ``--config`` or ``FAXPUSH_CONFIG_FILE``), ``FAXPUSH_*`` variables, flags.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

# The root --config option is defined here, so the settings machinery (pydantic) loads
# when a command reads its settings, not when `faxpush --help` is printed.
if TYPE_CHECKING:
    from faxpush.core.settings import Settings
    from faxpush.core.settings_sources import LoadedSettings, SettingSource
    from faxpush.emulator.config import EmulatorConfig

try:
    from typer._click.globals import get_current_context
except ImportError:  # typer before 0.29 runs on click itself, not on a copy of its own
    from click import get_current_context  # type: ignore[no-redef]  # same function

_CONFIG_KEY: Final = "faxpush.config_file"
# A flag whose parameter is not named after its setting.
_SETTING_OF_PARAMETER: Final = {
    "config": "config_file",
    "per_host": "per_host_concurrency",
    "ca_file": "ca_bundle",
    "http": "worker_http",
}


def _remember_config(ctx: typer.Context, value: str | None) -> str | None:
    # ctx.meta is one dict shared by a context and every context nested in it.
    if value is not None:
        ctx.meta[_CONFIG_KEY] = value
    return value


RootConfigOption = Annotated[
    str | None,
    typer.Option(
        "--config",
        "-c",
        metavar="FILE",
        callback=_remember_config,
        show_default=False,
        help="TOML configuration file read by every command \\[env FAXPUSH_CONFIG_FILE].",
    ),
]


def root_config_file() -> str | None:
    """The file ``faxpush --config FILE COMMAND`` names, if any."""
    ctx = get_current_context(silent=True)
    return None if ctx is None else ctx.meta.get(_CONFIG_KEY)


def _flag_sources(names: set[str]) -> dict[str, SettingSource]:
    """How each of ``names`` was given: a flag's spelling, or the variable click read."""
    from faxpush.core.settings_sources import SettingSource, SourceKind

    sources: dict[str, SettingSource] = {}
    ctx = get_current_context(silent=True)
    while ctx is not None:
        for param in ctx.command.params:
            if param.name is None:
                continue
            setting = _SETTING_OF_PARAMETER.get(param.name, param.name)
            if setting not in names or setting in sources:
                continue
            given = ctx.get_parameter_source(param.name)
            how = "" if given is None else given.name  # by name: click's and typer's enums
            if how == "ENVIRONMENT" and isinstance(param.envvar, str):
                sources[setting] = SettingSource(SourceKind.ENV, param.envvar)
            elif how == "COMMANDLINE":
                sources[setting] = SettingSource(SourceKind.FLAG, max(param.opts, key=len))
        ctx = ctx.parent
    return sources


def load_configuration(
    flags: Mapping[str, Any], *, emulator: bool = False
) -> tuple[LoadedSettings, EmulatorConfig]:
    """Settings with their sources, and the configuration file (all of it with ``emulator``,
    for ``serve`` and ``accounts``; else only its settings)."""
    from faxpush.emulator.config import load_layered

    given = {name: value for name, value in flags.items() if value is not None}
    given.setdefault("config_file", root_config_file())
    return load_layered(
        os.environ, given, flag_sources=_flag_sources(set(given)), emulator=emulator
    )


def load_settings(**flags: Any) -> Settings:
    """The settings of a command: ``flags`` (None: not given) over the environment over the
    configuration file over the defaults."""
    return load_configuration(flags)[0].settings


__all__ = ["RootConfigOption", "load_configuration", "load_settings", "root_config_file"]
