"""The worker process keeps going through a relational store that refuses writes for a while (its reports are
skipped and logged once), and ``simpul run`` starts the worker again when it dies, after a back-off."""

from __future__ import annotations

import asyncio
import itertools
import logging
from pathlib import Path

import pytest

import simpul.worker
from replication.couch import CouchClient
from simpul.runner import supervise_worker
from simpul.settings import Settings
from sync.feed import Change
from sync.status import WorkerReports
from sync.worker import Worker
from tests.sync.store_testkit import switchable_store
from tests.sync.sync_testkit import fast


class Idle:
    name = "idle"

    def matches(self, change: Change) -> bool:
        return False

    async def handle(self, change: Change) -> None:  # pragma: no cover  (never matches)
        pass


def test_reports_survive_a_read_only_store_and_say_so_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(simpul.worker, "REPORT_INTERVAL_S", 0.02)

    async def main() -> None:
        async with switchable_store(tmp_path / "simpul.db") as store:
            couch = CouchClient("http://127.0.0.1:9")  # never asked: the worker is not run
            worker = Worker(couch=couch, uow=store, handlers=[Idle()], databases=["desa_a"], settings=fast())
            stop = asyncio.Event()
            store.read_only = True
            reporter = asyncio.create_task(
                simpul.worker._report_and_requeue(worker, store, [Idle()], stop, simpul.worker.utcnow())
            )
            await asyncio.sleep(0.5)  # ~25 reports refused
            assert not reporter.done()
            store.read_only = False
            await asyncio.sleep(0.2)
            stop.set()
            await reporter
            async with store.begin() as session:
                [saved] = await WorkerReports(session).all()
            assert saved.databases["desa_a"]["parked"] == 0
            await couch.aclose()

    with caplog.at_level(logging.INFO, logger="simpul.worker"):
        asyncio.run(main())
    messages = [r.getMessage() for r in caplog.records if r.name == "simpul.worker"]
    refused = [m for m in messages if m.startswith("could not report")]
    assert len(refused) == 1 and "readonly database" in refused[0]
    assert "the worker's state is reported again" in messages
    assert "Traceback" not in caplog.text


def test_a_worker_that_dies_is_started_again_after_a_back_off(caplog: pytest.LogCaptureFixture) -> None:
    runs: list[float] = []

    async def flaky_worker(settings: Settings, stop: asyncio.Event) -> None:
        runs.append(asyncio.get_running_loop().time())
        if len(runs) <= 3:
            raise RuntimeError("the worker stopped after a failure in worker")
        await stop.wait()

    async def main() -> None:
        stop = asyncio.Event()
        supervisor = asyncio.create_task(
            supervise_worker(flaky_worker, Settings(), stop, first_backoff_s=0.05, max_backoff_s=0.1)
        )
        while len(runs) < 4:  # noqa: ASYNC110  (the runs have no event of their own)
            await asyncio.sleep(0.01)
        assert not supervisor.done()
        stop.set()
        async with asyncio.timeout(2):
            await supervisor

    with caplog.at_level(logging.ERROR, logger="simpul"):
        asyncio.run(main())
    assert len(runs) == 4
    waits = [later - earlier for earlier, later in itertools.pairwise(runs)]
    assert waits[0] >= 0.045 and waits[1] >= 0.09 and 0.09 <= waits[2] < 0.5  # doubles, up to the cap
    died = [r.getMessage() for r in caplog.records if "the worker died" in r.getMessage()]
    assert len(died) == 3 and "restart #3" in died[-1]


def test_a_stop_during_the_back_off_ends_the_supervision_at_once() -> None:
    calls = 0

    async def broken_worker(settings: Settings, stop: asyncio.Event) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("broken")

    async def main() -> None:
        stop = asyncio.Event()
        supervisor = asyncio.create_task(supervise_worker(broken_worker, Settings(), stop, first_backoff_s=60.0))
        await asyncio.sleep(0.05)
        stop.set()
        async with asyncio.timeout(1):
            await supervisor

    asyncio.run(main())
    assert calls == 1
