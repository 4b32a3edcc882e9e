"""The Fax4A REST API v1 as a Starlette app (spec §7), over the job store and simulator.

Every call is authenticated with HTTP Basic; a login sees only its own customer number's
jobs (401 otherwise). Errors are JSON: ``{"status", "error", "message"}``, plus ``field``
and ``problem`` for an invalid job request. Operation ids follow the vendor's API.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from faxpush._serving.answers import client_gone, database_unavailable
from faxpush.core.clock import Clock, utcnow
from faxpush.core.errors import StorageError
from faxpush.core.rest_view import to_rest_report
from faxpush.core.settings import Settings
from faxpush.emulator.auth import BasicAuthenticator, Caller
from faxpush.emulator.config import SimulatorConfig
from faxpush.emulator.intake import JobContext, accept_job
from faxpush.emulator.offload import HeavyWork
from faxpush.emulator.openapi import docs_page, openapi_document
from faxpush.emulator.plan import JobPlan
from faxpush.emulator.simulator import Simulator
from faxpush.emulator.validation import JobRequestError, parse_json_body
from faxpush.emulator.writer import JobWriter
from faxpush.storage.base import Store
from faxpush.storage.jobs_base import (
    MAX_REPORTS_PER_CALL,
    DuplicateJobError,
    JobRecord,
    JobStore,
)

logger = logging.getLogger("faxpush.emulator")

BULK_BODY_LIMIT: Final = 1024 * 1024
INLINE_REPORT_CHARS: Final = 64 * 1024  # reports of larger plans are built in a thread
_REALM: Final = 'Basic realm="Fax4A", charset="UTF-8"'


@dataclass(frozen=True, slots=True)
class EmulatorServices:
    """What the API works with; opened and closed by :mod:`faxpush.emulator.serve`."""

    store: Store
    jobs: JobStore
    settings: Settings
    simulator: Simulator
    simulator_config: SimulatorConfig
    authenticator: BasicAuthenticator
    writer: JobWriter
    clock: Clock = utcnow
    heavy: HeavyWork = field(default_factory=HeavyWork)


class ApiError(Exception):
    """An error answer: status code, vendor error name, message and extra fields."""

    def __init__(self, status: int, error: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.error, self.message, self.extra = status, error, message, extra

    def response(self) -> JSONResponse:
        body = {"status": self.status, "error": self.error, "message": self.message}
        headers = {"WWW-Authenticate": _REALM} if self.status == 401 else None
        return JSONResponse({**body, **self.extra}, status_code=self.status, headers=headers)


def _unauthorized() -> ApiError:
    return ApiError(
        401, "AUTHENTICATION_FAILURE", "bad or missing credentials for this customer number"
    )


async def _caller(services: EmulatorServices, request: Request) -> Caller:
    caller = await services.authenticator.authenticate(request.headers.get("authorization"))
    if caller is None or caller.customer_number != request.path_params["custNr"]:
        raise _unauthorized()
    return caller


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    too_large = ApiError(
        413, "PAYLOAD_TOO_LARGE", f"the request body is larger than the limit of {limit} bytes"
    )
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _rest_report(job: JobRecord, now: datetime) -> dict[str, Any]:
    report = job.report if job.report is not None else JobPlan.from_json(job.plan).view(now)
    return to_rest_report(report)


async def _reports_response(
    services: EmulatorServices, jobs: Sequence[JobRecord], build: Callable[[], Response]
) -> Response:
    # The report of a 3,000-recipient job took 0.2-0.5 s to read, convert and encode: a
    # client polling it froze every other request. Plans are a cheap proxy for that size.
    if sum(len(job.plan) for job in jobs) > INLINE_REPORT_CHARS:
        return await services.heavy.run(build)
    return build()


Handler = Callable[[EmulatorServices, Request], Awaitable[Response]]


async def send_job(services: EmulatorServices, request: Request) -> Response:
    """sendJobRequest: validate, plan and store a job; 201 ``{"jobId"}``."""
    caller = await _caller(services, request)
    body = await _read_body(request, services.settings.max_request_bytes)
    context = JobContext(caller, services.clock(), services.settings, services.simulator_config)
    accepted = await accept_job(
        body,
        context,
        load_account=lambda: services.store.get_account(caller.customer_number),
        heavy=services.heavy,
    )
    await services.writer.create(accepted.job)
    services.simulator.notify()
    job_id, pages = accepted.job.job_id, accepted.pages.pages
    logger.info("job %s accepted for %s (%d pages)", job_id, caller.customer_number, pages)
    return JSONResponse({"jobId": job_id}, status_code=201)


async def get_report(services: EmulatorServices, request: Request) -> Response:
    """getStatusReport: one job's report."""
    caller = await _caller(services, request)
    job_id = request.path_params["jobId"]
    job = await services.jobs.get_job(caller.customer_number, job_id)
    if job is None:
        raise ApiError(404, "NOT_FOUND", f"no report for job {job_id}", jobId=job_id)
    now = services.clock()
    return await _reports_response(services, [job], lambda: JSONResponse(_rest_report(job, now)))


async def get_all_reports(services: EmulatorServices, request: Request) -> Response:
    """getAllStatusReports: the oldest 1000 reports of completed jobs."""
    caller = await _caller(services, request)
    jobs = await services.jobs.list_finished(caller.customer_number)
    now = services.clock()
    return await _reports_response(
        services, jobs, lambda: JSONResponse({"reports": [_rest_report(job, now) for job in jobs]})
    )


def _bulk_request(body: bytes) -> tuple[str, list[str]]:
    document = parse_json_body(body)
    if not isinstance(document, dict):
        raise JobRequestError(None, "the body must be a JSON object with action and jobIds")
    action = document.get("action")
    if not isinstance(action, str) or action.upper() not in ("GET", "DELETE"):
        raise JobRequestError("action", "must be GET or DELETE (any letter case)")
    job_ids = document.get("jobIds")
    if not isinstance(job_ids, list) or not all(isinstance(i, str) for i in job_ids):
        raise JobRequestError("jobIds", "must be an array of job id strings")
    if len(job_ids) > MAX_REPORTS_PER_CALL:
        raise JobRequestError(
            "jobIds", f"at most {MAX_REPORTS_PER_CALL} job ids per call, got {len(job_ids)}"
        )
    return action.upper(), job_ids


def _deletion(job_id: str, deleted: bool) -> dict[str, Any]:
    return (
        {"jobId": job_id, "deleted": True}
        if deleted
        else {
            "jobId": job_id,
            "deleted": False,
            "reason": "NOT_FOUND",
        }
    )


async def bulk_reports(services: EmulatorServices, request: Request) -> Response:
    """bulkStatusReports: GET or DELETE up to 1000 reports by job id."""
    caller = await _caller(services, request)
    action, job_ids = _bulk_request(await _read_body(request, BULK_BODY_LIMIT))
    if action == "GET":
        jobs = await services.jobs.get_jobs(caller.customer_number, job_ids)
        now = services.clock()
        return await _reports_response(
            services,
            jobs,
            lambda: JSONResponse({"reports": [_rest_report(job, now) for job in jobs]}),
        )
    deleted = await services.jobs.delete_reports(caller.customer_number, job_ids)
    unique = list(dict.fromkeys(job_ids))
    return JSONResponse({"reports": [_deletion(i, i in deleted) for i in unique]})


async def delete_report(services: EmulatorServices, request: Request) -> Response:
    """deleteStatusReport: delete one completed job's report."""
    caller = await _caller(services, request)
    job_id = request.path_params["jobId"]
    deleted = await services.jobs.delete_reports(caller.customer_number, [job_id])
    return JSONResponse(_deletion(job_id, bool(deleted)), status_code=200 if deleted else 404)


async def delete_oldest_reports(services: EmulatorServices, request: Request) -> Response:
    """deleteOldestStatusReports: delete up to 1000 of the oldest completed reports."""
    caller = await _caller(services, request)
    deleted = await services.jobs.delete_oldest(caller.customer_number)
    return JSONResponse({"reports": [_deletion(job_id, True) for job_id in deleted]})


def _endpoint(
    services: EmulatorServices, handler: Handler
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(services, request)
        except ApiError as exc:
            return exc.response()
        except JobRequestError as exc:
            return ApiError(
                400, "BAD_REQUEST", str(exc), field=exc.field, problem=exc.problem
            ).response()
        except DuplicateJobError as exc:
            return ApiError(409, "CONFLICT", str(exc), jobId=exc.job_id).response()
        except ClientDisconnect:
            return client_gone()
        except StorageError as exc:
            busy = ApiError(503, "SERVICE_UNAVAILABLE", "the database is busy; retry")
            return database_unavailable(busy.response(), exc, logger)
        except Exception:  # noqa: BLE001 - a bug: logged with its traceback, answered 500
            return _internal_error_response(handler.__name__)

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


async def _docs(_request: Request) -> Response:
    return HTMLResponse(docs_page())


async def _openapi(_request: Request) -> Response:
    return JSONResponse(openapi_document())


async def _root(_request: Request) -> Response:
    return RedirectResponse("/docs")


def _internal_error_response(operation: str) -> Response:
    # Called inside an except block: the traceback goes to the log, never into the body.
    # Answering here rather than in Starlette's error middleware keeps the connection open.
    logger.exception("unexpected error in %s", operation)
    return ApiError(500, "INTERNAL_SERVER_ERROR", "unexpected server error").response()


async def _internal_error(_request: Request, exc: Exception) -> Response:
    logger.error("unexpected error: %s: %s", type(exc).__name__, exc)
    return ApiError(500, "INTERNAL_SERVER_ERROR", "unexpected server error").response()


# The REST v1 operations: path under /rest/v1/{custNr}/fax, method, handler, operationId.
_OPERATIONS: tuple[tuple[str, str, Handler, str], ...] = (
    ("", "POST", send_job, "sendJobRequest"),
    ("/reports", "GET", get_all_reports, "getAllStatusReports"),
    ("/reports", "POST", bulk_reports, "bulkStatusReports"),
    ("/reports", "DELETE", delete_oldest_reports, "deleteOldestStatusReports"),
    ("/reports/{jobId}", "GET", get_report, "getStatusReport"),
    ("/reports/{jobId}", "DELETE", delete_report, "deleteStatusReport"),
)


def build_app(services: EmulatorServices) -> Starlette:
    """The REST v1 app over ``services`` (which the caller opens and closes)."""
    base = "/rest/v1/{custNr}/fax"
    routes = [
        Route(base + path, _endpoint(services, handler), methods=[method], name=name)
        for path, method, handler, name in _OPERATIONS
    ]
    routes += [
        Route("/docs", _docs, methods=["GET"]),
        Route("/openapi.json", _openapi, methods=["GET"]),
        Route("/", _root, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={Exception: _internal_error})


__all__ = ["ApiError", "EmulatorServices", "build_app"]
