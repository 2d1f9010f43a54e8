"""``/sync``: the replication gateway, served as a lean ASGI endpoint in front of the API's router.

A replicator makes four or five requests per batch of 100 documents and CouchDB answers each in a few
milliseconds, so what the framework costs per request counts. ``/sync`` needs none of FastAPI's routing,
dependency resolution (a plain ``def`` dependency even costs a hop to a worker thread) or exception middleware:
it has one route, routes the raw path itself and answers errors in CouchDB's shape. Measured on the 2-core
development machine, those layers were about a third of the gateway's CPU per relayed request.

So :class:`SyncEndpoint` sits in the middleware stack inside the metrics middleware (requests are still counted
under the route template ``/sync/{path:path}``) and answers every ``/sync`` path; any other path goes on to
FastAPI. Errors are answered here as the app's handlers would on ``/sync``: ``{"error", "reason"}`` JSON, a
``WWW-Authenticate: Bearer`` challenge with a 401, a logged 500 for anything unexpected. Once a response has
started (a relayed stream), an exception aborts the connection instead: the client must never take a cut
stream for a complete one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from server.core.errors import SimpulError
from server.core.state import AppState
from server.gateway.access import sync_request

log = logging.getLogger(__name__)

PREFIX = "/sync"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "COPY"})


@dataclass(frozen=True)
class SyncRoute:
    """What the metrics middleware reads from ``scope["route"]``: the template, never the raw path."""

    path: str = "/sync/{path:path}"


SYNC_ROUTE = SyncRoute()


def is_sync_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def error_response(status: int, code: str, reason: str) -> Response:
    # RFC 6750 asks for the challenge; on /sync a Basic challenge would make browsers prompt, so Bearer only.
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    body = orjson.dumps({"error": code, "reason": reason})
    return Response(body, status_code=status, media_type="application/json", headers=headers)


class SyncEndpoint:
    """ASGI middleware: ``/sync`` and everything under it is the gateway's, the rest goes to ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_sync_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        scope["route"] = SYNC_ROUTE
        response = await self._answer(scope, receive)
        await response(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive) -> Response:
        request = Request(scope, receive)
        if request.method not in _METHODS:
            return error_response(405, "method_not_allowed", "Method Not Allowed")
        try:
            state: AppState = scope["app"].state.simpul
            with sync_request(request.method, scope["raw_path"]):  # what an audited read asked (gateway.access)
                return await state.gateway.handle(request)
        except SimpulError as exc:
            return error_response(exc.status_code, exc.code, exc.message)
        except Exception:
            log.exception("unhandled error on %s %s", request.method, PREFIX)
            return error_response(500, "internal_error", "internal error")
