"""Failed changes: their recorded errors (``feed_failures``), the parked ones (``dead_letters``) and re-queueing.

A failure is counted per change and handler, keyed by ``(db, doc id, rev, handler)`` rather than by seq, so the
count survives a restart that re-reads the feed from an older checkpoint: a change that keeps crashing is parked
after ``max_attempts`` in total, not per process lifetime (cht-core#8539: sentinel looped on one failing change).
A new revision of the document is a new change with a fresh count.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Text, UniqueConstraint, func
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from sync.checkpoints import utcnow
from sync.feed import Change
from sync.handlers import Handler
from sync.uow import UnitOfWork

log = logging.getLogger(__name__)

_MAX_ERROR_CHARS = 4000


def describe(exc: BaseException) -> str:
    """The error as recorded: its type and message, bounded."""
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 1] + "…"


class FeedFailure(SQLModel, table=True):
    """The failures of one handler on one change: how many, the last error, and how it ended."""

    __tablename__ = "feed_failures"
    __table_args__ = (UniqueConstraint("db_name", "doc_id", "rev", "handler"),)

    id: int | None = Field(default=None, primary_key=True)
    db_name: str = Field(index=True, max_length=128)
    doc_id: str = Field(sa_type=Text)
    rev: str = Field(max_length=200)
    seq: str = Field(sa_type=Text)
    handler: str = Field(max_length=100)
    attempts: int = 0
    last_error: str = Field(default="", sa_type=Text)
    first_failed_at: datetime = Field(default_factory=utcnow)
    last_failed_at: datetime = Field(default_factory=utcnow)
    resolved_at: datetime | None = None
    parked: bool = False


class DeadLetter(SQLModel, table=True):
    """A change a handler failed on ``attempts`` times; the feed went on without it until it is re-queued."""

    __tablename__ = "dead_letters"
    __table_args__ = (UniqueConstraint("db_name", "doc_id", "rev", "handler"),)

    id: int | None = Field(default=None, primary_key=True)
    db_name: str = Field(index=True, max_length=128)
    doc_id: str = Field(sa_type=Text)
    rev: str = Field(max_length=200)
    seq: str = Field(sa_type=Text)
    handler: str = Field(max_length=100)
    error: str = Field(default="", sa_type=Text)
    attempts: int = 0
    change: str = Field(sa_type=Text, description="The change as delivered (JSON), re-delivered by a re-queue.")
    parked_at: datetime = Field(default_factory=utcnow)
    requeued_at: datetime | None = None
    #: Set by an operator (CLI or admin API) in any process; the running worker delivers it and clears it.
    requeue_requested_at: datetime | None = None
    requeue_requested_by: str | None = Field(default=None, max_length=64)


class FailureStore:
    """Failures and dead letters through a unit of work's session; it never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _failure(self, change: Change, handler: str) -> FeedFailure | None:
        result = await self._session.exec(
            select(FeedFailure).where(
                FeedFailure.db_name == change.db,
                FeedFailure.doc_id == change.id,
                FeedFailure.rev == change.rev,
                FeedFailure.handler == handler,
            )
        )
        return result.first()

    async def record_failure(self, change: Change, handler: str, error: str) -> int:
        """Count one more failure of ``handler`` on ``change``; returns the total so far."""
        row = await self._failure(change, handler)
        now = utcnow()
        if row is None:
            row = FeedFailure(db_name=change.db, doc_id=change.id, rev=change.rev, seq=change.seq, handler=handler)
        row.attempts += 1
        row.last_error = error
        row.last_failed_at = now
        row.seq = change.seq
        row.resolved_at = None
        self._session.add(row)
        return row.attempts

    async def resolve(self, change: Change, handler: str) -> None:
        """The handler succeeded on a change that had failed before."""
        row = await self._failure(change, handler)
        if row is not None and row.resolved_at is None:
            row.resolved_at = utcnow()
            row.parked = False
            self._session.add(row)

    async def park(self, change: Change, handler: str, error: str, attempts: int) -> DeadLetter:
        """Park ``change`` for ``handler`` (again, if it was parked and re-queued before)."""
        failure = await self._failure(change, handler)
        if failure is not None:
            failure.parked = True
            self._session.add(failure)
        result = await self._session.exec(
            select(DeadLetter).where(
                DeadLetter.db_name == change.db,
                DeadLetter.doc_id == change.id,
                DeadLetter.rev == change.rev,
                DeadLetter.handler == handler,
            )
        )
        letter = result.first()
        if letter is None:
            letter = DeadLetter(
                db_name=change.db, doc_id=change.id, rev=change.rev, handler=handler, change=change.to_json(), seq=""
            )
        letter.seq = change.seq
        letter.change = change.to_json()
        letter.error = error
        letter.attempts = attempts
        letter.parked_at = utcnow()
        letter.requeued_at = None
        letter.requeue_requested_at = None
        self._session.add(letter)
        await self._session.flush()
        return letter

    async def dead_letters(self, *, db: str | None = None, include_requeued: bool = False) -> list[DeadLetter]:
        query = select(DeadLetter).order_by(col(DeadLetter.id))
        if db is not None:
            query = query.where(DeadLetter.db_name == db)
        if not include_requeued:
            query = query.where(col(DeadLetter.requeued_at).is_(None))
        return list((await self._session.exec(query)).all())

    async def parked_counts(self) -> dict[str, int]:
        """How many changes are parked now (not yet re-queued) per database: one grouped COUNT, so ``/healthz``
        shows what is in the store whichever process parked them and whoever re-queued them."""
        query = (
            select(DeadLetter.db_name, func.count())
            .where(col(DeadLetter.requeued_at).is_(None))
            .group_by(col(DeadLetter.db_name))
        )
        return {db_name: int(count) for db_name, count in (await self._session.exec(query)).all()}

    async def request_requeue(self, dead_letter_id: int, requested_by: str) -> DeadLetter:
        """Ask the running worker to deliver a parked change again (see :func:`requeue_requested`)."""
        letter = await self._session.get(DeadLetter, dead_letter_id)
        if letter is None:
            raise DeadLetterNotFound(f"no dead letter {dead_letter_id}")
        if letter.requeued_at is None and letter.requeue_requested_at is None:
            letter.requeue_requested_at = utcnow()
            letter.requeue_requested_by = requested_by
            self._session.add(letter)
            await self._session.flush()
        return letter

    async def requested(self) -> list[int]:
        query = select(DeadLetter.id).where(
            col(DeadLetter.requeue_requested_at).is_not(None), col(DeadLetter.requeued_at).is_(None)
        )
        return [letter_id for letter_id in (await self._session.exec(query)).all() if letter_id is not None]

    async def failures(self, *, db: str | None = None) -> list[FeedFailure]:
        query = select(FeedFailure).order_by(col(FeedFailure.id))
        if db is not None:
            query = query.where(FeedFailure.db_name == db)
        return list((await self._session.exec(query)).all())


class RequeueOutcome(enum.StrEnum):
    delivered = "delivered"
    failed = "failed"
    already_requeued = "already_requeued"


@dataclass(frozen=True, slots=True)
class RequeueResult:
    outcome: RequeueOutcome
    dead_letter: DeadLetter
    error: str | None = None


class DeadLetterNotFound(LookupError):
    pass


class UnknownHandler(LookupError):
    pass


async def list_dead_letters(
    uow: UnitOfWork, *, db: str | None = None, include_requeued: bool = False
) -> list[DeadLetter]:
    async with uow.begin() as session:
        return await FailureStore(session).dead_letters(db=db, include_requeued=include_requeued)


async def requeue_requested(uow: UnitOfWork, handlers: Sequence[Handler]) -> list[RequeueResult]:
    """Deliver every dead letter an operator asked to re-queue (the worker calls this every few seconds)."""
    async with uow.begin() as session:
        requested = await FailureStore(session).requested()
    results = []
    for letter_id in requested:
        try:
            results.append(await requeue(uow, handlers, letter_id))
        except UnknownHandler as exc:
            log.error("cannot re-queue: %s", exc)
            async with uow.begin() as session:
                letter = await session.get(DeadLetter, letter_id)
                if letter is not None:
                    letter.requeue_requested_at = None
                    letter.error = f"{letter.error}\n(re-queue refused: {exc})"
                    session.add(letter)
    return results


async def requeue(uow: UnitOfWork, handlers: Sequence[Handler], dead_letter_id: int) -> RequeueResult:
    """Deliver a parked change to its handler once more, now, in the caller's process.

    On success the dead letter is marked ``requeued_at`` and its failure record resolved. On failure it stays
    parked with one more attempt and the new error; the operator decides again. Either way a pending request
    (``requeue_requested_at``) is cleared. Works whether or not a worker is
    running (handlers are idempotent), so the CLI and the admin API can call it with the handlers they build.
    """
    async with uow.begin() as session:
        letter = await session.get(DeadLetter, dead_letter_id)
        if letter is None:
            raise DeadLetterNotFound(f"no dead letter {dead_letter_id}")
    if letter.requeued_at is not None:
        return RequeueResult(RequeueOutcome.already_requeued, letter)
    handler = next((h for h in handlers if h.name == letter.handler), None)
    if handler is None:
        raise UnknownHandler(f"dead letter {dead_letter_id} belongs to handler {letter.handler!r}, which is not known")
    change = Change.from_json(letter.change)
    try:
        await handler.handle(change)
    except Exception as exc:
        error = describe(exc)
        log.warning("re-queued dead letter %s failed again: %s", dead_letter_id, error)
        async with uow.begin() as session:
            stored = await session.get(DeadLetter, dead_letter_id)
            if stored is not None:
                stored.attempts += 1
                stored.error = error
                stored.requeue_requested_at = None
                session.add(stored)
                letter = stored
        return RequeueResult(RequeueOutcome.failed, letter, error)
    async with uow.begin() as session:
        stored = await session.get(DeadLetter, dead_letter_id)
        if stored is not None:
            stored.requeued_at = utcnow()
            stored.requeue_requested_at = None
            session.add(stored)
            letter = stored
        await FailureStore(session).resolve(change, handler.name)
    return RequeueResult(RequeueOutcome.delivered, letter)
