"""The generator and the local store on PostgreSQL.

Opt-in: set ``SIMPUL_TEST_POSTGRES_URL`` to a database whose ``reg_`` tables may be replaced (SQLite is
covered by every other test)."""

from __future__ import annotations

import os

import pytest

from registries.generator import ReferenceDataGenerator, emit_changes, load
from registries.models import IdentityQuery, Match
from registries.sources import local_sources
from simpul.db import make_async_engine, make_sync_engine

POSTGRES_URL = os.environ.get("SIMPUL_TEST_POSTGRES_URL")

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not POSTGRES_URL, reason="SIMPUL_TEST_POSTGRES_URL is not set"),
]


async def test_generate_load_and_answer_on_postgresql() -> None:
    assert POSTGRES_URL is not None
    engine = make_sync_engine(POSTGRES_URL)
    generator = ReferenceDataGenerator(7, 150)
    summary = load(engine, generator)
    emitted = emit_changes(engine, 10)
    engine.dispose()
    assert summary.households == 150 and len(emitted) == 10
    person = next(row for batch in ReferenceDataGenerator(7, 150).batches() for row in batch.rows["reg_person"])
    async_engine = make_async_engine(POSTGRES_URL)
    try:
        sources = local_sources(async_engine)
        answer = await sources.population.verify(
            IdentityQuery(nik=person["nik"], name=person["name"], birth_date=person["birth_date"])
        )
        assert answer.name is Match.match and answer.birth_date is Match.match
        household = await sources.dtsen.household_by_kk(person["kk_number"])
        assert household.found
        page = await sources.population.changes(limit=1000)
        assert len(page.changes) == sum(1 for c in emitted if c["source"] == "dukcapil")
    finally:
        await async_engine.dispose()
