"""One typed settings object, built once from ``FAXPUSH_*`` variables and CLI flags.

Nothing reads the environment anywhere else: the CLI calls :func:`Settings.from_env` with
``os.environ`` and its own flags, then passes the object down. Every key, its default and
unit is listed in ``docs/configuration.md``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from faxpush.core.errors import ConfigurationError
from faxpush.core.retry import DEFAULT_DELAYS, RetrySchedule
from faxpush.core.secrets import Secret

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ENV_PREFIX = "FAXPUSH_"


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
    sqlite_store_process: bool = True  # SQLite: claims and results in a process of their own
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
        return tuple(ipaddress.ip_network(v, strict=False) for v in value)

    @field_validator("secret_key", mode="before")
    @classmethod
    def _wrap_secret(cls, value: Any) -> Any:
        if isinstance(value, str):
            return Secret(value) if value.strip() else None
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
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            raw = environ.get(ENV_PREFIX + name.upper())
            if raw is not None and raw != "":
                values[name] = raw
        for key, value in (overrides or {}).items():
            if value is not None:
                values[key] = value
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            field = str(first["loc"][0]) if first["loc"] else "?"
            msg = str(first["msg"]).removeprefix("Value error, ")
            raise ConfigurationError(
                f"setting {field} (env {ENV_PREFIX}{field.upper()}): {msg}"
            ) from None
        except ValueError as exc:  # ip_network / schedule parsing outside pydantic's wrapper
            raise ConfigurationError(f"invalid setting: {exc}") from None
