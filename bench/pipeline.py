"""``simpul bench pipeline``: how fast the verification pipeline decides, against how fast the server takes the writes
it has to make anyway, and how long a family waits for its answer on the pendamping's device.

One run, on a fresh local CouchDB-compatible server and a copy of the reference data:

a. **Pipeline**: N applications (each with its household and consent, families from ``simpul.scenarios`` so every
   check finds what it expects) are written to their desa databases with ``_bulk_docs``, as devices would have synced
   them; then ``simpul worker`` is started (default settings, overridable with ``SIMPUL_WORKER__...`` and
   ``SIMPUL_PIPELINE__...``) and the clock runs until every application has a decided ``result:`` document.
b. **Raw writes**: the same number of result documents, with the bodies the pipeline wrote, written to the same
   server and the same desa databases the way the writer writes them (a ``GET`` then a ``PUT`` per document) with the
   worker's handler concurrency. a / b is the share of the server's write capacity the pipeline achieves.
c. **Latency**: a real PouchDB device (``tests/devices``) logged in through the gateway pushes one application at a
   time (household, consent, application) while a live pull runs; the time from the start of the push to the decided
   result arriving in the device's database, p50 and p95.

The registries are at full Banyuwangi scale by default (``--households 560000``). Generating them takes about four
minutes and a gigabyte, so the SQLite file is cached under ``<data dir>/bench/`` by seed and size and copied for each
run (the run writes users, checkpoints and cases into its copy). ``--households 20000`` makes a quick run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from registries.generator import ReferenceDataGenerator, load
from replication import provisioning
from replication.couch import CouchClient
from replication.localserver import LocalCouchServer
from replication.naming import desa_db_name
from server.auth import service
from server.auth.models import Role
from simpul.db import make_async_engine, make_sync_engine
from simpul.scenarios import BULK_KINDS, LATENG, Scenario, bulk_scenarios
from simpul.schema import create_tables
from simpul.settings import Settings
from tests.devices.pouch import PouchDevice

BENCH_USER = "bench.pendamping"
BENCH_PASSWORD = "bench-password-1"
BENCH_DEVICE = "bench-device"


@dataclass
class PipelineRun:
    applications: int
    seconds: float
    statuses: Counter[str]
    unexpected: int
    #: CPU seconds the worker process used (user + system) until the last result, when the platform tells.
    worker_cpu_s: float | None = None

    @property
    def rate(self) -> float:
        return self.applications / self.seconds


@dataclass
class RawWrites:
    documents: int
    seconds: float
    concurrency: int

    @property
    def rate(self) -> float:
        return self.documents / self.seconds


@dataclass
class Latency:
    samples: list[float] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


@dataclass
class BenchReport:
    households: int
    seed: int
    pipeline: PipelineRun
    raw: RawWrites
    latency: Latency
    machine: str


# --- The reference data, generated once per seed and size ----------------------------------------------------


def reference_file(cache_dir: Path, seed: int, households: int, console: Console) -> Path:
    """The cached SQLite file of the reference data for ``seed`` and ``households``; generated when missing.

    Written under a temporary name and renamed once complete, so an interrupted generation is never reused.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"reference-seed{seed}-{households}.db"
    if path.exists():
        console.print(f"reference data: {path} (cached)")
        return path
    partial = path.with_suffix(".partial")
    for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)
    engine = make_sync_engine(f"sqlite:///{partial}")
    started = time.perf_counter()
    try:
        with Progress(
            TextColumn("[bold]generating the reference data"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("households", total=households)
            load(
                engine,
                ReferenceDataGenerator(seed, households),
                progress=lambda done: progress.update(task, completed=done),
            )
    finally:
        engine.dispose()
    # Fold the write-ahead log into the file, so that one file is the whole database.
    with contextlib.closing(sqlite3.connect(partial)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
    partial.rename(path)
    console.print(f"reference data: {path} ({time.perf_counter() - started:.0f}s to generate)")
    return path


# --- Processes ------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _spawn(args: Sequence[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "simpul.cli", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def _stop(process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def _gateway(env: dict[str, str], log: Path) -> Iterator[str]:
    port = _free_port()
    process = _spawn(["serve", "--port", str(port)], env, log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "/sync/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"the gateway did not start; see {log}") from None
                time.sleep(0.1)
        yield url
    finally:
        _stop(process)


async def _prepare(couch_url: str, database_url: str) -> None:
    from sqlmodel.ext.asyncio.session import AsyncSession

    couch = CouchClient(couch_url)
    try:
        await provisioning.apply(couch, provisioning.desired_state(None))
    finally:
        await couch.aclose()
    engine = make_async_engine(database_url)
    try:
        await create_tables(engine)
        async with AsyncSession(engine) as session:
            await service.create_user(
                session, username=BENCH_USER, password=BENCH_PASSWORD, role=Role.pendamping, desa=[LATENG]
            )
            await session.commit()
    finally:
        await engine.dispose()


def _decided(database: Path) -> int:
    """Cases with a decision in the projection (committed right after their result document is written)."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)) as conn:
        try:
            row = conn.execute("SELECT count(*) FROM cases WHERE decision IS NOT NULL").fetchone()
        except sqlite3.OperationalError:
            return 0  # the worker has not created its tables yet
    return int(row[0])


def _by_db(scenarios: Sequence[Scenario]) -> dict[str, list[Scenario]]:
    grouped: dict[str, list[Scenario]] = {}
    for scenario in scenarios:
        grouped.setdefault(scenario.db_name, []).append(scenario)
    return grouped


# --- a. the pipeline --------------------------------------------------------------------------------------------


def _results(couch_url: str, scenarios: Sequence[Scenario]) -> dict[str, dict[str, Any]]:
    """The result documents of ``scenarios`` as CouchDB holds them, by application id."""
    found: dict[str, dict[str, Any]] = {}
    with httpx.Client(base_url=couch_url, timeout=120) as client:
        for db, group in _by_db(scenarios).items():
            rows = client.post(
                f"/{db}/_all_docs", params={"include_docs": "true"}, json={"keys": [s.result_id for s in group]}
            ).json()["rows"]
            for row in rows:
                if row.get("doc"):
                    found[row["doc"]["application_id"]] = row["doc"]
    return found


def run_pipeline(
    scenarios: Sequence[Scenario], couch_url: str, env: dict[str, str], workdir: Path, database: Path, console: Console
) -> tuple[PipelineRun, subprocess.Popen[bytes], dict[str, dict[str, Any]]]:
    with httpx.Client(base_url=couch_url, timeout=120) as client:
        for db, group in _by_db(scenarios).items():
            for start in range(0, len(group), 100):
                docs = [d for s in group[start : start + 100] for d in s.case.documents()]
                answers = client.post(f"/{db}/_bulk_docs", json={"docs": docs}).json()
                failed = [a for a in answers if "error" in a]
                if failed:
                    raise RuntimeError(f"writing the applications failed, e.g. {failed[0]}")
    console.print(f"{len(scenarios):,} applications written to {len(_by_db(scenarios))} desa databases")
    started = time.perf_counter()
    worker = _spawn(["worker"], env, workdir / "worker.log")
    with Progress(
        TextColumn("[bold]pipeline"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("decided", total=len(scenarios))
        while (done := _decided(database)) < len(scenarios):
            if worker.poll() is not None:
                raise RuntimeError(f"the worker exited ({worker.returncode}); see {workdir / 'worker.log'}")
            progress.update(task, completed=done)
            time.sleep(0.25)
        progress.update(task, completed=len(scenarios))
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds(worker.pid)
    results = _results(couch_url, scenarios)
    missing = [s for s in scenarios if not results.get(s.application_id, {}).get("decision")]
    if missing:
        raise RuntimeError(f"{len(missing)} applications have no decided result, e.g. {missing[0].application_id}")
    statuses = Counter(results[s.application_id]["status"] for s in scenarios)
    unexpected = sum(1 for s in scenarios if results[s.application_id]["status"] != s.expected)
    return PipelineRun(len(scenarios), seconds, statuses, unexpected, cpu), worker, results


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux ``/proc``); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- b. raw result writes ---------------------------------------------------------------------------------------


async def _raw_writes(couch_url: str, bodies: Sequence[tuple[str, dict[str, Any]]], concurrency: int) -> RawWrites:
    """Write each body as a new ``result:`` document the way the writer does: read it (absent), then ``PUT``."""
    couch = CouchClient(couch_url, max_connections=concurrency + 4)
    limit = asyncio.Semaphore(concurrency)

    async def write(db: str, body: dict[str, Any]) -> None:
        async with limit:
            doc_id = f"result:raw-{body['application_id']}"
            existing = await couch.get_doc(db, doc_id)
            doc = {**body, "_id": doc_id}
            if existing is not None:
                doc["_rev"] = existing["_rev"]
            await couch.put_doc(db, doc)

    try:
        started = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            for db, body in bodies:
                group.create_task(write(db, body))
        seconds = time.perf_counter() - started
    finally:
        await couch.aclose()
    return RawWrites(len(bodies), seconds, concurrency)


# --- c. latency on a device -------------------------------------------------------------------------------------


def measure_latency(gateway_url: str, scenarios: Sequence[Scenario], device_dir: Path, console: Console) -> Latency:
    latency = Latency()
    if not scenarios:
        return latency
    db = desa_db_name(LATENG)
    url = f"{gateway_url}/sync/{db}"
    tokens = httpx.post(
        gateway_url + "/api/auth/token",
        data={"username": BENCH_USER, "password": BENCH_PASSWORD, "device_id": BENCH_DEVICE},
        timeout=30,
    ).json()
    device = PouchDevice(device_dir)
    try:
        device.set_token(tokens["access_token"])
        device.call("open", name=db, adapter="memory")
        # Catch up first, so that the live pull only carries what each application brings back.
        device.replicate(db, url, "pull")
        live = device.call("liveStart", db=db, url=url, direction="pull")
        try:
            for scenario in scenarios:
                device.call("bulk", db=db, docs=scenario.case.documents())
                started = time.perf_counter()
                pushed = device.replicate(db, url, "push")
                if not pushed.get("ok") or pushed.get("denied"):
                    raise RuntimeError(f"the push failed: {pushed}")
                while True:
                    doc = device.call("get", db=db, id=scenario.result_id)
                    if doc is not None and doc.get("decision"):
                        break
                    if time.perf_counter() - started > 120:
                        raise RuntimeError(f"no result on the device for {scenario.application_id} after 120s")
                    time.sleep(0.01)
                latency.samples.append(time.perf_counter() - started)
        finally:
            device.call("liveStop", handle=live)
    finally:
        device.close()
    console.print(f"latency: {len(latency.samples)} applications pushed one at a time")
    return latency


# --- the whole run ----------------------------------------------------------------------------------------------


def machine() -> str:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = " (" + line.split(":", 1)[1].strip() + ")"
                break
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs{model}, Python {platform.python_version()}"


def main(
    *,
    households: int,
    seed: int,
    applications: int,
    latency_samples: int,
    console: Console,
    markdown: bool = False,
) -> BenchReport:
    settings = Settings()
    cached = reference_file(settings.data_dir / "bench", seed, households, console)
    workdir = Path(tempfile.mkdtemp(prefix="simpul-bench-pipeline-"))
    database = workdir / "simpul.db"
    shutil.copyfile(cached, database)
    database_url = f"sqlite:///{database}"
    reference = make_sync_engine(database_url)
    couch = LocalCouchServer(workdir / "couchdb", _free_port())
    couch.start()
    worker: subprocess.Popen[bytes] | None = None
    try:
        asyncio.run(_prepare(couch.url, database_url))
        load_scenarios = bulk_scenarios(reference, applications, seed=seed, kinds=BULK_KINDS, agent_id=BENCH_USER)
        used = {kk for s in load_scenarios for kk in s.families}
        probes = bulk_scenarios(
            reference,
            latency_samples,
            seed=seed + 1,
            kinds=BULK_KINDS,
            desa=[LATENG],
            exclude=used,
            allow_fewer=True,
            agent_id=BENCH_USER,
            device_id=BENCH_DEVICE,
        )
        reference.dispose()
        env = {
            **os.environ,
            "SIMPUL_DATA_DIR": str(workdir),
            "SIMPUL_COUCHDB_URL": couch.url,
            "SIMPUL_DATABASE_URL": database_url,
            "SIMPUL_REGISTRIES__SOURCE": "local",
        }
        pipeline, worker, results = run_pipeline(load_scenarios, couch.url, env, workdir, database, console)
        console.print(f"pipeline: {pipeline.applications:,} decided in {pipeline.seconds:.1f}s")
        with _gateway(env, workdir / "gateway.log") as gateway_url:
            latency = measure_latency(gateway_url, probes, workdir / "device", console)
        _stop(worker)
        worker = None
        concurrency = settings.worker.concurrency
        bodies = [
            (
                s.db_name,
                {k: v for k, v in results[s.application_id].items() if not k.startswith("_")},
            )
            for s in load_scenarios
        ]
        raw = asyncio.run(_raw_writes(couch.url, bodies, concurrency))
    finally:
        if worker is not None:
            _stop(worker)
        couch.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    report = BenchReport(households, seed, pipeline, raw, latency, machine())
    print_report(report, console, markdown=markdown)
    return report


def print_report(report: BenchReport, console: Console, *, markdown: bool = False) -> None:
    p, raw, latency = report.pipeline, report.raw, report.latency
    table = Table(
        title=f"Pipeline benchmark: {p.applications:,} applications, registries of {report.households:,} households "
        f"(seed {report.seed})"
    )
    for column in ("measure", "value", "detail"):
        table.add_column(column, justify="right" if column == "value" else "left")
    rows = [
        ("pipeline", f"{p.rate:,.1f} applications/s", f"{p.seconds:.1f}s from the worker's start to the last result"),
        (
            "raw result writes",
            f"{raw.rate:,.1f} documents/s",
            f"GET + PUT per document, {raw.concurrency} at a time, same server and databases",
        ),
        ("ratio pipeline/raw", f"{p.rate / raw.rate:.3f}", "share of the server's write rate the pipeline reaches"),
    ]
    if p.worker_cpu_s is not None:
        rows.append(
            (
                "worker CPU",
                f"{1000 * p.worker_cpu_s / p.applications:,.0f} ms/application",
                f"{p.worker_cpu_s:.0f}s of CPU in {p.seconds:.0f}s (start-up included)",
            )
        )
    if latency.samples:
        rows += [
            ("latency p50", f"{latency.percentile(0.5):.2f}s", "device push → result on the live-syncing device"),
            ("latency p95", f"{latency.percentile(0.95):.2f}s", f"{len(latency.samples)} applications, one at a time"),
        ]
    decided = ", ".join(f"{status} {count:,}" for status, count in sorted(p.statuses.items()))
    rows.append(("decisions", f"{p.unexpected} unexpected", decided))
    for row in rows:
        table.add_row(*row)
    console.print(table)
    console.print(f"machine: {report.machine}; worker settings from the environment (defaults unless SIMPUL_WORKER__…)")
    if markdown:
        console.print("| measure | value | detail |\n|---|---:|---|", soft_wrap=True)
        for measure, value, detail in rows:
            console.print(f"| {measure} | {value} | {detail} |", markup=False, highlight=False, soft_wrap=True)
        if latency.samples:
            console.print(
                f"\nlatency samples (s): min {min(latency.samples):.2f}, mean "
                f"{statistics.mean(latency.samples):.2f}, max {max(latency.samples):.2f}",
                soft_wrap=True,
            )
