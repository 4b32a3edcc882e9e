"""The operator web console: HTML pages over the operator store (overview, pushes, one
push with its attempts, receivers, jobs, accounts) behind a login, for ``faxpush admin
serve`` (at ``/``) and ``faxpush serve`` (at ``/admin/``), which mount it."""

from faxpush.console.app import ConsoleServices, build_console_app, session_key_for

__all__ = ["ConsoleServices", "build_console_app", "session_key_for"]
