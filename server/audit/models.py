"""The audit trail (UU 27/2022: every processing activity is recorded): who read or acted on personal data, what,
when, and on which case or person. Rows hold identifiers (case ids, usernames, database names), never the personal
data itself: a person is named by ``person_ref``, a keyed hash of their NIK (:mod:`server.audit.refs`), so the
trail can answer "who read this person's data" without holding a NIK.

Reads through the sync gateway by any role but pendamping (an admin replicating desa databases) are rows too:
resource ``sync_database``, the database and the kind of request in ``detail`` (see
:mod:`server.gateway.access`)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel

from sync.cases.tables import UtcDateTime
from sync.checkpoints import utcnow


class AuditAction(StrEnum):
    read = "read"  # personal data shown or sent: a case, a photo, the decision feed, an export
    review = "review"  # evidence approved or rejected
    decide = "decide"  # a needs_review case decided by a supervisor
    export = "export"  # a person's data exported on request (access right)
    restrict = "restrict"  # processing of a person restricted, or the restriction lifted


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_actor_at", "actor", "at"),
        Index("ix_audit_case_at", "case_id", "at"),
        Index("ix_audit_person_at", "person_ref", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, index=True)
    actor: str = Field(max_length=64, description="Username.")
    actor_role: str = Field(max_length=16)
    action: AuditAction = Field(max_length=16)
    resource: str = Field(max_length=64, description="What was touched: case, evidence_photo, decision_feed, …")
    case_id: str | None = Field(default=None, max_length=256, description="The application id of the case, if any.")
    person_ref: str | None = Field(
        default=None, max_length=64, description="HMAC-SHA256 of the person's NIK (server/audit/refs.py), if any."
    )
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON, description="Ids, counts, cursors; no PII.")
