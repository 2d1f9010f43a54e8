"""The relational projection of the verification pipeline: cases, their decisions, who is in them, the consent
ledger, which document points at which, and where each registry's changes were read up to.

CouchDB holds the documents; these tables are an index and a history over them, rebuilt from the documents by the
pipeline (every row can be derived again by re-delivering the desa databases' changes), except two that are
records in their own right: ``case_decisions`` (what was decided when, append-only) and ``consent_ledger`` (the
proof of consent UU 27/2022 asks for, kept when a document is later deleted).

Times are stored in UTC and always come back time-zone aware (SQLite keeps no zone: see :class:`UtcDateTime`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, Index, Text, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from sync.checkpoints import utcnow


class UtcDateTime(TypeDecorator[datetime]):
    """A moment in time: refuses naive datetimes on the way in, gives aware UTC ones on the way out."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("a naive datetime cannot be stored: give it a time zone")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class CaseRecord(SQLModel, table=True):
    """Where one application stands. ``status`` is the latest verdict's status (or ``superseded`` / ``removed``);
    ``decision`` the latest of the four decisions reached, kept while a later re-evaluation waits for a source."""

    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_due", "next_check_at"),)

    application_id: str = Field(primary_key=True, max_length=256)
    desa: str = Field(index=True, max_length=16, description="Dotted Kemendagri code.")
    db_name: str = Field(max_length=128)
    household_id: str | None = Field(default=None, index=True, max_length=256)
    consent_id: str | None = Field(default=None, max_length=256)
    kk_number: str | None = Field(default=None, index=True, max_length=16)
    applicant_nik: str = Field(index=True, max_length=16)
    status: str = Field(index=True, max_length=32)
    decision: str | None = Field(default=None, max_length=32)
    rule_set_version: str | None = Field(default=None, max_length=64)
    result_fingerprint: str | None = Field(default=None, max_length=128)
    first_seen_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    waiting_since: datetime | None = Field(default=None, sa_type=UtcDateTime)
    next_check_at: datetime | None = Field(
        default=None, sa_type=UtcDateTime, description="When the sweeper re-evaluates the case; None: no re-check."
    )
    source_waits: int = Field(default=0, description="Evaluations in a row that found a registry down (back-off).")
    check_failures: int = Field(default=0, description="Background re-evaluations in a row that failed.")
    last_error: str | None = Field(default=None, sa_type=Text)
    unreadable: list[str] = Field(
        default_factory=list,
        sa_type=JSON,
        description="Documents of the case that did not parse at the last evaluation (treated as absent).",
    )
    task_raised_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    superseded_by: str | None = Field(default=None, max_length=256)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class CaseDecision(SQLModel, table=True):
    """Append-only: one row each time a case's verdict changed. ``id`` orders them (a decision feed's cursor)."""

    __tablename__ = "case_decisions"

    id: int | None = Field(default=None, primary_key=True)
    application_id: str = Field(index=True, max_length=256)
    status: str = Field(max_length=32)
    rule_set_version: str | None = Field(default=None, max_length=64)
    fingerprint: str = Field(max_length=128)
    result: dict[str, Any] = Field(sa_type=JSON, description="The result document's body as written.")
    #: When the projection recorded the row (the worker's clock at the append; the result's own ``decided_at`` is
    #: in ``result``). The decision feed settles rows by it.
    decided_at: datetime = Field(sa_type=UtcDateTime)


class CasePerson(SQLModel, table=True):
    """A NIK of a household or an application: finds the same person elsewhere in the kabupaten, and the cases a
    withdrawal or a registry change touches. ``application_id`` is None for a household no application names yet.
    """

    __tablename__ = "case_people"
    __table_args__ = (UniqueConstraint("nik", "application_id", "household_id"),)

    id: int | None = Field(default=None, primary_key=True)
    nik: str = Field(index=True, max_length=16)
    application_id: str | None = Field(default=None, index=True, max_length=256)
    household_id: str = Field(index=True, max_length=256)
    desa: str = Field(max_length=16)
    db_name: str = Field(max_length=128)


class ConsentLedgerEntry(SQLModel, table=True):
    """One consent or withdrawal document as first seen (and later revisions of it): who, which sources, how,
    after which notice, when and through whom. Kept when the document is deleted (``deleted_at``): it is proof."""

    __tablename__ = "consent_ledger"

    doc_id: str = Field(primary_key=True, max_length=256)
    db_name: str = Field(primary_key=True, max_length=128)
    kind: str = Field(max_length=32, description="consent | consent_withdrawal")
    rev: str = Field(max_length=200)
    subject_nik: str = Field(index=True, max_length=16)
    guardian_nik: str | None = Field(default=None, max_length=16)
    desa: str = Field(max_length=16)
    household_id: str | None = Field(default=None, max_length=256)
    consent_id: str | None = Field(default=None, max_length=256, description="The consent a withdrawal takes back.")
    supersedes: str | None = Field(default=None, max_length=256)
    granted: list[str] = Field(default_factory=list, sa_type=JSON, description="Sources agreed to (consent).")
    refused: list[str] = Field(default_factory=list, sa_type=JSON, description="Sources refused (consent).")
    withdrawn: list[str] = Field(
        default_factory=list, sa_type=JSON, description="Sources withdrawn; every source when the scope is all."
    )
    scope: str | None = Field(default=None, max_length=16, description="Withdrawal scope: all | sources.")
    method: str = Field(max_length=32, description="signature | thumbprint | witnessed_verbal")
    notice_version: str | None = Field(default=None, max_length=200)
    captured_at: datetime = Field(sa_type=UtcDateTime)
    agent_id: str = Field(max_length=64)
    channel: str = Field(max_length=32)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class DocLink(SQLModel, table=True):
    """``doc_id`` (in ``db_name``) refers to ``target_id`` through ``relation`` (the field's name without
    ``_id``: household, consent, task, field_visit, application, evidence, supersedes). Read backwards it
    tells a late document which cases it touches. ``captured_at`` orders corrections of one document."""

    __tablename__ = "doc_links"

    db_name: str = Field(primary_key=True, max_length=128)
    doc_id: str = Field(primary_key=True, max_length=256)
    relation: str = Field(primary_key=True, max_length=32)
    target_id: str = Field(primary_key=True, index=True, max_length=256)
    captured_at: datetime = Field(sa_type=UtcDateTime)


class RegistryCursor(SQLModel, table=True):
    """How far the dynamic layer has read one source's changes."""

    __tablename__ = "registry_cursors"

    source: str = Field(primary_key=True, max_length=64)
    cursor: str = Field(sa_type=Text)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


CASE_TABLES = (CaseRecord, CaseDecision, CasePerson, ConsentLedgerEntry, DocLink, RegistryCursor)
