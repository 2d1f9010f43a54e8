"""Gathering a case file from a real desa database: late documents, corrections, unreadable documents, and what is
found through the projection (member consents, withdrawals anywhere, visits, evidence, objections, duplicates)."""

from __future__ import annotations

import datetime as dt

import pytest

from replication.couch import CouchClient
from sync.cases.documents import Gathered, UnreadableApplication, gather_case
from sync.cases.store import PeopleStore
from sync.uow import UnitOfWork
from sync.verification.case import CaseFile
from tests.sync.cases.cases_testkit import CAPTURED, Family, delete, synced
from tests.sync.cases.conftest import NewDb

pytestmark = [pytest.mark.live, pytest.mark.anyio]

SINCE = dt.datetime(2025, 10, 3, tzinfo=dt.UTC)


async def gather(couch: CouchClient, uow: UnitOfWork, db: str, family: Family) -> Gathered | None:
    return await gather_case(couch, uow, db, family.application_id, waiting_since=SINCE)


async def case_file(couch: CouchClient, uow: UnitOfWork, db: str, family: Family) -> CaseFile:
    gathered = await gather(couch, uow, db, family)
    assert gathered is not None
    return gathered.case


async def test_an_application_alone_is_a_case_waiting_for_its_household_and_consent(
    couch: CouchClient, uow: UnitOfWork, new_db: NewDb, family: Family
) -> None:
    db = await new_db()
    assert await gather(couch, uow, db, family) is None  # not synced yet: no case
    await synced(couch, uow, db, family.application())

    gathered = await gather(couch, uow, db, family)
    assert gathered is not None
    case = gathered.case
    assert case.application.id == family.application_id
    assert (case.household, case.consent, case.waiting_since) == (None, None, SINCE)
    assert gathered.household_id == family.household_id
    assert gathered.people == {family.applicant["nik"]}
    assert gathered.kk_number is None


async def test_late_documents_are_found_once_they_have_synced(
    couch: CouchClient, uow: UnitOfWork, new_db: NewDb, family: Family
) -> None:
    db = await new_db()
    await synced(couch, uow, db, family.application())
    head = next(m for m in family.members if m["relationship"] == "kepala")
    visit = family.field_visit()
    await synced(
        couch,
        uow,
        db,
        family.household(),
        family.consent(),
        family.consent(key="head", subject=head),
        visit,
        {
            **family.field_visit(key="other-task"),
            "task_id": "task:application:someone-else",
        },
        _evidence(family, "on-visit", field_visit_id=visit["_id"]),
        _evidence(family, "on-application", application_id=family.application_id),
        family.objection(),
    )

    case = await case_file(couch, uow, db, family)
    assert case.household is not None and case.household.id == family.household_id
    assert case.consent is not None and case.consent.id == family.consent_id
    assert [doc.id for doc in case.member_consents] == ["consent:head"]
    assert [doc.id for doc in case.field_visits] == [visit["_id"]]
    assert [doc.id for doc in case.evidence] == ["evidence:on-application", "evidence:on-visit"]
    assert [doc.id for doc in case.objections] == [f"objection:{family.key}"]
    assert case.withdrawals == () and case.elsewhere == ()


async def test_a_correction_replaces_the_document_it_supersedes_in_any_order(
    couch: CouchClient, uow: UnitOfWork, new_db: NewDb, family: Family
) -> None:
    db = await new_db()
    later = CAPTURED + dt.timedelta(hours=2)
    corrected = family.household(key="v2", captured=later, supersedes=family.household_id)
    corrected["address"] = {"street": "Jl. Baru 3", "rt": "004", "rw": "002"}
    # The correction syncs before the document it corrects.
    await synced(couch, uow, db, family.application(), family.consent(), corrected, family.household())
    case = await case_file(couch, uow, db, family)
    assert case.household is not None and case.household.id == "household:v2"

    # Two corrections of one document (two devices): the latest captured wins, whatever synced last.
    other = family.household(key="v2b", captured=later + dt.timedelta(hours=1), supersedes=family.household_id)
    await synced(couch, uow, db, other)
    case = await case_file(couch, uow, db, family)
    assert case.household is not None and case.household.id == "household:v2b"

    # A correction of the correction.
    third = family.household(key="v3", captured=later + dt.timedelta(hours=3), supersedes="household:v2")
    await synced(couch, uow, db, third)
    gathered = await gather(couch, uow, db, family)
    assert gathered is not None and gathered.household_id == "household:v3"

    consent_fix = family.consent(key="c2", captured=later, supersedes=family.consent_id)
    await synced(couch, uow, db, consent_fix)
    case = await case_file(couch, uow, db, family)
    assert case.consent is not None and case.consent.id == "consent:c2"
    assert case.member_consents == ()  # the applicant's own consent, in any version, is not a member's


async def test_a_document_that_does_not_parse_is_absent_and_noted(
    couch: CouchClient, uow: UnitOfWork, new_db: NewDb, family: Family
) -> None:
    db = await new_db()
    broken = family.household()
    del broken["members"]
    await couch.put_doc(db, broken)
    await synced(couch, uow, db, family.application(), family.consent())
    gathered = await gather(couch, uow, db, family)
    assert gathered is not None
    assert gathered.case.household is None
    assert gathered.unreadable == (family.household_id,)

    # An unreadable correction leaves the version it meant to correct in force.
    await delete(couch, db, family.household_id)
    await synced(couch, uow, db, family.household(key="v1"))
    bad_fix = family.household(key="v2", captured=CAPTURED + dt.timedelta(hours=1), supersedes="household:v1")
    bad_fix["kk_number"] = "123"
    await couch.put_doc(db, bad_fix)
    await synced(couch, uow, db, family.application(key="a2", household_id="household:v1"))
    # The broken correction never got its links (it did not parse), so v1 is all that is known.
    gathered = await gather_case(couch, uow, db, "application:a2", waiting_since=SINCE)
    assert gathered is not None
    case = gathered.case
    assert case.household is not None and case.household.id == "household:v1"


async def test_an_application_that_does_not_parse_raises_and_a_deleted_one_is_no_case(
    couch: CouchClient, uow: UnitOfWork, new_db: NewDb, family: Family
) -> None:
    db = await new_db()
    broken = family.application()
    broken["components"] = []
    await couch.put_doc(db, broken)
    with pytest.raises(UnreadableApplication):
        await gather(couch, uow, db, family)
    await delete(couch, db, family.application_id)
    assert await gather(couch, uow, db, family) is None


async def test_withdrawals_are_found_in_every_database_and_duplicates_in_the_projection(
    couch: CouchClient, uow: UnitOfWork, new_db: NewDb, family: Family
) -> None:
    db, elsewhere = await new_db(), await new_db()
    await synced(couch, uow, db, family.household(), family.consent(), family.application())
    head = next(m for m in family.members if m["relationship"] == "kepala")
    await synced(couch, uow, elsewhere, family.withdrawal(key="far", subject=head))
    async with uow.begin() as session:
        await PeopleStore(session).replace_for_household("household:other", "35.10.15.2004", elsewhere, [head["nik"]])

    case = await case_file(couch, uow, db, family)
    assert [doc.id for doc in case.withdrawals] == ["consent_withdrawal:far"]
    assert [(c.nik, c.household_id, c.application_id) for c in case.elsewhere] == [
        (head["nik"], "household:other", None)
    ]


def _evidence(family: Family, key: str, **subject: str) -> dict[str, object]:
    return {
        "_id": f"evidence:{key}",
        "type": "evidence",
        "form_version": 1,
        "desa": family.desa,
        "agent_id": "pendamping.test",
        "device_id": "dev-test",
        "captured_at": (CAPTURED + dt.timedelta(days=2)).isoformat(),
        "photos": [{"attachment": "depan.jpg", "kind": "house_front"}],
        **subject,
    }
