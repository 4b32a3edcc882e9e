"""Flask integration: a blueprint whose one route receives pushes.

::

    from flask import Flask
    from faxpush.receiver import BasicVerifier, PushReceiver
    from faxpush.receiver.flask import create_blueprint

    receiver = PushReceiver(verifier=BasicVerifier({"fax": "s3cret"}), inbox="sqlite:///inbox.db")
    app = Flask(__name__)
    app.register_blueprint(create_blueprint(receiver, "/fax/status"))

Flask is imported only here, so it stays an optional extra.
"""

from __future__ import annotations

import atexit
from typing import Any

from flask import Blueprint, Response, request

from faxpush.receiver.service import PushReceiver
from faxpush.receiver.sync import SyncReceiver, wsgi_target


def create_blueprint(
    receiver: PushReceiver | SyncReceiver,
    rule: str = "/",
    *,
    name: str = "faxpush_receiver",
) -> Blueprint:
    """A blueprint answering pushes POSTed to ``rule`` (other methods get 405 from Flask).

    The receiver starts on its own event loop thread now and stops at interpreter exit; to
    stop it yourself, pass a :class:`SyncReceiver` and call its ``close()``.
    """
    bridge = receiver if isinstance(receiver, SyncReceiver) else SyncReceiver(receiver)
    atexit.register(bridge.close)
    blueprint = Blueprint(name, __name__)

    def receive_push() -> Response:
        environ: dict[str, Any] = request.environ
        answer = bridge.handle(
            request.method,
            wsgi_target(environ),
            list(request.headers.items()),
            request.stream.read,
        )
        return Response(answer.body, status=answer.status, headers=list(answer.headers))

    blueprint.add_url_rule(rule, "receive_push", receive_push, methods=["POST"])
    return blueprint


__all__ = ["create_blueprint"]
