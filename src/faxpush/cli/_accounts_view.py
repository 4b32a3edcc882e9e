"""How ``faxpush accounts list|show`` print an account: one text line, or a JSON object.

Neither ever holds a credential: the push password or client secret, the client key and
the REST logins' password hashes appear only as whether they are set, and URLs lose any
user info.
"""

from __future__ import annotations

from typing import Any

from faxpush.core.targets import Account
from faxpush.core.urls import display_url
from faxpush.storage.jobs_base import Login
from faxpush.storage.json_views import timestamp


def _url(value: str | None) -> str | None:
    return None if value is None else display_url(value)


def account_view(account: Account, logins: list[Login]) -> dict[str, Any]:
    """An account's push settings and its REST API logins, for ``--json``."""
    return {
        "customerNumber": account.customer_number,
        "pushFormat": account.push_format.value,
        "hasPushTemplate": account.push_template is not None,
        "pushTemplateContentType": account.push_template_content_type,
        "pushUrl": _url(account.push_url),
        "pushAuth": account.push_auth.value,
        "pushPrincipal": account.push_principal,
        "hasPushCredentials": account.push_credentials is not None,
        "oauth2TokenUrl": _url(account.oauth2_token_url),
        "oauth2ClientAuth": account.oauth2_client_auth.value,
        "retryClientErrors": account.retry_client_errors,
        "tls": {
            "hasCaCertificates": account.push_ca_pem is not None,
            "hasClientCertificate": account.push_client_cert is not None,
            "hasClientKey": account.push_client_key is not None,
        },
        "logins": [
            {"login": entry.login, "createdAt": timestamp(entry.created_at)} for entry in logins
        ],
    }


def _tls_summary(account: Account) -> str:
    parts = [
        name
        for name, value in (("ca", account.push_ca_pem), ("client-cert", account.push_client_cert))
        if value is not None
    ]
    return f" tls={'+'.join(parts)}" if parts else ""


def account_line(account: Account, logins: list[Login]) -> str:
    """An account on one line, as ``faxpush accounts list`` prints it."""
    token = f" token={_url(account.oauth2_token_url)}" if account.oauth2_token_url else ""
    names = ",".join(entry.login for entry in logins) or "-"
    return (
        f"{account.customer_number}  format={account.push_format.value}  "
        f"push={_url(account.push_url) or '-'}  auth={account.push_auth.value}{token}"
        f"{_tls_summary(account)}  logins={names}"
    )


__all__ = ["account_line", "account_view"]
