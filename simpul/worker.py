"""The worker process: follows every desa database and runs the verification pipeline on what devices sync.

``simpul worker`` runs it on its own (docker-compose's ``worker`` service); ``simpul run`` runs it beside the HTTP
server in one process (and restarts it if it dies, see :mod:`simpul.runner`). Either way it reports its state to the
relational store every few seconds, with the number of dead letters counted there, which is what ``/healthz``
shows, and delivers the dead letters an operator asked to re-queue (CLI or admin API, any process). A store that
refuses writes for a while (locked, read-only, unreachable) does not end it: reports are skipped and logged once
until the store takes them again (see :mod:`sync.worker` for the changes themselves).
SIGTERM or SIGINT: in-flight changes are finished, checkpoints saved, then it exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from agent_forms import wilayah
from registries.sources import Sources, http_sources, local_sources
from replication.couch import CouchClient
from replication.naming import desa_db_name
from server.auth.models import Assignment, Role, User
from simpul.db import make_async_engine
from simpul.schema import create_tables
from simpul.settings import Settings
from sync.cases.pipeline import build_pipeline
from sync.checkpoints import utcnow
from sync.deadletters import FailureStore, requeue_requested
from sync.handlers import Handler
from sync.status import VERIFICATION_FOLLOWER, WorkerReports
from sync.uow import UnitOfWork
from sync.verification.ruleset import load_rule_set
from sync.worker import Worker, store_unavailable

log = logging.getLogger(__name__)

#: How often the worker reports its state and looks for re-queue requests.
REPORT_INTERVAL_S = 2.0


class DesaPendamping:
    """The usernames of the active pendamping assigned to a desa, read from the relational store at each call
    (assignments change), in a stable order: a task lists them as its assignees."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def __call__(self, desa_code: str) -> list[str]:
        query = (
            select(User.username)  # type: ignore[call-overload]
            .join(Assignment, Assignment.user_id == User.id)
            .where(User.role == Role.pendamping, User.active, Assignment.region_code == desa_code)
            .order_by(User.username)
        )
        async with self._engine.connect() as connection:
            return list((await connection.execute(query)).scalars())


def desa_databases() -> list[str]:
    return [desa_db_name(region.code) for region in wilayah.desa_list()]


def make_sources(settings: Settings, engine: AsyncEngine) -> Sources:
    if settings.registries.source == "http":
        return http_sources(settings.registries)
    return local_sources(engine, settings.registries)


async def run_worker(settings: Settings, stop: asyncio.Event, *, databases: Sequence[str] | None = None) -> None:
    """Run until ``stop`` is set; then finish what is in flight, save checkpoints and return."""
    names = list(databases) if databases is not None else desa_databases()
    engine = make_async_engine(settings.resolved_database_url)
    # Two pools: the feed readers' long-polls, and the handlers' short requests (see WorkerSettings.feed_connections).
    feeds = CouchClient(settings.resolved_couchdb_url, max_connections=settings.worker.feed_connections(len(names)))
    couch = CouchClient(settings.resolved_couchdb_url, max_connections=settings.worker.handler_connections())
    sources = make_sources(settings, engine)
    tasks: list[asyncio.Task[None]] = []
    try:
        await create_tables(engine)
        uow = UnitOfWork(engine)
        pipeline = build_pipeline(
            couch=couch,
            uow=uow,
            sources=sources,
            rules=load_rule_set(settings.rules),
            settings=settings.pipeline,
            assignees=DesaPendamping(engine),
        )
        worker = Worker(
            couch=feeds,
            uow=uow,
            handlers=pipeline.handlers,
            databases=names,
            settings=settings.worker,
            follower=VERIFICATION_FOLLOWER,
        )
        started_at = utcnow()
        tasks += [
            asyncio.create_task(worker.run(), name="worker"),
            asyncio.create_task(pipeline.run_background(stop), name="pipeline-background"),
            asyncio.create_task(_report_and_requeue(worker, uow, pipeline.handlers, stop, started_at), name="report"),
        ]
        stopping = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([stopping, *tasks], return_when=asyncio.FIRST_COMPLETED)
        failed = [task for task in done if task is not stopping and not task.cancelled() and task.exception()]
        for task in failed:
            log.error("worker task %s failed: %r", task.get_name(), task.exception())
        stop.set()
        worker.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        stopping.cancel()
        try:
            await report(worker, uow, started_at, running=False)
        except Exception as exc:
            log.warning("could not report the worker stopped (%s); /healthz sees its report go stale", _brief(exc))
        if failed:
            raise RuntimeError(f"the worker stopped after a failure in {failed[0].get_name()}")
    finally:
        # Cancelled from outside: the worker's own tasks end before the clients they use are closed.
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await sources.aclose()
        await feeds.aclose()
        await couch.aclose()
        await engine.dispose()


async def report(worker: Worker, uow: UnitOfWork, started_at: datetime, *, running: bool = True) -> None:
    """Save the worker's report, with the dead letters of each database as counted in the store (one query)."""
    async with uow.begin() as session:
        parked = await FailureStore(session).parked_counts()
        reports = WorkerReports(session)
        await reports.save(VERIFICATION_FOLLOWER, started_at, worker.status(), running=running, parked=parked)


def _brief(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return f"{type(exc).__name__}: {orig}" if orig is not None else type(exc).__name__


async def _report_and_requeue(
    worker: Worker, uow: UnitOfWork, handlers: Sequence[Handler], stop: asyncio.Event, started_at: datetime
) -> None:
    failing = False
    while not stop.is_set():
        try:
            await report(worker, uow, started_at)
            for result in await requeue_requested(uow, handlers):
                log.info("dead letter %s re-queued: %s", result.dead_letter.id, result.outcome.value)
        except Exception as exc:
            # Once per spell of failures, not every couple of seconds.
            if not failing:
                if store_unavailable(exc):
                    log.warning("could not report the worker's state (%s); will try again", _brief(exc))
                else:
                    log.exception("could not report the worker's state; will try again")
            failing = True
        else:
            if failing:
                log.info("the worker's state is reported again")
            failing = False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), REPORT_INTERVAL_S)
