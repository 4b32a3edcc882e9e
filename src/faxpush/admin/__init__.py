"""The operator HTTP API (``faxpush admin``, and ``/admin`` in ``faxpush serve``).

A Starlette app under ``/api/v1`` over an :class:`~faxpush.storage.operator.OperatorStore`:
ingest reports as pushes (one or a batch, with idempotency keys), list and inspect pushes
and their attempts, redeliver and cancel, and the receivers table. Every call but the
health routes needs a bearer token (:mod:`faxpush.admin.tokens`).
"""

from faxpush.admin.app import AdminServices, build_admin_app
from faxpush.admin.openapi import admin_openapi_document
from faxpush.admin.tokens import new_token, token_hash

__all__ = [
    "AdminServices",
    "admin_openapi_document",
    "build_admin_app",
    "new_token",
    "token_hash",
]
