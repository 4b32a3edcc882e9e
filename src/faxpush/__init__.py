"""faxpush: the Fax4A HTTP status push API (v1), done properly."""

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
from faxpush.core.models import (
    AuthMethod,
    Document,
    FaxJobReport,
    HttpStatusPush,
    Options,
    RecipientStatus,
    ReportMail,
)

__all__ = [
    "AddressRefusedError",
    "AuthMethod",
    "AuthenticationFailedError",
    "ConfigurationError",
    "DeliveryError",
    "Document",
    "FaxJobReport",
    "FaxpushError",
    "HttpStatusPush",
    "InputError",
    "Options",
    "PermanentDeliveryError",
    "RecipientStatus",
    "ReportFormatError",
    "ReportMail",
    "RetryableDeliveryError",
    "StorageError",
    "TemplateError",
    "UnsafeXmlError",
    "VerificationError",
    "__version__",
]
