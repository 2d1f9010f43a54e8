"""Reading and writing the projection (:mod:`sync.cases.tables`) through a unit of work's session.

The stores never commit: :class:`sync.uow.UnitOfWork` does, so one block of work lands whole or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from sync.cases.tables import (
    CaseDecision,
    CasePerson,
    CaseRecord,
    ConsentLedgerEntry,
    DocLink,
    RegistryCursor,
)
from sync.checkpoints import utcnow

#: Statuses of a case that is closed for good: the background loops leave it alone.
CLOSED_STATUSES = frozenset({"superseded", "removed"})


class CaseStore:
    """The ``cases`` rows and their ``case_decisions`` history."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, application_id: str) -> CaseRecord | None:
        return await self._session.get(CaseRecord, application_id)

    def save(self, record: CaseRecord) -> None:
        self._session.add(record)

    async def due(self, now: datetime, limit: int) -> list[CaseRecord]:
        """Open cases whose re-check time has come, the longest overdue first."""
        query = (
            select(CaseRecord)
            .where(col(CaseRecord.next_check_at).is_not(None), col(CaseRecord.next_check_at) <= now)
            .where(col(CaseRecord.status).not_in(CLOSED_STATUSES))
            .order_by(col(CaseRecord.next_check_at), col(CaseRecord.application_id))
            .limit(limit)
        )
        return list((await self._session.exec(query)).all())

    async def check_now(self, application_ids: Iterable[str], now: datetime) -> list[CaseRecord]:
        """Make the open cases among ``application_ids`` due for the sweeper now; returns them."""
        records = [r for r in await self.many(application_ids) if r.status not in CLOSED_STATUSES]
        for record in records:
            if record.next_check_at is None or record.next_check_at > now:
                record.next_check_at = now
                self.save(record)
        return records

    async def with_kk(self, kk_number: str) -> list[CaseRecord]:
        query = (
            select(CaseRecord)
            .where(CaseRecord.kk_number == kk_number, col(CaseRecord.status).not_in(CLOSED_STATUSES))
            .order_by(col(CaseRecord.application_id))
        )
        return list((await self._session.exec(query)).all())

    async def many(self, application_ids: Iterable[str]) -> list[CaseRecord]:
        ids = sorted(set(application_ids))
        if not ids:
            return []
        query = (
            select(CaseRecord).where(col(CaseRecord.application_id).in_(ids)).order_by(col(CaseRecord.application_id))
        )
        return list((await self._session.exec(query)).all())

    async def append_decision(
        self,
        application_id: str,
        *,
        status: str,
        rule_set_version: str | None,
        fingerprint: str,
        result: dict[str, Any],
        decided_at: datetime,
    ) -> CaseDecision:
        row = CaseDecision(
            application_id=application_id,
            status=status,
            rule_set_version=rule_set_version,
            fingerprint=fingerprint,
            result=result,
            decided_at=decided_at,
        )
        self._session.add(row)
        await self._session.flush()
        return row

    async def decisions(self, application_id: str | None = None, *, after: int = 0) -> list[CaseDecision]:
        """Decision rows after the cursor ``after``, oldest first (optionally of one case)."""
        query = select(CaseDecision).where(col(CaseDecision.id) > after).order_by(col(CaseDecision.id))
        if application_id is not None:
            query = query.where(CaseDecision.application_id == application_id)
        return list((await self._session.exec(query)).all())


class PeopleStore:
    """``case_people``: which NIK is in which household and application."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def replace_for_application(
        self, application_id: str, household_id: str, desa: str, db_name: str, niks: Iterable[str]
    ) -> None:
        await self._session.exec(delete(CasePerson).where(col(CasePerson.application_id) == application_id))
        for nik in sorted(set(niks)):
            self._session.add(
                CasePerson(
                    nik=nik, application_id=application_id, household_id=household_id, desa=desa, db_name=db_name
                )
            )

    async def drop_application(self, application_id: str) -> None:
        """A superseded or removed application no longer claims anyone."""
        await self._session.exec(delete(CasePerson).where(col(CasePerson.application_id) == application_id))

    async def replace_for_household(self, household_id: str, desa: str, db_name: str, niks: Iterable[str]) -> None:
        """The members of a household as captured, before (or without) any application naming it."""
        await self.drop_household(household_id)
        for nik in sorted(set(niks)):
            self._session.add(
                CasePerson(nik=nik, application_id=None, household_id=household_id, desa=desa, db_name=db_name)
            )

    async def drop_household(self, household_id: str) -> None:
        await self._session.exec(
            delete(CasePerson).where(
                col(CasePerson.household_id) == household_id, col(CasePerson.application_id).is_(None)
            )
        )

    async def of_application(self, application_id: str) -> set[str]:
        """The NIKs an application claims, as last recorded."""
        query = select(CasePerson.nik).where(col(CasePerson.application_id) == application_id)
        return set((await self._session.exec(query)).all())

    async def of_households(self, household_ids: Iterable[str]) -> set[str]:
        """The NIKs recorded for any of ``household_ids``, by the households themselves or their applications."""
        ids = sorted(set(household_ids))
        if not ids:
            return set()
        query = select(CasePerson.nik).where(col(CasePerson.household_id).in_(ids))
        return set((await self._session.exec(query)).all())

    async def applications_of(self, niks: Iterable[str]) -> list[tuple[str, str]]:
        """(application id, database) of every application claiming one of ``niks``."""
        wanted = sorted(set(niks))
        if not wanted:
            return []
        query = (
            select(CasePerson.application_id, CasePerson.db_name)
            .where(col(CasePerson.nik).in_(wanted), col(CasePerson.application_id).is_not(None))
            .distinct()
        )
        rows = (await self._session.exec(query)).all()
        return sorted((str(app), db) for app, db in rows if app is not None)

    async def elsewhere(
        self, niks: Iterable[str], own_applications: Iterable[str], own_households: Iterable[str]
    ) -> list[CasePerson]:
        """Rows placing one of ``niks`` in another household, or in another application of the same one.

        ``own_applications`` / ``own_households`` are the case's own, every version of them (a version a correction
        replaced is not another claim). A household's own row (no application) is dropped when an application of
        that household names the same person: one claim per person and place.
        """
        wanted = sorted(set(niks))
        if not wanted:
            return []
        own = sorted(set(own_households))
        mine = sorted(set(own_applications))
        query = (
            select(CasePerson)
            .where(col(CasePerson.nik).in_(wanted))
            .where(
                or_(
                    col(CasePerson.household_id).not_in(own),
                    (col(CasePerson.application_id).is_not(None)) & (col(CasePerson.application_id).not_in(mine)),
                )
            )
            .order_by(col(CasePerson.nik), col(CasePerson.household_id), col(CasePerson.application_id))
        )
        rows = list((await self._session.exec(query)).all())
        with_application = {(r.nik, r.household_id) for r in rows if r.application_id is not None}
        return [r for r in rows if r.application_id is not None or (r.nik, r.household_id) not in with_application]


class LedgerStore:
    """``consent_ledger``: the consents and withdrawals seen."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, db_name: str, doc_id: str) -> ConsentLedgerEntry | None:
        return await self._session.get(ConsentLedgerEntry, (doc_id, db_name))

    async def record(self, entry: ConsentLedgerEntry) -> None:
        """Insert, or update the row of the same document (a later revision, or a document deleted and written
        again): its first ``recorded_at`` is kept."""
        existing = await self.get(entry.db_name, entry.doc_id)
        if existing is None:
            self._session.add(entry)
            return
        for name in ConsentLedgerEntry.model_fields:
            if name not in ("doc_id", "db_name", "recorded_at"):
                setattr(existing, name, getattr(entry, name))
        existing.deleted_at = None
        self._session.add(existing)

    async def mark_deleted(self, db_name: str, doc_id: str, when: datetime) -> None:
        existing = await self.get(db_name, doc_id)
        if existing is not None and existing.deleted_at is None:
            existing.deleted_at = when
            self._session.add(existing)

    async def of_documents(self, db_name: str, doc_ids: Iterable[str]) -> list[ConsentLedgerEntry]:
        wanted = sorted(set(doc_ids))
        if not wanted:
            return []
        query = (
            select(ConsentLedgerEntry)
            .where(ConsentLedgerEntry.db_name == db_name, col(ConsentLedgerEntry.doc_id).in_(wanted))
            .order_by(col(ConsentLedgerEntry.captured_at), col(ConsentLedgerEntry.doc_id))
        )
        return list((await self._session.exec(query)).all())

    async def of_subjects(
        self, niks: Iterable[str], *, kind: str, db_name: str | None = None
    ) -> list[ConsentLedgerEntry]:
        wanted = sorted(set(niks))
        if not wanted:
            return []
        query = (
            select(ConsentLedgerEntry)
            .where(col(ConsentLedgerEntry.subject_nik).in_(wanted), ConsentLedgerEntry.kind == kind)
            .order_by(col(ConsentLedgerEntry.captured_at), col(ConsentLedgerEntry.doc_id))
        )
        if db_name is not None:
            query = query.where(ConsentLedgerEntry.db_name == db_name)
        return list((await self._session.exec(query)).all())


class LinkStore:
    """``doc_links``: which document refers to which, inside one database."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def replace(self, db_name: str, doc_id: str, links: Iterable[tuple[str, str]], captured_at: datetime) -> None:
        """The links of ``doc_id`` are exactly ``links`` (relation, target) from now on."""
        await self._session.exec(delete(DocLink).where(col(DocLink.db_name) == db_name, col(DocLink.doc_id) == doc_id))
        for relation, target in sorted(set(links)):
            self._session.add(
                DocLink(db_name=db_name, doc_id=doc_id, relation=relation, target_id=target, captured_at=captured_at)
            )

    async def outgoing(self, db_name: str, doc_id: str) -> list[DocLink]:
        query = (
            select(DocLink)
            .where(DocLink.db_name == db_name, DocLink.doc_id == doc_id)
            .order_by(col(DocLink.relation), col(DocLink.target_id))
        )
        return list((await self._session.exec(query)).all())

    async def incoming(
        self, db_name: str, targets: Iterable[str], relation: str | None = None, *, prefix: str | None = None
    ) -> list[DocLink]:
        """Links pointing at any of ``targets``; ``prefix`` keeps only documents of that type (``evidence:``)."""
        wanted = sorted(set(targets))
        if not wanted:
            return []
        query = select(DocLink).where(DocLink.db_name == db_name, col(DocLink.target_id).in_(wanted))
        if relation is not None:
            query = query.where(DocLink.relation == relation)
        if prefix is not None:
            query = query.where(col(DocLink.doc_id).startswith(prefix, autoescape=True))
        query = query.order_by(col(DocLink.captured_at), col(DocLink.doc_id))
        return list((await self._session.exec(query)).all())

    async def versions(self, db_name: str, doc_ids: Iterable[str]) -> set[str]:
        """``doc_ids`` with every document they correct or that corrects them, transitively."""
        family = set(doc_ids)
        frontier = set(family)
        while frontier:
            query = select(DocLink.doc_id, DocLink.target_id).where(
                DocLink.db_name == db_name,
                DocLink.relation == "supersedes",
                or_(col(DocLink.doc_id).in_(sorted(frontier)), col(DocLink.target_id).in_(sorted(frontier))),
            )
            rows = (await self._session.exec(query)).all()
            found = {doc for row in rows for doc in row} - family
            family |= found
            frontier = found
        return family

    async def superseded_by(self, db_name: str, doc_id: str) -> list[DocLink]:
        """Corrections of ``doc_id``, the latest captured first."""
        links = await self.incoming(db_name, [doc_id], "supersedes")
        return sorted(links, key=lambda link: (link.captured_at, link.doc_id), reverse=True)


class CursorStore:
    """``registry_cursors``: the dynamic layer's checkpoint per source."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, source: str) -> str | None:
        row = await self._session.get(RegistryCursor, source)
        return row.cursor if row else None

    async def save(self, source: str, cursor: str) -> None:
        row = await self._session.get(RegistryCursor, source)
        if row is None:
            row = RegistryCursor(source=source, cursor=cursor)
        else:
            row.cursor = cursor
            row.updated_at = utcnow()
        self._session.add(row)
