"""The worker's unit of work: the one place in ``sync/`` that commits.

Stores (checkpoints, failures, dead letters) take the session and never commit; a block either commits as a whole
when it ends or rolls back on an exception. A session is never held open across a handler call or a CouchDB
request, so a slow handler cannot keep a SQLite write lock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession


class UnitOfWork:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            await session.commit()
