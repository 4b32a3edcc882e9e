"""faxpush: the Fax4A HTTP status push API (v1), done properly.

The names exported here are faxpush's API for programs that embed it; ``docs/api.md`` shows
each with an example. Everything else is internal and may change between releases.

The errors load with the package. The report models (pydantic), the codecs, the store, the
worker and the receiver load when first used (PEP 562), so that ``import faxpush`` stays cheap
for a program that only needs some of them and a command line that only prints its help.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from faxpush._version import __version__
from faxpush.core.errors import (
    AddressRefusedError,
    AuthenticationFailedError,
    ConfigurationError,
    DeliveryError,
    FaxpushError,
    InputError,
    PermanentDeliveryError,
    ReportFormatError,
    RetryableDeliveryError,
    StorageError,
    TemplateError,
    UnsafeXmlError,
    VerificationError,
)

if TYPE_CHECKING:
    from faxpush.core.formats import ReportFormat, detect_format, parse_report, render_report
    from faxpush.core.json_codec import parse_json, render_json
    from faxpush.core.models import (
        AuthMethod,
        Document,
        FaxJobReport,
        HttpStatusPush,
        Options,
        RecipientStatus,
        ReportMail,
    )
    from faxpush.core.settings import Settings
    from faxpush.core.targets import Account, ClientAuthStyle, PushFormat, PushTarget
    from faxpush.core.xml_codec import parse_xml, render_xml
    from faxpush.delivery.worker import DeliveryEngine, delivery_engine, run_worker
    from faxpush.receiver import PushReceiver, create_app
    from faxpush.storage.base import AttemptRecord, NewPush, PushRecord, PushState, Store
    from faxpush.storage.cipher import SecretCipher, generate_key
    from faxpush.storage.factory import open_configured_store, open_store

_LAZY = {
    "faxpush.core.models": (
        "AuthMethod",
        "Document",
        "FaxJobReport",
        "HttpStatusPush",
        "Options",
        "RecipientStatus",
        "ReportMail",
    ),
    "faxpush.core.formats": ("ReportFormat", "detect_format", "parse_report", "render_report"),
    "faxpush.core.json_codec": ("parse_json", "render_json"),
    "faxpush.core.xml_codec": ("parse_xml", "render_xml"),
    "faxpush.core.settings": ("Settings",),
    "faxpush.core.targets": ("Account", "ClientAuthStyle", "PushFormat", "PushTarget"),
    "faxpush.storage.base": ("AttemptRecord", "NewPush", "PushRecord", "PushState", "Store"),
    "faxpush.storage.cipher": ("SecretCipher", "generate_key"),
    "faxpush.storage.factory": ("open_configured_store", "open_store"),
    "faxpush.delivery.worker": ("DeliveryEngine", "delivery_engine", "run_worker"),
    "faxpush.receiver": ("PushReceiver", "create_app"),
}
_HOME = {name: module for module, names in _LAZY.items() for name in names}


if not TYPE_CHECKING:  # type checkers see the imports above, and flag a misspelt name

    def __getattr__(name: str) -> Any:
        module = _HOME.get(name)
        if module is None:
            raise AttributeError(f"module 'faxpush' has no attribute {name!r}")
        value = getattr(import_module(module), name)
        globals()[name] = value  # the next lookup is a plain attribute
        return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "Account",
    "AddressRefusedError",
    "AttemptRecord",
    "AuthMethod",
    "AuthenticationFailedError",
    "ClientAuthStyle",
    "ConfigurationError",
    "DeliveryEngine",
    "DeliveryError",
    "Document",
    "FaxJobReport",
    "FaxpushError",
    "HttpStatusPush",
    "InputError",
    "NewPush",
    "Options",
    "PermanentDeliveryError",
    "PushFormat",
    "PushReceiver",
    "PushRecord",
    "PushState",
    "PushTarget",
    "RecipientStatus",
    "ReportFormat",
    "ReportFormatError",
    "ReportMail",
    "RetryableDeliveryError",
    "SecretCipher",
    "Settings",
    "StorageError",
    "Store",
    "TemplateError",
    "UnsafeXmlError",
    "VerificationError",
    "__version__",
    "create_app",
    "delivery_engine",
    "detect_format",
    "generate_key",
    "open_configured_store",
    "open_store",
    "parse_json",
    "parse_report",
    "parse_xml",
    "render_json",
    "render_report",
    "render_xml",
    "run_worker",
]
