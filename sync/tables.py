"""The relational tables of ``sync/``, imported by ``simpul.schema`` so that SQLModel's metadata knows them."""

from __future__ import annotations

import sync.cases.tables  # noqa: F401  (registers the verification pipeline's projection tables)
from sync.checkpoints import FeedCheckpoint
from sync.deadletters import DeadLetter, FeedFailure
from sync.restrictions import ProcessingRestriction
from sync.status import WorkerReport

__all__ = ["DeadLetter", "FeedCheckpoint", "FeedFailure", "ProcessingRestriction", "WorkerReport"]
