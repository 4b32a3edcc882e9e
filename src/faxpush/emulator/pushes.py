"""Where a finished job's push goes and what it carries.

The job's own ``httpStatusPush`` wins; without one the account's default push settings
apply, if it has any. The body is rendered once, in the account's format (XML by default,
JSON, or its template), exactly as the core codecs render the report.
"""

from __future__ import annotations

import logging

from faxpush.core.models import AuthMethod, FaxJobReport
from faxpush.core.push_body import account_push_target, render_push_body, with_account_tls
from faxpush.core.secrets import Secret
from faxpush.core.targets import Account, ClientAuthStyle, PushTarget
from faxpush.emulator.validation import HttpStatusPushIn, JobRequestError
from faxpush.storage.base import NewPush
from faxpush.storage.jobs_base import JobRecord

logger = logging.getLogger("faxpush.emulator")


def job_push_target(push: HttpStatusPushIn | None, account: Account | None) -> PushTarget | None:
    """The push target a job asked for (None: use the account's defaults when finishing).

    OAUTH2 takes its token URL from the account; a job asking for OAUTH2 on an account
    without one is refused, since the push could never authenticate."""
    if push is None:
        return None
    method = push.authMethod or AuthMethod.NONE
    token_url = account.oauth2_token_url if account is not None else None
    if method is AuthMethod.OAUTH2 and token_url is None:
        raise JobRequestError(
            "statusReportOptions.httpStatusPush.authMethod",
            "OAUTH2 needs the account's OAuth2 token URL, which is not set; set it with "
            "'faxpush accounts set CUSTNR --oauth2-token-url URL'",
        )
    return PushTarget(
        url=push.targetUrl,
        auth_method=method,
        principal=push.principal if method is not AuthMethod.NONE else None,
        credentials=Secret(push.credentials)
        if push.credentials and method is not AuthMethod.NONE
        else None,
        token_url=token_url if method is AuthMethod.OAUTH2 else None,
        client_auth=account.oauth2_client_auth
        if account is not None
        else ClientAuthStyle.CLIENT_SECRET_BASIC,
    )


def check_push_size(report: FaxJobReport, account: Account | None, limit: int) -> None:
    """Refuse a job whose push, rendered now from its planned final report, would be larger
    than ``limit``: a receiver would refuse it with 413 on every attempt."""
    body, _ = render_push_body(report, account, log=logger)
    if len(body) > limit:
        raise JobRequestError(
            "recipients",
            f"the status push of this job would be {len(body)} bytes, more than the limit of "
            f"{limit} bytes (max_push_bytes, a receiver's default body limit); "
            "send fewer recipients per job",
        )


def build_push(job: JobRecord, report: FaxJobReport, account: Account | None) -> NewPush | None:
    """The push of a finished job, or None when neither job nor account names a URL."""
    target = job.push_target or account_push_target(account)
    if target is None:
        return None
    target = with_account_tls(target, account)
    body, content_type = render_push_body(report, account, log=logger)
    return NewPush(
        delivery_id=job.job_id,
        job_id=job.job_id,
        target=target,
        content_type=content_type,
        body=body,
        customer_number=job.customer_number,
        retry_client_errors=account.retry_client_errors if account is not None else False,
    )
