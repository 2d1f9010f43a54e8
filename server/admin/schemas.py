from __future__ import annotations

from datetime import datetime
from typing import Any

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


class AuditEntryPublic(BaseModel):
    id: int
    at: datetime
    actor: str
    actor_role: str
    action: str
    resource: str
    case_id: str | None
    #: The person's keyed reference (HMAC-SHA256 of the NIK), never the NIK; filter with ``?nik=``.
    person_ref: str | None
    detail: dict[str, Any]


class AuditPublic(BaseModel):
    entries: list[AuditEntryPublic]
    #: Pass as ``after_id`` for the next page; None when this page was the last.
    next_after_id: int | None
