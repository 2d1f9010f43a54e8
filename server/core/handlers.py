"""The one error handler: domain errors become JSON, in CouchDB's shape on ``/sync`` and the API's elsewhere.

A relational store that cannot be used now (SQLAlchemy's ``OperationalError``, ``InterfaceError``, a pool that had no
connection to give: locked, read-only, unreachable) is :class:`~server.core.errors.ServiceUnavailable`, 503 with
``Retry-After``, whatever service ran into it, rather than an internal error: the client retries, as it does when
CouchDB is down. The answer and the log line name the error's class only, never the statement or its parameters.
"""

from __future__ import annotations

import logging
import re
import time

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from server.core.errors import ServiceUnavailable, SimpulError

log = logging.getLogger(__name__)

#: What the relational store raises when it cannot be used now, rather than refusing one statement.
STORE_UNAVAILABLE: tuple[type[Exception], ...] = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)
STORE_UNAVAILABLE_MESSAGE = "the database is not available right now; try again shortly"
#: Seconds a client is asked to wait (``Retry-After``); an outage is logged at most once this many seconds.
_STORE_RETRY_AFTER_S = 5
_STORE_LOG_EVERY_S = 30.0
_store_logged_at = float("-inf")

# A segment of a path no route matched is logged only when it is a plain word (``api``, ``v1``, ``people``):
# anything else may be a NIK, a document id or a name.
_PLAIN_SEGMENT = re.compile(r"[A-Za-z_-]{1,40}|v[0-9]{1,2}")


def loggable_path(request: Request) -> str:
    """The path as it may be logged: the route's template (``/api/v1/admin/people/{nik}/export``) when a route
    matched, else the path with every segment that is not a plain word replaced by ``{…}``. Never a raw path
    parameter: ordinary logs carry no personal data."""
    route = request.scope.get("route")
    template = getattr(route, "path", None)
    if isinstance(template, str) and template:
        return template
    segments = request.url.path.split("/")
    return "/".join(s if not s or _PLAIN_SEGMENT.fullmatch(s) else "{…}" for s in segments)


def _is_sync(request: Request) -> bool:
    return request.url.path == "/sync" or request.url.path.startswith("/sync/")


def _body(request: Request, code: str, message: str) -> dict[str, str]:
    return {"error": code, "reason": message} if _is_sync(request) else {"error": code, "detail": message}


def _headers(status: int, request: Request) -> dict[str, str] | None:
    # RFC 6750 asks for the challenge; on /sync a Basic challenge would make browsers prompt, so Bearer only.
    return {"WWW-Authenticate": "Bearer"} if status == 401 else None


def _simpul_error(request: Request, exc: SimpulError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        _body(request, exc.code, exc.message),
        status_code=exc.status_code,
        headers=headers or _headers(exc.status_code, request),
    )


def store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The 503 of a relational store that cannot be used now; logged by the route's template, once in a while."""
    global _store_logged_at
    now = time.monotonic()
    if now - _store_logged_at >= _STORE_LOG_EVERY_S:
        _store_logged_at = now
        log.warning(
            "the relational store is unavailable (%s) on %s %s; answering 503 (logged once every %.0fs)",
            type(getattr(exc, "orig", None) or exc).__name__,
            request.method,
            loggable_path(request),
            _STORE_LOG_EVERY_S,
        )
    return _simpul_error(
        request, ServiceUnavailable(STORE_UNAVAILABLE_MESSAGE), {"Retry-After": str(_STORE_RETRY_AFTER_S)}
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(SimpulError)
    async def simpul_error(request: Request, exc: SimpulError) -> JSONResponse:
        return _simpul_error(request, exc)

    async def store_error(request: Request, exc: Exception) -> JSONResponse:
        return store_unavailable(request, exc)

    for kind in STORE_UNAVAILABLE:
        app.add_exception_handler(kind, store_error)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        if _is_sync(request) and exc.status_code == 404:
            code, status = (
                "forbidden",
                403,
            )  # never 404 on /sync: a replicator would try to create the database
        else:
            status = exc.status_code
        return JSONResponse(_body(request, code, str(exc.detail)), status_code=status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        # The error names the status, as everywhere else: 422 is "invalid_request" (a field is missing or wrong).
        return JSONResponse(_body(request, "invalid_request", problems), status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, STORE_UNAVAILABLE):  # raised outside the routes (a middleware): still a clean 503
            return store_unavailable(request, exc)
        log.exception("unhandled error on %s %s", request.method, loggable_path(request))
        return JSONResponse(_body(request, "internal_error", "internal error"), status_code=500)
