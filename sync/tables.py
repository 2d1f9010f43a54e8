"""The relational tables of ``sync/``, imported by ``simpul.schema`` so that SQLModel's metadata knows them."""

from __future__ import annotations

from sync.checkpoints import FeedCheckpoint
from sync.deadletters import DeadLetter, FeedFailure

__all__ = ["DeadLetter", "FeedCheckpoint", "FeedFailure"]
