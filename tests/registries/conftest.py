"""Fixtures of the registries tests: a small generated reference store, the simulator on a real socket, and
the three sources either local or over HTTP (the contract suite runs against both)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from registries.generator import ReferenceDataGenerator, emit_changes, load
from registries.simulator.server import settings_for, simulator_in_thread
from registries.sources import Sources, http_sources, local_sources
from simpul.db import make_async_engine, make_sync_engine
from simpul.settings import Settings
from tests.registries.registries_testkit import ReferenceStore

HOUSEHOLDS = 200
SEED = 7


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def reference_store(tmp_path_factory: pytest.TempPathFactory) -> ReferenceStore:
    directory: Path = tmp_path_factory.mktemp("registries")
    url = f"sqlite:///{directory / 'reference.db'}"
    engine = make_sync_engine(url)
    load(engine, ReferenceDataGenerator(SEED, HOUSEHOLDS))
    emit_changes(engine, 30)
    engine.dispose()
    return ReferenceStore(url, Settings(database_url=url, data_dir=directory))


@pytest.fixture(scope="session")
def simulator_url(reference_store: ReferenceStore) -> Iterator[str]:
    with simulator_in_thread(reference_store.settings) as base_url:
        yield base_url


@pytest.fixture(params=["local", "http"])
async def sources(request: pytest.FixtureRequest, reference_store: ReferenceStore) -> AsyncIterator[Sources]:
    if request.param == "local":
        engine = make_async_engine(reference_store.url)
        try:
            yield local_sources(engine, reference_store.settings.registries)
        finally:
            await engine.dispose()
    else:
        base_url = request.getfixturevalue("simulator_url")
        async with http_sources(settings_for(reference_store.settings, base_url).registries) as bundle:
            yield bundle
