"""The generator: determinism, the NIK and KK rules of DOMAIN.md, labelled edge cases, plausibility."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from pathlib import Path
from statistics import mean
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from agent_forms import wilayah
from agent_forms.nik import nik_errors, nik_warnings, parse_nik
from registries import tables as t
from registries.generator import EDGE_LABELS, ReferenceDataGenerator, emit_changes, load
from registries.identifiers import nik_is_well_formed
from simpul.db import make_sync_engine
from tests.registries.registries_testkit import ReferenceStore

REFERENCE = dt.date(2025, 10, 1)


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            table.name: [tuple(r) for r in conn.execute(select(table).order_by(*table.primary_key.columns))]
            for table in t.registry_tables()
        }


def rows(store: ReferenceStore, model: type[Any]) -> list[Any]:
    engine = store.engine()
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(t.table_of(model))))
    finally:
        engine.dispose()


def labelled(store: ReferenceStore, label: str) -> set[str]:
    return {c.nik for c in store.edge_cases(label) if c.nik}


def test_same_seed_same_data_other_seed_other_data(tmp_path: Path) -> None:
    dumps = []
    for name, seed in (("a", 11), ("b", 11), ("c", 12)):
        engine = make_sync_engine(f"sqlite:///{tmp_path / name}.db")
        load(engine, ReferenceDataGenerator(seed, 120), chunk_rows=50)
        emit_changes(engine, 10)
        dumps.append(dump(engine))
        engine.dispose()
    assert dumps[0] == dumps[1]
    assert dumps[0]["reg_person"] != dumps[2]["reg_person"]
    assert dumps[0]["reg_change"] != dumps[2]["reg_change"]


def test_households_are_spread_over_the_real_desa() -> None:
    generator = ReferenceDataGenerator(3, 1000)
    allocation = generator.allocation()
    assert sum(n for _, n in allocation) == 1000
    assert {d.code for d, _ in allocation} == {d.code for d in wilayah.desa_list()}
    assert min(n for _, n in allocation) >= 1


def test_every_registry_nik_follows_the_rules(reference_store: ReferenceStore) -> None:
    mismatched = labelled(reference_store, "nik_date_mismatch")
    kecamatan = {k.digits for k in wilayah.kecamatan_list()}
    people = rows(reference_store, t.RegPerson)
    assert len(people) > 400
    for p in people:
        assert nik_errors(p.nik) == [], p.nik
        assert nik_is_well_formed(p.nik)
        assert p.nik[:6] in kecamatan  # kecamatan of first registration, in Banyuwangi
        info = parse_nik(p.nik)
        assert info.sex == ("female" if p.sex == "P" else "male")
        warnings = nik_warnings(info, declared_birth_date=p.birth_date)
        if p.nik in mismatched:
            assert [w.code for w in warnings] == ["nik.birth_date_mismatch"]
        else:
            assert warnings == [], p.nik
    assert mismatched


def test_nik_serials_are_unique_per_region_and_date(reference_store: ReferenceStore) -> None:
    seen: defaultdict[str, set[str]] = defaultdict(set)
    for p in rows(reference_store, t.RegPerson):
        serials = seen[p.nik[:12]]
        assert p.nik[12:] not in serials and p.nik[12:] != "0000"
        serials.add(p.nik[12:])
    # serials are allocated from 0001 upwards, without gaps
    for serials in seen.values():
        assert sorted(serials) == [f"{i:04d}" for i in range(1, len(serials) + 1)]


def test_kk_numbers_follow_the_structure(reference_store: ReferenceStore) -> None:
    desa = {d.digits for d in wilayah.desa_list()}
    families = rows(reference_store, t.RegFamily)
    for f in families:
        assert len(f.kk_number) == 16 and f.kk_number.isdigit()
        assert f.desa_code in desa and f.kk_number[:6] == f.desa_code[:6]
        assert f.kk_number[6:12] == f.issued_on.strftime("%d%m%y")
        assert f.kk_number[12:] != "0000"
    assert len({f.kk_number for f in families}) == len(families) == 200
    on_kk = Counter(p.kk_number for p in rows(reference_store, t.RegPerson))
    assert set(on_kk) == {f.kk_number for f in families}  # every KK has people, every person one KK


def test_every_label_is_present_and_means_what_it_says(reference_store: ReferenceStore) -> None:
    for label in EDGE_LABELS:
        assert reference_store.edge_cases(label), label
    members = rows(reference_store, t.RegDtsenMember)
    households = rows(reference_store, t.RegDtsenHousehold)
    invalid = labelled(reference_store, "invalid_nik_in_dtsen")
    for m in members:
        assert (nik_errors(m.nik) == []) == (m.nik not in invalid), m.nik
    per_nik = Counter(m.nik for m in members)
    assert {nik for nik, n in per_nik.items() if n > 1} == labelled(reference_store, "duplicate_household")
    in_dtsen = {h.kk_number for h in households}
    families = {f.kk_number for f in rows(reference_store, t.RegFamily)}
    missing = {c.kk_number for c in reference_store.edge_cases("missing_from_dtsen")}
    assert families - in_dtsen == missing


def test_desil_follows_the_housing_indicators() -> None:
    by_floor: defaultdict[str, list[int]] = defaultdict(list)
    by_fuel: defaultdict[str, list[int]] = defaultdict(list)
    desil = Counter[int]()
    for batch in ReferenceDataGenerator(5, 3000).batches():
        for h in batch.rows["reg_dtsen_household"]:
            by_floor[h["floor"]].append(h["desil"])
            by_fuel[h["cooking_fuel"]].append(h["desil"])
            desil[h["desil"]] += 1
    assert mean(by_floor["tanah"]) + 2 < mean(by_floor["keramik"])
    assert mean(by_fuel["kayu"]) < mean(by_fuel["lpg_3kg"])
    assert set(desil) == set(range(1, 11))
    assert all(n > 3000 * 0.03 for n in desil.values())  # no desil is empty or nearly so


def test_ministries_records_concern_a_realistic_minority() -> None:
    people = jobs = pregnant = enrolled = severe = 0
    for batch in ReferenceDataGenerator(5, 3000).batches():
        people += batch.people
        jobs += len(batch.rows["reg_employment"])
        pregnant += sum(m["pregnant"] for m in batch.rows["reg_dtsen_member"])
        enrolled += sum(m["school_level"] is not None for m in batch.rows["reg_dtsen_member"])
        severe += sum(m["disability"] == "berat" for m in batch.rows["reg_dtsen_member"])
    assert 2.7 < people / 3000 < 3.5  # Banyuwangi: ~1.7 million people in ~560,000 households
    assert 0.01 < jobs / people < 0.08
    assert 0.005 < pregnant / people < 0.05
    assert 0.1 < enrolled / people < 0.35
    assert 0 < severe / people < 0.03


def test_emit_changes_updates_the_sources_and_publishes(tmp_path: Path) -> None:
    engine = make_sync_engine(f"sqlite:///{tmp_path / 'changes.db'}")
    load(engine, ReferenceDataGenerator(2, 100))
    first = emit_changes(engine, 20)
    second = emit_changes(engine, 5)
    assert len(first) == 20 and len(second) == 5
    assert second[0]["occurred_on"] > first[0]["occurred_on"]
    person, employment = t.table_of(t.RegPerson), t.table_of(t.RegEmployment)
    with engine.connect() as conn:
        for change in first:
            if change["kind"] == "death":
                status = conn.scalar(select(person.c.status).where(person.c.nik == change["nik"]))
                assert status == "deceased"
            elif change["kind"] == "asn_appointment":
                kinds = conn.scalars(select(employment.c.kind).where(employment.c.nik == change["nik"])).all()
                assert "asn" in kinds
        assert conn.scalar(select(func.count()).select_from(t.table_of(t.RegChange))) == 25
    engine.dispose()


def test_load_rejects_nothing_on_an_empty_run(tmp_path: Path) -> None:
    engine = make_sync_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    summary = load(engine, ReferenceDataGenerator(1, 0))
    assert summary.households == summary.people == 0
    engine.dispose()


@pytest.mark.parametrize("households", [-1])
def test_negative_scale_is_refused(households: int) -> None:
    with pytest.raises(ValueError):
        ReferenceDataGenerator(1, households)
