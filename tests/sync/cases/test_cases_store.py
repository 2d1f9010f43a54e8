"""The projection's stores on a real SQLite file: what they find, what they replace, what they keep."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from sync.cases.store import CaseStore, CursorStore, LedgerStore, LinkStore, PeopleStore
from sync.cases.tables import CaseRecord, ConsentLedgerEntry
from sync.uow import UnitOfWork

pytestmark = pytest.mark.anyio

T0 = dt.datetime(2025, 10, 3, 2, 0, tzinfo=dt.UTC)


def case(app: str, **fields: object) -> CaseRecord:
    values: dict[str, object] = {
        "application_id": app,
        "desa": "35.10.16.1014",
        "db_name": "desa_3510161014",
        "applicant_nik": "3510164302840002",
        "status": "waiting",
        "first_seen_at": T0,
    }
    values.update(fields)
    return CaseRecord.model_validate(values)


async def test_times_come_back_aware_and_naive_ones_are_refused(uow: UnitOfWork) -> None:
    wib = dt.timezone(dt.timedelta(hours=7))
    async with uow.begin() as session:
        CaseStore(session).save(case("application:a", next_check_at=T0.astimezone(wib)))
    async with uow.begin() as session:
        stored = await CaseStore(session).get("application:a")
    assert stored is not None and stored.next_check_at == T0 and stored.next_check_at.tzinfo is not None

    with pytest.raises(Exception, match="naive datetime"):
        async with uow.begin() as session:
            CaseStore(session).save(case("application:b", next_check_at=dt.datetime(2025, 10, 3)))


async def test_due_cases_are_the_open_ones_whose_time_has_come_oldest_first(uow: UnitOfWork) -> None:
    async with uow.begin() as session:
        store = CaseStore(session)
        store.save(case("application:late", next_check_at=T0 - dt.timedelta(minutes=5)))
        store.save(case("application:later", next_check_at=T0 - dt.timedelta(minutes=10)))
        store.save(case("application:future", next_check_at=T0 + dt.timedelta(minutes=1)))
        store.save(case("application:never"))
        store.save(case("application:closed", status="superseded", next_check_at=T0 - dt.timedelta(hours=1)))
    async with uow.begin() as session:
        due = await CaseStore(session).due(T0, limit=10)
        assert [r.application_id for r in due] == ["application:later", "application:late"]
        assert [r.application_id for r in await CaseStore(session).due(T0, limit=1)] == ["application:later"]


async def test_decisions_are_read_after_a_cursor_in_order(uow: UnitOfWork) -> None:
    async with uow.begin() as session:
        store = CaseStore(session)
        for index, status in enumerate(["waiting", "eligible", "not_eligible"]):
            await store.append_decision(
                "application:a" if index != 1 else "application:b",
                status=status,
                rule_set_version="v",
                fingerprint=f"f{index}",
                result={"status": status},
                decided_at=T0,
            )
    async with uow.begin() as session:
        every = await CaseStore(session).decisions()
        assert [d.status for d in every] == ["waiting", "eligible", "not_eligible"]
        assert [d.status for d in await CaseStore(session).decisions(after=every[0].id or 0)] == [
            "eligible",
            "not_eligible",
        ]
        assert [d.status for d in await CaseStore(session).decisions("application:a")] == ["waiting", "not_eligible"]
        assert every[2].result == {"status": "not_eligible"}


async def test_people_elsewhere_are_other_households_and_other_applications(uow: UnitOfWork) -> None:
    async with uow.begin() as session:
        people = PeopleStore(session)
        await people.replace_for_household("household:h1", "35.10.16.1014", "db1", ["A", "B"])
        await people.replace_for_application("application:a1", "household:h1", "35.10.16.1014", "db1", ["A", "B"])
        # The same person in another household of another desa, once on its own and once in an application.
        await people.replace_for_household("household:h2", "35.10.15.2004", "db2", ["B", "C"])
        await people.replace_for_application("application:a2", "household:h2", "35.10.15.2004", "db2", ["B"])
        # A second application of the same household.
        await people.replace_for_application("application:a3", "household:h1", "35.10.16.1014", "db1", ["A"])
        await people.replace_for_household("household:h3", "35.10.15.2004", "db2", ["A"])
    async with uow.begin() as session:
        people = PeopleStore(session)
        claims = await people.elsewhere(["A", "B"], ["application:a1"], ["household:h1"])
        assert {(c.nik, c.application_id, c.household_id) for c in claims} == {
            ("A", "application:a3", "household:h1"),
            ("A", None, "household:h3"),
            ("B", "application:a2", "household:h2"),
        }
        assert await people.applications_of(["A"]) == [("application:a1", "db1"), ("application:a3", "db1")]

        await people.replace_for_application("application:a1", "household:h1", "35.10.16.1014", "db1", ["B"])
        await people.drop_application("application:a3")
        await people.drop_household("household:h3")
    async with uow.begin() as session:
        assert await PeopleStore(session).applications_of(["A"]) == []
        assert await PeopleStore(session).elsewhere(["A"], ["application:a1"], ["household:h1"]) == []
        # An earlier version of the case's own application is not another claim.
        own = ["household:h1", "household:h2"]
        assert await PeopleStore(session).elsewhere(["B"], ["application:a1", "application:a2"], own) == []


def ledger(doc_id: str, **fields: object) -> ConsentLedgerEntry:
    values: dict[str, object] = {
        "doc_id": doc_id,
        "db_name": "db1",
        "kind": "consent",
        "rev": "1-a",
        "subject_nik": "3510164302840002",
        "desa": "35.10.16.1014",
        "granted": ["dtsen"],
        "method": "signature",
        "captured_at": T0,
        "agent_id": "pendamping.a",
        "channel": "assisted",
        "recorded_at": T0,
    }
    values.update(fields)
    return ConsentLedgerEntry.model_validate(values)


async def test_the_ledger_keeps_its_first_record_and_marks_deletions(uow: UnitOfWork) -> None:
    async with uow.begin() as session:
        await LedgerStore(session).record(ledger("consent:1"))
    later = T0 + dt.timedelta(days=1)
    async with uow.begin() as session:
        store = LedgerStore(session)
        await store.record(ledger("consent:1", rev="2-b", granted=["dtsen", "bkn"], recorded_at=later))
        await store.mark_deleted("db1", "consent:1", later)
        await store.record(ledger("consent_withdrawal:1", kind="consent_withdrawal", db_name="db2"))
    async with uow.begin() as session:
        store = LedgerStore(session)
        row = await store.get("db1", "consent:1")
        assert row is not None
        assert (row.rev, row.granted, row.recorded_at, row.deleted_at) == ("2-b", ["dtsen", "bkn"], T0, later)
        assert [r.doc_id for r in await store.of_subjects(["3510164302840002"], kind="consent_withdrawal")] == [
            "consent_withdrawal:1"
        ]
        assert await store.of_subjects(["3510164302840002"], kind="consent_withdrawal", db_name="db1") == []
        rows = (await session.exec(select(ConsentLedgerEntry))).all()
        assert len(rows) == 2


async def test_links_find_versions_both_ways_and_what_points_at_a_document(uow: UnitOfWork) -> None:
    async with uow.begin() as session:
        links = LinkStore(session)
        await links.replace("db1", "household:v2", [("supersedes", "household:v1")], T0)
        await links.replace("db1", "household:v3", [("supersedes", "household:v2")], T0 + dt.timedelta(hours=1))
        await links.replace("db1", "household:v2b", [("supersedes", "household:v1")], T0 + dt.timedelta(hours=2))
        await links.replace("db1", "application:a", [("household", "household:v1"), ("consent", "consent:c")], T0)
        await links.replace("db1", "evidence:e", [("application", "application:a")], T0)
        await links.replace("db1", "objection:o", [("application", "application:a")], T0)
        await links.replace("db2", "application:x", [("household", "household:v1")], T0)
    async with uow.begin() as session:
        links = LinkStore(session)
        family = {"household:v1", "household:v2", "household:v3", "household:v2b"}
        assert await links.versions("db1", ["household:v3"]) == family
        assert await links.versions("db2", ["household:v3"]) == {"household:v3"}
        assert [link.doc_id for link in await links.superseded_by("db1", "household:v1")] == [
            "household:v2b",
            "household:v2",
        ]
        assert [link.doc_id for link in await links.incoming("db1", family, "household")] == ["application:a"]
        assert [
            link.doc_id for link in await links.incoming("db1", ["application:a"], "application", prefix="evidence:")
        ] == ["evidence:e"]

        await links.replace("db1", "application:a", [("household", "household:v3")], T0)
    async with uow.begin() as session:
        outgoing = await LinkStore(session).outgoing("db1", "application:a")
        assert [(link.relation, link.target_id) for link in outgoing] == [("household", "household:v3")]


async def test_registry_cursors_are_saved_per_source(uow: UnitOfWork) -> None:
    async with uow.begin() as session:
        assert await CursorStore(session).get("population") is None
        await CursorStore(session).save("population", "c1")
    async with uow.begin() as session:
        await CursorStore(session).save("population", "c2")
        await CursorStore(session).save("dtsen", "d1")
    async with uow.begin() as session:
        assert await CursorStore(session).get("population") == "c2"
        assert await CursorStore(session).get("dtsen") == "d1"
