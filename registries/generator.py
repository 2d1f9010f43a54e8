"""Deterministic reference data for Kabupaten Banyuwangi: the same seed gives the same rows, byte for byte.

Households are spread over the real desa and kelurahan (``agent_forms.wilayah``); each becomes a family card
(KK) in the population registry, a DTSEN household with its members, and, for a realistic minority, ministries
records. Generation is pure (``ReferenceDataGenerator.batches`` yields rows); ``load`` writes them with
SQLAlchemy core ``insert()`` executemany, in chunks, on SQLite or PostgreSQL.

Decisions worth knowing:
- Randomness comes from one ``random.Random(seed)`` consumed in a fixed order; names come from Faker's
  ``id_ID`` word lists (picked with that same generator, far faster than a Faker call per name), addresses
  from a street pool drawn once from a seeded ``Faker("id_ID")``.
- A hidden welfare level per household drives the housing indicators, assets and jobs; the DTSEN desil is
  ranked from a proxy-means score of those indicators, so it plausibly follows what the house looks like.
- Edge cases are labelled in ``reg_edge_case``: ``deceased_member``, ``moved_person``, ``nik_date_mismatch``,
  ``missing_from_dtsen``, ``duplicate_household``, ``invalid_nik_in_dtsen``. The first households of a run get
  one of each, so even a tiny run has every label; after that they occur at their own small rates.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

from faker import Faker
from faker.providers.person.id_ID import Provider as IdPersonProvider
from sqlalchemy import Engine, delete, insert, select, update
from sqlmodel import SQLModel

from agent_forms import wilayah
from registries import tables as t
from registries.identifiers import SerialAllocator, make_kk, make_nik

DEFAULT_REFERENCE_DATE = dt.date(2025, 10, 1)

EDGE_LABELS = (
    "deceased_member",
    "moved_person",
    "nik_date_mismatch",
    "missing_from_dtsen",
    "duplicate_household",
    "invalid_nik_in_dtsen",
)
EDGE_RATES = {
    "deceased_member": 0.015,
    "moved_person": 0.008,
    "nik_date_mismatch": 0.006,
    "missing_from_dtsen": 0.03,
    "duplicate_household": 0.004,
    "invalid_nik_in_dtsen": 0.003,
}

SOURCE_NAMES = {
    "dukcapil": "Dukcapil Kemendagri",
    "dtsen": "DTSEN (BPS)",
    "splp": "SPLP (Komdigi)",
    "bpjs": "BPJS Kesehatan / BPJS Ketenagakerjaan",
    "vehicle": "Korlantas Polri (ERI)",
    "electricity": "PT PLN (Persero)",
    "land": "Kementerian ATR/BPN",
}
EMPLOYMENT_SOURCES = {
    "asn": "BKN (SIASN)",
    "tni": "Mabes TNI",
    "polri": "Polri (SSDM)",
    "state_paid": "BPKAD Kabupaten Banyuwangi",
    "bumn_bumd": "BPJS Ketenagakerjaan",
    "village_official": "Kemendagri (Prodeskel)",
    "certified_teacher": "Kemendikdasmen (Dapodik)",
    "certified_health_worker": "Kemenkes (SISDMK)",
}
_EMPLOYMENT_WEIGHTS = {
    "asn": 38,
    "state_paid": 18,
    "certified_teacher": 12,
    "bumn_bumd": 9,
    "polri": 7,
    "tni": 6,
    "village_official": 5,
    "certified_health_worker": 5,
}
_DTSEN_OCCUPATION = {
    "asn": "pns",
    "tni": "tni_polri",
    "polri": "tni_polri",
    "state_paid": "honorer",
    "bumn_bumd": "karyawan_bumn_bumd",
    "village_official": "perangkat_desa",
    "certified_teacher": "guru",
    "certified_health_worker": "tenaga_kesehatan",
}

Rows = dict[str, list[dict[str, Any]]]
_NORMAL = NormalDist()


@dataclass
class Batch:
    rows: Rows = field(default_factory=lambda: {tbl.name: [] for tbl in t.registry_tables()})
    households: int = 0
    people: int = 0

    def add(self, model: type[SQLModel], row: dict[str, Any]) -> None:
        self.rows[t.table_of(model).name].append(row)


@dataclass
class _Person:
    nik: str
    name: str
    sex: str
    birth_date: dt.date
    relationship: str
    registry_birth_date: dt.date
    member: dict[str, Any] = field(default_factory=dict)


def _level(score: float, cuts: tuple[float, ...], values: tuple[Any, ...]) -> Any:
    for cut, value in zip(cuts, values, strict=False):
        if score < cut:
            return value
    return values[-1]


class ReferenceDataGenerator:
    def __init__(self, seed: int, households: int, reference_date: dt.date = DEFAULT_REFERENCE_DATE) -> None:
        if households < 0:
            raise ValueError("households must be >= 0")
        self.seed = seed
        self.households = households
        self.reference_date = reference_date
        self._rng = random.Random(seed)
        self._nik_serials = SerialAllocator()
        self._kk_serials = SerialAllocator()
        faker = Faker("id_ID")
        faker.seed_instance(seed)
        self._streets = sorted({faker.street_name() for _ in range(400)})
        self._male = sorted(set(IdPersonProvider.first_names_male))
        self._female = sorted(set(IdPersonProvider.first_names_female))
        self._last_male = sorted(set(IdPersonProvider.last_names_male))
        self._last_female = sorted(set(IdPersonProvider.last_names_female))
        self._desa = sorted(wilayah.desa_list(), key=lambda r: r.code)
        self._kecamatan = sorted(wilayah.kecamatan_list(), key=lambda r: r.code)
        self._kec_names = {k.digits: k.name for k in self._kecamatan}
        self._previous: list[_Person] = []
        self._ranking_dates = [dt.date(2025, 2, 1), dt.date(2025, 5, 1), dt.date(2025, 8, 1)]

    # --- allocation -----------------------------------------------------------------------------------------

    def allocation(self) -> list[tuple[wilayah.Region, int]]:
        """Households per desa: proportional to a fixed pseudo-random weight (kelurahan are denser)."""
        weight_rng = random.Random(f"{self.seed}:weights")
        weights = [weight_rng.uniform(0.5, 1.5) * (1.6 if d.is_kelurahan else 1.0) for d in self._desa]
        total = sum(weights)
        exact = [self.households * w / total for w in weights]
        counts = [math.floor(x) for x in exact]
        remainder = self.households - sum(counts)
        by_fraction = sorted(range(len(exact)), key=lambda i: (-(exact[i] - counts[i]), i))
        for i in by_fraction[:remainder]:
            counts[i] += 1
        return list(zip(self._desa, counts, strict=True))

    # --- generation -----------------------------------------------------------------------------------------

    def batches(self, households_per_batch: int = 2000) -> Iterator[Batch]:
        batch = Batch()
        index = 0
        for desa, count in self.allocation():
            for n in range(count):
                self._household(batch, desa, n, index)
                index += 1
                batch.households += 1
                if batch.households >= households_per_batch:
                    yield batch
                    batch = Batch()
        batch.add(t.RegMeta, {"key": "seed", "value": str(self.seed)})
        batch.add(t.RegMeta, {"key": "households", "value": str(self.households)})
        batch.add(t.RegMeta, {"key": "reference_date", "value": self.reference_date.isoformat()})
        for source in ("dukcapil", "dtsen", "splp"):
            batch.add(t.RegMeta, {"key": f"{source}_as_of", "value": self.reference_date.isoformat()})
        batch.add(t.RegMeta, {"key": "change_batches", "value": "0"})
        yield batch

    def _edge_label(self, index: int) -> str | None:
        if index < len(EDGE_LABELS):
            return EDGE_LABELS[index]
        r = self._rng.random()
        for label, rate in EDGE_RATES.items():
            if r < rate:
                return label
            r -= rate
        return None

    def _birth(self, age: float) -> dt.date:
        days = int(age * 365.25) + self._rng.randint(0, 364)
        return self.reference_date - dt.timedelta(days=days)

    def _name(self, sex: str) -> str:
        rng = self._rng
        first = rng.choice(self._male if sex == "L" else self._female)
        r = rng.random()
        if r < 0.35:
            return first
        if r < 0.7:
            return f"{first} {rng.choice(self._male if sex == 'L' else self._female)}"
        return f"{first} {rng.choice(self._last_male if sex == 'L' else self._last_female)}"

    def _composition(self) -> list[tuple[str, str, float]]:
        """(relationship, sex, age) of each member, head first."""
        rng = self._rng
        head_age = rng.triangular(21, 88, 42)
        head_sex = "P" if rng.random() < 0.14 else "L"
        members = [("kepala", head_sex, head_age)]
        mother_age = head_age if head_sex == "P" else None
        if head_sex == "L" and rng.random() < 0.86:
            spouse_age = max(18.0, head_age - rng.uniform(-2, 8))
            members.append(("istri_suami", "P", spouse_age))
            mother_age = spouse_age
        if mother_age is not None or head_sex == "L":
            parent_age = mother_age if mother_age is not None else head_age
            weights = (26, 30, 26, 12, 6) if head_age < 60 else (60, 25, 10, 4, 1)
            for _ in range(rng.choices(range(5), weights=weights)[0]):
                oldest = max(0.0, min(parent_age - 18, 30))
                members.append(("anak", rng.choice("LP"), rng.uniform(0, oldest)))
        if head_age < 55 and rng.random() < 0.07:
            members.append(
                (
                    "orang_tua" if rng.random() < 0.5 else "mertua",
                    rng.choice("LP"),
                    head_age + rng.uniform(20, 33),
                )
            )
        if head_age > 50 and rng.random() < 0.15:
            members.append(("cucu", rng.choice("LP"), rng.uniform(0, 10)))
        return members

    def _household(self, batch: Batch, desa: wilayah.Region, n: int, index: int) -> None:
        rng = self._rng
        ref = self.reference_date
        kec6 = desa.digits[:6]
        label = self._edge_label(index)

        issued = ref - dt.timedelta(days=rng.randint(30, 20 * 365))
        kk = make_kk(self._kk_serials, kec6, issued)
        address = (
            f"{rng.choice(self._streets)} No. {rng.randint(1, 150)}, RT {rng.randint(1, 12):03d}/"
            f"RW {rng.randint(1, 6):03d}, {desa.name}"
        )
        batch.add(t.RegFamily, {"kk_number": kk, "desa_code": desa.digits, "address": address, "issued_on": issued})

        welfare = rng.gauss(-0.15 + (0.4 if desa.is_kelurahan else 0.0), 1.0)
        people: list[_Person] = []
        for relationship, sex, age in self._composition():
            birth = self._birth(age)
            region6 = kec6 if rng.random() < 0.85 else rng.choice(self._kecamatan).digits
            nik = make_nik(self._nik_serials, region6, birth, female=sex == "P")
            people.append(_Person(nik, self._name(sex), sex, birth, relationship, birth))

        # --- labelled edge cases that change the population registry ---
        statuses: dict[str, tuple[str, dt.date]] = {}
        if label == "deceased_member":
            victim = max(people, key=lambda p: ref - p.birth_date)
            statuses[victim.nik] = ("deceased", ref - dt.timedelta(days=rng.randint(20, 400)))
            self._edge(batch, label, victim.nik, kk, "listed in DTSEN, deceased in the population registry")
        elif label == "moved_person":
            mover = people[-1]
            statuses[mover.nik] = ("moved", ref - dt.timedelta(days=rng.randint(20, 400)))
            self._edge(batch, label, mover.nik, kk, "moved out of Banyuwangi, still listed in DTSEN")
        elif label == "nik_date_mismatch":
            corrected = people[0]
            shift = rng.choice([-1, 1]) * rng.randint(1, 400)
            corrected.registry_birth_date = corrected.birth_date + dt.timedelta(days=shift)
            self._edge(
                batch,
                label,
                corrected.nik,
                kk,
                f"NIK date {corrected.birth_date}, registry {corrected.registry_birth_date}",
            )

        for p in people:
            status, since = statuses.get(p.nik, ("alive", None))
            batch.add(
                t.RegPerson,
                {
                    "nik": p.nik,
                    "name": p.name,
                    "sex": p.sex,
                    "birth_date": p.registry_birth_date,
                    "birth_place": self._kec_names.get(p.nik[:6], "Banyuwangi").upper(),
                    "kk_number": kk,
                    "relationship": p.relationship,
                    "religion": rng.choices(("islam", "hindu", "kristen", "katolik"), weights=(955, 20, 20, 5))[0],
                    "marital_status": self._marital(p),
                    "status": status,
                    "status_since": since,
                },
            )
        batch.people += len(people)

        # --- ministries' data (a minority), then DTSEN ---
        jobs = self._ministries(batch, people, welfare, desa)
        housing = self._housing(welfare, len(people))
        self._assets(batch, people[0], housing, welfare)

        dtsen_id = f"D{desa.digits}{n:05d}"
        if label == "missing_from_dtsen":
            self._edge(batch, label, people[0].nik, kk, "family on a KK, never registered in DTSEN")
            return  # ``_previous`` stays the last household that DTSEN holds
        members = [self._member(p, welfare, jobs.get(p.nik)) for p in people]
        if label == "duplicate_household" and self._previous:
            twin = self._previous[-1]
            extra = self._member(twin, welfare, None)
            extra["relationship"] = "famili_lain"
            members.append(extra)
            self._edge(batch, label, twin.nik, kk, "also listed in the DTSEN household of another KK")
        if label == "invalid_nik_in_dtsen":
            wrong = members[0]["nik"][:12] + "0000"
            self._edge(batch, label, wrong, kk, f"DTSEN holds a mistyped NIK for {members[0]['nik']}")
            members[0]["nik"] = wrong
        score = self._pmt(housing, welfare, len(people))
        desil = min(10, max(1, 1 + int(_NORMAL.cdf(score) * 10)))
        batch.add(
            t.RegDtsenHousehold,
            {
                "dtsen_id": dtsen_id,
                "kk_number": kk,
                "desa_code": desa.digits,
                "address": address,
                "desil": desil,
                "ranking_date": rng.choice(self._ranking_dates),
                "pmt_score": round(score, 4),
                **housing,
            },
        )
        for m in members:
            batch.add(t.RegDtsenMember, {"dtsen_id": dtsen_id, **m})
        self._previous = people

    def _edge(self, batch: Batch, label: str, nik: str | None, kk: str | None, detail: str) -> None:
        batch.add(t.RegEdgeCase, {"label": label, "nik": nik, "kk_number": kk, "detail": detail})

    def _marital(self, p: _Person) -> str:
        age = (self.reference_date - p.birth_date).days / 365.25
        if p.relationship in ("istri_suami", "orang_tua", "mertua"):
            return "kawin" if age < 70 else "cerai_mati"
        if p.relationship == "kepala":
            return "kawin" if p.sex == "L" else self._rng.choice(("cerai_mati", "cerai_hidup", "kawin"))
        return "belum_kawin" if age < 25 else "kawin"

    def _member(self, p: _Person, welfare: float, job: str | None) -> dict[str, Any]:
        rng = self._rng
        age = (self.reference_date - p.birth_date).days / 365.25
        school_level: str | None = None
        if age < 6.5:
            education, years = "belum_sekolah", 0
        elif age < 19:
            grade = min(12, max(0, int(age - 6.5)))
            stay = {True: 0.97, False: 0.88 if age < 16 else 0.6 + 0.1 * welfare}[age < 13]
            if rng.random() < stay:
                school_level = "sd" if grade < 6 else "smp" if grade < 9 else "sma"
                years = grade
            else:
                years = min(grade, rng.choice((6, 9)))
            education = "tidak_sekolah" if years == 0 else "sd" if years < 9 else "smp" if years < 12 else "sma"
        else:
            s = welfare + rng.gauss(0, 0.9) - (age - 40) / 40
            education, years = _level(
                s,
                (-1.6, -0.3, 0.5, 1.6),
                (("tidak_sekolah", 2), ("sd", 6), ("smp", 9), ("sma", 12), ("diploma_sarjana", 16)),
            )
            if 19 <= age <= 21 and years < 12 and rng.random() < 0.1:
                school_level, years = "sma", 11
        if job is not None:
            occupation = _DTSEN_OCCUPATION[job]
        elif age < 15:
            occupation = "tidak_bekerja"
        elif school_level is not None:
            occupation = "pelajar"
        elif age >= 70:
            occupation = "tidak_bekerja"
        elif p.sex == "P" and p.relationship == "istri_suami" and rng.random() < 0.55:
            occupation = "mengurus_rumah_tangga"
        else:
            occupation = rng.choices(
                (
                    "petani",
                    "buruh_tani",
                    "nelayan",
                    "buruh",
                    "pedagang",
                    "wiraswasta",
                    "karyawan_swasta",
                    "tidak_bekerja",
                ),
                weights=(18, 20, 6, 18, 12, 10, 8 + 6 * max(0.0, welfare), 8),
            )[0]
        disabled = rng.random() < (0.02 if age < 60 else 0.08)
        disability = ("berat" if rng.random() < 0.35 else "ringan") if disabled else "tidak"
        pregnant = (
            p.sex == "P" and p.relationship in ("kepala", "istri_suami") and 17 <= age <= 44 and rng.random() < 0.07
        )
        return {
            "nik": p.nik,
            "name": p.name,
            "sex": p.sex,
            "birth_date": p.registry_birth_date,
            "relationship": p.relationship,
            "education": education,
            "school_level": school_level,
            "years_of_schooling": years,
            "occupation": occupation,
            "disability": disability,
            "chronic_illness": rng.random() < (0.04 if age < 45 else 0.15),
            "pregnant": pregnant,
        }

    def _ministries(self, batch: Batch, people: list[_Person], welfare: float, desa: wilayah.Region) -> dict[str, str]:
        rng = self._rng
        ref = self.reference_date
        jobs: dict[str, str] = {}
        p_job = min(0.35, 0.045 * math.exp(0.8 * welfare))
        for p in people:
            age = (ref - p.birth_date).days / 365.25
            if 20 <= age <= 80 and rng.random() < p_job:
                kind = rng.choices(list(_EMPLOYMENT_WEIGHTS), weights=list(_EMPLOYMENT_WEIGHTS.values()))[0]
                retired = age >= 58 and kind in ("asn", "tni", "polri")
                if age >= 60 and not retired:
                    continue
                jobs[p.nik] = kind
                batch.add(
                    t.RegEmployment,
                    {
                        "nik": p.nik,
                        "kind": kind,
                        "employer": self._employer(kind, desa),
                        "active": not retired,
                        "retired": retired,
                        "since": ref - dt.timedelta(days=rng.randint(200, int(max(1.0, age - 19) * 365))),
                        "source": EMPLOYMENT_SOURCES[kind],
                        "as_of": ref - dt.timedelta(days=rng.randint(0, 90)),
                    },
                )
        bpjs_as_of = ref - dt.timedelta(days=rng.randint(0, 30))
        for p in people:
            job = jobs.get(p.nik)
            formal = job is not None and job != "village_official"
            if formal:
                segment: str | None = "ppu"
            else:
                poor = welfare + rng.gauss(0, 0.5) < -0.2
                segment = rng.choices(
                    ("pbi", "pbpu", "ppu", None), weights=(85, 5, 2, 8) if poor else (15, 40, 25, 20)
                )[0]
            kt_active = formal or rng.random() < 0.04
            if segment is not None or kt_active:
                batch.add(
                    t.RegBpjs,
                    {
                        "nik": p.nik,
                        "kesehatan_segment": segment,
                        "ketenagakerjaan_active": kt_active,
                        "as_of": bpjs_as_of,
                    },
                )
        return jobs

    def _employer(self, kind: str, desa: wilayah.Region) -> str:
        rng = self._rng
        options = {
            "asn": ("Pemerintah Kabupaten Banyuwangi", "Kementerian Agama", "Pemerintah Provinsi Jawa Timur"),
            "tni": ("Kodim 0825/Banyuwangi", "Lanal Banyuwangi"),
            "polri": ("Polresta Banyuwangi",),
            "state_paid": (
                "RSUD Blambangan",
                "Dinas Pendidikan Kabupaten Banyuwangi",
                "Satpol PP Banyuwangi",
            ),
            "bumn_bumd": (
                "PT KAI (Persero)",
                "PT Pelindo (Persero)",
                "Perumda Air Minum Banyuwangi",
                "PT Bank Jatim",
            ),
            "village_official": (f"Pemerintah {'Kelurahan' if desa.is_kelurahan else 'Desa'} {desa.name}",),
            "certified_teacher": (
                f"SD Negeri {rng.randint(1, 6)} {desa.name}",
                f"SMP Negeri {rng.randint(1, 4)} Banyuwangi",
            ),
            "certified_health_worker": (f"Puskesmas {desa.name}", "RSUD Genteng"),
        }
        return rng.choice(options[kind])

    def _housing(self, welfare: float, size: int) -> dict[str, Any]:
        rng = self._rng

        def s() -> float:
            return welfare + rng.gauss(0, 0.8)

        lighting_score = s()
        lighting = _level(lighting_score, (-2.4, -1.7), ("non_pln", "pln_tanpa_meteran", "pln_meteran"))
        va = 0 if lighting != "pln_meteran" else _level(s(), (-0.5, 0.6, 1.4, 2.1), (450, 900, 1300, 2200, 3500))
        return {
            "house_ownership": _level(s(), (-2.0, -1.3, 2.3), ("bebas_sewa", "sewa", "milik_sendiri", "milik_sendiri")),
            "floor_area_m2": max(12, int(30 + 12 * size + 25 * welfare + rng.gauss(0, 12))),
            "floor": _level(s(), (-1.4, -0.9, 0.1), ("tanah", "bambu_kayu", "semen", "keramik")),
            "wall": _level(s(), (-1.5, -0.9, -0.2), ("bambu", "kayu", "tembok_tanpa_plester", "tembok")),
            "roof": _level(s(), (-2.2, -1.2, -0.7, 2.0), ("ijuk_rumbia", "seng", "asbes", "genteng", "beton")),
            "drinking_water": _level(s(), (-1.8, 0.3, 1.2), ("sungai_mata_air", "sumur", "leding", "air_kemasan")),
            "lighting": lighting,
            "electricity_va": va,
            "cooking_fuel": _level(s(), (-1.3, 1.3, 2.4), ("kayu", "lpg_3kg", "lpg_besar", "listrik")),
            "toilet": _level(s(), (-1.6, -0.9), ("tidak_ada", "bersama", "sendiri")),
            "owns_land": s() > 0.3,
            "livestock": rng.random() < 0.25,
            "motorcycles": _level(s(), (-1.0, 0.3, 1.3), (0, 1, 2, 3)),
            "cars": _level(s(), (1.3, 2.4), (0, 1, 2)),
        }

    def _pmt(self, h: dict[str, Any], welfare: float, size: int) -> float:
        """A proxy-means score over the indicators (higher = better off), standardised to roughly N(0, 1)."""
        points = (
            {"tanah": 0, "bambu_kayu": 1, "semen": 2, "keramik": 3}[h["floor"]]
            + {"bambu": 0, "kayu": 1, "tembok_tanpa_plester": 2, "tembok": 3}[h["wall"]]
            + {"ijuk_rumbia": 0, "seng": 1, "asbes": 1, "genteng": 2, "beton": 3}[h["roof"]]
            + {"sungai_mata_air": 0, "sumur": 1, "leding": 2, "air_kemasan": 3}[h["drinking_water"]]
            + {0: 0, 450: 1, 900: 2, 1300: 3, 2200: 4, 3500: 5}[h["electricity_va"]]
            + {"kayu": 0, "lpg_3kg": 1, "lpg_besar": 2, "listrik": 3}[h["cooking_fuel"]]
            + {"tidak_ada": 0, "bersama": 1, "sendiri": 2}[h["toilet"]]
            + 1.5 * h["motorcycles"]
            + 4 * h["cars"]
            + 2 * h["owns_land"]
            + h["floor_area_m2"] / (15 * size)
        )
        indicator = (points - 18.0) / 4.5
        return 0.7 * indicator + 0.3 * welfare + self._rng.gauss(0, 0.35)

    def _assets(self, batch: Batch, head: _Person, housing: dict[str, Any], welfare: float) -> None:
        rng = self._rng
        ref = self.reference_date
        as_of = ref - dt.timedelta(days=rng.randint(0, 60))
        for kind, count in (("sepeda_motor", housing["motorcycles"]), ("mobil", housing["cars"])):
            for _ in range(count):
                batch.add(
                    t.RegVehicle,
                    {"nik": head.nik, "kind": kind, "year": rng.randint(2005, ref.year), "as_of": as_of},
                )
        if housing["electricity_va"]:
            va = housing["electricity_va"]
            batch.add(
                t.RegElectricity,
                {
                    "nik": head.nik,
                    "va": va,
                    "subsidised": va == 450 or (va == 900 and welfare < -0.3),
                    "as_of": as_of,
                },
            )
        if housing["owns_land"]:
            for _ in range(rng.choice((1, 1, 1, 2))):
                kind = rng.choice(("pertanian", "pekarangan"))
                area = rng.randint(400, 5000) if kind == "pertanian" else rng.randint(60, 600)
                batch.add(t.RegLand, {"nik": head.nik, "kind": kind, "area_m2": area, "as_of": as_of})


# --- loading ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadSummary:
    households: int
    people: int
    rows: dict[str, int]


def reset_tables(engine: Engine) -> None:
    """Drop and re-create the registries' tables (only those)."""
    metadata = t.RegFamily.metadata
    tables = t.registry_tables()
    metadata.drop_all(engine, tables=tables)
    metadata.create_all(engine, tables=tables)


def create_tables(engine: Engine) -> None:
    t.RegFamily.metadata.create_all(engine, tables=t.registry_tables(), checkfirst=True)


def has_reference_data(engine: Engine) -> bool:
    """Whether the reference tables exist and hold at least one household."""
    create_tables(engine)
    with engine.connect() as conn:
        return conn.execute(select(t.table_of(t.RegDtsenHousehold)).limit(1)).first() is not None


def load(
    engine: Engine,
    generator: ReferenceDataGenerator,
    *,
    chunk_rows: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> LoadSummary:
    """Replace the reference tables with the generator's data; ``progress`` gets households loaded so far."""
    reset_tables(engine)
    counts = {tbl.name: 0 for tbl in t.registry_tables()}
    households = people = 0
    by_name = {tbl.name: tbl for tbl in t.registry_tables()}
    for batch in generator.batches():
        with engine.begin() as conn:
            for name, rows in batch.rows.items():
                for start in range(0, len(rows), chunk_rows):
                    conn.execute(insert(by_name[name]), rows[start : start + chunk_rows])
                counts[name] += len(rows)
        households += batch.households
        people += batch.people
        if progress is not None:
            progress(households)
    return LoadSummary(households, people, counts)


# --- changes for the dynamic layer --------------------------------------------------------------------------


def emit_changes(engine: Engine, count: int, *, occurred_on: dt.date | None = None) -> list[dict[str, Any]]:
    """Apply and publish a batch of ``count`` changes: deaths, ASN appointments and DTSEN re-rankings.

    Deterministic for a given database state: the batch number and the stored seed seed the choice.
    Each change updates the source's tables and appends to ``reg_change`` in one transaction; the sources'
    as-of dates move to ``occurred_on``.
    """
    with engine.begin() as conn:
        meta_table = t.table_of(t.RegMeta)
        meta: dict[str, str] = {r.key: r.value for r in conn.execute(select(meta_table))}
        batch_no = int(meta.get("change_batches", "0"))
        reference = dt.date.fromisoformat(meta.get("reference_date", DEFAULT_REFERENCE_DATE.isoformat()))
        when = occurred_on or reference + dt.timedelta(days=7 * (batch_no + 1))
        rng = random.Random(f"{meta.get('seed', '0')}:changes:{batch_no}")
        person = t.table_of(t.RegPerson)
        household = t.table_of(t.RegDtsenHousehold)
        emitted: list[dict[str, Any]] = []
        desa_codes = sorted(d.digits for d in wilayah.desa_list())

        def pick(column: Any, key: str, *conditions: Any) -> Any:
            row = conn.execute(select(column.table).where(column >= key, *conditions).order_by(column).limit(1)).first()
            if row is None:
                row = conn.execute(select(column.table).where(*conditions).order_by(column).limit(1)).first()
            return row

        for _ in range(count):
            kind = rng.choices(("death", "asn_appointment", "reranking"), weights=(4, 3, 3))[0]
            key = f"3510{rng.randint(1, 25):02d}{rng.randint(0, 10**10 - 1):010d}"
            if kind == "death":
                row = pick(person.c.nik, key, person.c.status == "alive")
                if row is None:
                    continue
                conn.execute(update(person).where(person.c.nik == row.nik).values(status="deceased", status_since=when))
                change = {
                    "source": "dukcapil",
                    "kind": "death",
                    "nik": row.nik,
                    "kk_number": row.kk_number,
                    "occurred_on": when,
                    "detail": "{}",
                }
            elif kind == "asn_appointment":
                youngest, oldest = when.replace(year=when.year - 21), when.replace(year=when.year - 45)
                row = pick(
                    person.c.nik,
                    key,
                    person.c.status == "alive",
                    person.c.birth_date <= youngest,
                    person.c.birth_date >= oldest,
                )
                if row is None:
                    continue
                employer = rng.choice(("Pemerintah Kabupaten Banyuwangi", "Kementerian Agama"))
                conn.execute(
                    insert(t.table_of(t.RegEmployment)),
                    [
                        {
                            "nik": row.nik,
                            "kind": "asn",
                            "employer": employer,
                            "active": True,
                            "retired": False,
                            "since": when,
                            "source": EMPLOYMENT_SOURCES["asn"],
                            "as_of": when,
                        }
                    ],
                )
                change = {
                    "source": "splp",
                    "kind": "asn_appointment",
                    "nik": row.nik,
                    "kk_number": row.kk_number,
                    "occurred_on": when,
                    "detail": json.dumps({"employer": employer}),
                }
            else:
                row = pick(household.c.dtsen_id, f"D{rng.choice(desa_codes)}{rng.randint(0, 2999):05d}")
                if row is None:
                    continue
                step = rng.choice((-2, -1, 1, 2))
                new = min(10, max(1, row.desil + step))
                if new == row.desil:
                    new = row.desil - step if 1 <= row.desil - step <= 10 else row.desil
                conn.execute(
                    update(household).where(household.c.dtsen_id == row.dtsen_id).values(desil=new, ranking_date=when)
                )
                change = {
                    "source": "dtsen",
                    "kind": "reranking",
                    "nik": None,
                    "kk_number": row.kk_number,
                    "occurred_on": when,
                    "detail": json.dumps({"dtsen_id": row.dtsen_id, "old_desil": row.desil, "new_desil": new}),
                }
            conn.execute(insert(t.table_of(t.RegChange)), [change])
            emitted.append(change)
        meta_table = t.table_of(t.RegMeta)
        conn.execute(
            delete(meta_table).where(
                meta_table.c.key.in_(["change_batches", "dukcapil_as_of", "dtsen_as_of", "splp_as_of"])
            )
        )
        conn.execute(
            insert(meta_table),
            [
                {"key": "change_batches", "value": str(batch_no + 1)},
                *({"key": f"{s}_as_of", "value": when.isoformat()} for s in ("dukcapil", "dtsen", "splp")),
            ],
        )
    return emitted
