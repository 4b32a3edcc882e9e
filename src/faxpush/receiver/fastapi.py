"""FastAPI integration: a router whose one route receives pushes.

::

    from fastapi import FastAPI
    from faxpush.receiver import BasicVerifier, PushReceiver
    from faxpush.receiver.fastapi import create_router

    receiver = PushReceiver(verifier=BasicVerifier({"fax": "s3cret"}), inbox="sqlite:///inbox.db")
    app = FastAPI()
    app.include_router(create_router(receiver, "/fax/status"))

The route is documented in the app's OpenAPI with faxpush's request body and answers. The
receiver starts with the first push (FastAPI does not run a router's own lifespan before
0.112); to start it with the app, pass ``lifespan=lambda app: receiver_lifespan(receiver)``.
FastAPI is imported only here, so it stays an optional extra.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response

from faxpush.receiver.app import push_request
from faxpush.receiver.openapi import openapi_document
from faxpush.receiver.service import PushReceiver


def _operation_extra() -> dict[str, Any]:
    document = openapi_document()
    operation: dict[str, Any] = document["paths"]["/"]["post"]
    schemas = document["components"]["schemas"]

    def inline(node: Any) -> Any:
        # A router cannot add component schemas, so references are resolved in place.
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                return inline(schemas[ref.rsplit("/", 1)[1]])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    return {
        "requestBody": inline(operation["requestBody"]),
        "responses": inline(operation["responses"]),
    }


def create_router(receiver: PushReceiver, path: str = "/") -> APIRouter:
    """A router answering pushes POSTed to ``path``."""
    router = APIRouter()
    started = asyncio.Lock()
    state = {"started": False}

    async def receive_push(request: Request) -> Response:
        if not state["started"]:
            async with started:
                if not state["started"]:
                    await receiver.start()
                    state["started"] = True
        push = push_request(request.scope)
        stream = request.stream()

        async def read(limit: int) -> bytes:
            chunks: list[bytes] = []
            size = 0
            async for chunk in stream:
                chunks.append(chunk)
                size += len(chunk)
                if size >= limit:
                    break
            return b"".join(chunks)

        answer = await receiver.receive(push, read)
        response = Response(answer.body, status_code=answer.status)
        for name, value in answer.headers:
            response.headers.append(name, value)  # several WWW-Authenticate stay separate
        return response

    router.add_api_route(
        path,
        receive_push,
        methods=["POST"],
        operation_id="sendStatusPush",
        summary="Receive a fax job status push",
        openapi_extra=_operation_extra(),
    )
    return router


__all__ = ["create_router"]
