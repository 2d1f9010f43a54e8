"""The follower against the real pouchdb-server: delivery, order, checkpoints, failures, dead letters, stop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import pytest

from replication.couch import CouchClient
from sync.checkpoints import CheckpointStore
from sync.config import WorkerSettings
from sync.deadletters import FailureStore, RequeueOutcome, list_dead_letters, requeue
from sync.handlers import Handler
from sync.uow import UnitOfWork
from sync.worker import Worker
from tests.sync.sync_testkit import (
    Flaky,
    Gate,
    Poison,
    Recorder,
    eventually,
    fast,
    feed_seqs,
    last_seq,
    running,
    write_docs,
)

pytestmark = [pytest.mark.live, pytest.mark.anyio]

NewDb = Callable[[], Awaitable[str]]


def docs(count: int, start: int = 0) -> list[str]:
    return [f"doc:{index:03d}" for index in range(start, start + count)]


def make_worker(
    couch: CouchClient, uow: UnitOfWork, handlers: Sequence[Handler], dbs: Sequence[str], settings: WorkerSettings
) -> Worker:
    return Worker(couch=couch, uow=uow, handlers=handlers, databases=dbs, settings=settings)


async def saved_checkpoint(uow: UnitOfWork, db: str) -> str | None:
    async with uow.begin() as session:
        return await CheckpointStore(session, "verification").get(db)


async def test_every_change_is_delivered_in_feed_order_per_database(
    couch: CouchClient, uow: UnitOfWork, new_db: NewDb
) -> None:
    first, second = await new_db(), await new_db()
    await write_docs(couch, first, docs(7))
    await couch.put_doc(first, {"_id": "_design/app", "views": {}})
    await couch.put_doc(first, {"_id": "note:ignored"})
    recorder = Recorder()
    worker = make_worker(couch, uow, [recorder], [first, second], fast())

    async with running(worker):
        await write_docs(couch, second, docs(12))
        await write_docs(couch, first, docs(5, start=7))
        await eventually(lambda: len(recorder.seen) == 24)
        await eventually(lambda: all(status.caught_up for status in worker.status().values()))

    assert recorder.ids(first) == list(await feed_seqs(couch, first))[:7] + docs(5, start=7)
    assert recorder.ids(second) == docs(12)
    assert await saved_checkpoint(uow, first) == await last_seq(couch, first)
    assert await saved_checkpoint(uow, second) == await last_seq(couch, second)
    status = worker.status()[first]
    assert (status.processed, status.in_flight, status.failures, status.parked) == (12, 0, 0, 0)
    assert status.checkpoint_seq == status.processed_seq == status.last_seen_seq == await last_seq(couch, first)


async def test_a_new_worker_resumes_from_the_checkpoint(couch: CouchClient, uow: UnitOfWork, new_db: NewDb) -> None:
    db = await new_db()
    await write_docs(couch, db, docs(10))
    before = Recorder()
    async with running(make_worker(couch, uow, [before], [db], fast())):
        await eventually(lambda: len(before.seen) == 10)

    await write_docs(couch, db, docs(5, start=10))
    after = Recorder()
    async with running(make_worker(couch, uow, [after], [db], fast())):
        await eventually(lambda: len(after.seen) == 5)
    assert after.ids(db) == docs(5, start=10)


async def test_an_idle_database_is_reported_caught_up(couch: CouchClient, uow: UnitOfWork, new_db: NewDb) -> None:
    db = await new_db()
    worker = make_worker(couch, uow, [Recorder()], [db], fast(longpoll_timeout_s=0.2, longpoll_grace_s=0.1))
    assert not worker.status()[db].caught_up
    async with running(worker):
        await eventually(lambda: worker.status()[db].caught_up)
    with pytest.raises(RuntimeError):
        await worker.run()


async def test_the_checkpoint_stays_before_a_slow_change_while_later_ones_finish(
    couch: CouchClient, uow: UnitOfWork, new_db: NewDb
) -> None:
    db = await new_db()
    await write_docs(couch, db, docs(10))
    seqs = await feed_seqs(couch, db)
    gate = Gate(held=["doc:002"])
    worker = make_worker(couch, uow, [gate], [db], fast())

    async with running(worker):
        await eventually(lambda: len(gate.finished) == 9)
        await worker.flush_checkpoints()
        assert await saved_checkpoint(uow, db) == seqs["doc:001"]
        assert worker.status()[db].in_flight == 1

        gate.release()
        await eventually(lambda: len(gate.finished) == 10)
        await eventually(lambda: worker.status()[db].in_flight == 0)
        await worker.flush_checkpoints()
        assert await saved_checkpoint(uow, db) == await last_seq(couch, db)


async def test_a_poison_change_is_parked_after_n_attempts_and_the_rest_flow(
    couch: CouchClient, uow: UnitOfWork, new_db: NewDb
) -> None:
    db = await new_db()
    await write_docs(couch, db, docs(8))
    seqs = await feed_seqs(couch, db)
    poison, recorder = Poison(["doc:003"]), Recorder()
    worker = make_worker(couch, uow, [poison, recorder], [db], fast(max_attempts=3))

    async with running(worker):
        await eventually(lambda: worker.status()[db].parked == 1 and len(poison.done) == 7)
        await eventually(lambda: worker.status()[db].in_flight == 0)

    assert poison.calls["doc:003"] == 3
    assert sorted(poison.done) == [doc for doc in docs(8) if doc != "doc:003"]
    assert sorted(recorder.ids(db)) == docs(8)  # the other handler got each document once, the poison one too
    assert await saved_checkpoint(uow, db) == await last_seq(couch, db)
    [letter] = await list_dead_letters(uow, db=db)
    assert (letter.doc_id, letter.handler, letter.attempts, letter.seq) == ("doc:003", "poison", 3, seqs["doc:003"])
    assert letter.error == "ValueError: cannot digest doc:003"
    async with uow.begin() as session:
        [failure] = await FailureStore(session).failures(db=db)
    assert (failure.attempts, failure.parked, failure.last_error) == (3, True, letter.error)

    # Re-queued while it still fails: stays parked, one more attempt recorded.
    again = await requeue(uow, [poison, recorder], letter.id or 0)
    assert again.outcome is RequeueOutcome.failed
    assert again.dead_letter.attempts == 4

    poison.healthy = True
    fixed = await worker.requeue(letter.id or 0)
    assert fixed.outcome is RequeueOutcome.delivered
    assert fixed.dead_letter.requeued_at is not None
    assert poison.done[-1] == "doc:003"
    assert await list_dead_letters(uow, db=db) == []
    assert (await requeue(uow, [poison], letter.id or 0)).outcome is RequeueOutcome.already_requeued
    async with uow.begin() as session:
        [failure] = await FailureStore(session).failures(db=db)
    assert failure.resolved_at is not None


async def test_a_handler_that_hangs_fails_by_timeout_and_is_parked(
    couch: CouchClient, uow: UnitOfWork, new_db: NewDb
) -> None:
    db = await new_db()
    await write_docs(couch, db, docs(3))
    gate = Gate(held=["doc:001"])  # never released
    worker = make_worker(couch, uow, [gate], [db], fast(max_attempts=2, handler_timeout_s=0.05))

    async with running(worker):
        await eventually(lambda: worker.status()[db].parked == 1 and worker.status()[db].in_flight == 0)

    assert gate.started.count("doc:001") == 2
    assert sorted(gate.finished) == ["doc:000", "doc:002"]
    [letter] = await list_dead_letters(uow, db=db)
    assert letter.error == "HandlerTimeout: gate took longer than 0.05s"
    assert await saved_checkpoint(uow, db) == await last_seq(couch, db)


async def test_a_change_that_fails_then_succeeds_is_retried_and_not_parked(
    couch: CouchClient, uow: UnitOfWork, new_db: NewDb
) -> None:
    db = await new_db()
    await write_docs(couch, db, docs(3))
    flaky = Flaky(failures=2)
    worker = make_worker(couch, uow, [flaky], [db], fast(max_attempts=3))

    async with running(worker):
        await eventually(lambda: len(flaky.done) == 3)
        await eventually(lambda: worker.status()[db].in_flight == 0)

    assert all(calls == 3 for calls in flaky.calls.values())
    assert await list_dead_letters(uow) == []
    async with uow.begin() as session:
        failures = await FailureStore(session).failures(db=db)
    assert [(failure.attempts, failure.parked, failure.resolved_at is not None) for failure in failures] == [
        (2, False, True)
    ] * 3
    assert await saved_checkpoint(uow, db) == await last_seq(couch, db)


async def test_failures_are_counted_across_restarts(couch: CouchClient, uow: UnitOfWork, new_db: NewDb) -> None:
    db = await new_db()
    await write_docs(couch, db, docs(1))
    slow_retry = fast(max_attempts=2, backoff_base_s=600.0, backoff_max_s=600.0)

    poison = Poison(["doc:000"])
    worker = make_worker(couch, uow, [poison], [db], slow_retry)
    async with running(worker):
        await eventually(lambda: worker.status()[db].failures == 1)
    # Stopped while the retry was waiting: it is not done, so the checkpoint did not move past it.
    assert await saved_checkpoint(uow, db) in (None, "0")

    worker = make_worker(couch, uow, [poison], [db], slow_retry)
    async with running(worker):
        await eventually(lambda: worker.status()[db].parked == 1)
        await eventually(lambda: worker.status()[db].in_flight == 0)
    assert poison.calls["doc:000"] == 2
    assert await saved_checkpoint(uow, db) == await last_seq(couch, db)


async def test_stop_finishes_the_change_in_flight_and_leaves_the_queued_ones(
    couch: CouchClient, uow: UnitOfWork, new_db: NewDb
) -> None:
    db = await new_db()
    await write_docs(couch, db, docs(20))
    seqs = await feed_seqs(couch, db)
    gate = Gate(held=["doc:000"])
    worker = make_worker(couch, uow, [gate], [db], fast(concurrency=1, queue_size=3))

    task = asyncio.create_task(worker.run())
    await eventually(lambda: gate.started == ["doc:000"])
    worker.stop()
    await asyncio.sleep(0.1)
    assert not task.done()  # waits for the change in flight
    gate.release()
    async with asyncio.timeout(20):
        await task

    assert gate.finished == ["doc:000"]
    assert await saved_checkpoint(uow, db) == seqs["doc:000"]

    rest = Recorder()
    async with running(make_worker(couch, uow, [rest], [db], fast())):
        await eventually(lambda: len(rest.seen) == 19)
    assert rest.ids(db) == docs(19, start=1)


async def test_the_queue_holds_back_the_readers(couch: CouchClient, uow: UnitOfWork, new_db: NewDb) -> None:
    db = await new_db()
    await write_docs(couch, db, docs(30))
    gate = Gate(held=docs(30))
    worker = make_worker(couch, uow, [gate], [db], fast(concurrency=2, queue_size=4, batch_limit=5))

    async with running(worker):
        await eventually(lambda: len(gate.started) == 2)
        await eventually(lambda: worker.status()[db].in_flight == 2 + 4 + 1)
        await asyncio.sleep(0.1)
        # Two being handled, four queued, one reader waiting to put: nothing more is read.
        assert worker.status()[db].in_flight == 7
        gate.release()
        await eventually(lambda: len(gate.finished) == 30)
