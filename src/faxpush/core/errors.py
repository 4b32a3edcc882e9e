"""The faxpush exception tree: one root, split by what the caller does next.

::

    FaxpushError                      root: catch this to catch everything faxpush raises
    ├── ConfigurationError            bad settings, missing key, unknown backend: fix config
    ├── InputError                    bad input from a user or a peer: report it, do not retry
    │   ├── ReportFormatError         a push body / report that cannot be parsed or validated
    │   │   └── UnsafeXmlError        DTDs, entities or other XML that is refused outright
    │   └── TemplateError             a customer template that fails to compile or render
    ├── DeliveryError                 a push attempt did not succeed
    │   ├── RetryableDeliveryError    transient: timeouts, 5xx, 408/429, token endpoint down
    │   └── PermanentDeliveryError    will not succeed by retrying: 3xx, 4xx, refused address
    │       ├── AuthenticationFailedError  credentials rejected (second 401, invalid_client)
    │       └── AddressRefusedError   the URL resolves to a network that is not allowed
    ├── StorageError                  the database failed or is in an unexpected state
    └── VerificationError             a receiver refused an incoming push (auth, size, type)

When a subclass is raised without a message, its docstring's first line is the message.
"""

from __future__ import annotations

from typing import Final


class FaxpushError(Exception):
    """faxpush failed."""

    def __init__(self, message: str | None = None) -> None:
        if message is None:
            doc = type(self).__doc__ or "faxpush failed."
            message = doc.strip().splitlines()[0]
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigurationError(FaxpushError):
    """The configuration is invalid; check the FAXPUSH_* settings and CLI flags."""


class InputError(FaxpushError):
    """The input is invalid."""


class ReportFormatError(InputError):
    """A report could not be parsed or validated.

    ``source`` names where the input came from (a file name, ``<stdin>``, ``<request>``),
    ``location`` where in it the problem is (``line 4``, ``$.faxRecipients[0].number``).
    """

    def __init__(
        self, problem: str, *, source: str | None = None, location: str | None = None
    ) -> None:
        self.problem = problem
        self.source = source
        self.location = location
        super().__init__(self._compose())

    def _compose(self) -> str:
        parts = [p for p in (self.source, self.location) if p]
        prefix = ": ".join(parts)
        return f"{prefix}: {self.problem}" if prefix else self.problem

    def with_source(self, source: str) -> ReportFormatError:
        """Return the same error naming ``source`` (the codecs do not know file names)."""
        err = type(self)(self.problem, source=source, location=self.location)
        err.__cause__ = self.__cause__
        return err


class UnsafeXmlError(ReportFormatError):
    """The XML uses DTDs or entities, which faxpush refuses to process."""


class TemplateError(InputError):
    """A push template failed; the message names the template and line."""


class DeliveryError(FaxpushError):
    """A push attempt failed."""


class RetryableDeliveryError(DeliveryError):
    """A push attempt failed for a reason that may pass; it will be retried."""


class PermanentDeliveryError(DeliveryError):
    """A push attempt failed for a reason that retrying will not fix."""


class AuthenticationFailedError(PermanentDeliveryError):
    """The receiver or the token endpoint rejected the push credentials."""


class AddressRefusedError(PermanentDeliveryError):
    """The push URL resolves to an address that is not allowed.

    Allow its network explicitly with FAXPUSH_ALLOWED_NETWORKS (comma-separated CIDRs).
    """


class StorageError(FaxpushError):
    """The database failed."""


class VerificationError(FaxpushError):
    """An incoming push was refused."""


# A refused push's status by name: the receiver's JSON answer carries it as "error", and its
# metrics count refusals by it (never by the free-text reason).
REFUSAL_NAMES: Final = {
    400: "bad_request",
    401: "unauthorized",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "too_large",
    415: "unsupported_media_type",
    500: "internal",
    503: "unavailable",
}
