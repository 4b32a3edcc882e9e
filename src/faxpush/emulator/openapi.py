"""The emulator's OpenAPI document, with the vendor's operation ids, and a self-contained
``/docs`` page (no scripts or assets from elsewhere, so it works offline)."""

from __future__ import annotations

import html
import json
from functools import cache
from typing import Any, Final

from faxpush._version import __version__
from faxpush.emulator.validation import FaxJobRequest

OPERATIONS: Final = (
    ("post", "/rest/v1/{custNr}/fax", "sendJobRequest", "Send a fax job", ("201", "400", "409")),
    (
        "get",
        "/rest/v1/{custNr}/fax/reports",
        "getAllStatusReports",
        "Reports of completed jobs, oldest 1000",
        ("200",),
    ),
    (
        "post",
        "/rest/v1/{custNr}/fax/reports",
        "bulkStatusReports",
        "GET or DELETE up to 1000 reports by job id",
        ("200", "400"),
    ),
    (
        "delete",
        "/rest/v1/{custNr}/fax/reports",
        "deleteOldestStatusReports",
        "Delete up to 1000 of the oldest completed reports",
        ("200",),
    ),
    (
        "get",
        "/rest/v1/{custNr}/fax/reports/{jobId}",
        "getStatusReport",
        "One job's report (PENDING recipients while in progress)",
        ("200", "404"),
    ),
    (
        "delete",
        "/rest/v1/{custNr}/fax/reports/{jobId}",
        "deleteStatusReport",
        "Delete one completed job's report",
        ("200", "404"),
    ),
)

_STATUS_TEXT: Final = {
    "200": "OK",
    "201": "CREATED: the job was accepted; the body holds its jobId",
    "400": "BAD_REQUEST: unparsable JSON or an invalid field (the body names it)",
    "401": "AUTHENTICATION_FAILURE: bad or missing credentials, or another customer number",
    "404": "NOT_FOUND: no report for that job id",
    "409": "CONFLICT: duplicate job",
    "413": "the body is larger than the configured limit",
    "500": "INTERNAL_SERVER_ERROR",
    "503": "SERVICE_UNAVAILABLE: the database is busy; retry",
}


def _operation(method: str, path: str, op_id: str, summary: str, codes: tuple[str, ...]) -> Any:
    parameters = [{"name": "custNr", "in": "path", "required": True, "schema": {"type": "string"}}]
    if "{jobId}" in path:
        parameters.append(
            {"name": "jobId", "in": "path", "required": True, "schema": {"type": "string"}}
        )
    operation: dict[str, Any] = {
        "operationId": op_id,
        "summary": summary,
        "parameters": parameters,
        "security": [{"httpBasicAuth": []}],
        "responses": {
            code: {"description": _STATUS_TEXT[code]} for code in (*codes, "401", "500", "503")
        },
    }
    if op_id == "sendJobRequest":
        operation["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/FaxJobRequest"}}
            },
        }
        operation["responses"]["413"] = {"description": _STATUS_TEXT["413"]}
    if op_id == "bulkStatusReports":
        operation["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["action", "jobIds"],
                        "properties": {
                            "action": {"type": "string", "description": "GET or DELETE, any case"},
                            "jobIds": {
                                "type": "array",
                                "maxItems": 1000,
                                "items": {"type": "string"},
                            },
                        },
                    }
                }
            },
        }
    return operation


@cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 description of the emulated API."""
    schema = FaxJobRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    components = dict(schema.pop("$defs", {}))
    components["FaxJobRequest"] = schema
    paths: dict[str, dict[str, Any]] = {}
    for method, path, op_id, summary, codes in OPERATIONS:
        paths.setdefault(path, {})[method] = _operation(method, path, op_id, summary, codes)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Fax4A REST API v1 (faxpush emulator)",
            "version": __version__,
            "description": "Fax jobs in, simulated transmissions, HTTP status pushes out.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"httpBasicAuth": {"type": "http", "scheme": "basic"}},
        },
    }


def docs_page() -> str:
    """A plain HTML page listing the operations and embedding the OpenAPI document."""
    rows = "".join(
        f"<tr><td><code>{html.escape(method.upper())}</code></td>"
        f"<td><code>{html.escape(path)}</code></td>"
        f"<td><code>{html.escape(op_id)}</code></td><td>{html.escape(summary)}</td></tr>"
        for method, path, op_id, summary, _ in OPERATIONS
    )
    document = html.escape(json.dumps(openapi_document(), indent=2))
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<title>faxpush: Fax4A REST API v1</title></head><body>"
        "<h1>Fax4A REST API v1 (faxpush emulator)</h1>"
        "<p>HTTP Basic authentication on every call. "
        "Machine-readable: <a href='/openapi.json'>/openapi.json</a>.</p>"
        "<table border='1' cellpadding='4'><tr><th>method</th><th>path</th>"
        f"<th>operationId</th><th>what</th></tr>{rows}</table>"
        f"<h2>OpenAPI document</h2><pre>{document}</pre></body></html>"
    )
