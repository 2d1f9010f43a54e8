"""The worker's report counts the dead letters in the store, per database: what ``/healthz`` shows holds across a
restart (a fresh process parked nothing itself) and follows re-queues made by any process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from replication.couch import CouchClient
from simpul.worker import report
from sync.checkpoints import utcnow
from sync.deadletters import DeadLetter, FailureStore
from sync.feed import Change
from sync.status import STALE_AFTER, WorkerReports, summarise
from sync.uow import UnitOfWork
from sync.worker import Worker
from tests.sync.sync_testkit import fast

pytestmark = pytest.mark.anyio


class Idle:
    name = "idle"

    def matches(self, change: Change) -> bool:
        return False

    async def handle(self, change: Change) -> None:  # pragma: no cover  (never matches)
        pass


def change(db: str, doc_id: str) -> Change:
    return Change(db=db, seq="1", id=doc_id, revs=("1-a",))


@pytest.fixture
async def idle_worker(uow: UnitOfWork) -> AsyncIterator[Worker]:
    couch = CouchClient("http://127.0.0.1:9")  # never asked: the worker is not run
    yield Worker(couch=couch, uow=uow, handlers=[Idle()], databases=["desa_a", "desa_b"], settings=fast())
    await couch.aclose()


async def test_the_report_counts_the_dead_letters_in_the_store(uow: UnitOfWork, idle_worker: Worker) -> None:
    async with uow.begin() as session:
        store = FailureStore(session)
        for db, doc_id in [("desa_a", "application:1"), ("desa_a", "application:2"), ("desa_b", "application:3")]:
            await store.park(change(db, doc_id), "verification", "ValueError: x", 5)
        await store.park(change("desa_elsewhere", "application:4"), "verification", "ValueError: x", 5)
    assert idle_worker.status()["desa_a"].parked == 0  # this process parked none of them

    await report(idle_worker, uow, utcnow())
    async with uow.begin() as session:
        [saved] = await WorkerReports(session).all()
    summary = summarise(saved, now=utcnow(), stale_after=STALE_AFTER)
    assert summary["parked"] == 3
    assert (summary["lag_per_database"]["desa_a"]["parked"], summary["lag_per_database"]["desa_b"]["parked"]) == (2, 1)

    # Re-queued (here as the CLI or the admin API's process would have it delivered): no longer counted.
    async with uow.begin() as session:
        letter = await session.get(DeadLetter, 1)
        assert letter is not None
        letter.requeued_at = utcnow()
        session.add(letter)
    await report(idle_worker, uow, utcnow(), running=False)
    async with uow.begin() as session:
        [saved] = await WorkerReports(session).all()
        assert await FailureStore(session).parked_counts() == {"desa_a": 1, "desa_b": 1, "desa_elsewhere": 1}
    assert saved.running is False
    assert summarise(saved, now=utcnow(), stale_after=STALE_AFTER)["parked"] == 2
