from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from replication.errors import CouchError
from server.core.state import StateDep
from sync.checkpoints import utcnow
from sync.status import STALE_AFTER, VERIFICATION_FOLLOWER, WorkerReports, summarise

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(state: StateDep) -> JSONResponse:
    """Liveness and the state of what the server depends on (503 when CouchDB or the relational store is down),
    and the worker's last report: running or not, and the lag of each database's feed."""
    checks: dict[str, Any] = {}
    try:
        info = await state.couch.server_info()
        checks["couchdb"] = {"ok": True, "vendor": (info.get("vendor") or {}).get("name", "")}
    except CouchError as exc:
        checks["couchdb"] = {"ok": False, "error": str(exc)}
    try:
        async with state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        checks["database"] = {"ok": True, "dialect": state.engine.dialect.name}
    except Exception as exc:  # any driver error means "not reachable"
        checks["database"] = {"ok": False, "error": type(exc).__name__}
    healthy = all(check["ok"] for check in checks.values())
    # The worker's state is shown but does not fail the check: the worker is its own process (or service), and a
    # load balancer must not take a healthy gateway out of service because the worker is behind.
    if checks["database"]["ok"]:
        async with state.sessions() as session:
            reports = {report.follower: report for report in await WorkerReports(session).all()}
        checks["worker"] = summarise(reports.get(VERIFICATION_FOLLOWER), now=utcnow(), stale_after=STALE_AFTER)
    return JSONResponse({"status": "ok" if healthy else "degraded", **checks}, status_code=200 if healthy else 503)


@router.get("/metrics")
async def metrics(state: StateDep) -> Response:
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
