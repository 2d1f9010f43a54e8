"""API shapes of the supervisors' review: the queue, a case in full, and the two actions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from server.review.documents import MAX_REASON, MIN_REASON, CaseVerdict, EvidenceDecision


class QueueStatus(StrEnum):
    """The case statuses a queue can be filtered by (``needs_review`` by default: what awaits a supervisor)."""

    needs_review = "needs_review"
    needs_field_verification = "needs_field_verification"
    waiting = "waiting"
    eligible = "eligible"
    not_eligible = "not_eligible"
    stopped = "stopped"


class ReviewKind(StrEnum):
    """Why a case waits for a supervisor, read from its decision trace."""

    evidence = "evidence"  # a field visit's evidence to approve
    objection = "objection"  # the family objected to an automated decision
    review = "review"  # another rule asks a person to decide (a duplicate, a contradiction)


class QueueItemPublic(BaseModel):
    application_id: str
    desa: str
    desa_name: str
    kecamatan_name: str
    status: str
    kinds: list[ReviewKind]
    since: datetime = Field(description="When the case reached its current status.")
    age_days: int
    explanation: str | None
    links: dict[str, str]


class QueuePublic(BaseModel):
    items: list[QueueItemPublic]
    total: int
    limit: int
    offset: int


class PhotoPublic(BaseModel):
    attachment: str
    kind: str
    kind_label: str
    document_type: str | None
    document_type_label: str | None
    caption: str | None
    content_type: str | None
    bytes: int | None
    thumbnail_url: str
    original_url: str


class ReviewPublic(BaseModel):
    """A ``review:`` document as stored (see :mod:`server.review.documents`)."""

    id: str
    subject: str
    desa: str
    application_id: str
    evidence_id: str | None = None
    field_visit_id: str | None = None
    decision: str
    reason: str
    reviewer: str
    reviewed_at: str
    history: list[dict[str, Any]] = []


class EvidencePublic(BaseModel):
    id: str
    field_visit_id: str | None
    application_id: str | None
    captured_at: datetime
    agent_id: str
    photos: list[PhotoPublic]
    review: ReviewPublic | None


class DecisionHistoryPublic(BaseModel):
    status: str
    rule_set_version: str | None
    decided_at: datetime


class CasePublic(BaseModel):
    application_id: str
    desa: str
    desa_name: str
    kecamatan_name: str
    db_name: str
    status: str
    decision: str | None
    rule_set_version: str | None
    since: datetime
    age_days: int
    kinds: list[ReviewKind]
    can_decide: bool = Field(description="The case may be decided now (it needs review, or was decided before).")
    result: dict[str, Any] | None = Field(description="The latest decision as pushed to the device: the trace.")
    decisions: list[DecisionHistoryPublic]
    application: dict[str, Any] | None = Field(description="Without the bank account.")
    household: dict[str, Any] | None
    field_visits: list[dict[str, Any]]
    evidence: list[EvidencePublic]
    objections: list[dict[str, Any]]
    case_review: ReviewPublic | None
    notes: list[str] = Field(description="What could not be shown, in Bahasa Indonesia.")


class EvidenceReviewCreate(BaseModel):
    decision: EvidenceDecision
    reason: str = Field(min_length=MIN_REASON, max_length=MAX_REASON, description="In the reviewer's own words.")


class CaseDecisionCreate(BaseModel):
    decision: CaseVerdict
    reason: str = Field(min_length=MIN_REASON, max_length=MAX_REASON, description="In the reviewer's own words.")
