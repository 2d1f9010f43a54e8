"""Fixtures of the worker tests: a fresh relational store, a client of the session's pouchdb-server, and
databases of their own (``t_<uuid>``) so tests do not see each other's changes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from uuid import uuid4

import pytest

from replication.couch import CouchClient
from replication.localserver import LocalCouchServer
from simpul.db import make_async_engine
from simpul.schema import create_tables
from sync.uow import UnitOfWork


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def uow(tmp_path: Path) -> AsyncIterator[UnitOfWork]:
    engine = make_async_engine(f"sqlite:///{tmp_path / 'simpul.db'}")
    await create_tables(engine)
    yield UnitOfWork(engine)
    await engine.dispose()


@pytest.fixture
async def couch(couch_server: LocalCouchServer) -> AsyncIterator[CouchClient]:
    client = CouchClient(couch_server.url)
    yield client
    await client.aclose()


@pytest.fixture
async def new_db(couch: CouchClient) -> AsyncIterator[Callable[[], Awaitable[str]]]:
    created: list[str] = []

    async def create() -> str:
        name = f"t_{uuid4().hex}"
        await couch.create_database(name)
        created.append(name)
        return name

    yield create
    for name in created:
        await couch.request("DELETE", f"/{name}", what=f"delete {name}")
