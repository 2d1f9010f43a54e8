"""``simpul registries ...``: generate the reference data, emit changes, serve the simulator, benchmark.

Every command builds ``Settings()`` when it runs (never at import) and needs no prompt.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.engine import make_url

app = typer.Typer(help="Reference sources: population registry, DTSEN, ministries' data.", no_args_is_help=True)
console = Console()

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="SQLAlchemy URL; default: SIMPUL_DATABASE_URL or the SQLite file."),
]


def _database_url(explicit: str | None) -> str:
    from simpul.settings import Settings

    url = explicit or Settings().resolved_database_url
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        os.makedirs(Path(parsed.database).parent, exist_ok=True)
    return url


@app.command()
def generate(
    households: Annotated[int | None, typer.Option(help="Households (default: the demo size, 20,000).")] = None,
    seed: Annotated[int, typer.Option(help="Same seed, same data.")] = 1,
    database_url: DatabaseUrl = None,
    changes: Annotated[int, typer.Option(help="Then emit a batch of this many changes.")] = 0,
) -> None:
    """Replace the reference tables with generated Banyuwangi data."""
    from registries.generator import ReferenceDataGenerator, emit_changes, load
    from simpul.db import make_sync_engine
    from simpul.settings import Settings

    count = households if households is not None else Settings().registries.demo_households
    engine = make_sync_engine(_database_url(database_url))
    with Progress(
        TextColumn("[bold]generating"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("households", total=count)
        summary = load(
            engine,
            ReferenceDataGenerator(seed, count),
            progress=lambda done: progress.update(task, completed=done),
        )
    emitted = emit_changes(engine, changes) if changes else []
    engine.dispose()
    table = Table(title=f"Reference data (seed {seed})")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in summary.rows.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    console.print(f"{summary.households:,} households, {summary.people:,} people; {len(emitted)} changes emitted")


@app.command("emit-changes")
def emit_changes_command(
    count: Annotated[int, typer.Option(help="Changes in the batch.")] = 100,
    database_url: DatabaseUrl = None,
) -> None:
    """Apply and publish a batch of changes (deaths, ASN appointments, DTSEN re-rankings)."""
    from collections import Counter

    from registries.generator import emit_changes
    from simpul.db import make_sync_engine

    engine = make_sync_engine(_database_url(database_url))
    emitted = emit_changes(engine, count)
    engine.dispose()
    kinds = Counter(c["kind"] for c in emitted)
    console.print(", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())) or "no change")


@app.command("serve-simulator")
def serve_simulator(
    port: Annotated[int, typer.Option(help="Port on the host.")] = 8710,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    database_url: DatabaseUrl = None,
) -> None:
    """Serve the local store over the sources' HTTP contract (OAuth2 client credentials included)."""
    import uvicorn

    from registries.simulator.app import create_app
    from simpul.settings import Settings

    settings = Settings()
    settings = settings.model_copy(update={"database_url": _database_url(database_url)})
    uvicorn.run(create_app(settings), host=host, port=port, ws="none")


@app.command()
def bench(
    households: Annotated[int, typer.Option(help="Scale (full Banyuwangi: about 560,000).")] = 20_000,
    seed: Annotated[int, typer.Option()] = 1,
    database_url: DatabaseUrl = None,
    lookups: Annotated[int, typer.Option(help="Lookups per operation, local.")] = 1000,
    http_lookups: Annotated[int, typer.Option(help="Lookups per operation, over HTTP.")] = 300,
    markdown: Annotated[bool, typer.Option(help="Also print the result as a Markdown table.")] = False,
) -> None:
    """Time generate+load, measure the database size and lookup latency per source (local and HTTP)."""
    from registries.bench import markdown_table, run_benchmark

    with Progress(
        TextColumn("[bold]generating"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("households", total=households)
        result = run_benchmark(
            households,
            seed=seed,
            database_url=_database_url(database_url),
            lookups=lookups,
            http_lookups=http_lookups,
            progress=lambda done: progress.update(task, completed=done),
        )
    console.print(
        f"{result.households:,} households, {result.people:,} people on {result.backend}: generate+load "
        f"{result.generate_load_s:.1f} s, database {result.database_bytes / 1e6:,.1f} MB"
    )
    table = Table(title="Lookup latency")
    for column in ("source", "operation", "mode", "samples", "p50 ms", "p99 ms"):
        table.add_column(column, justify="right" if column in ("samples", "p50 ms", "p99 ms") else "left")
    for r in result.latencies:
        table.add_row(r.source, r.operation, r.mode, str(r.samples), f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}")
    console.print(table)
    if markdown:
        print(markdown_table(result))
