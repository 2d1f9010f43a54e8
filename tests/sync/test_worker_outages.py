"""Outages of what the handlers need, against the real pouchdb-server and a real SQLite file: a dependency that is
down holds changes back without using up their attempts (nothing is parked, everything completes once it is back),
while a poison change is still parked after ``max_attempts``; and the worker's own bookkeeping survives a store that
refuses writes for a while (nothing ends the worker, the checkpoint never runs ahead of unfinished work)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path

import pytest

from replication.couch import CouchClient
from replication.errors import CouchUnavailable
from replication.localserver import LocalCouchServer
from sync.checkpoints import CheckpointStore
from sync.config import WorkerSettings
from sync.deadletters import FailureStore, list_dead_letters
from sync.feed import Change
from sync.handlers import Handler
from sync.uow import UnitOfWork
from sync.worker import COUCHDB, STORE, Worker
from tests.fixtures.couch import free_port
from tests.sync.store_testkit import Switchable, switchable_store
from tests.sync.sync_testkit import Poison, eventually, fast, last_seq, write_docs

pytestmark = [pytest.mark.live, pytest.mark.anyio]

NewDb = Callable[[], Awaitable[str]]

#: Three attempts 10–50 ms apart: every outage below lasts many times longer than all the attempts' back-off.
QUICK = fast(max_attempts=3, backoff_base_s=0.01, backoff_max_s=0.05)


def docs(count: int) -> list[str]:
    return [f"doc:{index:03d}" for index in range(count)]


def make_worker(
    couch: CouchClient, uow: UnitOfWork, handlers: Sequence[Handler], dbs: Sequence[str], settings: WorkerSettings
) -> Worker:
    return Worker(couch=couch, uow=uow, handlers=handlers, databases=dbs, settings=settings)


async def saved_checkpoint(uow: UnitOfWork, db: str) -> str | None:
    async with uow.begin() as session:
        return await CheckpointStore(session, "verification").get(db)


class Reader:
    """Reads each document from CouchDB, as the verification handler does first; ``hold`` keeps the first ones
    in the handler until released, so that they are in flight when CouchDB goes down."""

    name = "reader"

    def __init__(self, couch: CouchClient) -> None:
        self.couch = couch
        self.hold = asyncio.Event()
        self.started: set[str] = set()
        self.done: list[str] = []

    def matches(self, change: Change) -> bool:
        return change.id.startswith("doc:")

    async def handle(self, change: Change) -> None:
        self.started.add(change.id)
        await self.hold.wait()
        assert await self.couch.get_doc(change.db, change.id) is not None
        self.done.append(change.id)


class Refused:
    """CouchDB answers, but fails on these documents every time (a 5xx of its own on them): that is the change's
    fault, not an outage, so it must still be parked."""

    name = "refused"

    def __init__(self, refused: set[str]) -> None:
        self.refused = refused
        self.calls = 0

    def matches(self, change: Change) -> bool:
        return change.id in self.refused

    async def handle(self, change: Change) -> None:
        self.calls += 1
        raise CouchUnavailable(f"get {change.id}: 500", status=500)


@pytest.fixture
def private_couch(tmp_path: Path) -> Iterator[LocalCouchServer]:
    """A pouchdb-server of this test's own, which it may stop and start again (same port, same data)."""
    server = LocalCouchServer(tmp_path / "couchdb", free_port())
    server.start()
    yield server
    server.stop()


def _messages(caplog: pytest.LogCaptureFixture, words: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "sync.worker" and words in r.getMessage()]


async def test_a_couchdb_outage_longer_than_the_attempts_parks_nothing_and_a_poison_change_still_parks(
    private_couch: LocalCouchServer, uow: UnitOfWork, caplog: pytest.LogCaptureFixture
) -> None:
    feeds, handlers = CouchClient(private_couch.url, timeout_s=5.0), CouchClient(private_couch.url, timeout_s=5.0)
    try:
        db = "t_outage"
        await handlers.create_database(db)
        await write_docs(handlers, db, docs(12))
        reader, poison, refused = Reader(handlers), Poison(["doc:004"]), Refused({"doc:007"})
        worker = make_worker(feeds, uow, [reader, poison, refused], [db], QUICK)
        caplog.set_level(logging.INFO, logger="sync.worker")

        task = asyncio.create_task(worker.run())
        await eventually(lambda: len(reader.started) == QUICK.concurrency)  # the first ones are in flight
        await asyncio.to_thread(private_couch.stop)
        reader.hold.set()

        # Down for ~40 times the back-off of all the attempts: every change read so far keeps failing meanwhile.
        def all_held() -> bool:
            status = worker.status()[db]
            return status.held == status.in_flight >= QUICK.concurrency

        await eventually(all_held)
        assert worker.outages().keys() == {COUCHDB}
        await asyncio.sleep(2.0)
        status = worker.status()[db]
        assert status.held == status.in_flight
        assert status.failures > QUICK.max_attempts * status.held * 3  # each retried far past max_attempts
        assert reader.done == [] and not task.done()
        # The poison change is parked meanwhile (it is its own fault, whatever CouchDB does) and nothing else is.
        assert [(letter.doc_id, letter.handler) for letter in await list_dead_letters(uow)] == [("doc:004", "poison")]

        await asyncio.to_thread(private_couch.start)
        await eventually(lambda: len(reader.done) == 12, within_s=30)
        await eventually(lambda: worker.status()[db].in_flight == 0)
        assert worker.outages() == {}
        worker.stop()
        await task

        letters = {(letter.doc_id, letter.handler, letter.attempts) for letter in await list_dead_letters(uow)}
        assert letters == {("doc:004", "poison", 3), ("doc:007", "refused", 3)}
        # While CouchDB was down, its refusals could not be told from the outage (not counted); once it answered,
        # they counted, and the change was parked instead of looping.
        assert refused.calls >= 3
        async with uow.begin() as session:
            failures = await FailureStore(session).failures(db=db)
        # The outage's failures were not recorded as the reader's attempts.
        assert {failure.handler for failure in failures} == {"poison", "refused"}
        assert await saved_checkpoint(uow, db) == await last_seq(handlers, db)
        # Logged once when CouchDB went and once when it came back, not once per change or per retry.
        assert len(_messages(caplog, "CouchDB is unreachable")) == 1
        assert len(_messages(caplog, "CouchDB is reachable again")) == 1
        assert not _messages(caplog, "reader failed")
    finally:
        await feeds.aclose()
        await handlers.aclose()


@pytest.fixture
async def switchable(tmp_path: Path) -> AsyncIterator[Switchable]:
    async with switchable_store(tmp_path / "switchable.db") as store:
        yield store


class Recorder:
    """Writes a row to the relational store for each document, as the verification handler's projection does."""

    name = "projection"

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.done: list[str] = []

    def matches(self, change: Change) -> bool:
        return change.id.startswith("doc:")

    async def handle(self, change: Change) -> None:
        async with self.uow.begin() as session:
            await CheckpointStore(session, "projection").save(change.id, change.seq)
        self.done.append(change.id)


async def test_a_read_only_store_holds_the_changes_and_ends_nothing(
    couch: CouchClient, switchable: Switchable, new_db: NewDb, caplog: pytest.LogCaptureFixture
) -> None:
    db = await new_db()
    await write_docs(couch, db, docs(10))
    recorder, poison = Recorder(switchable), Poison(["doc:003"])
    worker = make_worker(couch, switchable, [recorder, poison], [db], QUICK)
    caplog.set_level(logging.INFO, logger="sync.worker")

    switchable.read_only = True
    task = asyncio.create_task(worker.run())
    await eventually(lambda: worker.status()[db].in_flight == 10 and worker.status()[db].held == 10)
    await asyncio.sleep(1.0)  # many times the back-off of all attempts; checkpoints are tried every 50 ms
    # Alive; nothing done and nothing parked (the poison change is due for parking, which the store refuses).
    assert not task.done()
    assert recorder.done == [] and worker.status()[db].parked == 0
    assert worker.outages().keys() == {STORE}
    assert await saved_checkpoint(switchable, db) is None

    switchable.read_only = False
    await eventually(lambda: len(recorder.done) == 10 and worker.status()[db].in_flight == 0)
    worker.stop()
    await task

    [letter] = await list_dead_letters(switchable, db=db)
    assert (letter.doc_id, letter.handler, letter.attempts) == ("doc:003", "poison", 3)
    assert poison.calls["doc:003"] == 3  # parking was retried, not the handler
    assert await saved_checkpoint(switchable, db) == await last_seq(couch, db)
    # Said once for the outage, not once per held change (10 here) nor per retry. An attempt that began on the
    # read-only store just before it became writable may still fail once after the first success said so, and
    # report the outage again: at most that once.
    began = len(_messages(caplog, "the relational store is unreachable"))
    assert began in (1, 2) and len(_messages(caplog, "the relational store is reachable again")) == began


async def test_a_stop_while_the_store_is_read_only_returns_and_leaves_the_checkpoint_behind(
    couch: CouchClient, switchable: Switchable, new_db: NewDb
) -> None:
    db = await new_db()
    await write_docs(couch, db, docs(3))
    recorder = Recorder(switchable)
    worker = make_worker(couch, switchable, [recorder], [db], QUICK)
    task = asyncio.create_task(worker.run())
    await eventually(lambda: len(recorder.done) == 3 and worker.status()[db].in_flight == 0)
    await worker.flush_checkpoints()
    before = await saved_checkpoint(switchable, db)

    switchable.read_only = True
    await write_docs(couch, db, docs(6)[3:])
    await eventually(lambda: worker.status()[db].held == 3)
    worker.stop()
    await task  # returns: no exception from the checkpoints it could not save

    assert await saved_checkpoint(switchable, db) == before
    switchable.read_only = False
    again = Recorder(switchable)
    rest = make_worker(couch, switchable, [again], [db], QUICK)
    task = asyncio.create_task(rest.run())
    await eventually(lambda: sorted(again.done) == docs(6)[3:])
    rest.stop()
    await task
