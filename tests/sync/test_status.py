"""The worker's report: saved by the worker, summarised for /healthz."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sync.checkpoints import utcnow
from sync.status import STALE_AFTER, VERIFICATION_FOLLOWER, WorkerReports, summarise
from sync.uow import UnitOfWork
from sync.worker import FeedStatus

pytestmark = pytest.mark.anyio


def status(db: str, *, in_flight: int = 0, pending: int | None = 0, caught_up: bool = True) -> FeedStatus:
    return FeedStatus(
        db=db,
        checkpoint_seq="5",
        processed_seq="5",
        last_seen_seq="7",
        in_flight=in_flight,
        processed=3,
        failures=0,
        parked=1,
        caught_up=caught_up,
        pending=pending,
        last_error=None,
    )


async def test_a_fresh_report_shows_the_lag_per_database(uow: UnitOfWork):
    started = utcnow()
    statuses = {"desa_a": status("desa_a", in_flight=2, pending=3, caught_up=False), "desa_b": status("desa_b")}
    async with uow.begin() as session:
        await WorkerReports(session).save(VERIFICATION_FOLLOWER, started, statuses)
    async with uow.begin() as session:
        [report] = await WorkerReports(session).all()
    summary = summarise(report, now=utcnow(), stale_after=STALE_AFTER)
    assert summary["ok"] is True
    assert summary["lag"] == 5 and summary["parked"] == 2 and summary["databases"] == 2
    assert summary["lag_per_database"]["desa_a"]["lag"] == 5
    assert summary["lagging"] == ["desa_a"]


async def test_a_stale_or_stopped_worker_is_not_ok(uow: UnitOfWork):
    async with uow.begin() as session:
        await WorkerReports(session).save(VERIFICATION_FOLLOWER, utcnow(), {"desa_a": status("desa_a")})
    async with uow.begin() as session:
        [report] = await WorkerReports(session).all()
    later = utcnow() + STALE_AFTER + timedelta(seconds=1)
    stale = summarise(report, now=later, stale_after=STALE_AFTER)
    assert stale["ok"] is False and "no report" in stale["error"]

    async with uow.begin() as session:
        await WorkerReports(session).save(VERIFICATION_FOLLOWER, utcnow(), {}, running=False)
    async with uow.begin() as session:
        [report] = await WorkerReports(session).all()
    assert summarise(report, now=utcnow(), stale_after=STALE_AFTER)["error"] == "stopped"


def test_no_report_at_all():
    assert summarise(None, now=utcnow(), stale_after=STALE_AFTER) == {
        "ok": False,
        "error": "the worker has never reported",
    }
