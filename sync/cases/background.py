"""The pipeline's two loops beside the changes feed, run by the worker process (``Pipeline.run_background``).

- :class:`Sweeper`: every ``sweep_interval_s``, re-evaluates the cases whose ``next_check_at`` has come: those
  waiting for a registry that was down (a registry that is down makes a case wait; it completes once the registry is
  back), and those waiting for a document, so the field task is raised once ``task_after_s`` has passed.
- :class:`RegistryFollower` (the dynamic layer): every ``registry_poll_s``, pages through each source's
  ``changes(cursor)`` from the cursor saved in ``registry_cursors``, re-evaluates the cases a change touches (by
  NIK through ``case_people``, by KK number through ``cases``) and then saves the cursor: at least once, since a
  re-evaluation is idempotent. A source that is down is tried again next round.

Neither loop ever ends the process because of one case: the failure is logged without personal data (case ids
are document ids, never a NIK or a name), recorded on the case, and the case's next re-check pushed back. A case
the follower could not re-evaluate is handed to the sweeper (``next_check_at`` now), so the registry change is not
lost when the cursor moves past it. Both stop between two cases once the stop event is set.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import datetime

from registries.errors import RegistryError, SourceUnavailable
from registries.models import Change as RegistryChange
from registries.protocols import ChangeSource
from registries.sources import Sources
from sync.cases.config import PipelineSettings
from sync.cases.processor import CaseProcessor
from sync.cases.store import CaseStore, CursorStore, PeopleStore
from sync.deadletters import describe
from sync.uow import UnitOfWork

log = logging.getLogger(__name__)


async def pause(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep ``seconds`` or until ``stop`` is set; True when stopping."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True


class Sweeper:
    def __init__(
        self,
        *,
        processor: CaseProcessor,
        uow: UnitOfWork,
        settings: PipelineSettings,
        clock: Callable[[], datetime],
    ) -> None:
        self._processor = processor
        self._uow = uow
        self._settings = settings
        self._clock = clock

    async def sweep_once(self, stop: asyncio.Event | None = None) -> int:
        """Re-evaluate the cases due now (at most ``sweep_batch``); returns how many were attempted."""
        async with self._uow.begin() as session:
            due = await CaseStore(session).due(self._clock(), self._settings.sweep_batch)
        attempted = 0
        for record in due:
            if stop is not None and stop.is_set():
                break
            attempted += 1
            try:
                await self._processor.process(record.db_name, record.application_id)
            except Exception as exc:
                log.warning("re-check of case %s failed: %s", record.application_id, type(exc).__name__)
                await self._processor.record_failure(record.application_id, describe(exc))
        return attempted

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.sweep_once(stop)
            except Exception as exc:  # the relational store is down, say: try again next round
                log.error("sweep failed: %s", describe(exc))
            if await pause(stop, self._settings.sweep_interval_s):
                return


class RegistryFollower:
    def __init__(
        self,
        *,
        processor: CaseProcessor,
        uow: UnitOfWork,
        sources: Sources,
        settings: PipelineSettings,
    ) -> None:
        self._processor = processor
        self._uow = uow
        self._settings = settings
        #: Keyed by the bundle's attribute names: stable whether the sources are local or over HTTP.
        self._sources: dict[str, ChangeSource] = {
            "population": sources.population,
            "dtsen": sources.dtsen,
            "ministries": sources.ministries,
        }

    async def poll_once(self, stop: asyncio.Event | None = None) -> int:
        """Read every source's new changes and re-evaluate what they touch; returns the changes read."""
        read = 0
        for name, source in self._sources.items():
            if stop is not None and stop.is_set():
                break
            try:
                read += await self._follow(name, source, stop)
            except SourceUnavailable as exc:
                log.info("changes of %s unavailable (%s); next round", name, exc.code)
            except RegistryError as exc:  # a cursor the source refuses: an operator must look
                log.error("changes of %s refused: %s", name, exc.code)
        return read

    async def _follow(self, name: str, source: ChangeSource, stop: asyncio.Event | None) -> int:
        async with self._uow.begin() as session:
            cursor = await CursorStore(session).get(name)
        read = 0
        while stop is None or not stop.is_set():
            page = await source.changes(cursor, self._settings.registry_page_size)
            read += len(page.changes)
            for db, application_id in await self._cases_of(page.changes):
                try:
                    await self._processor.process(db, application_id)
                except Exception as exc:
                    log.warning(
                        "re-evaluation of case %s after a %s change failed: %s; left to the sweeper",
                        application_id,
                        name,
                        type(exc).__name__,
                    )
                    await self._processor.schedule(application_id)
            async with self._uow.begin() as session:
                await CursorStore(session).save(name, page.cursor)
            cursor = page.cursor
            if not page.more:
                break
        return read

    async def _cases_of(self, changes: Iterable[RegistryChange]) -> list[tuple[str, str]]:
        niks = {change.nik for change in changes if change.nik}
        kks = {change.kk_number for change in changes if change.kk_number}
        cases: set[tuple[str, str]] = set()
        async with self._uow.begin() as session:
            cases |= {(db, app) for app, db in await PeopleStore(session).applications_of(niks)}
            store = CaseStore(session)
            for kk in sorted(kks):
                cases |= {(record.db_name, record.application_id) for record in await store.with_kk(kk)}
        return sorted(cases)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.poll_once(stop)
            except Exception as exc:
                log.error("registry changes round failed: %s", describe(exc))
            if await pause(stop, self._settings.registry_poll_s):
                return
