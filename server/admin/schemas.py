from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class DeadLetterPublic(BaseModel):
    id: int
    db_name: str
    doc_id: str
    rev: str
    handler: str
    attempts: int
    error: str
    parked_at: datetime
    requeued_at: datetime | None
    requeue_requested_at: datetime | None
    requeue_requested_by: str | None


class DeadLettersPublic(BaseModel):
    dead_letters: list[DeadLetterPublic]
