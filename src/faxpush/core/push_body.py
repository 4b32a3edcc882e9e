"""What a push carries: a report rendered in the format its account (or its request) asks
for; where it goes by default: the account's target, with the account's TLS material. The
emulator's finished jobs and the operator API's ingested reports are both pushed this way."""

from __future__ import annotations

import logging
from dataclasses import replace

from faxpush.core.errors import TemplateError
from faxpush.core.json_codec import JSON_CONTENT_TYPE, render_json
from faxpush.core.models import FaxJobReport
from faxpush.core.targets import Account, PushFormat, PushTarget
from faxpush.core.templates import PushTemplate
from faxpush.core.xml_codec import XML_CONTENT_TYPE, render_xml


def render_push_body(
    report: FaxJobReport,
    account: Account | None,
    *,
    log: logging.Logger,
    push_format: PushFormat | None = None,
) -> tuple[bytes, str]:
    """The push body and its content type in ``push_format``, else the account's, else XML.

    A template that fails at render time falls back to the default XML layout (logged to
    ``log``): a push in the default layout beats no push."""
    if push_format is None:
        push_format = account.push_format if account is not None else PushFormat.XML
    if push_format is PushFormat.JSON:
        return render_json(report), JSON_CONTENT_TYPE
    if push_format is PushFormat.TEMPLATE and account is not None and account.push_template:
        content_type = account.push_template_content_type or XML_CONTENT_TYPE
        try:
            template = PushTemplate(
                f"account {account.customer_number}", account.push_template, content_type
            )
            return template.render(report), content_type
        except TemplateError as exc:
            log.warning("push template failed, sending the default XML layout: %s", exc)
    return render_xml(report), XML_CONTENT_TYPE


def account_push_target(account: Account | None) -> PushTarget | None:
    """The account's default push target (its TLS material not yet on it), or None when it
    has no push URL."""
    if account is None or account.push_url is None:
        return None
    return PushTarget(
        url=account.push_url,
        auth_method=account.push_auth,
        principal=account.push_principal,
        credentials=account.push_credentials,
        token_url=account.oauth2_token_url,
        client_auth=account.oauth2_client_auth,
    )


def with_account_tls(target: PushTarget, account: Account | None) -> PushTarget:
    """``target`` with the account's TLS material (its CA, client certificate and key),
    taken when the push is built: a push URL of its own is reached with them too."""
    if account is None or (
        account.push_ca_pem is None
        and account.push_client_cert is None
        and account.push_client_key is None
    ):
        return target
    return replace(
        target,
        ca_pem=account.push_ca_pem,
        client_cert=account.push_client_cert,
        client_key=account.push_client_key,
    )


__all__ = ["account_push_target", "render_push_body", "with_account_tls"]
