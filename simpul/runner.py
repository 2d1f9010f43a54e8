"""The main job: local CouchDB-compatible server (unless SIMPUL_COUCHDB_URL names one), provisioning, the HTTP
server and the worker, in one foreground process that shuts everything down on Ctrl-C.

Both helpers are supervised the same way: a local server that dies is restarted (``LocalCouchServer.supervise``),
and so is a worker that ends with an error (:func:`supervise_worker`), after a back-off that doubles while the
restarts keep failing; each death is logged. The HTTP server goes on serving meanwhile, and ``/healthz`` shows the
worker's report going stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

import httpx
import uvicorn
import uvloop
from rich.console import Console

from registries.generator import ReferenceDataGenerator, has_reference_data, load
from replication import provisioning
from replication.couch import CouchClient
from replication.localserver import LocalCouchServer
from server.app import create_app
from simpul.db import make_async_engine, make_sync_engine
from simpul.demo import DEMO_PASSWORD, DEMO_USERS, seed_demo_users
from simpul.schema import create_tables
from simpul.settings import Environment, Settings

log = logging.getLogger("simpul")


def start_local_couch(settings: Settings) -> LocalCouchServer | None:
    if settings.couchdb_url:
        return None
    server = LocalCouchServer(settings.local_couchdb_dir, settings.local_couchdb_port)
    server.start()
    return server


def local_couch_running(settings: Settings) -> bool:
    """Whether a CouchDB-compatible server answers on the local server's port (a running `simpul run`'s)."""
    try:
        answer = httpx.get(settings.resolved_couchdb_url + "/", timeout=2.0)
        welcome = answer.json() if answer.status_code == 200 else {}
        return isinstance(welcome, dict) and ("express-pouchdb" in welcome or "couchdb" in welcome)
    except (httpx.HTTPError, ValueError, AttributeError):
        return False


async def provision(settings: Settings, console: Console | None = None) -> provisioning.ProvisioningReport:
    couch = CouchClient(settings.resolved_couchdb_url)
    try:
        server_user = urlsplit(settings.resolved_couchdb_url).username
        report = await provisioning.apply(couch, provisioning.desired_state(server_user))
    finally:
        await couch.aclose()
    if console:
        console.print(f"[bold]provisioning:[/] {report.summary()}")
    return report


async def prepare_database(settings: Settings, *, seed_demo: bool) -> list[str]:
    """Create (or bring up to date) the relational store's tables; in development, the demo users."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # the default SQLite file lives there
    engine = make_async_engine(settings.resolved_database_url)
    try:
        await create_tables(engine)
        return await seed_demo_users(engine) if seed_demo else []
    finally:
        await engine.dispose()


def seed_reference_data(settings: Settings, console: Console) -> None:
    """In development the checks read the local reference tables; on a fresh machine they are empty, so the demo
    Banyuwangi data is generated once (``simpul registries generate`` replaces it at any size)."""
    if settings.registries.source != "local":
        return
    engine = make_sync_engine(settings.resolved_database_url)
    try:
        if has_reference_data(engine):
            return
        households = settings.registries.demo_households
        console.print(f"generating demo reference data ({households:,} households, once)…")
        summary = load(engine, ReferenceDataGenerator(seed=1, households=households))
        console.print(f"reference data: {summary.households:,} households, {summary.people:,} people")
    finally:
        engine.dispose()


def serve(settings: Settings) -> None:
    _run_on_uvloop(_serve_with_supervision(settings, None, with_worker=False))


def _run_on_uvloop(main: Coroutine[Any, Any, None]) -> None:
    # uvicorn picks uvloop only when it makes the loop itself; the server and the supervisor share ours.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


def run(settings: Settings) -> None:
    console = Console(soft_wrap=True)  # URLs and paths are printed whole, never broken at the terminal width
    # SIGTERM (docker stop, systemd, CI) unwinds like Ctrl-C, so the local server below is always stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    local = start_local_couch(settings)
    try:
        if local:
            console.print(f"[green]local CouchDB-compatible server[/] on {local.url} (data in {local.data_dir})")
        asyncio.run(provision(settings, console))
        seed = settings.environment is Environment.development
        created = asyncio.run(prepare_database(settings, seed_demo=seed))
        if seed:
            seed_reference_data(settings, console)
        url = f"http://{settings.http_host}:{settings.http_port}"
        console.print(f"[bold green]Simpul[/] on {url}  (sync: {url}/sync/desa_<10 digits>, API docs: {url}/docs)")
        if seed:
            console.print(f"demo logins (password [bold]{DEMO_PASSWORD}[/]){' — created now' if created else ''}:")
            for demo in DEMO_USERS:
                scope = ", ".join(demo.desa or demo.kecamatan) or "whole region"
                console.print(f"  {demo.username:<20} {demo.role.value:<11} {scope}")
        _run_on_uvloop(_serve_with_supervision(settings, local, with_worker=True))
    finally:
        if local:
            local.stop()
            console.print("local CouchDB-compatible server stopped")


async def _serve_with_supervision(settings: Settings, local: LocalCouchServer | None, *, with_worker: bool) -> None:
    config = uvicorn.Config(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_level="info",
        # No access log: URLs carry document ids, and a natural-key id may hold a NIK. Requests are counted by
        # route template in /metrics instead.
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    supervisor = asyncio.create_task(local.supervise()) if local else None
    stop_worker = asyncio.Event()
    worker = None
    if with_worker:
        from simpul.worker import run_worker  # only the main job runs the pipeline; `simpul serve` does not load it

        worker = asyncio.create_task(supervise_worker(run_worker, settings, stop_worker), name="worker")
    try:
        await server.serve()
    finally:
        if worker:
            # The worker finishes what is in flight and saves its checkpoints before the local server goes.
            stop_worker.set()
            await _finish(worker)
        if supervisor:
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervisor


RunWorker = Callable[[Settings, asyncio.Event], Awaitable[None]]


async def supervise_worker(
    run_worker: RunWorker,
    settings: Settings,
    stop: asyncio.Event,
    *,
    first_backoff_s: float = 1.0,
    max_backoff_s: float = 60.0,
    healthy_after_s: float = 60.0,
) -> None:
    """Run the worker until ``stop`` is set, starting it again whenever it ends with an error meanwhile.

    The wait before a restart doubles from ``first_backoff_s`` up to ``max_backoff_s`` while the worker keeps dying
    soon after it starts, and is back to ``first_backoff_s`` once a run lasted ``healthy_after_s``. A worker that
    returns without ``stop`` (it should not) is restarted the same way. ``stop`` during the wait ends at once.
    """
    loop = asyncio.get_running_loop()
    backoff = first_backoff_s
    restarts = 0
    while not stop.is_set():
        started = loop.time()
        try:
            await run_worker(settings, stop)
        except Exception as exc:
            failure: str = f"{type(exc).__name__}: {exc}"
        else:
            if stop.is_set():
                return
            failure = "it returned without being asked to stop"
        if stop.is_set():
            return
        if loop.time() - started >= healthy_after_s:
            backoff = first_backoff_s
        restarts += 1
        log.error("the worker died (%s); restarting it in %.0fs (restart #%d)", failure, backoff, restarts)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), backoff)
        backoff = min(backoff * 2, max_backoff_s)


async def _finish(worker: asyncio.Task[None]) -> None:
    """Wait for the stopping worker. uvicorn re-raises the Ctrl-C it handled once it has shut down, which cancels
    this task: that one is not the user's, so the wait goes on (the worker is bounded by ``stop_grace_s``); a second
    Ctrl-C interrupts for real."""
    cancelled = 0
    while not worker.done():
        try:
            await asyncio.shield(worker)
        except asyncio.CancelledError:
            cancelled += 1
            if cancelled > 1:
                raise
        except Exception:
            return  # the worker logged its own failure
