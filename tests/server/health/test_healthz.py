"""``/healthz``: the top-level status is ``ok`` only when everything is; a stopped or silent worker makes it
``degraded`` with the reason while the HTTP status stays 200 (load balancers and the container's health check keep a
gateway that serves); a CouchDB or relational store that is down is 503. The worker's ``parked`` is the number of
dead letters in the store. The real app in process, on the session's pouchdb-server and a SQLite file."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from replication.localserver import LocalCouchServer
from server.app import create_app
from simpul.db import make_async_engine
from simpul.schema import create_tables
from simpul.settings import Settings
from sync.checkpoints import utcnow
from sync.deadletters import FailureStore
from sync.feed import Change
from sync.status import VERIFICATION_FOLLOWER, WorkerReport, WorkerReports
from sync.worker import FeedStatus
from tests.fixtures.couch import free_port

pytestmark = pytest.mark.live

DB = "desa_3510161014"


def _status(parked: int = 0) -> FeedStatus:
    return FeedStatus(
        db=DB,
        checkpoint_seq="5",
        processed_seq="5",
        last_seen_seq="5",
        in_flight=0,
        processed=5,
        failures=0,
        parked=parked,
        caught_up=True,
        pending=0,
        last_error=None,
    )


async def _prepare(path: Path, *, reported_ago_s: float | None, running: bool = True, dead_letters: int = 0) -> None:
    engine = make_async_engine(f"sqlite:///{path}")
    try:
        await create_tables(engine)
        async with AsyncSession(engine) as session:
            store = FailureStore(session)
            for index in range(dead_letters):
                change = Change(db=DB, seq=str(index), id=f"application:{index}", revs=("1-a",))
                await store.park(change, "verification", "ValueError: x", 5)
            if reported_ago_s is not None:
                counts = await store.parked_counts()
                await WorkerReports(session).save(
                    VERIFICATION_FOLLOWER, utcnow(), {DB: _status()}, running=running, parked=counts
                )
                await session.flush()
                report = await session.get(WorkerReport, VERIFICATION_FOLLOWER)
                assert report is not None
                report.reported_at = utcnow() - timedelta(seconds=reported_ago_s)
                session.add(report)
            await session.commit()
    finally:
        await engine.dispose()


def _healthz(tmp_path: Path, couchdb_url: str, **prepared: Any) -> httpx.Response:
    store = tmp_path / "simpul.db"
    asyncio.run(_prepare(store, **prepared))
    app = create_app(Settings(data_dir=tmp_path, couchdb_url=couchdb_url, database_url=f"sqlite:///{store}"))

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app)
        async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://s") as c:
            return await c.get("/healthz")

    return asyncio.run(call())


def test_all_well_is_ok(tmp_path: Path, couch_server: LocalCouchServer) -> None:
    response = _healthz(tmp_path, couch_server.url, reported_ago_s=1)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and "degraded" not in body
    assert body["worker"]["ok"] is True and body["couchdb"]["ok"] is True and body["database"]["ok"] is True


def test_a_silent_worker_is_degraded_with_the_reason_and_still_200(
    tmp_path: Path, couch_server: LocalCouchServer
) -> None:
    response = _healthz(tmp_path, couch_server.url, reported_ago_s=77)
    assert response.status_code == 200  # the gateway serves: a load balancer keeps it
    body = response.json()
    assert body["status"] == "degraded"
    assert body["degraded"] == ["worker: no report for 77s"]
    assert body["worker"]["ok"] is False


def test_a_stopped_worker_is_degraded(tmp_path: Path, couch_server: LocalCouchServer) -> None:
    response = _healthz(tmp_path, couch_server.url, reported_ago_s=1, running=False)
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["degraded"]) == ("degraded", ["worker: stopped"])


def test_a_store_no_worker_ever_reported_to_is_shown_not_degraded(
    tmp_path: Path, couch_server: LocalCouchServer
) -> None:
    response = _healthz(tmp_path, couch_server.url, reported_ago_s=None)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["worker"] == {"ok": False, "error": "the worker has never reported"}


def test_couchdb_down_is_503_degraded_with_the_reason(tmp_path: Path) -> None:
    response = _healthz(tmp_path, f"http://127.0.0.1:{free_port()}", reported_ago_s=1)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded" and body["couchdb"]["ok"] is False
    assert [reason.split(":")[0] for reason in body["degraded"]] == ["couchdb"]


def test_parked_is_the_number_of_dead_letters_in_the_store(tmp_path: Path, couch_server: LocalCouchServer) -> None:
    response = _healthz(tmp_path, couch_server.url, reported_ago_s=1, dead_letters=3)
    worker = response.json()["worker"]
    assert worker["parked"] == 3
    assert worker["lag_per_database"][DB]["parked"] == 3
