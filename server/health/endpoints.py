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
    """Liveness and the state of what the server depends on, and the worker's last report (running or not, the lag
    of each database's feed, the dead letters in the store).

    ``status`` is ``"ok"`` only when every check is ok; otherwise ``"degraded"``, with ``degraded`` listing why
    (``["worker: no report for 77s"]``). The HTTP status is what a load balancer or the container's health check
    reads, and it stays about this server: 503 when CouchDB or the relational store is down (it cannot serve),
    200 otherwise, even with the worker stopped or stale (the worker is its own process or service; a gateway that
    serves must not be taken out of service because the worker is behind). A store no worker has ever reported to
    (a gateway on its own) is shown in ``worker`` and is not counted as degraded (see :mod:`sync.status`).
    """
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
    serving = all(check["ok"] for check in checks.values())
    reported = False
    if checks["database"]["ok"]:
        try:
            async with state.sessions() as session:
                reports = {report.follower: report for report in await WorkerReports(session).all()}
        except Exception as exc:  # the store answered SELECT 1 but not this: show it, do not fail liveness
            checks["worker"] = {"ok": False, "error": f"its report cannot be read ({type(exc).__name__})"}
            reported = True
        else:
            report = reports.get(VERIFICATION_FOLLOWER)
            checks["worker"] = summarise(report, now=utcnow(), stale_after=STALE_AFTER)
            reported = report is not None
    degraded = [
        f"{name}: {check.get('error', 'not ok')}"
        for name, check in checks.items()
        if not check["ok"] and (name != "worker" or reported)
    ]
    body = {"status": "degraded" if degraded else "ok", **({"degraded": degraded} if degraded else {}), **checks}
    return JSONResponse(body, status_code=200 if serving else 503)


@router.get("/metrics")
async def metrics(state: StateDep) -> Response:
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
