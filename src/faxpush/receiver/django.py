"""Django integration: a view that receives pushes.

::

    # urls.py
    from django.urls import path
    from faxpush.receiver import BasicVerifier, PushReceiver
    from faxpush.receiver.django import create_view

    receiver = PushReceiver(verifier=BasicVerifier({"fax": "s3cret"}), inbox="sqlite:///inbox.db")
    urlpatterns = [path("fax/status", create_view(receiver))]

The view is exempt from CSRF checks (the sender authenticates with the push credentials,
not a session). Django is imported only here, so it stays an optional extra.
"""

from __future__ import annotations

import atexit
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from faxpush.receiver.service import PushReceiver
from faxpush.receiver.sync import SyncReceiver, wsgi_target


def _headers(request: HttpRequest) -> list[tuple[str, str]]:
    found = [(name, value) for name, value in request.headers.items()]
    return [(name.lower(), str(value)) for name, value in found]


def create_view(
    receiver: PushReceiver | SyncReceiver,
) -> Callable[[HttpRequest], HttpResponse]:
    """A view answering pushes. The receiver starts on its own event loop thread now and
    stops at interpreter exit; to stop it yourself, pass a :class:`SyncReceiver` and call
    its ``close()``."""
    bridge = receiver if isinstance(receiver, SyncReceiver) else SyncReceiver(receiver)
    atexit.register(bridge.close)

    @csrf_exempt
    def receive_push(request: HttpRequest) -> HttpResponse:
        answer = bridge.handle(
            request.method or "GET", wsgi_target(request.META), _headers(request), request.read
        )
        response = HttpResponse(answer.body, status=answer.status)
        for name, value in answer.headers:
            # Django keeps one value per header; several challenges share one, comma-separated
            # (RFC 7235 §4.1 allows both forms).
            response[name] = f"{response[name]}, {value}" if response.has_header(name) else value
        return response

    return receive_push


__all__ = ["create_view"]
