"""Handlers and helpers for the worker tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from replication.couch import CouchClient
from sync.config import WorkerSettings
from sync.feed import Change
from sync.worker import Worker

FAST = WorkerSettings(
    max_attempts=3,
    backoff_base_s=0.01,
    backoff_max_s=0.05,
    queue_size=10,
    concurrency=4,
    batch_limit=5,
    heartbeat_s=0.5,
    longpoll_timeout_s=1.0,
    longpoll_grace_s=0.5,
    feed_backoff_base_s=0.05,
    feed_backoff_max_s=0.2,
    checkpoint_interval_s=0.05,
    stop_grace_s=10.0,
)


def fast(**overrides: Any) -> WorkerSettings:
    return FAST.model_copy(update=overrides)


class Recorder:
    """Records every change it is given, at the moment it starts handling it."""

    def __init__(self, name: str = "recorder") -> None:
        self.name = name
        self.seen: list[Change] = []

    def matches(self, change: Change) -> bool:
        return change.id.startswith("doc:")

    async def handle(self, change: Change) -> None:
        self.seen.append(change)

    def ids(self, db: str) -> list[str]:
        return [change.id for change in self.seen if change.db == db]


class Poison:
    """Fails on the documents in ``poisoned`` until ``healthy``; counts every call."""

    def __init__(self, poisoned: Iterable[str], name: str = "poison") -> None:
        self.name = name
        self.poisoned = set(poisoned)
        self.healthy = False
        self.calls: Counter[str] = Counter()
        self.done: list[str] = []

    def matches(self, change: Change) -> bool:
        return change.id.startswith("doc:")

    async def handle(self, change: Change) -> None:
        self.calls[change.id] += 1
        if change.id in self.poisoned and not self.healthy:
            raise ValueError(f"cannot digest {change.id}")
        self.done.append(change.id)


class Flaky:
    """Fails the first ``failures`` times it sees each document, then succeeds."""

    name = "flaky"

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: Counter[str] = Counter()
        self.done: list[str] = []

    def matches(self, change: Change) -> bool:
        return change.id.startswith("doc:")

    async def handle(self, change: Change) -> None:
        self.calls[change.id] += 1
        if self.calls[change.id] <= self.failures:
            raise ConnectionError("registry is down")
        self.done.append(change.id)


class Gate:
    """Holds the documents in ``held`` until ``release()``; records starts and finishes."""

    name = "gate"

    def __init__(self, held: Iterable[str]) -> None:
        self.held = set(held)
        self.opened = asyncio.Event()
        self.started: list[str] = []
        self.finished: list[str] = []

    def matches(self, change: Change) -> bool:
        return change.id.startswith("doc:")

    async def handle(self, change: Change) -> None:
        self.started.append(change.id)
        if change.id in self.held:
            await self.opened.wait()
        self.finished.append(change.id)

    def release(self) -> None:
        self.opened.set()


async def eventually(predicate: Callable[[], bool], *, within_s: float = 20.0) -> None:
    """Wait until ``predicate()`` holds; a safety net against hanging, not a timing assertion."""
    async with asyncio.timeout(within_s):
        while not predicate():  # noqa: ASYNC110  (the state polled has no event of its own)
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(worker.run())
    try:
        yield task
    finally:
        worker.stop()
        async with asyncio.timeout(20):
            await task


async def write_docs(couch: CouchClient, db: str, ids: Iterable[str]) -> None:
    for doc_id in ids:
        await couch.put_doc(db, {"_id": doc_id, "type": "test"})


async def feed_seqs(couch: CouchClient, db: str) -> dict[str, str]:
    """Each document's seq in the feed, as the feed gives it, in feed order."""
    body = await couch.request("GET", f"/{db}/_changes", params={"style": "all_docs"}, what="changes")
    return {row["id"]: str(row["seq"]) for row in body["results"]}


async def last_seq(couch: CouchClient, db: str) -> str:
    body = await couch.request("GET", f"/{db}/_changes", what="last seq")
    return str(body["last_seq"])
