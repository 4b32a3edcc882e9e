"""The OpenAPI 3.1 description of the push operation, shipped as ``openapi.json``.

It documents the request faxpush sends (both body formats, described by one schema whose
``xml`` annotations give the XML element names), the answers a receiver gives, and the four
security schemes. ``faxpush openapi push`` prints it and the receiver app serves it at
``/openapi.json``, with its server URL and path adapted to where it runs.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import Any

from faxpush.core.errors import ConfigurationError

PUSH_OPERATION_ID = "sendStatusPush"


@cache
def _shipped() -> dict[str, Any]:
    text = resources.files("faxpush.receiver").joinpath("openapi.json").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def openapi_document(
    *, server_url: str | None = None, path: str = "/", token_url: str | None = None
) -> dict[str, Any]:
    """The document (a fresh copy), optionally for a receiver at ``server_url`` + ``path``
    and an OAuth2 token endpoint at ``token_url``."""
    if not path.startswith("/"):
        raise ConfigurationError(f"the push path {path!r} must start with '/'")
    document = copy.deepcopy(_shipped())
    if server_url is not None:
        document["servers"] = [{"url": server_url.rstrip("/"), "description": "This receiver."}]
    if path != "/":
        document["paths"] = {path: document["paths"]["/"]}
    if token_url is not None:
        flows = document["components"]["securitySchemes"]["oauth2"]["flows"]
        flows["clientCredentials"]["tokenUrl"] = token_url
    return document


def openapi_bytes(
    *, server_url: str | None = None, path: str = "/", token_url: str | None = None
) -> bytes:
    """:func:`openapi_document` as indented UTF-8 JSON with a final newline."""
    document = openapi_document(server_url=server_url, path=path, token_url=token_url)
    text = json.dumps(document, indent=2, ensure_ascii=False)
    return text.encode("utf-8") + b"\n"


__all__ = ["PUSH_OPERATION_ID", "openapi_bytes", "openapi_document"]
