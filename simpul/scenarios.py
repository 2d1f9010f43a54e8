"""Device documents built from the generated reference data, so that the checks find what a scenario expects.

A scenario is what a pendamping would capture for one family: a ``household`` (its family card as the population
registry holds it, with what DTSEN records of each member), the applicant's ``consent`` (witnessed verbal, every
source granted, so no attachment is needed) and an ``application`` claiming, for each member who qualifies, their
highest-valued PKH component. Each scenario states the status its ``result:<application id>`` should reach. The
tests, ``simpul bench pipeline`` and a developer trying ``make run`` use them (``python -m simpul.scenarios KIND
--write`` prints the documents and stores them where the running worker decides the case).

**Choosing a family** for a requested desa (e.g. Lateng 35.10.16.1014 or Kemiren 35.10.15.2004): the families of
that desa are tried first, in an order fixed by the seed, and the first that fits is used. **When none there fits**,
the families of the whole kabupaten are tried the same way and the scenario moves to the desa of the family found
(``Scenario.desa`` says where and ``Scenario.moved`` is true); the documents always carry the family's own desa,
since a household captured in another village would be another scenario. ``strict=True`` raises
:class:`NoFamilyFits` instead (a test that may only write to one desa). ``exclude`` skips family cards already used:
the case projection remembers every household synced, so a family used twice on one server is a duplicate.

**Kinds.** A *clean* family is in DTSEN, carries no edge label, has everyone alive in the population registry and
the same people on its card as in DTSEN, shares no NIK with another DTSEN household, and has NIKs whose date part
agrees with the registry's birth dates. A family *qualifies* when no ministries' employment record excludes it, no
asset contradicts a low desil (the rule set's thresholds) and a living adult can apply for a living member who
qualifies for a component.

- ``eligible``: clean, qualifies, desil at most the rule set's ``max_desil``;
- ``not_eligible``: clean, qualifies, desil above it (the desil is the one rule that fails);
- ``needs_field_verification``: a family of the desa missing from DTSEN when there is one, else an eligible family
  whose applicant is declared under a name the population registry does not match (``Scenario.variant``);
- ``needs_review``: the same NIK in two households. A ``duplicate_household`` family of the desa whose shared
  member's own family is there too when there is one, else an eligible family one of whose members another household
  of the desa also lists; that other household is ``Scenario.related``, to be synced (and seen processed) first;
- one kind per edge label of the generator: ``deceased_member``, ``moved_person``, ``nik_date_mismatch``,
  ``missing_from_dtsen``, ``duplicate_household``, ``invalid_nik_in_dtsen``, a labelled family that otherwise
  qualifies; :data:`LABEL_EXPECTATIONS` says what each leads to and why.

Deterministic: the same reference data, seed and arguments give the same documents, ids and times included.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import sys
import uuid
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, inspect, select

from agent_forms import wilayah
from agent_forms.models import Component, ConsentSource
from agent_forms.models.base import age_on
from agent_forms.models.consent import ADULT_AGE
from agent_forms.names import names_match
from registries import tables as t
from registries.identifiers import date_part
from registries.models import EmploymentKind
from replication.naming import desa_db_name
from sync.verification.ruleset import RuleSet, RuleSettings, load_rule_set

__all__ = [
    "BULK_KINDS",
    "DECISION_KINDS",
    "EDGE_KINDS",
    "KEMIREN",
    "LABEL_EXPECTATIONS",
    "LATENG",
    "CaseDocuments",
    "Family",
    "NoFamilyFits",
    "ReferenceFamilies",
    "Scenario",
    "ScenarioKind",
    "build_scenario",
    "bulk_scenarios",
]

LATENG = "35.10.16.1014"
KEMIREN = "35.10.15.2004"

#: The notice read out before consent is asked (its version is recorded with the consent).
NOTICE_VERSION = "pemberitahuan-pkh-2025.1"


class ScenarioKind(StrEnum):
    eligible = "eligible"
    not_eligible = "not_eligible"
    needs_field_verification = "needs_field_verification"
    needs_review = "needs_review"
    deceased_member = "deceased_member"
    moved_person = "moved_person"
    nik_date_mismatch = "nik_date_mismatch"
    missing_from_dtsen = "missing_from_dtsen"
    duplicate_household = "duplicate_household"
    invalid_nik_in_dtsen = "invalid_nik_in_dtsen"


#: The four decisions (DESIGN.md), i.e. the kinds named after the status they lead to.
DECISION_KINDS = (
    ScenarioKind.eligible,
    ScenarioKind.not_eligible,
    ScenarioKind.needs_field_verification,
    ScenarioKind.needs_review,
)
EDGE_KINDS = tuple(k for k in ScenarioKind if k not in DECISION_KINDS)

#: What a family carrying each generator edge label leads to, and why (the status of the result document). The
#: family is otherwise chosen to qualify (desil within the limit, no exclusion, no contradicting asset, a member
#: alive and listed who qualifies for a component), so the label is what the case shows.
LABEL_EXPECTATIONS: dict[ScenarioKind, tuple[str, str]] = {
    ScenarioKind.deceased_member: (
        "eligible",
        "a member on the family card died (population registry): that member is not counted for a component, the "
        "others qualify",
    ),
    ScenarioKind.moved_person: (
        "eligible",
        "a member moved out of the region (population registry): not counted for a component, the others qualify",
    ),
    ScenarioKind.nik_date_mismatch: (
        "eligible",
        "the declared birth date (the family card's, the registry's) disagrees with the NIK's date part, which never "
        "changes after a correction: recorded, never a refusal",
    ),
    ScenarioKind.missing_from_dtsen: (
        "needs_field_verification",
        "the family is on a family card but not in DTSEN: a field visit starts its registration",
    ),
    ScenarioKind.duplicate_household: (
        "needs_review",
        "DTSEN lists a person of another family card in this household, and that person's own family is registered "
        "too: the same NIK in two households, a supervisor decides",
    ),
    ScenarioKind.invalid_nik_in_dtsen: (
        "eligible",
        "DTSEN holds a mistyped NIK for the head: the household is still found by its KK number and only DTSEN's "
        "record of the head goes unused",
    ),
}


class NoFamilyFits(LookupError):
    """No family of the reference data fits the kind asked for (in the desa, with ``strict``; or anywhere)."""


# --- Mapping the reference data's codes to the forms' choices -----------------------------------------------

_SEX = {"L": "male", "P": "female"}
RELATIONSHIP_CODES = {
    "kepala": "head",
    "istri_suami": "spouse",
    "anak": "child",
    "menantu": "child_in_law",
    "cucu": "grandchild",
    "orang_tua": "parent",
    "mertua": "parent",
    "famili_lain": "other_relative",
}
_MARITAL = {"belum_kawin": "single", "kawin": "married", "cerai_hidup": "divorced", "cerai_mati": "widowed"}
DISABILITY_CODES = {"tidak": "none", "ringan": "mild", "berat": "severe"}
OCCUPATION_CODES = {
    "tidak_bekerja": "not_working",
    "pelajar": "student",
    "mengurus_rumah_tangga": "homemaker",
    "petani": "farmer",
    "buruh_tani": "farm_labourer",
    "nelayan": "fisher",
    "buruh": "labourer",
    "pedagang": "trader",
    "wiraswasta": "small_business",
    "karyawan_swasta": "private_employee",
    "pns": "civil_servant",
    "tni_polri": "military_police",
    "honorer": "other",
    "karyawan_bumn_bumd": "state_enterprise",
    "perangkat_desa": "village_official",
    "guru": "teacher",
    "tenaga_kesehatan": "health_worker",
}
EDUCATION_CODES = {"sd": "sd", "smp": "smp", "sma": "sma", "diploma_sarjana": "higher"}
_OWNERSHIP = {"milik_sendiri": "own", "sewa": "rent", "bebas_sewa": "rent_free", "dinas": "official"}
_FLOOR = {"tanah": "earth", "bambu_kayu": "wood", "semen": "cement_brick", "keramik": "ceramic"}
_WALL = {"bambu": "woven_bamboo", "kayu": "wood", "tembok_tanpa_plester": "masonry", "tembok": "masonry"}
_ROOF = {"ijuk_rumbia": "thatch", "seng": "zinc", "asbes": "asbestos", "genteng": "clay_tile", "beton": "concrete"}
_WATER = {
    "sungai_mata_air": "unprotected_spring",
    "sumur": "protected_well",
    "leding": "piped",
    "air_kemasan": "bottled",
}
_LIGHTING = {"non_pln": "non_pln", "pln_tanpa_meteran": "pln_unmetered", "pln_meteran": "pln_metered"}
_FUEL = {"kayu": "firewood", "lpg_3kg": "lpg_3kg", "lpg_besar": "lpg_large", "listrik": "electricity"}
_TOILET = {"tidak_ada": "none", "bersama": "shared", "sendiri": "private"}
_DISPOSAL = {"tidak_ada": None, "bersama": "pit", "sendiri": "septic_tank"}
_SCHOOL_COMPONENTS = {"sd": Component.SD, "smp": Component.SMP, "sma": Component.SMA}
_ADDRESS = re.compile(r"^(?P<street>.+?), RT (?P<rt>[0-9]{3})/RW (?P<rw>[0-9]{3}), .+$")

#: Declared names the population registry cannot match (the name-mismatch variant picks the first that differs).
_OTHER_NAMES = ("Wahyu Setiawan Nugroho", "Yohana Kristiani Simanjuntak", "Bonifasius Alexander Tampubolon")
_WITNESSES = ("Sugeng Riyanto", "Hartini", "Mulyadi", "Suprapti", "Bambang Sutrisno", "Endang Lestari")


# --- What the reference data says about one family ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Person:
    """One person on the family card (``reg_person``) with what DTSEN records of them, if anything."""

    nik: str
    name: str
    sex: str  # L | P
    birth_date: dt.date  # as the population registry holds it (the family card's)
    relationship: str
    marital_status: str
    status: str  # alive | deceased | moved
    dtsen: dict[str, Any] | None  # the reg_dtsen_member row, when DTSEN lists this NIK in the family's household


@dataclass(frozen=True, slots=True)
class Family:
    """A family card and everything the reference sources hold about it, as plain values."""

    kk_number: str
    desa_digits: str
    address: str
    people: tuple[Person, ...]
    dtsen: dict[str, Any] | None  # the reg_dtsen_household row
    dtsen_members: tuple[dict[str, Any], ...]
    #: People DTSEN lists in the family's household who are not on its card (another family's member).
    unlisted: tuple[Person, ...]
    labels: frozenset[str]  # edge labels on this family's card
    #: NIKs of this family that DTSEN also lists in another household.
    shared_niks: frozenset[str]
    employment: dict[str, tuple[dict[str, Any], ...]]
    cars: int
    non_subsidised_va: int
    farm_land_m2: int

    @property
    def desa(self) -> str:
        return wilayah.normalise_code(self.desa_digits)

    @property
    def desil(self) -> int | None:
        return int(self.dtsen["desil"]) if self.dtsen else None


class ReferenceFamilies:
    """Reads families from the reference tables (``reg_*``) of a relational store, a chunk at a time.

    Every question is by an indexed key, so it stays quick at full Banyuwangi scale (560,000 households).
    """

    CHUNK = 500

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def reference_date(self) -> dt.date:
        meta = t.table_of(t.RegMeta)
        with self._engine.connect() as conn:
            value = conn.scalar(select(meta.c.value).where(meta.c.key == "reference_date"))
        if value is None:
            raise NoFamilyFits("the reference tables are empty: run `simpul registries generate` first")
        return dt.date.fromisoformat(value)

    def kk_numbers(self, desa_digits: str | None = None) -> list[str]:
        """Every family card (of one desa, or of the kabupaten), sorted."""
        family = t.table_of(t.RegFamily)
        query = select(family.c.kk_number).order_by(family.c.kk_number)
        if desa_digits is not None:
            query = query.where(family.c.desa_code == desa_digits)
        with self._engine.connect() as conn:
            return list(conn.scalars(query))

    def kk_of(self, nik: str) -> str | None:
        """The family card a NIK is on, per the population registry."""
        person = t.table_of(t.RegPerson)
        with self._engine.connect() as conn:
            kk: str | None = conn.scalar(select(person.c.kk_number).where(person.c.nik == nik))
            return kk

    def labelled(self, label: str) -> list[str]:
        """Family cards carrying an edge label, sorted."""
        edge = t.table_of(t.RegEdgeCase)
        with self._engine.connect() as conn:
            rows = conn.scalars(select(edge.c.kk_number).where(edge.c.label == label))
            return sorted({kk for kk in rows if kk})

    def families(self, kk_numbers: Sequence[str]) -> Iterator[Family]:
        """The families of ``kk_numbers``, in that order, read a chunk at a time."""
        for start in range(0, len(kk_numbers), self.CHUNK):
            chunk = list(kk_numbers[start : start + self.CHUNK])
            loaded = self._load(chunk)
            for kk in chunk:
                if kk in loaded:
                    yield loaded[kk]

    def _load(self, kks: list[str]) -> dict[str, Family]:
        family_t = t.table_of(t.RegFamily)
        person_t = t.table_of(t.RegPerson)
        household_t = t.table_of(t.RegDtsenHousehold)
        member_t = t.table_of(t.RegDtsenMember)
        edge_t = t.table_of(t.RegEdgeCase)
        employment_t = t.table_of(t.RegEmployment)
        vehicle_t = t.table_of(t.RegVehicle)
        electricity_t = t.table_of(t.RegElectricity)
        land_t = t.table_of(t.RegLand)
        with self._engine.connect() as conn:
            families = {r.kk_number: r for r in conn.execute(select(family_t).where(family_t.c.kk_number.in_(kks)))}
            people: dict[str, list[Any]] = defaultdict(list)
            for r in conn.execute(select(person_t).where(person_t.c.kk_number.in_(kks)).order_by(person_t.c.nik)):
                people[r.kk_number].append(r)
            households = {
                r.kk_number: dict(r._mapping)
                for r in conn.execute(select(household_t).where(household_t.c.kk_number.in_(kks)))
            }
            by_dtsen = {h["dtsen_id"]: kk for kk, h in households.items()}
            members: dict[str, list[dict[str, Any]]] = defaultdict(list)
            if by_dtsen:
                for r in conn.execute(
                    select(member_t).where(member_t.c.dtsen_id.in_(list(by_dtsen))).order_by(member_t.c.id)
                ):
                    members[by_dtsen[r.dtsen_id]].append(dict(r._mapping))
            labels: dict[str, set[str]] = defaultdict(set)
            for r in conn.execute(select(edge_t).where(edge_t.c.kk_number.in_(kks))):
                labels[r.kk_number].add(r.label)
            niks = [p.nik for rows in people.values() for p in rows]
            nik_kk = {p.nik: p.kk_number for rows in people.values() for p in rows}
            shared: dict[str, set[str]] = defaultdict(set)
            employment: dict[str, list[dict[str, Any]]] = defaultdict(list)
            cars: dict[str, int] = defaultdict(int)
            va: dict[str, int] = defaultdict(int)
            land: dict[str, int] = defaultdict(int)
            for start in range(0, len(niks), 900):
                part = niks[start : start + 900]
                for r in conn.execute(select(member_t.c.nik, member_t.c.dtsen_id).where(member_t.c.nik.in_(part))):
                    own = households.get(nik_kk[r.nik])
                    if own is None or own["dtsen_id"] != r.dtsen_id:
                        shared[nik_kk[r.nik]].add(r.nik)
                for r in conn.execute(select(employment_t).where(employment_t.c.nik.in_(part))):
                    employment[r.nik].append(dict(r._mapping))
                for r in conn.execute(select(vehicle_t).where(vehicle_t.c.nik.in_(part), vehicle_t.c.kind == "mobil")):
                    cars[nik_kk[r.nik]] += 1
                for r in conn.execute(select(electricity_t).where(electricity_t.c.nik.in_(part))):
                    if not r.subsidised:
                        va[nik_kk[r.nik]] = max(va[nik_kk[r.nik]], r.va)
                for r in conn.execute(select(land_t).where(land_t.c.nik.in_(part))):
                    if r.kind == "pertanian":
                        land[nik_kk[r.nik]] += r.area_m2
        result: dict[str, Family] = {}
        for kk, row in families.items():
            dtsen_by_nik = {m["nik"]: m for m in members.get(kk, [])}
            # Head first, then the family card's order of relationship, then NIK: a stable, natural order.
            order = {rel: i for i, rel in enumerate(RELATIONSHIP_CODES)}
            persons = sorted(people.get(kk, []), key=lambda p: (order.get(p.relationship, 99), p.birth_date, p.nik))
            result[kk] = Family(
                kk_number=kk,
                desa_digits=row.desa_code,
                address=row.address,
                people=tuple(
                    Person(
                        nik=p.nik,
                        name=p.name,
                        sex=p.sex,
                        birth_date=p.birth_date,
                        relationship=p.relationship,
                        marital_status=p.marital_status,
                        status=p.status,
                        dtsen=dtsen_by_nik.get(p.nik),
                    )
                    for p in persons
                ),
                dtsen=households.get(kk),
                dtsen_members=tuple(members.get(kk, [])),
                unlisted=tuple(
                    Person(
                        nik=m["nik"],
                        name=m["name"],
                        sex=m["sex"],
                        birth_date=m["birth_date"],
                        relationship=m["relationship"],
                        marital_status="",
                        status="alive",
                        dtsen=m,
                    )
                    for m in members.get(kk, [])
                    if m["nik"] not in {p.nik for p in persons}
                ),
                labels=frozenset(labels.get(kk, set())),
                shared_niks=frozenset(shared.get(kk, set())),
                employment={p.nik: tuple(employment.get(p.nik, [])) for p in persons},
                cars=cars.get(kk, 0),
                non_subsidised_va=va.get(kk, 0),
                farm_land_m2=land.get(kk, 0),
            )
        return result


# --- Judging a family against the rule set ------------------------------------------------------------------


def _nik_birth_date_agrees(person: Person) -> bool:
    return person.nik[6:12] == date_part(person.birth_date, female=person.sex == "P")


def is_clean(family: Family) -> bool:
    """In DTSEN, no edge label, everyone alive, the same people on the card as in DTSEN, nobody listed in another
    DTSEN household, every NIK's date part agreeing with the registry: nothing for the identity checks to find."""
    return (
        family.dtsen is not None
        and not family.labels
        and not family.shared_niks
        and bool(family.people)
        and all(p.status == "alive" and p.dtsen is not None and _nik_birth_date_agrees(p) for p in family.people)
        and {m["nik"] for m in family.dtsen_members} == {p.nik for p in family.people}
    )


def is_excluded(family: Family, rules: RuleSet) -> bool:
    """An employment record (ministries' data) that excludes the family under ``rules``."""
    return any(
        rules.excludes(EmploymentKind(r["kind"]), active=bool(r["active"]), retired=bool(r["retired"]))
        for records in family.employment.values()
        for r in records
    )


def contradicts_desil(family: Family, rules: RuleSet) -> bool:
    """Ministries' asset data that contradicts a low desil (the rule set's thresholds)."""
    limits = rules.asset_contradictions
    return (
        family.cars >= limits.min_cars
        or family.non_subsidised_va >= limits.min_non_subsidised_va
        or family.farm_land_m2 >= limits.min_farm_land_m2
    )


def qualifying_component(person: Person, on: dt.date, rules: RuleSet) -> Component | None:
    """The highest-valued component ``person`` qualifies for on ``on``, if any: per DTSEN's record of them, or by
    age alone (young child, elderly) for a person DTSEN does not list."""
    record = person.dtsen or {}
    age = age_on(person.birth_date, on)
    found: list[Component] = []
    if person.sex == "P" and record.get("pregnant"):
        found.append(Component.PREGNANT_POSTPARTUM)
    if age <= rules.early_childhood_max_age:
        found.append(Component.EARLY_CHILDHOOD)
    level = record.get("school_level")
    school = _SCHOOL_COMPONENTS.get(level or "")
    if (
        school is not None
        and age in rules.school_age
        and record["years_of_schooling"] < rules.completed_schooling_years
    ):
        found.append(school)
    if record.get("disability") == "berat":
        found.append(Component.SEVERE_DISABILITY)
    if age >= rules.elderly_age:
        found.append(Component.ELDERLY)
    return max(found, key=rules.amount) if found else None


def claims(family: Family, on: dt.date, rules: RuleSet) -> list[tuple[Component, str]]:
    """One claim per qualifying member (their highest-valued component), in the family's order."""
    found = []
    for person in family.people:
        component = qualifying_component(person, on, rules)
        if component is not None:
            found.append((component, person.nik))
    return found


# --- Scenarios ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseDocuments:
    """What a device syncs for one family: its household, and (for an application) the consent and application."""

    household: dict[str, Any]
    consent: dict[str, Any] | None = None
    application: dict[str, Any] | None = None

    @property
    def db_name(self) -> str:
        """The desa database the documents belong in (the household's desa)."""
        return desa_db_name(str(self.household["desa"]))

    def documents(self) -> list[dict[str, Any]]:
        return [d for d in (self.household, self.consent, self.application) if d is not None]


@dataclass(frozen=True, slots=True)
class Scenario:
    kind: ScenarioKind
    #: The status the ``result:<application id>`` document should reach.
    expected: str
    #: Dotted desa code of the family (the requested one unless ``moved``).
    desa: str
    case: CaseDocuments
    #: Documents to sync (and see processed) before ``case``: the other household of ``needs_review``.
    related: tuple[CaseDocuments, ...] = ()
    #: The requested desa had no family that fits: the scenario is in the family's own desa.
    moved: bool = False
    #: How the kind was realised, e.g. ``missing_from_dtsen`` or ``name_mismatch``.
    variant: str = ""
    why: str = ""
    #: The family cards used (the case's first): pass them as ``exclude`` so later scenarios use other families.
    families: tuple[str, ...] = ()

    @property
    def db_name(self) -> str:
        return desa_db_name(self.desa)

    @property
    def application_id(self) -> str:
        assert self.case.application is not None
        return str(self.case.application["_id"])

    @property
    def result_id(self) -> str:
        return f"result:{self.application_id}"

    @property
    def task_id(self) -> str:
        """The field-verification task's id: ``task:<case id>``, the case being the application."""
        return f"task:{self.application_id}"

    def documents(self) -> list[dict[str, Any]]:
        """Every document, related ones first, each a fresh copy (a device adds ``_rev`` to what it saves)."""
        docs = [d for case in (*self.related, self.case) for d in case.documents()]
        return [_deep_copy(d) for d in docs]

    def withdrawal(
        self, *, sources: Sequence[ConsentSource] = (), after: dt.timedelta = dt.timedelta(days=1)
    ) -> dict[str, Any]:
        """The applicant withdrawing their consent ``after`` it was given: all of it, or only ``sources``.

        Recorded by the same agent and device, witnessed the same way; its id is derived from the application's,
        so it is the same document every time it is asked for.
        """
        consent = self.case.consent
        assert consent is not None, "a scenario's case always has a consent"
        captured = dt.datetime.fromisoformat(consent["captured_at"]) + after
        doc: dict[str, Any] = {
            "_id": f"consent_withdrawal:{uuid.uuid5(uuid.NAMESPACE_URL, self.application_id + '/withdrawal')}",
            "type": "consent_withdrawal",
            "form_version": 1,
            "desa": consent["desa"],
            "agent_id": consent["agent_id"],
            "device_id": consent["device_id"],
            "captured_at": captured.isoformat(),
            "subject_nik": consent["subject_nik"],
            "subject_name": consent["subject_name"],
            "subject_birth_date": consent["subject_birth_date"],
            "method": _deep_copy(consent["method"]),
            "consent_id": consent["_id"],
            "scope": "sources" if sources else "all",
            "sources": [source.value for source in sources],
            "reason": "Keluarga tidak ingin melanjutkan pengajuan",
            "channel": "assisted",
        }
        return doc


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


class _Builder:
    """Turns a family into form documents; ids and times come from one seeded generator."""

    def __init__(self, rng: random.Random, reference_date: dt.date, agent_id: str, device_id: str) -> None:
        self._rng = rng
        self.agent_id = agent_id
        self.device_id = device_id
        # Captured two weeks after the reference data's date (births are all before it), in the morning, WIB.
        start = dt.datetime.combine(
            reference_date + dt.timedelta(days=14), dt.time(8, 0), dt.timezone(dt.timedelta(hours=7))
        )
        self._moment = start + dt.timedelta(minutes=rng.randrange(0, 600))

    @property
    def captured_on(self) -> dt.date:
        return self._moment.date()

    def _uuid(self, key: str) -> str:
        """Random for the seed, and distinct per ``key`` (a family card, a household id): scenarios of two families
        never share an id even when their builders drew the same numbers."""
        return str(uuid.uuid5(uuid.UUID(int=self._rng.getrandbits(128)), key))

    def _next_moment(self) -> str:
        self._moment += dt.timedelta(minutes=1 + self._rng.randrange(0, 4))
        return self._moment.isoformat()

    def _base(self, doc_type: str, desa: str, key: str) -> dict[str, Any]:
        return {
            "_id": f"{doc_type}:{self._uuid(f'{doc_type}/{key}')}",
            "type": doc_type,
            "form_version": 1,
            "desa": desa,
            "agent_id": self.agent_id,
            "device_id": self.device_id,
            "captured_at": self._next_moment(),
        }

    def household(
        self, family: Family, people: Sequence[Person], *, names: dict[str, str] | None = None, desa: str | None = None
    ) -> dict[str, Any]:
        names = names or {}
        match = _ADDRESS.match(family.address)
        street, rt, rw = (match["street"], match["rt"], match["rw"]) if match else (family.address[:200], "001", "001")
        doc = self._base("household", desa or family.desa, family.kk_number)
        doc.update(
            {
                "kk_number": family.kk_number,
                "address": {"street": street, "rt": rt, "rw": rw},
                "members": [self._member(p, names.get(p.nik, p.name)) for p in people],
                "housing": _housing(family.dtsen),
            }
        )
        return doc

    def _member(self, person: Person, name: str) -> dict[str, Any]:
        record = person.dtsen or {}
        member: dict[str, Any] = {
            "nik": person.nik,
            "name": name,
            "birth_date": person.birth_date.isoformat(),
            "sex": _SEX[person.sex],
            "relationship": RELATIONSHIP_CODES.get(person.relationship, "other_relative"),
            "marital_status": _MARITAL.get(person.marital_status),
            "disability": DISABILITY_CODES.get(record.get("disability", "tidak"), "none"),
            "occupation": OCCUPATION_CODES.get(record.get("occupation", ""), "not_working"),
        }
        if person.sex == "P" and record.get("pregnant"):
            member["maternal_status"] = "pregnant"
        enrolled = record.get("school_level")
        education = record.get("education", "belum_sekolah")
        if enrolled in ("sd", "smp", "sma"):
            member["school_level"], member["school_status"] = enrolled, "enrolled"
        elif education in EDUCATION_CODES:
            years = int(record.get("years_of_schooling", 0))
            finished = years >= {"sd": 6, "smp": 9, "sma": 12, "diploma_sarjana": 16}[education]
            member["school_level"] = EDUCATION_CODES[education]
            member["school_status"] = "finished" if finished else "dropped_out"
        return {k: v for k, v in member.items() if v is not None}

    def consent(self, applicant: Person, name: str, household_id: str, desa: str) -> dict[str, Any]:
        doc = self._base("consent", desa, household_id)
        doc.update(
            {
                "subject_nik": applicant.nik,
                "subject_name": name,
                "subject_birth_date": applicant.birth_date.isoformat(),
                "method": {
                    "kind": "witnessed_verbal",
                    "witness": {"name": self._rng.choice(_WITNESSES), "role": "rt_rw"},
                },
                "household_id": household_id,
                "purposes": [{"source": source.value, "granted": True} for source in ConsentSource],
                "notice_version": NOTICE_VERSION,
                "channel": "assisted",
            }
        )
        return doc

    def application(
        self,
        applicant: Person,
        household_id: str,
        consent_id: str,
        components: Sequence[tuple[Component, str]],
        desa: str,
    ) -> dict[str, Any]:
        doc = self._base("application", desa, household_id)
        doc.update(
            {
                "household_id": household_id,
                "applicant_nik": applicant.nik,
                "channel": "assisted",
                "components": [{"component": c.value, "member_nik": nik} for c, nik in components],
                "consent_id": consent_id,
            }
        )
        return doc

    def case(
        self,
        family: Family,
        rules: RuleSet,
        *,
        names: dict[str, str] | None = None,
        people: Sequence[Person] | None = None,
    ) -> CaseDocuments:
        names = names or {}
        listed = list(people if people is not None else family.people)
        applicant = choose_applicant(listed, self.captured_on)
        household = self.household(family, listed, names=names)
        name = names.get(applicant.nik, applicant.name)
        consent = self.consent(applicant, name, household["_id"], family.desa)
        found = [(c, nik) for c, nik in claims(family, self.captured_on, rules) if any(p.nik == nik for p in listed)]
        if not found:
            raise NoFamilyFits(f"nobody in family {family.kk_number} qualifies for a component")
        application = self.application(applicant, household["_id"], consent["_id"], found, family.desa)
        return CaseDocuments(household, consent, application)


def choose_applicant(people: Sequence[Person], on: dt.date) -> Person:
    """The family's manager as PKH asks for: the wife (or a female head), else the head; an adult alive in any case.
    Raises :class:`NoFamilyFits` when there is none."""
    person = _applicant_or_none(people, on)
    if person is None:
        raise NoFamilyFits("the family has no living adult to apply")
    return person


def _applicant_or_none(people: Sequence[Person], on: dt.date) -> Person | None:
    adults = [p for p in people if p.status == "alive" and age_on(p.birth_date, on) >= ADULT_AGE]
    preferences: tuple[Callable[[Person], bool], ...] = (
        lambda p: p.relationship == "istri_suami" and p.sex == "P",
        lambda p: p.relationship == "kepala" and p.sex == "P",
        lambda p: p.relationship == "kepala",
        lambda p: True,
    )
    for wanted in preferences:
        for person in adults:
            if wanted(person):
                return person
    return None


def _housing(dtsen: dict[str, Any] | None) -> dict[str, Any]:
    if dtsen is None:
        # Not in DTSEN: the pendamping still records what the house looks like; a modest, common house.
        return {
            "ownership": "own",
            "floor": "cement_brick",
            "wall": "masonry",
            "roof": "clay_tile",
            "drinking_water": "protected_well",
            "toilet": "shared",
            "toilet_disposal": "pit",
            "lighting": "pln_metered",
            "electricity_va": 900,
            "cooking_fuel": "lpg_3kg",
        }
    lighting = _LIGHTING[dtsen["lighting"]]
    housing: dict[str, Any] = {
        "ownership": _OWNERSHIP[dtsen["house_ownership"]],
        "floor_area_m2": float(dtsen["floor_area_m2"]),
        "floor": _FLOOR[dtsen["floor"]],
        "wall": _WALL[dtsen["wall"]],
        "roof": _ROOF[dtsen["roof"]],
        "drinking_water": _WATER[dtsen["drinking_water"]],
        "toilet": _TOILET[dtsen["toilet"]],
        "lighting": lighting,
        "cooking_fuel": _FUEL[dtsen["cooking_fuel"]],
        "assets": [
            *(["motorcycle"] if dtsen["motorcycles"] else []),
            *(["car"] if dtsen["cars"] else []),
            *(["land"] if dtsen["owns_land"] else []),
        ],
    }
    disposal = _DISPOSAL[dtsen["toilet"]]
    if disposal:
        housing["toilet_disposal"] = disposal
    if lighting == "pln_metered":
        housing["electricity_va"] = int(dtsen["electricity_va"])
    if dtsen["livestock"]:
        housing["livestock"] = {"goat_sheep": 2}
    return housing


# --- Choosing families --------------------------------------------------------------------------------------


def natural_kind(family: Family, on: dt.date, rules: RuleSet) -> ScenarioKind | None:
    """The kind a family is an instance of as it stands, or None when it is none of them cleanly (an excluded
    family, a contradicting asset, nobody qualifying, ...). A labelled family is only ever its label's kind."""
    for kind in EDGE_KINDS:
        if kind.value in family.labels:
            return kind if _edge_fits(kind, family, on, rules) else None
    if not is_clean(family) or not _qualifies(family, on, rules):
        return None
    desil = family.desil
    assert desil is not None
    return ScenarioKind.eligible if desil <= rules.max_desil else ScenarioKind.not_eligible


def _qualifies(family: Family, on: dt.date, rules: RuleSet) -> bool:
    """Nothing but the desil (and the label) left to decide: no exclusion, no contradicting asset, an adult alive to
    apply, and a member alive who qualifies for a component."""
    if is_excluded(family, rules) or contradicts_desil(family, rules):
        return False
    alive = {p.nik for p in family.people if p.status == "alive"}
    return _applicant_or_none(family.people, on) is not None and any(
        nik in alive for _, nik in claims(family, on, rules)
    )


def _edge_fits(kind: ScenarioKind, family: Family, on: dt.date, rules: RuleSet) -> bool:
    """A labelled family shows its label and nothing else that would decide the case first."""
    if family.labels != {kind.value} or not _qualifies(family, on, rules):
        return False
    dates_agree = all(_nik_birth_date_agrees(p) for p in family.people)
    everyone_alive = all(p.status == "alive" for p in family.people)
    if kind is ScenarioKind.missing_from_dtsen:
        return everyone_alive and dates_agree and family.dtsen is None
    if family.dtsen is None or (family.desil or 99) > rules.max_desil:
        return False
    if kind is ScenarioKind.duplicate_household:
        return everyone_alive and dates_agree and len(family.unlisted) == 1
    listed_in_dtsen = all(p.dtsen is not None for p in family.people)
    if kind is ScenarioKind.invalid_nik_in_dtsen:
        return everyone_alive and dates_agree and not family.shared_niks
    if kind is ScenarioKind.nik_date_mismatch:
        return everyone_alive and listed_in_dtsen and not family.shared_niks
    # deceased_member, moved_person: that person's status is the family's only oddity.
    return listed_in_dtsen and dates_agree and not family.shared_niks


def _shuffled(items: Sequence[str], rng: random.Random) -> list[str]:
    copy = list(items)
    rng.shuffle(copy)
    return copy


@dataclass
class _Search:
    reader: ReferenceFamilies
    rules: RuleSet
    on: dt.date
    rng: random.Random
    exclude: Collection[str] = ()

    def first(
        self, kks: Sequence[str], wanted: ScenarioKind, accept: Callable[[Family], bool] = lambda f: True
    ) -> Family | None:
        for family in self.reader.families(_shuffled([k for k in kks if k not in self.exclude], self.rng)):
            if natural_kind(family, self.on, self.rules) is wanted and accept(family):
                return family
        return None


def build_scenario(
    engine: Engine,
    kind: ScenarioKind | str,
    *,
    desa: str = LATENG,
    agent_id: str = "pendamping.lateng",
    device_id: str = "device-scenario",
    seed: int = 1,
    strict: bool = False,
    exclude: Collection[str] = (),
    rules: RuleSet | None = None,
) -> Scenario:
    """One scenario of ``kind`` for a family of ``desa`` (see the module docstring for what happens when none fits).

    ``engine``: a synchronous engine on the reference tables. ``agent_id``/``device_id`` are written into every
    document (the gateway refuses a document recorded in another agent's name). ``exclude``: family cards (KK
    numbers) not to use, e.g. the ``families`` of earlier scenarios synced to the same server. Raises
    :class:`NoFamilyFits`.
    """
    kind = ScenarioKind(kind)
    region = wilayah.find(desa)
    if region is None or region.level != "desa":
        raise ValueError(f"not a desa code: {desa!r}")
    rules = rules or load_rule_set(RuleSettings())
    reader = ReferenceFamilies(engine)
    rng = random.Random(f"{seed}:{kind.value}:{region.code}")
    builder = _Builder(rng, reader.reference_date(), agent_id, device_id)
    exclude = frozenset(exclude)
    search = _Search(reader, rules, builder.captured_on, rng, exclude)
    local = reader.kk_numbers(region.digits)
    local_set = set(local)

    def find(
        wanted: ScenarioKind, candidates: Sequence[str] | None = None, accept: Callable[[Family], bool] = lambda f: True
    ) -> Family:
        everywhere = list(candidates) if candidates is not None else None
        nearby = [k for k in everywhere if k in local_set] if everywhere is not None else local
        family = search.first(nearby, wanted, accept)
        if family is None and not strict:
            family = search.first(everywhere if everywhere is not None else reader.kk_numbers(), wanted, accept)
        if family is None:
            where = f"desa {region.code}" if strict else "the reference data"
            raise NoFamilyFits(f"no family in {where} fits the scenario {wanted.value}")
        return family

    def done(family: Family, case: CaseDocuments, **extra: Any) -> Scenario:
        return _scenario(kind, family, region.digits, case, **extra)

    def twin_known(family: Family, *, same_desa: bool = False) -> bool:
        twin = _twin_family(reader, family)
        return (
            twin is not None
            and twin.kk_number not in exclude
            and (not same_desa or twin.desa_digits == family.desa_digits)
        )

    if kind is ScenarioKind.duplicate_household:
        family = find(kind, reader.labelled(kind.value), twin_known)
        case, related, twin = _duplicate(builder, reader, family, rules)
        expected, why = LABEL_EXPECTATIONS[kind]
        return done(family, case, expected=expected, related=(related,), related_families=(twin,), why=why)

    if kind in EDGE_KINDS:
        family = find(kind, reader.labelled(kind.value))
        expected, why = LABEL_EXPECTATIONS[kind]
        return done(family, builder.case(family, rules), expected=expected, why=why)

    if kind in (ScenarioKind.eligible, ScenarioKind.not_eligible):
        family = find(kind)
        return done(family, builder.case(family, rules), expected=kind.value)

    if kind is ScenarioKind.needs_field_verification:
        missing = search.first(
            [k for k in reader.labelled(ScenarioKind.missing_from_dtsen.value) if k in local_set],
            ScenarioKind.missing_from_dtsen,
        )
        if missing is not None:
            why = LABEL_EXPECTATIONS[ScenarioKind.missing_from_dtsen][1]
            case = builder.case(missing, rules)
            return done(missing, case, expected=kind.value, variant="missing_from_dtsen", why=why)
        family = find(ScenarioKind.eligible)
        applicant = choose_applicant(family.people, builder.captured_on)
        other = next(n for n in _OTHER_NAMES if not names_match(n, applicant.name, 50.0))
        case = builder.case(family, rules, names={applicant.nik: other})
        why = "the applicant's declared name is not the one the population registry holds: a field visit checks it"
        return done(family, case, expected=kind.value, variant="name_mismatch", why=why)

    # needs_review: the same NIK in two households. A duplicate_household family of the desa whose twin's own
    # family is in the desa too, when there is one; else an eligible family one of whose members another household
    # of the desa also lists.
    labelled = [k for k in reader.labelled(ScenarioKind.duplicate_household.value) if k in local_set]
    duplicate = search.first(labelled, ScenarioKind.duplicate_household, lambda f: twin_known(f, same_desa=True))
    if duplicate is not None:
        case, related, twin = _duplicate(builder, reader, duplicate, rules)
        why = LABEL_EXPECTATIONS[ScenarioKind.duplicate_household][1]
        return done(
            duplicate,
            case,
            expected=kind.value,
            related=(related,),
            related_families=(twin,),
            variant="duplicate_household",
            why=why,
        )
    family = find(ScenarioKind.eligible, accept=lambda f: _other_household(search, f) is not None)
    other_family = _other_household(search, family)
    assert other_family is not None
    shared = _shared_member(family, builder.captured_on)
    listed = [*other_family.people, replace(shared, relationship="famili_lain")]
    related = CaseDocuments(builder.household(other_family, listed))
    case = builder.case(family, rules)
    why = "a member of the family is also listed in another household of the desa: a supervisor decides"
    return done(
        family,
        case,
        expected=kind.value,
        related=(related,),
        related_families=(other_family,),
        variant="shared_member",
        why=why,
    )


def _twin_family(reader: ReferenceFamilies, family: Family) -> Family | None:
    """The own family (by family card) of the person DTSEN lists in ``family`` without being on its card."""
    if len(family.unlisted) != 1:
        return None
    kk = reader.kk_of(family.unlisted[0].nik)
    return next(iter(reader.families([kk])), None) if kk else None


def _duplicate(
    builder: _Builder, reader: ReferenceFamilies, family: Family, rules: RuleSet
) -> tuple[CaseDocuments, CaseDocuments, Family]:
    """The labelled family's case, listing the person DTSEN puts in their house, and that person's own household."""
    twin_family = _twin_family(reader, family)
    if twin_family is None:
        raise NoFamilyFits(f"the family card of the person shared with family {family.kk_number} is not on record")
    related = CaseDocuments(builder.household(twin_family, twin_family.people))
    case = builder.case(family, rules, people=[*family.people, *family.unlisted])
    return case, related, twin_family


def _other_household(search: _Search, family: Family) -> Family | None:
    """A second family of the same desa, in DTSEN, with no label (it only lends its household document)."""
    pool = [
        k for k in search.reader.kk_numbers(family.desa_digits) if k != family.kk_number and k not in search.exclude
    ]
    for candidate in search.reader.families(sorted(pool)[:50]):
        if candidate.dtsen is not None and candidate.people and not candidate.labels and not candidate.shared_niks:
            return candidate
    return None


def _shared_member(family: Family, on: dt.date) -> Person:
    """The member another household also lists: an adult child if there is one (who may have married into another
    family and still be on both lists), else the youngest member who does not apply."""
    applicant = choose_applicant(family.people, on)
    others = [p for p in family.people if p.nik != applicant.nik]
    children = [p for p in others if p.relationship == "anak" and age_on(p.birth_date, on) >= ADULT_AGE]
    if children:
        return children[0]
    return sorted(others or family.people, key=lambda p: p.birth_date)[-1]


def _scenario(
    kind: ScenarioKind,
    family: Family,
    requested_digits: str,
    case: CaseDocuments,
    *,
    expected: str,
    related: tuple[CaseDocuments, ...] = (),
    related_families: tuple[Family, ...] = (),
    variant: str = "",
    why: str = "",
) -> Scenario:
    return Scenario(
        kind=kind,
        expected=expected,
        desa=family.desa,
        case=case,
        related=related,
        moved=family.desa_digits != requested_digits,
        variant=variant or kind.value,
        why=why,
        families=(family.kk_number, *(f.kk_number for f in related_families)),
    )


#: Kinds that need documents synced (and processed) before their own: never built in bulk.
_ORDERED_KINDS = frozenset({ScenarioKind.needs_review, ScenarioKind.duplicate_household})
#: Every kind a family can be as it stands and that can be built in bulk: a realistic mix for a load.
BULK_KINDS = (
    ScenarioKind.eligible,
    ScenarioKind.not_eligible,
    *(kind for kind in EDGE_KINDS if kind not in _ORDERED_KINDS),
)


def bulk_scenarios(
    engine: Engine,
    count: int,
    *,
    seed: int = 1,
    agent_id: str = "bench.pendamping",
    device_id: str = "device-bulk",
    kinds: Iterable[ScenarioKind | str] = (ScenarioKind.eligible, ScenarioKind.not_eligible),
    desa: Sequence[str] | None = None,
    exclude: Collection[str] = (),
    allow_fewer: bool = False,
    rules: RuleSet | None = None,
) -> list[Scenario]:
    """``count`` scenarios of distinct families, each in its own desa, in an order fixed by ``seed``.

    Families are taken as they stand (:func:`natural_kind`), so each scenario's expectation is that of its family;
    only ``kinds`` are kept (eligible and not-eligible families by default; any edge kind but
    ``duplicate_household`` may be added). ``needs_review`` and ``duplicate_household`` are not built in bulk: their
    related household must be processed first. ``desa``: only these desa (dotted or 10 digits); default all.
    When the data holds fewer: :class:`NoFamilyFits`, or with ``allow_fewer`` as many as there are.
    """
    wanted = {ScenarioKind(k) for k in kinds}
    if wanted & _ORDERED_KINDS:
        raise ValueError("needs_review and duplicate_household scenarios are built one at a time (build_scenario)")
    rules = rules or load_rule_set(RuleSettings())
    reader = ReferenceFamilies(engine)
    rng = random.Random(f"{seed}:bulk")
    builder = _Builder(rng, reader.reference_date(), agent_id, device_id)
    on = builder.captured_on
    if desa is None:
        pool = reader.kk_numbers()
    else:
        pool = [kk for code in desa for kk in reader.kk_numbers(wilayah.normalise_code(code).replace(".", ""))]
    found: list[Scenario] = []
    skip = frozenset(exclude)
    for family in reader.families(_shuffled([kk for kk in pool if kk not in skip], rng)):
        kind = natural_kind(family, on, rules)
        if kind is None or kind not in wanted:
            continue
        expected, why = LABEL_EXPECTATIONS[kind] if kind in EDGE_KINDS else (kind.value, "")
        found.append(
            _scenario(kind, family, family.desa_digits, builder.case(family, rules), expected=expected, why=why)
        )
        if len(found) == count:
            return found
    if allow_fewer:
        return found
    raise NoFamilyFits(f"the reference data holds {len(found)} families of the kinds asked for, not {count}")


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m simpul.scenarios KIND [--desa CODE] [--agent USER] [--seed N] [--write]``: the documents of one
    scenario, on the configured store's reference data (``make run`` generates it). Printed as JSON, one per line,
    related ones first; with ``--write`` also stored in their desa databases of the configured CouchDB, as a device's
    replication would, so a running worker decides the case (another ``--seed`` gives another family)."""
    import argparse
    import json

    import httpx

    from replication.couch import split_credentials
    from simpul.db import make_sync_engine
    from simpul.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m simpul.scenarios", description=main.__doc__)
    parser.add_argument("kind", choices=[k.value for k in ScenarioKind])
    parser.add_argument("--desa", default=LATENG)
    parser.add_argument("--agent", default="pendamping.lateng", help="agent_id of the documents (the login)")
    parser.add_argument("--device", default="device-scenario")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--strict", action="store_true", help="fail rather than move to another desa")
    parser.add_argument("--write", action="store_true", help="store the documents in CouchDB (past the gateway)")
    args = parser.parse_args(argv)
    settings = Settings()
    engine = make_sync_engine(settings.resolved_database_url)
    try:
        scenario = build_scenario(
            engine,
            args.kind,
            desa=args.desa,
            agent_id=args.agent,
            device_id=args.device,
            seed=args.seed,
            strict=args.strict,
            exclude=families_in_cases(engine),
        )
    except NoFamilyFits as exc:
        raise SystemExit(str(exc)) from None
    finally:
        engine.dispose()
    # The documents go to stdout (one JSON per line, for jq); what they are and where they go to stderr.
    note = f" (no family in desa {args.desa} fits: moved to desa {scenario.desa})" if scenario.moved else ""
    why = f"; {scenario.why}" if scenario.why else ""
    say(f"# {scenario.kind.value}: expect {scenario.expected} in {scenario.db_name}{note}{why}")
    for doc in scenario.documents():
        print(json.dumps(doc, ensure_ascii=False))
    if not args.write:
        say(f"# not written (add --write); the worker would write {scenario.result_id} into {scenario.db_name}")
        return
    base_url, auth = split_credentials(settings.resolved_couchdb_url)
    with httpx.Client(base_url=base_url, auth=auth, timeout=30) as couch:
        for case in (*scenario.related, scenario.case):
            answers = couch.post(f"/{case.db_name}/_bulk_docs", json={"docs": case.documents()}).json()
            refused = [a for a in answers if "error" in a] if isinstance(answers, list) else [answers]
            if refused:
                first = refused[0] if isinstance(refused[0], dict) else {}
                if first.get("error") == "conflict":
                    raise SystemExit(
                        f"{first.get('id')} is already in {case.db_name}, written earlier and not yet decided by the "
                        "worker: wait for it (is `make run` running?) or try another --seed"
                    )
                raise SystemExit(f"not written: {first.get('error')}: {first.get('reason')}")
    say(f"# written; the worker writes {scenario.result_id} into {scenario.db_name}")
    if scenario.moved:
        say(
            f"# {args.agent} is not assigned to {scenario.desa}: read the result as admin, "
            f"GET /api/v1/cases/{quote(scenario.application_id, safe='')}"
        )


def say(line: str) -> None:
    print(line, file=sys.stderr)


def families_in_cases(engine: Engine) -> frozenset[str]:
    """The family cards (KK numbers) of the cases this store has seen: a family written again would be a second
    application of the same people, a ``needs_review`` case rather than the scenario asked for."""
    from sqlmodel import col

    from sync.cases.tables import CaseRecord

    if not inspect(engine).has_table(CaseRecord.__tablename__):
        return frozenset()
    with engine.connect() as connection:
        rows = connection.execute(select(col(CaseRecord.kk_number)).where(col(CaseRecord.kk_number).is_not(None)))
        return frozenset(str(kk) for (kk,) in rows)


if __name__ == "__main__":
    main()
