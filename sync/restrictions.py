"""Restriction of processing (UU 27/2022: the person's right to have processing restricted, within 3×24 hours).

An admin restricts a person by NIK on their request (``/api/v1/admin/people/{nik}/restriction``). While a
restriction stands, the pipeline treats the person as if they had withdrawn every consent: no registry is asked
about them, and a case whose applicant is restricted stops, its result saying so. Restricting marks the person's
cases due, so the worker's sweeper re-evaluates them within one sweep instead of waiting for a new document.
Lifting the restriction marks them due again. Restrictions are kept (with who and when lifted) as a record.

**What a restriction covers.** The person's cases are every case that claims the NIK (as applicant or household
member, ``case_people``) and every case resting on a household document that lists the NIK, whichever version of
the household the application names (``doc_links``, both ways along ``supersedes``). A household no application
names yet is covered too: no case rests on it, so there is nothing to re-evaluate now, and the moment an
application names it the pipeline finds the person among the case's people and stops the case.
:meth:`Restrictions.households_of` lists those household documents, so the answer to the admin (and the audit row)
says which ones the restriction reached.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel, col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from sync.cases.store import LinkStore
from sync.cases.tables import CasePerson, CaseRecord, DocLink, UtcDateTime
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

    async def households_of(self, nik: str) -> list[tuple[str, str]]:
        """(database, household id) of every household document known to list ``nik`` or to be the household of
        an application claiming it, named by an application or not, with every version of each (``supersedes``).
        """
        query = select(CasePerson.db_name, CasePerson.household_id).where(CasePerson.nik == nik).distinct()
        by_db: dict[str, set[str]] = {}
        for db, household_id in (await self._session.exec(query)).all():
            by_db.setdefault(db, set()).add(household_id)
        links = LinkStore(self._session)
        found = set()
        for db, ids in sorted(by_db.items()):
            found |= {(db, household_id) for household_id in await links.versions(db, ids)}
        return sorted(found)

    async def cases_of(self, nik: str, households: Iterable[tuple[str, str]] | None = None) -> list[str]:
        """Every case claiming ``nik`` or resting on one of its households (``households``: as
        :meth:`households_of` gives them, looked up when not given)."""
        query = (
            select(CasePerson.application_id)
            .where(CasePerson.nik == nik, col(CasePerson.application_id).is_not(None))
            .distinct()
        )
        applicant = select(CaseRecord.application_id).where(CaseRecord.applicant_nik == nik)
        ids = {app_id for app_id in (await self._session.exec(query)).all() if app_id}
        ids.update((await self._session.exec(applicant)).all())
        by_db: dict[str, set[str]] = {}
        for db, household_id in await self.households_of(nik) if households is None else households:
            by_db.setdefault(db, set()).add(household_id)
        for db, household_ids in sorted(by_db.items()):
            wanted = sorted(household_ids)
            recorded = select(CaseRecord.application_id).where(
                CaseRecord.db_name == db, col(CaseRecord.household_id).in_(wanted)
            )
            naming = select(DocLink.doc_id).where(
                DocLink.db_name == db,
                DocLink.relation == "household",
                col(DocLink.target_id).in_(wanted),
                col(DocLink.doc_id).startswith("application:"),
            )
            candidates = set((await self._session.exec(recorded)).all()) | set((await self._session.exec(naming)).all())
            if candidates:
                # Only applications that are cases (a link may come from an application not processed yet).
                known = select(CaseRecord.application_id).where(
                    CaseRecord.db_name == db, col(CaseRecord.application_id).in_(sorted(candidates))
                )
                ids.update((await self._session.exec(known)).all())
        return sorted(ids)

    async def _mark_cases_due(self, nik: str) -> list[str]:
        case_ids = await self.cases_of(nik)
        if case_ids:
            await self._session.exec(
                update(CaseRecord).where(col(CaseRecord.application_id).in_(case_ids)).values(next_check_at=utcnow())
            )
        return case_ids
