"""Wiring the verification pipeline: the handler for the changes-feed worker, and the background loops.

The worker process builds one :class:`Pipeline`, gives ``pipeline.handlers`` to its :class:`~sync.worker.Worker`
and runs ``pipeline.run_background(stop)`` beside it; the handler and both loops share one
:class:`~sync.cases.processor.CaseProcessor`, hence one lock per case.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from registries.sources import Sources
from replication.couch import CouchClient
from sync.cases.background import RegistryFollower, Sweeper
from sync.cases.config import PipelineSettings
from sync.cases.handler import VerificationHandler
from sync.cases.processor import CaseProcessor
from sync.cases.writer import Assignees
from sync.checkpoints import utcnow
from sync.handlers import Handler
from sync.uow import UnitOfWork
from sync.verification.ruleset import RuleSet

log = logging.getLogger(__name__)


@dataclass
class Pipeline:
    processor: CaseProcessor
    handler: VerificationHandler
    sweeper: Sweeper
    follower: RegistryFollower
    settings: PipelineSettings
    handlers: list[Handler] = field(init=False)

    def __post_init__(self) -> None:
        self.handlers = [self.handler]

    async def run_background(self, stop: asyncio.Event) -> None:
        """Run the sweeper and the dynamic layer until ``stop`` is set; then give them ``stop_grace_s`` to finish
        the case in hand and cancel them (safe: every step is idempotent)."""
        loops = [
            asyncio.create_task(self.sweeper.run(stop), name="pipeline:sweeper"),
            asyncio.create_task(self.follower.run(stop), name="pipeline:registries"),
        ]
        for task in loops:
            task.add_done_callback(_report_end)
        try:
            await stop.wait()
        finally:
            _, late = await asyncio.wait(loops, timeout=self.settings.stop_grace_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)


def _report_end(task: asyncio.Task[None]) -> None:
    """A loop only ends on stop; one that ended any other way is a bug worth a loud line."""
    if not task.cancelled() and task.exception() is not None:
        log.error("%s ended: %r", task.get_name(), task.exception())


def build_pipeline(
    *,
    couch: CouchClient,
    uow: UnitOfWork,
    sources: Sources,
    rules: RuleSet,
    settings: PipelineSettings,
    assignees: Assignees,
    clock: Callable[[], datetime] = utcnow,
) -> Pipeline:
    processor = CaseProcessor(
        couch=couch,
        uow=uow,
        sources=sources,
        rules=rules,
        settings=settings,
        assignees=assignees,
        clock=clock,
    )
    return Pipeline(
        processor=processor,
        handler=VerificationHandler(couch=couch, uow=uow, processor=processor, clock=clock),
        sweeper=Sweeper(processor=processor, uow=uow, settings=settings, clock=clock),
        follower=RegistryFollower(processor=processor, uow=uow, sources=sources, settings=settings),
        settings=settings,
    )
