"""Accounts and logins of the emulator: changed by ``faxpush accounts`` and the config file.

An account is a customer number with its default push settings (used when a job has no
``httpStatusPush``), push format and OAuth2 token URL; a login belongs to exactly one
customer number and is stored as a password hash.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

from faxpush._files import read_limited
from faxpush.core.errors import ConfigurationError, InputError
from faxpush.core.models import AuthMethod
from faxpush.core.passwords import hash_password, is_password_hash
from faxpush.core.secrets import Secret
from faxpush.core.targets import Account, ClientAuthStyle, PushFormat
from faxpush.core.templates import PushTemplate
from faxpush.core.urls import check_http_url
from faxpush.delivery.tls import check_tls_material, read_pem
from faxpush.emulator.config import AccountChanges, EmulatorConfig
from faxpush.storage.base import Store
from faxpush.storage.jobs_base import JobStore, Login

DEFAULT_CUSTOMER_NUMBER: Final = "99999TE"
DEFAULT_LOGIN: Final = "demo"
MAX_TEMPLATE_BYTES: Final = 256 * 1024


def _choice(value: str, allowed: type[PushFormat] | type[ClientAuthStyle], what: str) -> Any:
    try:
        return allowed(value.lower())
    except ValueError:
        options = ", ".join(member.value for member in allowed)
        raise InputError(f"unknown {what} {value!r}; use one of {options}") from None


def _auth_method(value: str) -> AuthMethod:
    try:
        return AuthMethod(value)
    except ValueError:
        raise InputError(
            f"unknown push auth method {value!r}; use NONE, HTTP_BASIC, HTTP_DIGEST or OAUTH2"
        ) from None


def read_template(path: str) -> tuple[str, str]:
    """Source and content type of a push template file (compiled once to check it)."""
    data = read_limited(path, "push template", limit=MAX_TEMPLATE_BYTES, error=InputError)
    template = PushTemplate.from_bytes(path, data)
    return template.source, template.content_type


def updated_account(base: Account, changes: AccountChanges) -> Account:
    """``base`` with ``changes`` made, checked as a whole.

    Giving ``push_template`` selects the template format. An empty ``push_url`` removes the
    account's default push."""
    updates: dict[str, Any] = _tls_changes(changes.ca_file, changes.client_cert, changes.client_key)
    if changes.push_format is not None:
        updates["push_format"] = _choice(changes.push_format, PushFormat, "push format")
    if changes.push_template is not None:
        source, content_type = read_template(changes.push_template)
        updates.update(
            push_format=PushFormat.TEMPLATE,
            push_template=source,
            push_template_content_type=content_type,
        )
    if changes.push_url is not None:
        updates["push_url"] = changes.push_url or None
    if changes.push_auth is not None:
        updates["push_auth"] = _auth_method(changes.push_auth)
    if changes.push_principal is not None:
        updates["push_principal"] = changes.push_principal or None
    if changes.push_credentials is not None:
        credentials = changes.push_credentials
        updates["push_credentials"] = Secret(credentials) if credentials else None
    if changes.oauth2_token_url is not None:
        updates["oauth2_token_url"] = changes.oauth2_token_url or None
    if changes.oauth2_client_auth is not None:
        updates["oauth2_client_auth"] = _choice(
            changes.oauth2_client_auth, ClientAuthStyle, "OAuth2 client authentication"
        )
    if changes.retry_client_errors is not None:
        updates["retry_client_errors"] = changes.retry_client_errors
    account = replace(base, **updates)
    check_account(account)
    return account


def _tls_changes(
    ca_file: str | None, client_cert: str | None, client_key: str | None
) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if ca_file is not None:
        changes["push_ca_pem"] = read_pem(ca_file, "CA certificate file") if ca_file else None
    if client_cert is not None:
        changes["push_client_cert"] = (
            read_pem(client_cert, "client certificate") if client_cert else None
        )
    if client_key is not None:
        changes["push_client_key"] = (
            Secret(read_pem(client_key, "client key")) if client_key else None
        )
    return changes


def check_account(account: Account) -> None:
    """Refuse push settings that could never deliver."""
    if account.push_format is PushFormat.TEMPLATE and not account.push_template:
        raise InputError("push format 'template' needs a template: give --push-template FILE")
    if account.push_url is not None:
        check_http_url(account.push_url)
        if account.push_auth is not AuthMethod.NONE and not (
            account.push_principal and account.push_credentials
        ):
            raise InputError(
                f"push auth {account.push_auth} needs --push-principal and --push-credentials"
            )
    if account.oauth2_token_url is not None:
        check_http_url(account.oauth2_token_url, role="OAuth2 token URL")
    if account.push_auth is AuthMethod.OAUTH2 and account.oauth2_token_url is None:
        raise InputError("push auth OAUTH2 needs --oauth2-token-url")
    check_tls_material(account.push_ca_pem, account.push_client_cert, account.push_client_key)


async def save_login(
    jobs: JobStore,
    login: str,
    customer_number: str,
    *,
    now: datetime,
    password: str | None = None,
    password_hash: str | None = None,
) -> None:
    """Create a login or change its password; a login never moves to another customer."""
    if not login or ":" in login:
        raise InputError(f"login {login!r} is empty or contains ':'; choose another name")
    existing = await jobs.get_login(login)
    if existing is not None and existing.customer_number != customer_number:
        raise InputError(
            f"login {login!r} already belongs to customer number {existing.customer_number}"
        )
    if password_hash is None:
        if not password:
            raise InputError(f"login {login!r} needs a password")
        password_hash = hash_password(password)
    elif not is_password_hash(password_hash):
        raise ConfigurationError(
            f"login {login!r}: password_hash is not a faxpush scrypt hash; give password instead"
        )
    await jobs.put_login(Login(login, customer_number, password_hash, now))


async def apply_config(
    store: Store, jobs: JobStore, config: EmulatorConfig, *, now: datetime
) -> None:
    """Create or update the accounts and logins the configuration file lists."""
    for entry in config.accounts:
        base = await store.get_account(entry.customer_number)
        push = dict(entry.push)
        retry = push.pop("retry_client_errors", None)
        if retry is not None and not isinstance(retry, bool):
            raise ConfigurationError(
                f"{config.source}: account {entry.customer_number}: "
                "retry_client_errors must be true or false"
            )
        try:
            strings = {key: str(value) for key, value in push.items()}
            changes = AccountChanges.picked({**strings, "retry_client_errors": retry})
            account = updated_account(base or Account(entry.customer_number), changes)
        except InputError as exc:
            raise ConfigurationError(
                f"{config.source}: account {entry.customer_number}: {exc}"
            ) from None
        await store.put_account(account)
        for login in entry.logins:
            await save_login(
                jobs,
                login.login,
                entry.customer_number,
                now=now,
                password=login.password,
                password_hash=login.password_hash,
            )


@dataclass(frozen=True, slots=True)
class FirstLogin:
    """The login created on the first start, shown once."""

    customer_number: str
    login: str
    password: str


async def ensure_first_login(store: Store, jobs: JobStore, *, now: datetime) -> FirstLogin | None:
    """When there is no account yet, create ``99999TE`` with login ``demo`` and a random
    password, and return them (the only time the password is shown)."""
    if await store.list_accounts() or await jobs.list_logins():
        return None
    password = secrets.token_urlsafe(12)
    await store.put_account(Account(DEFAULT_CUSTOMER_NUMBER))
    await save_login(jobs, DEFAULT_LOGIN, DEFAULT_CUSTOMER_NUMBER, now=now, password=password)
    return FirstLogin(DEFAULT_CUSTOMER_NUMBER, DEFAULT_LOGIN, password)
