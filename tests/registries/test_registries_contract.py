"""One contract for every implementation of the sources: the local store and the HTTP adapters + simulator."""

from __future__ import annotations

import datetime as dt

import pytest

from registries import tables as t
from registries.errors import InvalidCursor, InvalidQuery
from registries.identifiers import nik_birth_date
from registries.models import ChangeKind, IdentityQuery, LifeStatus, Match
from registries.sources import Sources
from tests.registries.registries_testkit import ReferenceStore

pytestmark = pytest.mark.anyio

UNKNOWN_NIK = "3510019999990001"


async def test_verify_matches_every_submitted_field(sources: Sources, reference_store: ReferenceStore) -> None:
    person = reference_store.first(t.RegPerson, t.table_of(t.RegPerson).c.status == "alive")
    answer = await sources.population.verify(
        IdentityQuery(
            nik=str(person["nik"]),
            name=f"  {str(person['name']).lower()} ",
            birth_date=person["birth_date"],
            kk_number=str(person["kk_number"]),
        )
    )
    assert answer.nik_found
    assert (answer.name, answer.birth_date, answer.kk_number) == (Match.match, Match.match, Match.match)
    assert answer.source and isinstance(answer.as_of, dt.date)


async def test_verify_answers_per_field_never_the_record(sources: Sources, reference_store: ReferenceStore) -> None:
    person = reference_store.first(t.RegPerson)
    answer = await sources.population.verify(
        IdentityQuery(nik=str(person["nik"]), name="Nama Yang Lain Sekali", birth_date=dt.date(1900, 1, 1))
    )
    assert answer.nik_found
    assert answer.name is Match.no_match and answer.birth_date is Match.no_match
    assert answer.kk_number is None  # not submitted, not judged
    assert "nik" not in answer.model_dump() and "record" not in answer.model_dump()


async def test_verify_unknown_nik(sources: Sources) -> None:
    answer = await sources.population.verify(IdentityQuery(nik=UNKNOWN_NIK, name="Siapa Saja"))
    assert not answer.nik_found
    assert answer.name is Match.no_match


async def test_nik_date_part_may_differ_from_the_registry(sources: Sources, reference_store: ReferenceStore) -> None:
    case = reference_store.edge_cases("nik_date_mismatch")[0]
    assert case.nik is not None
    registry = reference_store.person(case.nik)
    from_nik, _ = nik_birth_date(case.nik, dt.date(2025, 10, 1))
    assert from_nik != registry.birth_date
    by_nik = await sources.population.verify(IdentityQuery(nik=case.nik, birth_date=from_nik))
    by_registry = await sources.population.verify(IdentityQuery(nik=case.nik, birth_date=registry.birth_date))
    assert by_nik.birth_date is Match.no_match and by_registry.birth_date is Match.match


@pytest.mark.parametrize(
    ("label", "status"), [("deceased_member", LifeStatus.deceased), ("moved_person", LifeStatus.moved)]
)
async def test_status_of_labelled_people(
    sources: Sources, reference_store: ReferenceStore, label: str, status: LifeStatus
) -> None:
    case = reference_store.edge_cases(label)[0]
    assert case.nik is not None
    answer = await sources.population.status(case.nik)
    assert answer.status is status and answer.since is not None


async def test_status_alive_and_unknown(sources: Sources, reference_store: ReferenceStore) -> None:
    person = reference_store.first(t.RegPerson, t.table_of(t.RegPerson).c.status == "alive")
    assert (await sources.population.status(str(person["nik"]))).status is LifeStatus.alive
    unknown = await sources.population.status(UNKNOWN_NIK)
    assert unknown.status is LifeStatus.not_found and unknown.since is None


async def test_nik_on_kk(sources: Sources, reference_store: ReferenceStore) -> None:
    person = reference_store.first(t.RegPerson)
    nik, kk = str(person["nik"]), str(person["kk_number"])
    assert (await sources.population.nik_on_kk(nik, kk)).on_kk is Match.match
    other_kk = str(reference_store.first(t.RegFamily, t.table_of(t.RegFamily).c.kk_number != kk)["kk_number"])
    assert (await sources.population.nik_on_kk(nik, other_kk)).on_kk is Match.no_match


async def test_dtsen_household_by_kk_and_by_member(sources: Sources, reference_store: ReferenceStore) -> None:
    household = reference_store.first(t.RegDtsenHousehold)
    by_kk = await sources.dtsen.household_by_kk(str(household["kk_number"]))
    assert by_kk.found and len(by_kk.households) == 1
    found = by_kk.households[0]
    assert 1 <= found.desil <= 10 and found.ranking_date <= by_kk.as_of
    assert found.members and found.members[0].relationship == "kepala"
    by_member = await sources.dtsen.households_by_nik(found.members[-1].nik)
    assert [h.dtsen_id for h in by_member.households] == [found.dtsen_id]
    assert by_kk.source == by_member.source == "DTSEN (BPS)"


async def test_dtsen_missing_family_is_an_answer(sources: Sources, reference_store: ReferenceStore) -> None:
    case = reference_store.edge_cases("missing_from_dtsen")[0]
    assert case.kk_number is not None
    answer = await sources.dtsen.household_by_kk(case.kk_number)
    assert not answer.found and answer.households == [] and answer.as_of


async def test_dtsen_same_person_in_two_households(sources: Sources, reference_store: ReferenceStore) -> None:
    case = reference_store.edge_cases("duplicate_household")[0]
    assert case.nik is not None
    answer = await sources.dtsen.households_by_nik(case.nik)
    assert len(answer.households) == 2
    assert case.kk_number in {h.kk_number for h in answer.households}


async def test_dtsen_holds_a_mistyped_nik(sources: Sources, reference_store: ReferenceStore) -> None:
    case = reference_store.edge_cases("invalid_nik_in_dtsen")[0]
    assert case.nik is not None and case.nik.endswith("0000")
    answer = await sources.dtsen.households_by_nik(case.nik)
    assert answer.found and answer.households[0].kk_number == case.kk_number
    assert (await sources.population.status(case.nik)).status is LifeStatus.not_found


async def test_ministries_answers_carry_their_sources(sources: Sources, reference_store: ReferenceStore) -> None:
    job = reference_store.first(t.RegEmployment)
    employment = await sources.ministries.employment(str(job["nik"]))
    assert employment.records and employment.records[0].kind.value == job["kind"]
    assert all(r.source and r.as_of for r in employment.records)
    powered = reference_store.first(t.RegElectricity)
    assets = await sources.ministries.assets(str(powered["nik"]))
    assert assets.electricity[0].va == powered["va"] and assets.electricity[0].source == "PT PLN (Persero)"
    assert all(v.source and v.as_of for v in assets.vehicles) and all(p.source for p in assets.land)
    bpjs = await sources.ministries.bpjs(str(powered["nik"]))
    assert bpjs.source.startswith("BPJS") and bpjs.as_of


async def test_ministries_nothing_known_is_an_empty_answer(sources: Sources) -> None:
    employment = await sources.ministries.employment(UNKNOWN_NIK)
    assets = await sources.ministries.assets(UNKNOWN_NIK)
    bpjs = await sources.ministries.bpjs(UNKNOWN_NIK)
    assert employment.records == [] and assets.vehicles == assets.land == assets.electricity == []
    assert bpjs.kesehatan_segment is None and not bpjs.ketenagakerjaan_active


@pytest.mark.parametrize("bad", ["123", "35100118057000AB", "3510011805700001 "])
async def test_malformed_numbers_are_invalid_queries(sources: Sources, bad: str) -> None:
    with pytest.raises(InvalidQuery):
        await sources.population.status(bad)
    with pytest.raises(InvalidQuery):
        await sources.dtsen.household_by_kk(bad)
    with pytest.raises(InvalidQuery):
        await sources.ministries.employment(bad)


async def test_changes_page_through_with_the_cursor(sources: Sources, reference_store: ReferenceStore) -> None:
    for source in (sources.population, sources.dtsen, sources.ministries):
        everything = await source.changes(limit=1000)
        assert not everything.more
        pages, cursor = [], None
        while True:
            page = await source.changes(cursor, limit=3)
            pages.extend(page.changes)
            cursor = page.cursor
            if not page.more:
                break
        assert pages == everything.changes
        again = await source.changes(cursor)
        assert again.changes == [] and not again.more and again.cursor == cursor
    deaths = (await sources.population.changes(limit=1000)).changes
    assert deaths and {c.kind for c in deaths} == {ChangeKind.death}
    for change in deaths:
        assert change.nik is not None
        assert (await sources.population.status(change.nik)).status is LifeStatus.deceased


async def test_changes_of_each_source_are_its_own(sources: Sources) -> None:
    assert {c.kind for c in (await sources.dtsen.changes(limit=1000)).changes} == {ChangeKind.reranking}
    assert {c.kind for c in (await sources.ministries.changes(limit=1000)).changes} == {ChangeKind.asn_appointment}
    foreign = (await sources.dtsen.changes(limit=1)).cursor
    with pytest.raises(InvalidCursor):
        await sources.population.changes(foreign)
    with pytest.raises(InvalidCursor):
        await sources.population.changes("not-a-cursor")
