"""Durable checkpoints of the changes feeds, and the rule that keeps them behind unfinished work.

A checkpoint is the seq of a database's ``_changes`` feed up to which every change has been handled or parked.
Seqs are opaque (integers on pouchdb-server, ``"12-g1AAAA…"`` on CouchDB 3): they are stored as the strings the
feed gave and sent back as ``since`` untouched; they are never parsed, compared or minted. Order comes from the
feed itself: :class:`PendingSeqs` remembers the order in which seqs arrived, never their values.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession


def utcnow() -> datetime:
    return datetime.now(UTC)


class FeedCheckpoint(SQLModel, table=True):
    """Where a follower resumes a database's feed. ``follower`` lets two kinds of follower read one database."""

    __tablename__ = "feed_checkpoints"

    follower: str = Field(primary_key=True, max_length=64)
    db_name: str = Field(primary_key=True, max_length=128)
    seq: str = Field(sa_type=Text)
    updated_at: datetime = Field(default_factory=utcnow)


class CheckpointStore:
    """Checkpoints through a unit of work's session; it never commits."""

    def __init__(self, session: AsyncSession, follower: str) -> None:
        self._session = session
        self._follower = follower

    async def get(self, db: str) -> str | None:
        row = await self._session.get(FeedCheckpoint, (self._follower, db))
        return row.seq if row else None

    async def all(self) -> dict[str, str]:
        rows = await self._session.exec(select(FeedCheckpoint).where(FeedCheckpoint.follower == self._follower))
        return {row.db_name: row.seq for row in rows}

    async def save(self, db: str, seq: str) -> None:
        row = await self._session.get(FeedCheckpoint, (self._follower, db))
        if row is None:
            row = FeedCheckpoint(follower=self._follower, db_name=db, seq=seq)
        else:
            row.seq = seq
            row.updated_at = utcnow()
        self._session.add(row)


class PendingSeqs:
    """The changes of one database read from the feed and not yet finished, in feed order.

    ``safe_seq`` is the seq up to which everything is done: it moves only when the oldest unfinished change
    finishes, so a slow early change holds it back however many later ones complete (cht-core#6440: a checkpoint
    that ran ahead of work lost that work on restart). Entries are keyed by a token, not by seq, so nothing
    depends on seqs being unique or comparable.
    """

    def __init__(self, since: str) -> None:
        self.safe_seq = since
        self._entries: OrderedDict[int, tuple[str, bool]] = OrderedDict()
        self._next_token = 0

    def __len__(self) -> int:
        return sum(1 for _, done in self._entries.values() if not done)

    def add(self, seq: str, *, done: bool = False) -> int:
        """Record a seq in feed order; ``done=True`` for a position nothing has to happen at (end of a page)."""
        token = self._next_token
        self._next_token += 1
        self._entries[token] = (seq, done)
        self._advance()
        return token

    def done(self, token: int) -> None:
        """The change of ``token`` is handled or parked."""
        seq, _ = self._entries[token]
        self._entries[token] = (seq, True)
        self._advance()

    def _advance(self) -> None:
        while self._entries:
            token, (seq, done) = next(iter(self._entries.items()))
            if not done:
                return
            del self._entries[token]
            self.safe_seq = seq
