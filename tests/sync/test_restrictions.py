"""What a restriction of processing reaches: every case claiming the NIK and every household document listing it,
named by an application or not, in any version."""

from __future__ import annotations

import datetime as dt

import pytest

from sync.cases.store import LinkStore, PeopleStore
from sync.cases.tables import CaseRecord
from sync.checkpoints import utcnow
from sync.restrictions import Restrictions
from sync.uow import UnitOfWork

pytestmark = pytest.mark.anyio

NIK = "3510164107850002"
OTHER = "3510161705800001"
LATENG_DB = "desa_3510161014"
KEMIREN_DB = "desa_3510152004"
CAPTURED = dt.datetime(2025, 9, 14, 2, 0, tzinfo=dt.UTC)


def case(application_id: str, db: str, household_id: str, applicant: str = OTHER) -> CaseRecord:
    return CaseRecord(
        application_id=application_id,
        desa="35.10.16.1014",
        db_name=db,
        household_id=household_id,
        applicant_nik=applicant,
        status="eligible",
    )


async def test_households_of_lists_every_household_listing_the_nik_and_their_versions(uow: UnitOfWork) -> None:
    async with uow.begin() as session:
        people, links = PeopleStore(session), LinkStore(session)
        await people.replace_for_household("household:alone", "35.10.15.2004", KEMIREN_DB, [NIK])
        await people.replace_for_household("household:h1b", "35.10.16.1014", LATENG_DB, [NIK, OTHER])
        await links.replace(LATENG_DB, "household:h1b", [("supersedes", "household:h1")], CAPTURED)
        await people.replace_for_household("household:theirs", "35.10.16.1014", LATENG_DB, [OTHER])
    async with uow.begin() as session:
        assert await Restrictions(session).households_of(NIK) == [
            (KEMIREN_DB, "household:alone"),
            (LATENG_DB, "household:h1"),
            (LATENG_DB, "household:h1b"),
        ]
        assert await Restrictions(session).households_of("3510160000000000") == []


async def test_a_restriction_reaches_cases_resting_on_a_household_listing_the_person(uow: UnitOfWork) -> None:
    """The case names the first version of the household; only the correction lists the person, and the case's own
    people (from before the correction) do not: the restriction still marks the case due."""
    async with uow.begin() as session:
        people, links = PeopleStore(session), LinkStore(session)
        session.add(case("application:a1", LATENG_DB, "household:h1"))
        await people.replace_for_application("application:a1", "household:h1", "35.10.16.1014", LATENG_DB, [OTHER])
        await links.replace(
            LATENG_DB, "application:a1", [("household", "household:h1"), ("consent", "consent:c1")], CAPTURED
        )
        await links.replace(LATENG_DB, "household:h1b", [("supersedes", "household:h1")], CAPTURED)
        await people.replace_for_household("household:h1b", "35.10.16.1014", LATENG_DB, [NIK, OTHER])
        # A household of the same id in another database is not this one.
        session.add(case("application:elsewhere", KEMIREN_DB, "household:h1"))
        # An application not yet a case, naming the household: nothing to re-evaluate yet.
        await links.replace(LATENG_DB, "application:later", [("household", "household:h1b")], CAPTURED)
        # The person as the applicant of a case of their own.
        session.add(case("application:own", KEMIREN_DB, "household:x", applicant=NIK))
    async with uow.begin() as session:
        before = utcnow()
        restriction, due = await Restrictions(session).restrict(NIK, "Permintaan warga", "admin")
        assert due == ["application:a1", "application:own"]
        assert restriction.nik == NIK
    async with uow.begin() as session:
        marked = await session.get(CaseRecord, "application:a1")
        untouched = await session.get(CaseRecord, "application:elsewhere")
        assert marked is not None and marked.next_check_at is not None and marked.next_check_at >= before
        assert untouched is not None and untouched.next_check_at is None
        _, lifted = await Restrictions(session).lift(NIK, "admin")
        assert lifted == ["application:a1", "application:own"]


async def test_a_person_only_in_a_household_no_application_names_has_no_case_but_is_covered(uow: UnitOfWork) -> None:
    async with uow.begin() as session:
        await PeopleStore(session).replace_for_household("household:alone", "35.10.15.2004", KEMIREN_DB, [NIK])
    async with uow.begin() as session:
        restrictions = Restrictions(session)
        _, due = await restrictions.restrict(NIK, "Permintaan warga", "admin")
        assert due == []
        assert await restrictions.households_of(NIK) == [(KEMIREN_DB, "household:alone")]
        assert await restrictions.restricted([NIK, OTHER]) == frozenset({NIK})
