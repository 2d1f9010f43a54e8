"""Creating the relational schema. Every table module is imported here so SQLModel's metadata knows them all."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

import server.audit.models
import server.auth.models  # noqa: F401  (registers the tables)
import sync.tables  # noqa: F401  (registers the tables)
from server.review import thumbnails  # noqa: F401  (registers the tables)
from server.web import sessions  # noqa: F401  (registers the tables)


async def create_tables(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(SQLModel.metadata.create_all)


def create_tables_sync(engine: Engine) -> None:
    SQLModel.metadata.create_all(engine)
