"""``/sync``: the replication gateway. One route; the raw path is routed by the gateway itself."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from server.core.state import StateDep

router = APIRouter(tags=["sync"])

_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "COPY"]


@router.api_route("/sync", methods=_METHODS, include_in_schema=False)
@router.api_route("/sync/{path:path}", methods=_METHODS, include_in_schema=False)
async def sync(request: Request, state: StateDep) -> Response:
    return await state.gateway.handle(request)
