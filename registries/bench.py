"""Benchmark of the registries: generate and load, database size, lookup latency per source (local, HTTP).

Lookups run one after another (latency, not throughput), on keys sampled deterministically from the data.
The HTTP side goes through the real adapters to the simulator on a loopback socket, so it includes the JSON
encoding, uvicorn and the token cache.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select, text
from sqlalchemy.engine import make_url

from registries import tables as t
from registries.generator import ReferenceDataGenerator, load
from registries.models import IdentityQuery
from registries.simulator.server import settings_for, simulator_in_thread
from registries.sources import Sources, http_sources, local_sources
from simpul.db import make_async_engine, make_sync_engine
from simpul.settings import Settings


@dataclass
class LatencyRow:
    source: str
    operation: str
    mode: str
    samples: int
    p50_ms: float
    p99_ms: float


@dataclass
class BenchResult:
    households: int
    people: int
    backend: str
    generate_load_s: float
    database_bytes: int
    rows: dict[str, int]
    latencies: list[LatencyRow] = field(default_factory=list)


def database_size(engine: Engine) -> int:
    url = engine.url
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    with engine.connect() as conn:
        total = conn.scalar(
            text(
                "select sum(pg_total_relation_size(quote_ident(tablename))) from pg_tables where tablename like 'reg_%'"
            )
        )
    return int(total or 0)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _sample_keys(engine: Engine, count: int, seed: int) -> list[tuple[str, str, str, dt.date]]:
    """Reservoir sample of (nik, kk, name, birth date), deterministic for a seed."""
    rng = random.Random(f"{seed}:bench")
    person = t.table_of(t.RegPerson)
    reservoir: list[tuple[str, str, str, dt.date]] = []
    with engine.connect() as conn:
        rows = conn.execution_options(stream_results=True).execute(
            select(person.c.nik, person.c.kk_number, person.c.name, person.c.birth_date).order_by(person.c.nik)
        )
        for i, row in enumerate(rows):
            item = (row.nik, row.kk_number, row.name, row.birth_date)
            if len(reservoir) < count:
                reservoir.append(item)
            else:
                j = rng.randint(0, i)
                if j < count:
                    reservoir[j] = item
    return reservoir


async def _measure(sources: Sources, mode: str, keys: list[tuple[str, str, str, dt.date]]) -> list[LatencyRow]:
    operations: list[tuple[str, str, Callable[[tuple[str, str, str, dt.date]], Awaitable[object]]]] = [
        (
            "dukcapil",
            "verify",
            lambda k: sources.population.verify(IdentityQuery(nik=k[0], name=k[2], birth_date=k[3], kk_number=k[1])),
        ),
        ("dukcapil", "status", lambda k: sources.population.status(k[0])),
        ("dtsen", "households_by_nik", lambda k: sources.dtsen.households_by_nik(k[0])),
        ("dtsen", "household_by_kk", lambda k: sources.dtsen.household_by_kk(k[1])),
        ("splp", "employment", lambda k: sources.ministries.employment(k[0])),
        ("splp", "bpjs", lambda k: sources.ministries.bpjs(k[0])),
        ("splp", "assets", lambda k: sources.ministries.assets(k[0])),
    ]
    rows = []
    for source, name, call in operations:
        await call(keys[0])  # warm-up: connection, token, caches
        timings = []
        for key in keys:
            started = time.perf_counter()
            await call(key)
            timings.append((time.perf_counter() - started) * 1000)
        rows.append(LatencyRow(source, name, mode, len(timings), _percentile(timings, 0.5), _percentile(timings, 0.99)))
    return rows


def run_benchmark(
    households: int,
    *,
    seed: int = 1,
    database_url: str | None = None,
    lookups: int = 1000,
    http_lookups: int = 300,
    progress: Callable[[int], None] | None = None,
) -> BenchResult:
    settings = Settings()
    url = database_url or settings.resolved_database_url
    if make_url(url).get_backend_name() == "sqlite" and make_url(url).database:
        os.makedirs(Path(make_url(url).database or ".").parent, exist_ok=True)
    engine = make_sync_engine(url)
    started = time.perf_counter()
    summary = load(engine, ReferenceDataGenerator(seed, households), progress=progress)
    elapsed = time.perf_counter() - started
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            conn.exec_driver_sql("ANALYZE")
    result = BenchResult(
        households=summary.households,
        people=summary.people,
        backend=engine.dialect.name,
        generate_load_s=elapsed,
        database_bytes=database_size(engine),
        rows=summary.rows,
    )
    keys = _sample_keys(engine, max(lookups, http_lookups), seed)
    engine.dispose()
    if not keys:
        return result
    base = settings.model_copy(update={"database_url": url})

    async def local() -> list[LatencyRow]:
        async_engine = make_async_engine(url)
        try:
            return await _measure(local_sources(async_engine, base.registries), "local", keys[:lookups])
        finally:
            await async_engine.dispose()

    result.latencies += asyncio.run(local())
    with simulator_in_thread(base) as base_url:

        async def over_http() -> list[LatencyRow]:
            async with http_sources(settings_for(base, base_url).registries) as sources:
                return await _measure(sources, "http", keys[:http_lookups])

        result.latencies += asyncio.run(over_http())
    return result


def markdown_table(result: BenchResult) -> str:
    lines = [
        f"- scale: {result.households:,} households, {result.people:,} people ({result.backend})",
        f"- generate + load: {result.generate_load_s:.1f} s "
        f"({result.people / max(result.generate_load_s, 1e-9):,.0f} people/s)",
        f"- database size (reg_ tables): {result.database_bytes / 1e6:,.1f} MB",
        "",
        "| source | operation | mode | samples | p50 ms | p99 ms |",
        "|---|---|---|---:|---:|---:|",
    ]
    for r in result.latencies:
        lines.append(f"| {r.source} | {r.operation} | {r.mode} | {r.samples} | {r.p50_ms:.2f} | {r.p99_ms:.2f} |")
    return "\n".join(lines)
