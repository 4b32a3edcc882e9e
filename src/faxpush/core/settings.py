"""One typed settings object, built once from the configuration file, ``FAXPUSH_*``
variables and CLI flags.

Nothing reads the environment anywhere else: the CLI layers the sources
(:mod:`faxpush.core.settings_sources`) and passes the object down. Every key, its default and
unit is listed in ``docs/configuration.md``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from faxpush.core.retry import DEFAULT_DELAYS, RetrySchedule
from faxpush.core.secrets import Secret

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ENV_PREFIX = "FAXPUSH_"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+asyncpg")
DATABASE_SCHEMES = ("sqlite", "memory", *POSTGRES_SCHEMES)
# A Fernet key: urlsafe base64 of 32 bytes, 43 significant characters, the last of which
# carries only 4 bits (so it is one of 16 letters), and one "=" of padding.
FERNET_KEY_SHAPE = re.compile(r"[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]=")


class EventLoop(StrEnum):
    """The event loop of the long-running commands (see ``faxpush._loop``)."""

    AUTO = "auto"  # uvloop if it can be imported, else asyncio's own
    UVLOOP = "uvloop"  # uvloop, or a ConfigurationError when it is not installed
    ASYNCIO = "asyncio"


class LogFormat(StrEnum):
    """How log lines are written on stderr."""

    TEXT = "text"  # one human line per event
    JSON = "json"  # one JSON object per line, for log pipelines


class Settings(BaseModel):
    """All runtime settings. Durations are seconds."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    database_url: str = "sqlite:///faxpush.db"
    secret_key: Secret | None = None  # Fernet key(s), comma-separated, primary first
    allowed_networks: tuple[Network, ...] = ()
    ca_bundle: str | None = None  # PEM file of CA certificates trusted besides the system's
    # delivery
    concurrency: int = Field(64, ge=1, le=10_000)
    per_host_concurrency: int = Field(16, ge=1, le=10_000)
    claim_batch: int = Field(200, ge=1, le=5_000)
    lease_seconds: float = Field(60.0, gt=0, le=3600)
    connect_timeout: float = Field(5.0, gt=0, le=600)
    read_timeout: float = Field(10.0, gt=0, le=600)
    attempt_deadline: float = Field(15.0, gt=0, le=600)
    retry_delays: tuple[float, ...] = DEFAULT_DELAYS
    retry_jitter: float = Field(0.2, ge=0, lt=1)
    shutdown_grace: float = Field(10.0, ge=0, le=3600)
    poll_interval: float = Field(1.0, gt=0, le=60)
    commit_batch: int = Field(100, ge=1, le=10_000)
    sqlite_store_process: bool = True  # SQLite: long-running commands write in a process
    token_expiry_margin: float = Field(60.0, ge=0, le=3600)
    log_level: str = "INFO"
    log_format: LogFormat = LogFormat.TEXT
    # operations: Prometheus metrics, the operator API and the worker's small HTTP port
    metrics: bool = True  # /metrics on serve, admin, listen and worker --http
    admin_listen: str = "127.0.0.1:8470"  # where `faxpush admin` serves the operator API
    worker_http: str | None = None  # e.g. 127.0.0.1:9464: /healthz, /readyz, /metrics
    admin_max_batch: int = Field(1000, ge=1, le=100_000)  # reports in one batch request
    idempotency_hours: float = Field(24.0, ge=24, le=24 * 365)  # answers kept this long
    event_loop: EventLoop = EventLoop.AUTO  # worker, serve and listen
    # REST v1 job API emulator (faxpush serve)
    sim_speed: float = Field(0.1, ge=0, le=1000)  # simulated time scale: 1 real, 0 instant
    report_retention_days: float = Field(30.0, gt=0, le=36500)
    max_request_bytes: int = Field(20 * 1024 * 1024, ge=1024, le=2**31 - 1)
    max_recipients: int = Field(3000, ge=1, le=1_000_000)  # per job; more answers 400
    max_push_bytes: int = Field(1024 * 1024, ge=1024, le=2**31 - 1)  # larger push: job 400
    duplicate_window_seconds: float = Field(600.0, ge=0, le=365 * 86400)  # 0: no 409s
    purge_interval_seconds: float = Field(3600.0, gt=0, le=86400)
    # its HTTP server: a request's head and body must arrive in time (else 408), and open
    # connections over the limit are answered 503 (None: 1000, less under a low file limit)
    serve_header_timeout: float = Field(10.0, ge=0.1, le=3600)
    serve_body_timeout: float = Field(60.0, ge=0.1, le=3600)  # job requests reach 20 MB
    serve_max_connections: int | None = Field(None, ge=1, le=1_000_000)
    config_file: str | None = None  # TOML file with settings, accounts, simulator rules

    @field_validator("retry_delays", mode="before")
    @classmethod
    def _parse_delays(cls, value: Any) -> Any:
        if isinstance(value, str):
            return RetrySchedule.parse(value).delays
        return value

    @field_validator("allowed_networks", mode="before")
    @classmethod
    def _parse_networks(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple):
            return value  # the field's own check says what it should be
        return tuple(ipaddress.ip_network(v, strict=False) for v in value)

    @field_validator("secret_key", mode="before")
    @classmethod
    def _wrap_secret(cls, value: Any) -> Any:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            return value  # None, or the wrong type: the field's own check says so
        keys = [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]
        for n, key in enumerate(keys, start=1):
            if FERNET_KEY_SHAPE.fullmatch(key) is None:
                raise ValueError(
                    f"key #{n} is not a valid secret key (expected urlsafe base64 of 32 "
                    "bytes, 44 characters); generate one with `faxpush secret-key`"
                )
        return Secret(value) if keys else None

    @field_validator("log_level", mode="before")
    @classmethod
    def _check_level(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().upper() in LOG_LEVELS:
            return value.strip().upper()
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")

    @field_validator("database_url")
    @classmethod
    def _check_scheme(cls, value: str) -> str:
        scheme, separator, _ = value.partition("://")
        if not separator or scheme.lower() not in DATABASE_SCHEMES:
            raise ValueError(
                "must start with one of sqlite:///, postgresql:// or memory:// "
                "(e.g. sqlite:///faxpush.db)"
            )
        return value

    @field_validator("admin_listen", "worker_http")
    @classmethod
    def _check_address(cls, value: str | None) -> str | None:
        if value is not None:
            split_host_port(value)
        return value

    @property
    def retry_schedule(self) -> RetrySchedule:
        return RetrySchedule(self.retry_delays, self.retry_jitter)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], overrides: Mapping[str, Any] | None = None
    ) -> Settings:
        """Build settings from ``FAXPUSH_<KEY>`` variables; ``overrides`` (CLI flags) win.

        Unknown ``FAXPUSH_*`` variables are ignored (other tools may share the prefix), but
        a known one with a bad value is a :class:`ConfigurationError` naming the variable.
        """
        # Imported here: the layering module builds on this one.
        from faxpush.core.settings_sources import env_layer, flag_layer, layered

        return layered(env_layer(environ), flag_layer(overrides or {})).settings


def split_host_port(address: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9464`` for IPv6) as a host and a port number (ValueError)."""
    host, colon, port = address.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not colon or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError("must be host:port, e.g. 127.0.0.1:9464 or [::1]:9464")
    return host, int(port)
