"""The changes-feed follower: reads every database's feed, delivers each change to the handlers that match it.

**Delivery guarantee: at least once, never ahead of the work.** Every change after a database's checkpoint is
delivered to every handler that matches it, at least once, first deliveries in feed order per database. A
database's checkpoint moves to a seq only once every change up to it has been handled by all its handlers or
parked as a dead letter, so after a crash, a kill or a stop the feed resumes from the oldest unfinished change and
re-delivers whatever followed it (hence idempotent handlers). A failing change (an exception, or a handler
running past ``handler_timeout_s``) is retried with exponential back-off and each failure recorded; after
``max_attempts`` (counted across restarts) it is parked in ``dead_letters`` and the checkpoint moves past it:
nothing is skipped silently and nothing loops forever.

Shape (after cht-core's sentinel, minus its two stumbles, #6440 and #8539): one reader task per database
(``feed.FeedReader``, at most ``feed_concurrency`` long-polls at once) puts matching changes into one bounded
queue (back-pressure: a reader waits when handlers fall behind); ``concurrency`` handler tasks take from it, one
change of a given document at a time. Retries wait off the handler tasks and come back through the queue.
Checkpoints are written every ``checkpoint_interval_s`` and on stop.

**Stop** (``stop()``, e.g. from a SIGTERM handler: ``loop.add_signal_handler(signal.SIGTERM, worker.stop)``):
readers and pending retries are cancelled, changes queued but not started are left for the next run, changes in
flight are finished (for at most ``stop_grace_s``), checkpoints are saved, ``run()`` returns. Anything cancelled
is simply not done, so the checkpoint stays before it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from replication.couch import CouchClient
from sync.checkpoints import CheckpointStore, PendingSeqs
from sync.config import WorkerSettings
from sync.deadletters import FailureStore, RequeueResult, describe, requeue
from sync.feed import Change, FeedPage, FeedReader
from sync.handlers import Handler
from sync.locks import KeyedLocks
from sync.uow import UnitOfWork

log = logging.getLogger(__name__)

START_SEQ = "0"


class HandlerTimeout(Exception):
    """A handler ran past ``handler_timeout_s``; counted as a failure like any other."""


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """Where one database's feed stands, for ``/healthz``. Seqs are opaque: lag is given in changes, not seqs.

    ``in_flight``: changes read and not yet done or parked (queued, being handled or waiting for a retry).
    ``pending``: changes after ``last_seen_seq`` still to read, when the server reports it (CouchDB does).
    """

    db: str
    checkpoint_seq: str | None
    processed_seq: str
    last_seen_seq: str | None
    in_flight: int
    processed: int
    failures: int
    parked: int
    caught_up: bool
    pending: int | None
    last_error: str | None


@dataclass
class _Database:
    name: str
    seqs: PendingSeqs
    reader: FeedReader
    saved_seq: str | None
    last_seen_seq: str | None = None
    last_marker: str | None = None
    pending: int | None = None
    caught_up: bool = False
    processed: int = 0
    failures: int = 0
    parked: int = 0


@dataclass
class _Delivery:
    change: Change
    token: int
    handlers: list[Handler]
    attempts: dict[str, int] = field(default_factory=dict)


class Worker:
    def __init__(
        self,
        *,
        couch: CouchClient,
        uow: UnitOfWork,
        handlers: Sequence[Handler],
        databases: Sequence[str],
        settings: WorkerSettings,
        follower: str = "verification",
    ) -> None:
        names = [handler.name for handler in handlers]
        if len(set(names)) != len(names):
            raise ValueError(f"handler names must be unique: {names}")
        self._couch = couch
        self._uow = uow
        self._handlers = list(handlers)
        self._settings = settings
        self._follower = follower
        slots = asyncio.Semaphore(settings.feed_concurrency)
        self._databases = {
            name: _Database(
                name=name,
                seqs=PendingSeqs(START_SEQ),
                reader=FeedReader(couch, name, settings, slots=slots),
                saved_seq=None,
            )
            for name in dict.fromkeys(databases)
        }
        self._queue: asyncio.Queue[_Delivery] = asyncio.Queue(maxsize=settings.queue_size)
        self._stop_requested = asyncio.Event()
        self._stopping = False
        self._idle: set[asyncio.Task[Any]] = set()
        self._retries: set[asyncio.Task[None]] = set()
        self._doc_locks: KeyedLocks[tuple[str, str]] = KeyedLocks()
        self._flush_lock = asyncio.Lock()
        self._started = False
        self.running = False

    # --- public ---------------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask ``run()`` to stop gracefully; safe to call from a signal handler on the loop, and more than once."""
        self._stop_requested.set()

    async def run(self) -> None:
        """Follow every database until ``stop()``; returns after in-flight work is finished and checkpoints saved.

        A worker runs once; make a new one to run again (it resumes from the saved checkpoints).
        """
        if self._started:
            raise RuntimeError("a Worker runs once; make a new one")
        self._started = True
        async with self._uow.begin() as session:
            saved = await CheckpointStore(session, self._follower).all()
        for db in self._databases.values():
            db.saved_seq = saved.get(db.name)
            db.seqs = PendingSeqs(db.saved_seq if db.saved_seq is not None else START_SEQ)
        readers = [asyncio.create_task(self._follow(db), name=f"feed:{db.name}") for db in self._databases.values()]
        consumers = [
            asyncio.create_task(self._consume(), name=f"handler:{index}") for index in range(self._settings.concurrency)
        ]
        flusher = asyncio.create_task(self._flush_periodically(), name="checkpoints")
        stop_requested = asyncio.create_task(self._stop_requested.wait())
        self.running = True
        log.info("worker %s following %d databases", self._follower, len(self._databases))
        failure: BaseException | None = None
        try:
            done, _ = await asyncio.wait(
                [stop_requested, flusher, *readers, *consumers], return_when=asyncio.FIRST_COMPLETED
            )
            crashed = [task for task in done if task is not stop_requested and not task.cancelled()]
            if crashed:
                failure = crashed[0].exception() or RuntimeError(f"{crashed[0].get_name()} ended unexpectedly")
                log.error("worker task %s ended: %r; stopping", crashed[0].get_name(), failure)
        finally:
            await self._shut_down(readers, consumers, flusher, stop_requested)
            self.running = False
        if failure is not None:
            raise failure

    def status(self) -> dict[str, FeedStatus]:
        return {
            db.name: FeedStatus(
                db=db.name,
                checkpoint_seq=db.saved_seq,
                processed_seq=db.seqs.safe_seq,
                last_seen_seq=db.last_seen_seq,
                in_flight=len(db.seqs),
                processed=db.processed,
                failures=db.failures,
                parked=db.parked,
                caught_up=db.caught_up and len(db.seqs) == 0,
                pending=db.pending,
                last_error=db.reader.last_error,
            )
            for db in self._databases.values()
        }

    async def flush_checkpoints(self) -> None:
        """Write every checkpoint that moved since it was last written."""
        async with self._flush_lock:
            moved = {db.name: db.seqs.safe_seq for db in self._databases.values() if db.seqs.safe_seq != db.saved_seq}
            if not moved:
                return
            async with self._uow.begin() as session:
                store = CheckpointStore(session, self._follower)
                for name, seq in moved.items():
                    await store.save(name, seq)
            for name, seq in moved.items():
                self._databases[name].saved_seq = seq

    async def requeue(self, dead_letter_id: int) -> RequeueResult:
        """Re-deliver a dead letter to its handler (see :func:`sync.deadletters.requeue`)."""
        return await requeue(self._uow, self._handlers, dead_letter_id)

    # --- reading --------------------------------------------------------------------------------------------

    async def _follow(self, db: _Database) -> None:
        async for page in db.reader.pages(db.seqs.safe_seq):
            await self._enqueue(db, page)

    async def _enqueue(self, db: _Database, page: FeedPage) -> None:
        db.last_seen_seq = page.last_seq
        db.pending = page.pending
        db.caught_up = page.complete
        for change in page.changes:
            handlers = [handler for handler in self._handlers if self._matches(handler, change)]
            if not handlers:
                continue
            token = db.seqs.add(change.seq)
            await self._queue.put(_Delivery(change, token, handlers))
        # Covers the page's design documents and unmatched changes: reached once everything before it is done.
        if page.changes or page.last_seq != db.last_marker:
            db.seqs.add(page.last_seq, done=True)
            db.last_marker = page.last_seq

    @staticmethod
    def _matches(handler: Handler, change: Change) -> bool:
        try:
            return bool(handler.matches(change))
        except Exception:
            log.exception("%s.matches raised on %s %s; delivering it anyway", handler.name, change.db, change.id)
            return True

    # --- handling -------------------------------------------------------------------------------------------

    async def _consume(self) -> None:
        me = asyncio.current_task()
        assert me is not None
        while not self._stopping:
            self._idle.add(me)
            try:
                delivery = await self._queue.get()
            finally:
                self._idle.discard(me)
            await self._deliver(delivery)

    async def _deliver(self, delivery: _Delivery) -> None:
        change = delivery.change
        db = self._databases[change.db]
        remaining: list[Handler] = []
        async with self._doc_locks.hold((change.db, change.id)):
            for handler in delivery.handlers:
                if not await self._attempt(db, delivery, handler):
                    remaining.append(handler)
        if remaining:
            if self._stopping:
                return  # left unfinished: the checkpoint stays before it and the next run delivers it again
            delivery.handlers = remaining
            attempts = max(delivery.attempts[handler.name] for handler in remaining)
            task = asyncio.create_task(self._redeliver_later(delivery, self._settings.retry_delay(attempts)))
            self._retries.add(task)
            task.add_done_callback(self._retries.discard)
            return
        db.processed += 1
        db.seqs.done(delivery.token)

    async def _attempt(self, db: _Database, delivery: _Delivery, handler: Handler) -> bool:
        """One attempt of ``handler``; True when it is finished with the change (handled or parked)."""
        change = delivery.change
        try:
            try:
                async with asyncio.timeout(self._settings.handler_timeout_s):
                    await handler.handle(change)
            except TimeoutError as exc:
                raise HandlerTimeout(f"{handler.name} took longer than {self._settings.handler_timeout_s:g}s") from exc
        except Exception as exc:
            error = describe(exc)
            db.failures += 1
            attempts = await self._record_failure(delivery, handler, error)
            if attempts < self._settings.max_attempts:
                log.warning(
                    "%s failed on %s %s (attempt %d of %d): %s",
                    handler.name,
                    change.db,
                    change.id,
                    attempts,
                    self._settings.max_attempts,
                    error,
                )
                return False
            await self._park(delivery, handler, error, attempts)
            db.parked += 1
            return True
        if delivery.attempts.get(handler.name):
            await self._resolve(change, handler)
        return True

    async def _record_failure(self, delivery: _Delivery, handler: Handler, error: str) -> int:
        try:
            async with self._uow.begin() as session:
                attempts = await FailureStore(session).record_failure(delivery.change, handler.name, error)
        except Exception:
            # The store is down: keep counting in memory so the change still gets parked rather than looping.
            log.exception("could not record a failure of %s on %s", handler.name, delivery.change.id)
            attempts = delivery.attempts.get(handler.name, 0) + 1
        delivery.attempts[handler.name] = attempts
        return attempts

    async def _park(self, delivery: _Delivery, handler: Handler, error: str, attempts: int) -> None:
        change = delivery.change
        log.error("parking %s %s for %s after %d attempts: %s", change.db, change.id, handler.name, attempts, error)
        # Parking must not be lost: if the store refuses, the change stays unfinished (the checkpoint stays behind
        # it) and this raises, ending the worker, rather than moving on without a record.
        async with self._uow.begin() as session:
            await FailureStore(session).park(change, handler.name, error, attempts)

    async def _resolve(self, change: Change, handler: Handler) -> None:
        try:
            async with self._uow.begin() as session:
                await FailureStore(session).resolve(change, handler.name)
        except Exception:
            log.exception("could not mark the failure of %s on %s resolved", handler.name, change.id)

    async def _redeliver_later(self, delivery: _Delivery, delay: float) -> None:
        await asyncio.sleep(delay)
        await self._queue.put(delivery)

    # --- checkpoints and stop -------------------------------------------------------------------------------

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._settings.checkpoint_interval_s)
            try:
                await self.flush_checkpoints()
            except Exception:
                log.exception("could not save checkpoints; will try again")

    async def _shut_down(
        self,
        readers: list[asyncio.Task[None]],
        consumers: list[asyncio.Task[None]],
        flusher: asyncio.Task[None],
        stop_requested: asyncio.Task[bool],
    ) -> None:
        self._stopping = True
        for task in [*readers, *self._retries, flusher, stop_requested]:
            task.cancel()
        # Idle handler tasks are waiting on the queue: end them. Busy ones end after their current change.
        for task in list(self._idle):
            task.cancel()
        _, late = await asyncio.wait(consumers, timeout=self._settings.stop_grace_s)
        if late:
            log.warning("cancelling %d handlers still busy after %.0fs", len(late), self._settings.stop_grace_s)
            for task in late:
                task.cancel()
        await asyncio.gather(*readers, *self._retries, *consumers, flusher, stop_requested, return_exceptions=True)
        await self.flush_checkpoints()
        log.info("worker %s stopped; checkpoints saved", self._follower)
