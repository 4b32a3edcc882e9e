"""Where pushes go: a customer's default push settings and the target of one push.

Plain data shared by every layer: the emulator builds them from jobs and accounts, the
stores keep them (sealing the :class:`~faxpush.core.secrets.Secret` fields at rest), the
sender reads them to connect and authenticate. ``faxpush.storage.base`` re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from faxpush.core.models import AuthMethod
from faxpush.core.secrets import Secret


class ClientAuthStyle(StrEnum):
    """How an OAuth2 client authenticates at the token endpoint (RFC 6749 §2.3.1)."""

    CLIENT_SECRET_BASIC = "client_secret_basic"  # noqa: S105 - a method name, not a secret
    CLIENT_SECRET_POST = "client_secret_post"  # noqa: S105 - a method name, not a secret


class PushFormat(StrEnum):
    XML = "xml"
    JSON = "json"
    TEMPLATE = "template"


@dataclass(frozen=True, slots=True)
class Account:
    """A customer's default push settings (used when a job has no ``httpStatusPush``)."""

    customer_number: str
    push_format: PushFormat = PushFormat.XML
    push_template: str | None = None  # Jinja2 source when push_format is TEMPLATE
    push_template_content_type: str | None = None
    push_url: str | None = None
    push_auth: AuthMethod = AuthMethod.NONE
    push_principal: str | None = None
    push_credentials: Secret | None = None
    oauth2_token_url: str | None = None
    oauth2_client_auth: ClientAuthStyle = ClientAuthStyle.CLIENT_SECRET_BASIC
    retry_client_errors: bool = False  # retry 4xx (other than 408/429) instead of failing
    # TLS for the push URL and the token URL: CA certificates trusted in addition to the
    # system's and FAXPUSH_CA_BUNDLE, and a client certificate with its key (mutual TLS).
    push_ca_pem: str | None = field(default=None, repr=False)
    push_client_cert: str | None = field(default=None, repr=False)
    push_client_key: Secret | None = None


@dataclass(frozen=True, slots=True)
class PushTarget:
    """Where and how one push is delivered."""

    url: str
    auth_method: AuthMethod = AuthMethod.NONE
    principal: str | None = None
    credentials: Secret | None = None
    token_url: str | None = None
    client_auth: ClientAuthStyle = ClientAuthStyle.CLIENT_SECRET_BASIC
    ca_pem: str | None = field(default=None, repr=False)  # the account's extra CA (PEM)
    client_cert: str | None = field(default=None, repr=False)  # mutual TLS (PEM)
    client_key: Secret | None = None  # the client certificate's private key (PEM)


__all__ = ["Account", "ClientAuthStyle", "PushFormat", "PushTarget"]
