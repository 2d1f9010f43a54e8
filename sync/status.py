"""The worker's reported state, kept in the relational store so that ``/healthz`` can show it from any process.

The worker may run inside ``simpul run`` or as its own ``simpul worker`` process (docker-compose); either way it
writes one row per follower every few seconds: when it last reported, each database's lag, and how many of its
changes are parked as dead letters (counted in the store at each report, so the number holds across restarts and
re-queues from any process). A row older than ``stale_after`` means the worker is not running (or is stuck), and a
row saying it stopped means it is not running: ``/healthz`` then reports ``"status": "degraded"`` with the reason
(still HTTP 200: the gateway serves without the worker). No row at all means no worker has ever run against this
store (a gateway on its own); that is shown, not counted as degraded.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from sync.checkpoints import utcnow
from sync.worker import FeedStatus

#: The follower that runs the verification pipeline (its checkpoints and its report are kept under this name).
VERIFICATION_FOLLOWER = "verification"

#: The worker reports every couple of seconds; silence this long means it is not running.
STALE_AFTER = timedelta(seconds=30)


class WorkerReport(SQLModel, table=True):
    __tablename__ = "worker_reports"

    follower: str = Field(primary_key=True, max_length=64)
    host: str = Field(default="", max_length=255)
    pid: int = 0
    started_at: datetime = Field(default_factory=utcnow)
    reported_at: datetime = Field(default_factory=utcnow)
    running: bool = True
    #: db name → {"lag", "in_flight", "held", "pending", "caught_up", "processed", "parked", "last_error"}
    databases: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


def database_lag(status: FeedStatus, parked: int | None = None) -> dict[str, Any]:
    """One database's line in the report. ``lag``: changes not yet done, known ones only (seqs are opaque: the
    feed's ``pending`` count where the server gives it, plus what is read and unfinished). ``held``: of those,
    the ones waiting for an unreachable dependency. ``parked``: the dead letters in the store when given, else
    the ones this process parked."""
    return {
        "lag": (status.pending or 0) + status.in_flight,
        "in_flight": status.in_flight,
        "held": status.held,
        "pending": status.pending,
        "caught_up": status.caught_up,
        "processed": status.processed,
        "parked": status.parked if parked is None else parked,
        "last_error": status.last_error,
    }


class WorkerReports:
    """Reports through a unit of work's (or a request's) session; it never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def save(
        self,
        follower: str,
        started_at: datetime,
        statuses: Mapping[str, FeedStatus],
        *,
        running: bool = True,
        parked: Mapping[str, int] | None = None,
    ) -> None:
        """Save the report; ``parked``: the dead letters per database as counted in the store
        (:meth:`sync.deadletters.FailureStore.parked_counts`), which the worker passes at every report."""
        row = await self._session.get(WorkerReport, follower)
        if row is None:
            row = WorkerReport(follower=follower)
        row.host = socket.gethostname()
        row.pid = os.getpid()
        row.started_at = started_at
        row.reported_at = utcnow()
        row.running = running
        row.databases = {
            name: database_lag(status, None if parked is None else parked.get(name, 0))
            for name, status in sorted(statuses.items())
        }
        self._session.add(row)

    async def all(self) -> list[WorkerReport]:
        return list((await self._session.exec(select(WorkerReport))).all())


def summarise(report: WorkerReport | None, *, now: datetime, stale_after: timedelta) -> dict[str, Any]:
    """What ``/healthz`` shows of a worker: ok when it reported recently and is running."""
    if report is None:
        return {"ok": False, "error": "the worker has never reported"}
    reported_at = report.reported_at if report.reported_at.tzinfo else report.reported_at.replace(tzinfo=now.tzinfo)
    age = now - reported_at
    ok = report.running and age <= stale_after
    lagging = {name: line for name, line in report.databases.items() if line.get("lag") or not line.get("caught_up")}
    return {
        "ok": ok,
        **({} if ok else {"error": "stopped" if not report.running else f"no report for {age.total_seconds():.0f}s"}),
        "reported_at": reported_at.isoformat(),
        "databases": len(report.databases),
        "lag": sum(int(line.get("lag") or 0) for line in report.databases.values()),
        "held": sum(int(line.get("held") or 0) for line in report.databases.values()),
        "parked": sum(int(line.get("parked") or 0) for line in report.databases.values()),
        "lag_per_database": report.databases,
        "lagging": sorted(lagging),
    }


__all__ = ["WorkerReport", "WorkerReports", "summarise"]
