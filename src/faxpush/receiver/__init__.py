"""The receiver toolkit: accept, authenticate, parse and store status pushes.

Quick start (ASGI; see ``docs/receiver.md`` for FastAPI, Flask and Django)::

    from faxpush.receiver import BasicVerifier, PushReceiver, create_app

    def on_report(entry):            # runs once per push, after it is stored
        print(entry.report.jobId, [r.status for r in entry.report.faxRecipients])

    receiver = PushReceiver(
        verifier=BasicVerifier({"fax": "s3cret"}),
        inbox="sqlite:///inbox.db",
        handlers=[on_report],
    )
    app = create_app(receiver)       # uvicorn module:app
"""

from faxpush.receiver.app import ReceiverApp, create_app, receiver_lifespan
from faxpush.receiver.errors import (
    AuthenticationRequiredError,
    BadPushRequestError,
    BodyTooLargeError,
    MethodNotAllowedError,
    PushRefusedError,
    UnsupportedMediaTypeError,
    VerifierUnavailableError,
)
from faxpush.receiver.handlers import Handler, HandlerRunner
from faxpush.receiver.inbox import (
    DELIVERY_ID_HEADER,
    HandlerTask,
    InboxEntry,
    InboxStore,
    MemoryInbox,
    SqliteInbox,
    TaskState,
    inbox_key,
    open_inbox,
)
from faxpush.receiver.mapping import ReverseMapping
from faxpush.receiver.parse import parse
from faxpush.receiver.service import PushReceiver, PushRequest, Receipt, ReceiverResponse
from faxpush.receiver.verify import (
    AuthRequest,
    AuthResult,
    BasicVerifier,
    BearerVerifier,
    DigestUser,
    DigestVerifier,
    IntrospectionValidator,
    JwtValidator,
    NoAuthVerifier,
    RemoteJwks,
    StaticJwks,
    Verifier,
)

__all__ = [
    "DELIVERY_ID_HEADER",
    "AuthRequest",
    "AuthResult",
    "AuthenticationRequiredError",
    "BadPushRequestError",
    "BasicVerifier",
    "BearerVerifier",
    "BodyTooLargeError",
    "DigestUser",
    "DigestVerifier",
    "Handler",
    "HandlerRunner",
    "HandlerTask",
    "InboxEntry",
    "InboxStore",
    "IntrospectionValidator",
    "JwtValidator",
    "MemoryInbox",
    "MethodNotAllowedError",
    "NoAuthVerifier",
    "PushReceiver",
    "PushRefusedError",
    "PushRequest",
    "Receipt",
    "ReceiverApp",
    "ReceiverResponse",
    "RemoteJwks",
    "ReverseMapping",
    "SqliteInbox",
    "StaticJwks",
    "TaskState",
    "UnsupportedMediaTypeError",
    "Verifier",
    "VerifierUnavailableError",
    "create_app",
    "inbox_key",
    "open_inbox",
    "parse",
    "receiver_lifespan",
]
