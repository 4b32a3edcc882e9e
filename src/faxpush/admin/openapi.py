"""The operator API's OpenAPI 3.1 document (``/openapi.json``, ``faxpush openapi admin``).

Written by hand beside the route table; a test checks that every route of the app is here
and that the document is valid OpenAPI 3.1.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Final

from faxpush._version import __version__

_S: Final = {"type": "string"}
_NS: Final = {"type": ["string", "null"]}
_NI: Final = {"type": ["integer", "null"]}
_NN: Final = {"type": ["number", "null"]}
_TIME: Final = {"type": "string", "format": "date-time"}
_NTIME: Final = {"type": ["string", "null"], "format": "date-time"}
_CURSOR: Final = {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"}
_STATES: Final = ["pending", "in_flight", "delivered", "failed", "cancelled"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _list(name: str) -> dict[str, Any]:
    return {"type": "array", "items": _ref(name)}


def _obj(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


_TARGET: Final = _obj(
    {
        "targetUrl": {**_S, "format": "uri"},
        "authMethod": {"enum": ["NONE", "HTTP_BASIC", "HTTP_DIGEST", "OAUTH2"]},
        "principal": _S,
        "credentials": _S,
        "tokenUrl": {**_S, "format": "uri"},
        "clientAuth": {"enum": ["client_secret_basic", "client_secret_post"]},
        "format": {"enum": ["xml", "json"]},
    },
    ("targetUrl",),
)
_REPORT: Final = {
    "type": "object",
    "description": "A status report in the vendor's JSON layout (any of its spellings); "
    "httpStatusPush may carry principal and credentials",
}
_ENVELOPE: Final = _obj({"report": _REPORT, "target": _ref("Target")}, ("report",))
_ACCEPTED: Final = _obj(
    {"deliveryId": _S, "jobId": _S, "location": _S}, ("deliveryId", "jobId", "location")
)
_PUSH: Final = _obj(
    {
        "deliveryId": _S,
        "jobId": _S,
        "customerNumber": _NS,
        "state": {"enum": _STATES},
        "attempts": {"type": "integer"},
        "maxAttempts": _NI,
        "receiver": _S,
        "target": _obj(
            {
                "url": _S,
                "authMethod": _S,
                "principal": _NS,
                "hasCredentials": {"type": "boolean"},
            }
        ),
        "contentType": _S,
        "bodyBytes": {"type": "integer"},
        "body": {**_S, "description": "the push body (only in a single push's answer)"},
        "nextAttemptAt": _TIME,
        "createdAt": _TIME,
        "updatedAt": _TIME,
        "lastError": _NS,
        "location": _S,
        "attemptList": _list("Attempt"),
    },
    ("deliveryId", "jobId", "state", "attempts", "receiver", "target", "createdAt"),
)
_ATTEMPT: Final = _obj(
    {
        "deliveryId": _S,
        "number": {"type": "integer"},
        "startedAt": _TIME,
        "durationMs": {"type": "number"},
        "httpStatus": _NI,
        "errorClass": _NS,
        "error": _NS,
        "responseHeaders": {"type": "object", "additionalProperties": _S},
        "responseBody": _S,
        "responseBodyTruncated": {"type": "boolean"},
        "authSteps": {"type": "array", "items": _S},
    },
    ("deliveryId", "number", "startedAt", "durationMs"),
)
_WINDOW: Final = _obj(
    {
        "attempts": {"type": "integer"},
        "successes": {"type": "integer"},
        "successRate": _NN,
        "durationP50Ms": _NN,
        "durationP99Ms": _NN,
    }
)
_RECEIVER: Final = _obj(
    {
        "receiver": _S,
        "lastHour": _WINDOW,
        "lastDay": _WINDOW,
        "pending": {"type": "integer"},
        "oldestPendingAgeSeconds": _NN,
        "consecutiveFailures": {"type": "integer"},
        "lastError": _NS,
        "lastErrorAt": _NTIME,
        "lastAttemptAt": _NTIME,
    },
    ("receiver", "pending", "consecutiveFailures"),
)
_ERROR: Final = _obj(
    {"error": _S, "message": _S, "field": _S},
    ("error", "message"),
)
_FILTER: Final = _obj(  # null or absent: not filtered on
    {
        "state": {"enum": ["delivered", "failed", "cancelled", None]},
        "jobId": _NS,
        "receiver": _NS,
        "since": _NTIME,
    }
)

_ERRORS: Final = {
    "400": "the request is invalid; field names the parameter or report field",
    "401": "no token, or an unknown or revoked one",
    "403": "a read-only token on a call that changes something",
    "404": "no such push, job or account",
    "409": "the push is not in a state that allows this",
    "413": "the body is larger than max_request_bytes",
    "415": "the Content-Type is neither XML nor JSON",
    "422": "the Idempotency-Key was used for another request",
    "503": "the database is unavailable; retry",
}


def _json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _param(name: str, where: str, description: str, schema: Any = _S) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": description,
        "schema": schema,
    }


_ID: Final = _param("deliveryId", "path", "the push's delivery id")
_ACCOUNT: Final = _param("account", "query", "customer number whose push settings apply")
_IDEMPOTENCY: Final = _param(
    "Idempotency-Key", "header", "repeat the request safely: the first answer is returned"
)


def _operation(
    op_id: str,
    summary: str,
    ok: tuple[str, dict[str, Any]],
    errors: tuple[str, ...],
    *,
    parameters: tuple[dict[str, Any], ...] = (),
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    responses = {ok[0]: ok[1]} | {
        code: _json_body(_ref("Error"), _ERRORS[code]) for code in ("401", *errors, "503")
    }
    operation: dict[str, Any] = {
        "operationId": op_id,
        "summary": summary,
        "security": [{"bearerToken": []}],
        "parameters": list(parameters),
        "responses": responses,
    }
    if body is not None:
        operation["requestBody"] = body
    return operation


def _paths() -> dict[str, Any]:
    accepted = ("202", _json_body(_ref("Accepted"), "queued"))
    single_body = {
        "required": True,
        "content": {
            "text/xml": {"schema": {**_S, "description": "a report in the default XML layout"}},
            "application/json": {"schema": {"oneOf": [_REPORT, _ref("Envelope")]}},
        },
    }
    batch_body = {
        "required": True,
        "content": {
            "application/json": {
                "schema": _obj(
                    {"items": {"type": "array", "minItems": 1, "items": _ref("Envelope")}},
                    ("items",),
                )
            }
        },
    }
    page = _obj(
        {"pushes": _list("Push"), "nextCursor": _NS},
        ("pushes", "nextCursor"),
    )
    filters = (
        _param("state", "query", "push state", {"enum": _STATES}),
        _param("jobId", "query", "the job id"),
        _param("receiver", "query", "receiver origin, e.g. https://hooks.example.org"),
        _param("since", "query", "created at or after", _TIME),
        _param("limit", "query", "page size", {"type": "integer", "minimum": 1, "maximum": 500}),
        _param("cursor", "query", "nextCursor of the previous page", _CURSOR),
    )
    push_answer = ("200", _json_body(_ref("Push"), "the push"))

    def push_action(operation_id: str, summary: str) -> dict[str, Any]:
        conflicts = ("403", "404", "409")
        return {
            "post": _operation(operation_id, summary, push_answer, conflicts, parameters=(_ID,))
        }

    return {
        "/api/v1/pushes": {
            "post": _operation(
                "ingestPush",
                "Queue the push of one report",
                accepted,
                ("400", "403", "404", "413", "415", "422"),
                parameters=(_ACCOUNT, _IDEMPOTENCY),
                body=single_body,
            ),
            "get": _operation(
                "listPushes",
                "Pushes, newest first (keyset pages)",
                ("200", _json_body(page, "a page")),
                ("400",),
                parameters=filters,
            ),
        },
        "/api/v1/pushes/batch": {
            "post": _operation(
                "ingestBatch",
                "Queue the pushes of many reports, all or none",
                (
                    "202",
                    _json_body(_obj({"pushes": _list("Accepted")}), "queued"),
                ),
                ("400", "403", "404", "413", "415", "422"),
                parameters=(_ACCOUNT, _IDEMPOTENCY),
                body=batch_body,
            )
        },
        "/api/v1/pushes/redeliver": {
            "post": _operation(
                "redeliverMatching",
                "Send again every finished push matching a filter",
                ("200", _json_body(_obj({"redelivered": {"type": "integer"}}), "how many")),
                ("400", "403", "413"),
                body={
                    "required": True,
                    "content": {"application/json": {"schema": _ref("Filter")}},
                },
            )
        },
        "/api/v1/pushes/{deliveryId}": {
            "get": _operation(
                "getPush", "One push with every attempt", push_answer, ("404",), parameters=(_ID,)
            )
        },
        "/api/v1/pushes/{deliveryId}/redeliver": push_action(
            "redeliverPush", "Send a finished push again"
        ),
        "/api/v1/pushes/{deliveryId}/cancel": push_action("cancelPush", "Cancel a pending push"),
        "/api/v1/jobs/{jobId}/attempts": {
            "get": _operation(
                "jobAttempts",
                "Every attempt of a job's pushes, oldest first",
                (
                    "200",
                    _json_body(
                        _obj({"jobId": _S, "attempts": _list("Attempt")}),
                        "the attempts",
                    ),
                ),
                (),
                parameters=(_param("jobId", "path", "the job id"),),
            )
        },
        "/api/v1/receivers": {
            "get": _operation(
                "listReceivers",
                "One row per receiver origin",
                (
                    "200",
                    _json_body(
                        _obj({"receivers": _list("Receiver")}),
                        "the receivers",
                    ),
                ),
                (),
            )
        },
        "/openapi.json": {
            "get": _operation(
                "openapi", "This document", ("200", {"description": "OpenAPI 3.1"}), ()
            )
        },
    }


@cache
def admin_openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 description of the operator API."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "faxpush operator API",
            "version": __version__,
            "description": "Ingest reports as pushes, inspect and act on the outbox, watch "
            "the receivers. Every call needs 'Authorization: Bearer <token>'.",
        },
        "paths": _paths(),
        "components": {
            "schemas": {
                "Target": _TARGET,
                "Envelope": _ENVELOPE,
                "Accepted": _ACCEPTED,
                "Push": _PUSH,
                "Attempt": _ATTEMPT,
                "Receiver": _RECEIVER,
                "Filter": _FILTER,
                "Error": _ERROR,
            },
            "securitySchemes": {"bearerToken": {"type": "http", "scheme": "bearer"}},
        },
    }


__all__ = ["admin_openapi_document"]
