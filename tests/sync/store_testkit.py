"""A relational store that can be made read-only for a while: the same SQLite file through a second engine opened
with ``mode=ro``, so the driver's own "attempt to write a readonly database" errors reach the code under test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from simpul.db import make_async_engine
from simpul.schema import create_tables
from sync.uow import UnitOfWork


class Switchable(UnitOfWork):
    """A unit of work over one SQLite file, read-only while ``read_only`` is set."""

    def __init__(self, writable: AsyncEngine, read_only: AsyncEngine) -> None:
        super().__init__(writable)
        self._read_only = UnitOfWork(read_only)
        self.read_only = False

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:
        if self.read_only:
            async with self._read_only.begin() as session:
                yield session
        else:
            async with super().begin() as session:
                yield session


@asynccontextmanager
async def switchable_store(path: Path) -> AsyncIterator[Switchable]:
    writable = make_async_engine(f"sqlite:///{path}")
    await create_tables(writable)
    read_only = make_async_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        yield Switchable(writable, read_only)
    finally:
        await writable.dispose()
        await read_only.dispose()
