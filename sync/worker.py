"""The changes-feed follower: reads every database's feed, delivers each change to the handlers that match it.

**Delivery guarantee: at least once, never ahead of the work.** Every change after a database's checkpoint is
delivered to every handler that matches it, at least once, first deliveries in feed order per database. A
database's checkpoint moves to a seq only once every change up to it has been handled by all its handlers or
parked as a dead letter, so after a crash, a kill or a stop the feed resumes from the oldest unfinished change and
re-delivers whatever followed it (hence idempotent handlers). A failing change is retried with exponential
back-off capped at ``backoff_max_s``. A failure because a dependency is unreachable is not the change's fault
(:func:`unavailable_dependency`: CouchDB unreachable — ``CouchUnavailable`` while CouchDB does not answer a probe
either —, or a relational store that is locked, read-only, full or unreachable): it uses up no attempt and is
retried (with the back-off) for as long as the dependency is down; the outage is logged once when it begins and
once when it ends, and the changes it held are retried at once when it is seen to end (one of them gets through,
the store takes a write, CouchDB answers the feed or the probe). Any other failure (an exception, or a
handler running past ``handler_timeout_s``) is recorded and counts; after ``max_attempts`` (counted across
restarts) the change is parked in ``dead_letters`` and the checkpoint moves past it: nothing is skipped silently
and nothing loops forever on a change that is itself at fault. The worker's own bookkeeping survives a store that
refuses writes: a failure that cannot be recorded is counted in memory, a change that cannot be parked stays
unfinished (held in memory, parking retried), a checkpoint that cannot be saved is saved later or, on stop, left
where it was; none of them ends the worker, and the checkpoint never runs ahead of unfinished work.

Shape (after cht-core's sentinel, minus its two stumbles, #6440 and #8539): one reader task per database
(``feed.FeedReader``, at most ``feed_concurrency`` long-polls at once) puts matching changes into one bounded
queue (back-pressure: a reader waits when handlers fall behind); ``concurrency`` handler tasks take from it, one
change of a given document at a time. Retries wait off the handler tasks and come back through the queue.
Checkpoints are written every ``checkpoint_interval_s`` and on stop.

**Stop** (``stop()``, e.g. from a SIGTERM handler: ``loop.add_signal_handler(signal.SIGTERM, worker.stop)``):
readers and pending retries are cancelled, changes queued but not started are left for the next run, changes in
flight are finished (for at most ``stop_grace_s``), checkpoints are saved (if the store refuses, they stay where
they were, behind the work), ``run()`` returns. Anything cancelled
is simply not done, so the checkpoint stays before it.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import exc as sa_exc

from replication.couch import CouchClient
from replication.errors import CouchError, CouchUnavailable
from sync.checkpoints import CheckpointStore, PendingSeqs
from sync.config import WorkerSettings
from sync.deadletters import FailureStore, RequeueResult, describe, requeue
from sync.feed import Change, FeedOutages, FeedPage, FeedReader
from sync.handlers import Handler
from sync.locks import KeyedLocks
from sync.uow import UnitOfWork

log = logging.getLogger(__name__)

START_SEQ = "0"

#: The dependencies whose outage holds changes back instead of using up their attempts.
COUCHDB = "CouchDB"
STORE = "the relational store"

#: CouchDB is probed to tell an outage from a change it keeps refusing; once silent, not again for this long.
_PROBE_INTERVAL_S = 1.0
_PROBE_TIMEOUT_S = 5.0

# SQLite's words for a store that cannot take the statement now, whatever the statement (its own error codes
# BUSY, LOCKED, READONLY, CANTOPEN, IOERR, FULL); they all arrive as OperationalError.
_SQLITE_UNAVAILABLE = (
    "database is locked",
    "database table is locked",
    "readonly database",
    "unable to open",
    "disk i/o error",
    "database or disk is full",
)
# PostgreSQL SQLSTATEs that are about the server, not the statement: connection exceptions (08), insufficient
# resources (53: disk full, out of memory, too many connections), operator intervention (57P: shutdown, cannot
# connect now; not 57014, a statement timeout, which a change's own query can cause), a read-only transaction
# (25006: a standby after a failover).
_PG_UNAVAILABLE_PREFIXES = ("08", "53", "57P")
_PG_UNAVAILABLE_CODES = frozenset({"25006"})


class HandlerTimeout(Exception):
    """A handler ran past ``handler_timeout_s``; counted as a failure like any other."""


def unavailable_dependency(exc: BaseException) -> str | None:
    """The dependency whose being unreachable caused ``exc`` (:data:`COUCHDB` or :data:`STORE`), or None when the
    failure may be the change's own. Follows explicit chaining (``raise ... from``), as a handler may wrap."""
    current: BaseException | None = exc
    for _ in range(8):
        if current is None:
            return None
        if isinstance(current, CouchUnavailable):
            return COUCHDB
        if store_unavailable(current):
            return STORE
        current = current.__cause__
    return None


def store_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the relational store cannot take any statement now (locked, read-only, full,
    unreachable, no connection to give), rather than refusing this one."""
    if isinstance(exc, sa_exc.TimeoutError):  # the pool had no connection to give within its timeout
        return True
    if isinstance(exc, sqlite3.OperationalError):
        return _sqlite_unavailable(exc)
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate:
        return sqlstate.startswith(_PG_UNAVAILABLE_PREFIXES) or sqlstate in _PG_UNAVAILABLE_CODES
    if isinstance(exc, sa_exc.OperationalError):
        if _sqlite_unavailable(exc.orig):
            return True
        # psycopg's OperationalError without a SQLSTATE: the connection itself failed (refused, reset, timed out).
        return type(exc.orig).__module__.split(".")[0] == "psycopg"
    return False


def _sqlite_unavailable(error: BaseException | None) -> bool:
    message = str(error).lower()
    return any(words in message for words in _SQLITE_UNAVAILABLE)


def _outline(exc: BaseException) -> str:
    """A short, data-free description of an outage's error for the log: the types and the driver's own words
    (an SQL error's statement and a CouchDB request's document id are left out)."""
    if isinstance(exc, sa_exc.DBAPIError):
        words = str(exc.orig).strip().splitlines()
        return f"{type(exc.orig).__name__}: {words[0][:200]}" if words else type(exc.orig).__name__
    cause = exc.__cause__
    return f"{type(exc).__name__} ({type(cause).__name__})" if cause is not None else type(exc).__name__


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
    #: Of ``in_flight``: changes waiting for an unreachable dependency (their attempts are not being used up).
    held: int = 0


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


@dataclass(eq=False)
class _Outage:
    """A dependency seen unreachable: since when, and the event that releases the changes it holds."""

    dependency: str
    since: float
    over: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(eq=False)
class _Delivery:
    change: Change
    token: int
    handlers: list[Handler]
    #: Failures counted toward ``max_attempts`` per handler (from the store, across restarts).
    attempts: dict[str, int] = field(default_factory=dict)
    #: Every failed try per handler in this process, counted or not: what the back-off grows with.
    tries: dict[str, int] = field(default_factory=dict)
    #: Handlers whose last try failed because a dependency was unreachable, and that outage.
    held_by: dict[str, _Outage] = field(default_factory=dict)
    #: Handlers that used up their attempts but whose parking the store refused: (error, attempts) to park.
    parking: dict[str, tuple[str, int]] = field(default_factory=dict)


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
        outages = FeedOutages()
        self._databases = {
            name: _Database(
                name=name,
                seqs=PendingSeqs(START_SEQ),
                reader=FeedReader(couch, name, settings, slots=slots, outages=outages),
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
        self._outages: dict[str, _Outage] = {}
        self._held: set[_Delivery] = set()
        self._probe_lock = asyncio.Lock()
        self._couch_silent_until = float("-inf")
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
        saved = await self._load_checkpoints()
        if saved is None:
            return  # stopped while the store was unreachable: nothing was started
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
        held: dict[str, int] = {}
        for delivery in self._held:
            held[delivery.change.db] = held.get(delivery.change.db, 0) + 1
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
                held=held.get(db.name, 0),
            )
            for db in self._databases.values()
        }

    def outages(self) -> dict[str, float]:
        """The dependencies seen unreachable now, with how long they have been (seconds)."""
        now = asyncio.get_running_loop().time()
        return {name: now - outage.since for name, outage in self._outages.items()}

    async def flush_checkpoints(self) -> None:
        """Write every checkpoint that moved since it was last written; raises when the store refuses (they are
        written on a later call)."""
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
        self._outage_over(STORE)

    async def requeue(self, dead_letter_id: int) -> RequeueResult:
        """Re-deliver a dead letter to its handler (see :func:`sync.deadletters.requeue`)."""
        return await requeue(self._uow, self._handlers, dead_letter_id)

    # --- reading --------------------------------------------------------------------------------------------

    async def _follow(self, db: _Database) -> None:
        async for page in db.reader.pages(db.seqs.safe_seq):
            await self._enqueue(db, page)

    async def _enqueue(self, db: _Database, page: FeedPage) -> None:
        if COUCHDB in self._outages:
            self._outage_over(COUCHDB)  # CouchDB answered the feed: the changes waiting for it need not wait on
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
        if delivery.held_by:
            self._held.add(delivery)
        else:
            self._held.discard(delivery)
        if remaining:
            if self._stopping:
                return  # left unfinished: the checkpoint stays before it and the next run delivers it again
            delivery.handlers = remaining
            tries = max(
                max(delivery.tries.get(handler.name, 0), delivery.attempts.get(handler.name, 0))
                for handler in remaining
            )
            # A change held by an outage comes back at once when the outage ends, else after its back-off.
            wake = next(iter(delivery.held_by.values())).over if delivery.held_by else None
            task = asyncio.create_task(self._redeliver_later(delivery, self._settings.retry_delay(tries), wake))
            self._retries.add(task)
            task.add_done_callback(self._retries.discard)
            return
        db.processed += 1
        db.seqs.done(delivery.token)

    async def _attempt(self, db: _Database, delivery: _Delivery, handler: Handler) -> bool:
        """One attempt of ``handler``; True when it is finished with the change (handled or parked)."""
        change = delivery.change
        if handler.name in delivery.parking:
            error, attempts = delivery.parking[handler.name]
            return await self._park(db, delivery, handler, error, attempts)
        try:
            try:
                async with asyncio.timeout(self._settings.handler_timeout_s):
                    await handler.handle(change)
            except TimeoutError as exc:
                raise HandlerTimeout(f"{handler.name} took longer than {self._settings.handler_timeout_s:g}s") from exc
        except Exception as exc:
            db.failures += 1
            delivery.tries[handler.name] = delivery.tries.get(handler.name, 0) + 1
            dependency = await self._unreachable(exc)
            if dependency is not None:
                # Not the change's fault: no attempt used up, no record (the outage is logged once).
                delivery.held_by[handler.name] = self._outage_began(dependency, exc)
                return False
            delivery.held_by.pop(handler.name, None)
            error = describe(exc)
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
            log.error("parking %s %s for %s after %d attempts: %s", change.db, change.id, handler.name, attempts, error)
            return await self._park(db, delivery, handler, error, attempts)
        outage = delivery.held_by.pop(handler.name, None)
        if outage is not None:
            self._outage_over(outage.dependency)
        if delivery.attempts.get(handler.name):
            await self._resolve(change, handler)
        return True

    async def _record_failure(self, delivery: _Delivery, handler: Handler, error: str) -> int:
        counted = delivery.attempts.get(handler.name, 0) + 1
        try:
            async with self._uow.begin() as session:
                stored = await FailureStore(session).record_failure(delivery.change, handler.name, error)
        except Exception as exc:
            # The store refuses: keep counting in memory so the change still gets parked rather than looping.
            self._bookkeeping_failed(exc, f"record a failure of {handler.name} on {delivery.change.id}")
            stored = 0
        else:
            self._outage_over(STORE)
        # The stored count misses the failures counted while the store refused them.
        delivery.attempts[handler.name] = attempts = max(stored, counted)
        return attempts

    async def _park(self, db: _Database, delivery: _Delivery, handler: Handler, error: str, attempts: int) -> bool:
        """Park the change for ``handler``; False when the store refuses, and then it stays unfinished (the
        checkpoint stays behind it) and parking is retried with the back-off: never moved on without a record."""
        change = delivery.change
        try:
            async with self._uow.begin() as session:
                await FailureStore(session).park(change, handler.name, error, attempts)
        except Exception as exc:
            first = handler.name not in delivery.parking
            delivery.parking[handler.name] = (error, attempts)
            delivery.tries[handler.name] = delivery.tries.get(handler.name, 0) + 1
            if store_unavailable(exc):
                delivery.held_by[handler.name] = self._outage_began(STORE, exc)
            else:
                delivery.held_by.pop(handler.name, None)
                if first:
                    log.exception("could not park %s %s for %s; will try again", change.db, change.id, handler.name)
            return False
        delivery.parking.pop(handler.name, None)
        delivery.held_by.pop(handler.name, None)
        db.parked += 1
        self._outage_over(STORE)
        return True

    async def _resolve(self, change: Change, handler: Handler) -> None:
        try:
            async with self._uow.begin() as session:
                await FailureStore(session).resolve(change, handler.name)
        except Exception as exc:
            # Harmless when lost: the record only says the change had failed before.
            self._bookkeeping_failed(exc, f"mark the failure of {handler.name} on {change.id} resolved")

    # --- outages --------------------------------------------------------------------------------------------

    async def _unreachable(self, exc: BaseException) -> str | None:
        """The dependency an error says is unreachable, once confirmed; None when the change may be at fault."""
        dependency = unavailable_dependency(exc)
        if dependency == COUCHDB and await self._couch_answers():
            # CouchDB answers, yet failed (5xx, timeout) on this change: counted, or it could loop forever.
            return None
        return dependency

    async def _couch_answers(self) -> bool:
        """Whether CouchDB answers a plain ``GET /`` now. Asked afresh each time unless it did not answer within
        the last ``_PROBE_INTERVAL_S``: an outage is not probed once per failing change."""
        loop = asyncio.get_running_loop()
        async with self._probe_lock:
            if loop.time() < self._couch_silent_until:
                return False
            try:
                async with asyncio.timeout(_PROBE_TIMEOUT_S):
                    await self._couch.server_info()
            except (CouchError, TimeoutError):
                self._couch_silent_until = loop.time() + _PROBE_INTERVAL_S
                return False
        self._outage_over(COUCHDB)
        return True

    def _outage_began(self, dependency: str, exc: BaseException) -> _Outage:
        outage = self._outages.get(dependency)
        if outage is None:
            outage = self._outages[dependency] = _Outage(dependency, asyncio.get_running_loop().time())
            log.warning(
                "%s is unreachable (%s): the changes that need it wait for it without using up their attempts",
                dependency,
                _outline(exc),
            )
        return outage

    def _outage_over(self, dependency: str) -> None:
        outage = self._outages.pop(dependency, None)
        if outage is None:
            return
        if dependency == COUCHDB:
            self._couch_silent_until = float("-inf")  # what the last probe said is out of date
        outage.over.set()
        held = sum(1 for delivery in self._held if any(o is outage for o in delivery.held_by.values()))
        log.warning(
            "%s is reachable again after %.0fs; the %d changes waiting for it are retried now",
            dependency,
            asyncio.get_running_loop().time() - outage.since,
            held,
        )

    def _bookkeeping_failed(self, exc: BaseException, what: str) -> None:
        """Log a failed write of the worker's own records: once per outage when the store is unavailable."""
        if store_unavailable(exc):
            self._outage_began(STORE, exc)
        else:
            log.exception("could not %s", what)

    async def _redeliver_later(self, delivery: _Delivery, delay: float, wake: asyncio.Event | None) -> None:
        if wake is None:
            await asyncio.sleep(delay)
        else:
            try:
                async with asyncio.timeout(delay):
                    await wake.wait()
            except TimeoutError:
                pass
        await self._queue.put(delivery)

    # --- checkpoints and stop -------------------------------------------------------------------------------

    async def _load_checkpoints(self) -> dict[str, str] | None:
        """The saved checkpoints; while the store is unreachable, waits for it (None when stopped meanwhile)."""
        tries = 0
        while True:
            try:
                async with self._uow.begin() as session:
                    saved = await CheckpointStore(session, self._follower).all()
            except Exception as exc:
                if not store_unavailable(exc):
                    raise
                self._outage_began(STORE, exc)
                tries += 1
                try:
                    async with asyncio.timeout(self._settings.retry_delay(tries)):
                        await self._stop_requested.wait()
                    return None
                except TimeoutError:
                    continue
            self._outage_over(STORE)
            return saved

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._settings.checkpoint_interval_s)
            try:
                await self.flush_checkpoints()
            except Exception as exc:
                self._bookkeeping_failed(exc, "save checkpoints; will try again")

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
        try:
            await self.flush_checkpoints()
        except Exception as exc:
            # Safe to leave: the saved checkpoints are behind the work, so the next run re-delivers what followed.
            log.warning(
                "worker %s stopped; checkpoints not saved (%s): the next run resumes from the last saved ones",
                self._follower,
                _outline(exc) if store_unavailable(exc) else describe(exc),
            )
            return
        log.info("worker %s stopped; checkpoints saved", self._follower)
