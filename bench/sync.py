"""``simpul bench sync``: a real PouchDB device pushes and pulls N documents through the gateway and directly to the
same local CouchDB-compatible server, in one run, alternating sides; prints docs/s and the ratio gateway/direct.

Every round uses fresh, empty desa databases on both sides, so neither side benefits from the other's work. The
documents are valid ``household`` forms, so the gateway's per-document validation is part of what is measured.
"""

from __future__ import annotations

import asyncio
import copy
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
from rich.console import Console
from rich.table import Table

from agent_forms import wilayah
from replication import provisioning
from replication.couch import CouchClient
from replication.localserver import LocalCouchServer
from replication.naming import desa_db_name
from server.auth import service
from server.auth.models import Role
from simpul.db import make_async_engine
from simpul.schema import create_tables
from tests.devices.pouch import PouchDevice

BENCH_USER = "bench.pendamping"
BENCH_PASSWORD = "bench-password-1"


def household_template(desa_code: str) -> dict[str, Any]:
    """A realistic household form (about 1.5 kB of JSON) for ``desa_code``, written by the bench user."""
    return {
        "type": "household",
        "form_version": 1,
        "desa": desa_code,
        "agent_id": BENCH_USER,
        "device_id": "bench-device",
        "captured_at": "2026-11-20T09:12:03+07:00",
        "kk_number": "3510161203150007",
        "address": {
            "street": "Jl. Kapten Ilyas Gg. Mawar 7",
            "rt": "002",
            "rw": "005",
            "postal_code": "68414",
        },
        "location": {"lat": -8.2146, "lon": 114.3688, "accuracy_m": 12},
        "members": [
            {
                "nik": "3510161705800001",
                "name": "Slamet Riyadi",
                "birth_date": "1980-05-17",
                "sex": "male",
                "relationship": "head",
                "disability": "none",
                "occupation": "farm_labourer",
            },
            {
                "nik": "3510164302840002",
                "name": "Sri Wahyuni",
                "birth_date": "1984-02-03",
                "sex": "female",
                "relationship": "spouse",
                "disability": "none",
                "occupation": "homemaker",
            },
            {
                "nik": "3510166307190003",
                "name": "Putri Ayu",
                "birth_date": "2019-07-23",
                "sex": "female",
                "relationship": "child",
                "disability": "none",
                "occupation": "not_working",
            },
        ],
        "housing": {
            "ownership": "own",
            "floor_area_m2": 36,
            "floor": "cement_brick",
            "wall": "woven_bamboo",
            "roof": "clay_tile",
            "drinking_water": "protected_well",
            "toilet": "shared",
            "toilet_disposal": "pit",
            "lighting": "pln_metered",
            "electricity_va": 450,
            "cooking_fuel": "lpg_3kg",
            "assets": ["motorcycle", "smartphone"],
            "livestock": {"goat_sheep": 2},
        },
    }


@dataclass
class Measurement:
    side: str
    direction: str
    docs: int
    seconds: float
    denied: int

    @property
    def rate(self) -> float:
        return self.docs / self.seconds


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _setup_relational(database_url: str, desa: list[str]) -> None:
    from sqlmodel.ext.asyncio.session import AsyncSession

    engine = make_async_engine(database_url)
    try:
        await create_tables(engine)
        async with AsyncSession(engine) as session:
            await service.create_user(
                session, username=BENCH_USER, password=BENCH_PASSWORD, role=Role.pendamping, desa=desa
            )
            await session.commit()
    finally:
        await engine.dispose()


async def _provision(url: str) -> None:
    couch = CouchClient(url)
    try:
        await provisioning.apply(couch, provisioning.desired_state(None))
    finally:
        await couch.aclose()


@contextmanager
def _gateway(env: dict[str, str], port: int, log: Path) -> Iterator[str]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "simpul.cli", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "/sync/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"gateway did not start; see {log}") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


async def _require_empty(url: str, dbs: Sequence[str]) -> None:
    couch = CouchClient(url)
    try:
        for db in dbs:
            info = await couch.request("GET", f"/{db}", what=f"database {db}")
            if info.get("doc_count") or info.get("doc_del_count"):
                raise RuntimeError(f"{db} on the given CouchDB is not empty: run the benchmark on a scratch server")
    finally:
        await couch.aclose()


def main(
    *, docs: int, rounds: int, batch_size: int, console: Console, couchdb_url: str | None = None
) -> list[Measurement]:
    """``couchdb_url``: a running CouchDB (e.g. Apache CouchDB 3, admin credentials in the URL) instead of a local
    pouchdb-server started for the run. The desa databases it uses must be empty (a scratch server): nothing is
    deleted there."""
    # The gateway, CouchDB and the device share the machine's cores: whatever else runs changes both sides'
    # rates, so the load is printed with the table.
    load_before = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="simpul-bench-"))
    desa = [d.code for d in wilayah.desa_list()[: 2 * rounds]]
    local_server = None if couchdb_url else LocalCouchServer(workdir / "couchdb", _free_port())
    if local_server is not None:
        local_server.start()
    url = couchdb_url or cast(LocalCouchServer, local_server).url
    device = PouchDevice(workdir / "device")
    measurements: list[Measurement] = []
    try:
        asyncio.run(_provision(url))
        asyncio.run(_require_empty(url, [desa_db_name(code) for code in desa]))
        database_url = f"sqlite:///{workdir / 'simpul.db'}"
        asyncio.run(_setup_relational(database_url, desa))
        env = {
            **os.environ,
            "SIMPUL_DATA_DIR": str(workdir),
            "SIMPUL_COUCHDB_URL": url,
            "SIMPUL_DATABASE_URL": database_url,
        }
        with _gateway(env, _free_port(), workdir / "gateway.log") as gateway_url:
            token = httpx.post(
                gateway_url + "/api/auth/token", data={"username": BENCH_USER, "password": BENCH_PASSWORD}
            ).json()["access_token"]
            device.set_token(token)
            for round_no in range(rounds):
                pair = {"direct": desa[2 * round_no], "gateway": desa[2 * round_no + 1]}
                sides = ["direct", "gateway"] if round_no % 2 == 0 else ["gateway", "direct"]
                urls = {"direct": f"{url}/{{db}}", "gateway": f"{gateway_url}/sync/{{db}}"}
                for side in sides:
                    db = desa_db_name(pair[side])
                    local = f"push-{round_no}-{side}"
                    device.call("open", name=local, adapter="memory")
                    device.call(
                        "generate",
                        db=local,
                        count=docs,
                        prefix="household",
                        template=copy.deepcopy(household_template(pair[side])),
                    )
                    measurements.append(_timed(device, local, urls[side].format(db=db), "push", side, batch_size))
                for side in sides:
                    db = desa_db_name(pair[side])
                    local = f"pull-{round_no}-{side}"
                    device.call("open", name=local, adapter="memory")
                    measurements.append(_timed(device, local, urls[side].format(db=db), "pull", side, batch_size))
                console.print(f"round {round_no + 1}/{rounds} done")
    finally:
        device.close()
        if local_server is not None:
            local_server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    _print(measurements, docs, batch_size, console)
    console.print(
        f"{os.cpu_count()} cores; load average (1 min) {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after"
    )
    return measurements


def _timed(device: PouchDevice, local: str, url: str, direction: str, side: str, batch_size: int) -> Measurement:
    started = time.perf_counter()
    result = device.replicate(local, url, direction, batch_size=batch_size)
    seconds = time.perf_counter() - started
    if not result.get("ok"):
        raise RuntimeError(f"{side} {direction} failed: {result}")
    if result.get("denied"):
        # A benchmark of refusals measures nothing: the template must be a valid form.
        raise RuntimeError(f"{side} {direction}: documents refused, e.g. {result['denied'][0]}")
    return Measurement(side, direction, result["docs_written"], seconds, 0)


def _print(measurements: list[Measurement], docs: int, batch_size: int, console: Console) -> None:
    table = Table(title=f"Sync benchmark: {docs} household documents, batch {batch_size}, PouchDB (memory adapter)")
    for column in ("direction", "direct docs/s", "gateway docs/s", "ratio gateway/direct", "refused"):
        table.add_column(column, justify="right")
    for direction in ("push", "pull"):
        direct = [m.rate for m in measurements if m.side == "direct" and m.direction == direction]
        gateway = [m.rate for m in measurements if m.side == "gateway" and m.direction == direction]
        refused = sum(m.denied for m in measurements if m.side == "gateway" and m.direction == direction)
        table.add_row(
            direction,
            f"{statistics.median(direct):,.0f}",
            f"{statistics.median(gateway):,.0f}",
            f"{statistics.median(gateway) / statistics.median(direct):.2f}",
            str(refused),
        )
    console.print(table)
    console.print("medians over the rounds; each round alternates which side goes first")
