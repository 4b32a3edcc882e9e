"""Where an ingested report's push goes, and the body it carries.

The target comes from, in this order: the JSON envelope's ``target`` object; the report's
own ``httpStatusPush`` (``url`` or ``targetUrl``, ``authMethod``, ``principal``,
``credentials``); the push settings of the account named by ``?account=``. The account,
when named, also gives its TLS material, OAuth2 token URL, push format and template,
whether 4xx answers are retried, and its push credentials to a report that names an auth
method without them (a report as the service sends it never carries credentials).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from faxpush.admin.errors import bad_request
from faxpush.core.errors import ConfigurationError
from faxpush.core.models import AuthMethod, FaxJobReport
from faxpush.core.push_body import account_push_target, render_push_body, with_account_tls
from faxpush.core.secrets import Secret
from faxpush.core.targets import Account, ClientAuthStyle, PushFormat, PushTarget
from faxpush.core.urls import check_http_url

logger = logging.getLogger("faxpush.admin")

_ENVELOPE_FORMATS = {"xml": PushFormat.XML, "json": PushFormat.JSON}


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """A push target as a request gave it; ``where`` is its field path, for errors."""

    where: str
    url: str
    auth_method: AuthMethod = AuthMethod.NONE
    principal: str | None = None
    credentials: str | None = None
    token_url: str | None = None
    client_auth: ClientAuthStyle | None = None
    push_format: PushFormat | None = None


def _text(data: Mapping[str, Any], key: str, where: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise bad_request("must be a non-empty string", f"{where}.{key}")
    return value


def envelope_target(data: object, where: str) -> TargetSpec:
    """The ``target`` object of a JSON envelope."""
    if not isinstance(data, Mapping):
        raise bad_request("must be an object with targetUrl, authMethod, ...", where)
    url = _text(data, "targetUrl", where) or _text(data, "url", where)
    if url is None:
        raise bad_request("the target needs a targetUrl", f"{where}.targetUrl")
    push_format = None
    if (raw_format := _text(data, "format", where)) is not None:
        push_format = _ENVELOPE_FORMATS.get(raw_format.lower())
        if push_format is None:
            raise bad_request("must be xml or json", f"{where}.format")
    client_auth = None
    if (raw_style := _text(data, "clientAuth", where)) is not None:
        try:
            client_auth = ClientAuthStyle(raw_style.lower())
        except ValueError:
            raise bad_request(
                "must be client_secret_basic or client_secret_post", f"{where}.clientAuth"
            ) from None
    return TargetSpec(
        where=where,
        url=url,
        auth_method=_auth_method(data.get("authMethod"), f"{where}.authMethod"),
        principal=_text(data, "principal", where),
        credentials=_text(data, "credentials", where),
        token_url=_text(data, "tokenUrl", where),
        client_auth=client_auth,
        push_format=push_format,
    )


def _auth_method(value: object, where: str) -> AuthMethod:
    if value is None:
        return AuthMethod.NONE
    try:
        return AuthMethod(str(value))
    except ValueError:
        names = ", ".join(method.value for method in AuthMethod)
        raise bad_request(f"must be one of {names}", where) from None


def report_target(
    report: FaxJobReport, principal: str | None, credentials: str | None, where: str
) -> TargetSpec | None:
    """The target a report names in its own ``httpStatusPush`` (None: it names none)."""
    push = report.httpStatusPush
    if push is None:
        return None
    return TargetSpec(
        where=where,
        url=push.url,
        auth_method=push.authMethod or AuthMethod.NONE,
        principal=principal,
        credentials=credentials,
    )


def _secret(value: str | None) -> Secret | None:
    return Secret(value) if value else None


def push_target(spec: TargetSpec | None, account: Account | None) -> PushTarget:
    """The push target: ``spec`` (with the account's TLS and OAuth2 settings), else the
    account's own push settings; a 400 naming the field when neither gives a usable one."""
    if spec is None:
        default = account_push_target(account)
        if default is None:
            raise bad_request(
                "no push target: give the report an httpStatusPush url, send a JSON envelope "
                "with a target, or name an account with push settings (?account=CUSTNR)",
                "target",
            )
        return with_account_tls(default, account)
    url_field = f"{spec.where}.{'url' if spec.where.endswith('httpStatusPush') else 'targetUrl'}"
    try:
        check_http_url(spec.url)
    except ConfigurationError as exc:
        raise bad_request(str(exc), url_field) from None
    method = spec.auth_method
    principal, credentials = spec.principal, _secret(spec.credentials)
    if principal is None and credentials is None and account is not None:
        # A report never carries credentials: the named account's push credentials apply.
        principal, credentials = account.push_principal, account.push_credentials
    if method is not AuthMethod.NONE and (principal is None or credentials is None):
        raise bad_request(
            f"authMethod {method.value} needs a principal and credentials: give them beside "
            "the URL, or name an account whose push credentials apply (?account=CUSTNR)",
            spec.where,
        )
    token_url = spec.token_url or (account.oauth2_token_url if account is not None else None)
    if method is AuthMethod.OAUTH2:
        if token_url is None:
            raise bad_request(
                "OAUTH2 needs a token URL: give target.tokenUrl or name an account that has "
                "one (?account=CUSTNR)",
                f"{spec.where}.authMethod",
            )
        try:
            check_http_url(token_url, role="token URL")
        except ConfigurationError as exc:
            raise bad_request(str(exc), f"{spec.where}.tokenUrl") from None
    default_style = (
        account.oauth2_client_auth if account is not None else ClientAuthStyle.CLIENT_SECRET_BASIC
    )
    target = PushTarget(
        url=spec.url,
        auth_method=method,
        principal=principal if method is not AuthMethod.NONE else None,
        credentials=credentials if method is not AuthMethod.NONE else None,
        token_url=token_url if method is AuthMethod.OAUTH2 else None,
        client_auth=spec.client_auth or default_style,
    )
    return with_account_tls(target, account)


def render_body(
    report: FaxJobReport, spec: TargetSpec | None, account: Account | None
) -> tuple[bytes, str]:
    """The push body and its content type: the envelope's format, else the account's
    (a template that fails to render falls back to the default XML layout, logged), else XML."""
    push_format = spec.push_format if spec is not None else None
    return render_push_body(report, account, log=logger, push_format=push_format)


__all__ = ["TargetSpec", "envelope_target", "push_target", "render_body", "report_target"]
