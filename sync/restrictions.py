"""Restriction of processing (UU 27/2022: the person's right to have processing restricted, within 3×24 hours).

An admin restricts a person by NIK on their request (``/api/v1/admin/people/{nik}/restriction``). While a
restriction stands, the pipeline treats the person as if they had withdrawn every consent: no registry is asked
about them, and a case whose applicant is restricted stops, its result saying so. Restricting marks the person's
cases due, so the worker's sweeper re-evaluates them within one sweep instead of waiting for a new document.
Lifting the restriction marks them due again. Restrictions are kept (with who and when lifted) as a record.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel, col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from sync.cases.tables import CasePerson, CaseRecord, UtcDateTime
from sync.checkpoints import utcnow


class ProcessingRestriction(SQLModel, table=True):
    __tablename__ = "processing_restrictions"

    id: int | None = Field(default=None, primary_key=True)
    nik: str = Field(index=True, max_length=16)
    reason: str = Field(sa_type=Text)
    requested_by: str = Field(max_length=64, description="The admin who recorded the request.")
    since: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    lifted_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    lifted_by: str | None = Field(default=None, max_length=64)


class Restrictions:
    """Through a unit of work's (or a request's) session; it never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def active(self, nik: str) -> ProcessingRestriction | None:
        query = select(ProcessingRestriction).where(
            ProcessingRestriction.nik == nik, col(ProcessingRestriction.lifted_at).is_(None)
        )
        return (await self._session.exec(query)).first()

    async def restricted(self, niks: Iterable[str]) -> frozenset[str]:
        """Which of ``niks`` are restricted now."""
        wanted = sorted(set(niks))
        if not wanted:
            return frozenset()
        query = select(ProcessingRestriction.nik).where(
            col(ProcessingRestriction.nik).in_(wanted), col(ProcessingRestriction.lifted_at).is_(None)
        )
        return frozenset((await self._session.exec(query)).all())

    async def restrict(self, nik: str, reason: str, requested_by: str) -> tuple[ProcessingRestriction, list[str]]:
        """Restrict (idempotent: an active restriction is returned as it is); returns it and the cases marked due."""
        restriction = await self.active(nik)
        if restriction is None:
            restriction = ProcessingRestriction(nik=nik, reason=reason, requested_by=requested_by)
            self._session.add(restriction)
            await self._session.flush()
        return restriction, await self._mark_cases_due(nik)

    async def lift(self, nik: str, lifted_by: str) -> tuple[ProcessingRestriction | None, list[str]]:
        restriction = await self.active(nik)
        if restriction is None:
            return None, []
        restriction.lifted_at = utcnow()
        restriction.lifted_by = lifted_by
        self._session.add(restriction)
        return restriction, await self._mark_cases_due(nik)

    async def cases_of(self, nik: str) -> list[str]:
        query = (
            select(CasePerson.application_id)
            .where(CasePerson.nik == nik, col(CasePerson.application_id).is_not(None))
            .distinct()
        )
        applicant = select(CaseRecord.application_id).where(CaseRecord.applicant_nik == nik)
        ids = {app_id for app_id in (await self._session.exec(query)).all() if app_id}
        ids.update((await self._session.exec(applicant)).all())
        return sorted(ids)

    async def _mark_cases_due(self, nik: str) -> list[str]:
        case_ids = await self.cases_of(nik)
        if case_ids:
            await self._session.exec(
                update(CaseRecord).where(col(CaseRecord.application_id).in_(case_ids)).values(next_check_at=utcnow())
            )
        return case_ids
