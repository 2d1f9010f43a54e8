"""Fixtures of the pipeline tests: a small generated reference store (copied per test, since the dynamic-layer
tests change it), the sources over it, plain families taken from it, and a pipeline wired like the worker's."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from registries.generator import ReferenceDataGenerator, load
from registries.sources import Sources, local_sources
from replication.couch import CouchClient
from simpul.db import make_async_engine, make_sync_engine
from sync.cases.pipeline import Pipeline, build_pipeline
from sync.uow import UnitOfWork
from sync.verification.ruleset import RuleSettings, load_rule_set
from tests.sync.cases.cases_testkit import FAST, Clock, Family, Pendamping, Switchable, pick_families

HOUSEHOLDS = 60
SEED = 11


@pytest.fixture(scope="session")
def reference_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cases-registries") / "reference.db"
    engine = make_sync_engine(f"sqlite:///{path}")
    load(engine, ReferenceDataGenerator(SEED, HOUSEHOLDS))
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def families_pool(reference_file: Path) -> list[Family]:
    engine = make_sync_engine(f"sqlite:///{reference_file}")
    try:
        return pick_families(engine, 6)
    finally:
        engine.dispose()


@pytest.fixture
def family(families_pool: list[Family]) -> Family:
    """A fresh set of document ids for the first plain family."""
    base = families_pool[0]
    return Family(kk_number=base.kk_number, desa=base.desa, desil=base.desil, members=base.members)


@pytest.fixture
def registry_url(reference_file: Path, tmp_path: Path) -> str:
    copy = tmp_path / "reference.db"
    shutil.copy(reference_file, copy)
    return f"sqlite:///{copy}"


@pytest.fixture
async def sources(registry_url: str) -> AsyncIterator[Sources]:
    engine = make_async_engine(registry_url)
    bundle = local_sources(engine)
    bundle.population = Switchable(bundle.population)
    yield bundle
    await engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def pendamping() -> Pendamping:
    return Pendamping()


MakePipeline = Callable[..., Pipeline]


@pytest.fixture
def make_pipeline(
    couch: CouchClient, uow: UnitOfWork, sources: Sources, clock: Clock, pendamping: Pendamping
) -> MakePipeline:
    def make(**overrides: object) -> Pipeline:
        return build_pipeline(
            couch=couch,
            uow=uow,
            sources=sources,
            rules=load_rule_set(RuleSettings()),
            settings=FAST.model_copy(update=overrides),
            assignees=pendamping,
            clock=clock,
        )

    return make


NewDb = Callable[[], Awaitable[str]]
