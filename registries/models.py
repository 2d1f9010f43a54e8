"""What the sources answer: the shapes of the Protocols and, as JSON, of the HTTP contract.

Every answer carries the name of the source that gave it and that source's as-of date, because a decision must
record where each datum came from and how fresh it was.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

NikStr = str  # 16 digits; validated by the source, not by the shape (an invalid NIK is a legitimate question)


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SourceName(StrEnum):
    dukcapil = "dukcapil"
    dtsen = "dtsen"
    splp = "splp"


# --- Population registry (Dukcapil) -------------------------------------------------------------------------


class Match(StrEnum):
    """Dukcapil's per-field answer: SESUAI / TIDAK SESUAI. The record itself is never returned."""

    match = "match"
    no_match = "no_match"


class IdentityQuery(_Answer):
    nik: NikStr
    name: str | None = None
    birth_date: dt.date | None = None
    kk_number: str | None = None


class IdentityVerification(_Answer):
    nik_found: bool
    name: Match | None = Field(None, description="None when the field was not submitted.")
    birth_date: Match | None = None
    kk_number: Match | None = None
    source: str
    as_of: dt.date


class LifeStatus(StrEnum):
    alive = "alive"
    deceased = "deceased"
    moved = "moved"  # moved out of the region (pindah keluar); the NIK stays valid elsewhere
    not_found = "not_found"


class PersonStatus(_Answer):
    nik: NikStr
    status: LifeStatus
    since: dt.date | None = None
    source: str
    as_of: dt.date


class KKMembership(_Answer):
    nik: NikStr
    kk_number: str
    on_kk: Match
    source: str
    as_of: dt.date


# --- DTSEN --------------------------------------------------------------------------------------------------


class HousingIndicators(_Answer):
    house_ownership: str  # milik_sendiri | sewa | bebas_sewa | dinas
    floor_area_m2: int
    floor: str  # tanah | bambu_kayu | semen | keramik
    wall: str  # bambu | kayu | tembok_tanpa_plester | tembok
    roof: str  # ijuk_rumbia | seng | asbes | genteng | beton
    drinking_water: str  # sungai_mata_air | sumur | leding | air_kemasan
    lighting: str  # non_pln | pln_tanpa_meteran | pln_meteran
    electricity_va: int  # 0 when not on PLN's meter
    cooking_fuel: str  # kayu | lpg_3kg | lpg_besar | listrik
    toilet: str  # tidak_ada | bersama | sendiri
    owns_land: bool
    livestock: bool
    motorcycles: int
    cars: int


class DtsenMember(_Answer):
    nik: NikStr
    name: str
    sex: str  # L | P
    birth_date: dt.date
    relationship: str  # kepala | istri_suami | anak | menantu | cucu | orang_tua | mertua | famili_lain
    education: str  # tidak_sekolah | sd | smp | sma | diploma_sarjana (highest attained)
    school_level: str | None = Field(None, description="Currently enrolled in: sd | smp | sma, else None.")
    years_of_schooling: int
    occupation: str
    disability: str  # tidak | ringan | berat
    chronic_illness: bool
    pregnant: bool


class DtsenHousehold(_Answer):
    dtsen_id: str
    kk_number: str
    desa_code: str  # 10 digits
    address: str
    desil: int = Field(ge=1, le=10)
    ranking_date: dt.date
    housing: HousingIndicators
    members: list[DtsenMember]


class DtsenAnswer(_Answer):
    """Households found: none, the family is not in DTSEN; two or more for one NIK, a duplicate to resolve."""

    households: list[DtsenHousehold]
    source: str
    as_of: dt.date

    @property
    def found(self) -> bool:
        return bool(self.households)


# --- Ministries' data over SPLP -----------------------------------------------------------------------------


class EmploymentKind(StrEnum):
    asn = "asn"
    tni = "tni"
    polri = "polri"
    state_paid = "state_paid"  # staff paid routinely from APBN/APBD (honorer, PPPK paruh waktu, …)
    bumn_bumd = "bumn_bumd"
    village_official = "village_official"
    certified_teacher = "certified_teacher"
    certified_health_worker = "certified_health_worker"


class EmploymentRecord(_Answer):
    kind: EmploymentKind
    employer: str
    active: bool
    retired: bool
    since: dt.date
    source: str
    as_of: dt.date


class EmploymentAnswer(_Answer):
    nik: NikStr
    records: list[EmploymentRecord]
    source: str  # the SPLP service that aggregated the ministries' answers
    as_of: dt.date


class BpjsAnswer(_Answer):
    nik: NikStr
    kesehatan_segment: str | None = Field(
        None, description="JKN segment: pbi | ppu | pbpu | bp; None when not a participant."
    )
    ketenagakerjaan_active: bool
    source: str
    as_of: dt.date


class Vehicle(_Answer):
    kind: str  # sepeda_motor | mobil
    year: int
    source: str
    as_of: dt.date


class Electricity(_Answer):
    va: int
    subsidised: bool
    source: str
    as_of: dt.date


class LandParcel(_Answer):
    kind: str  # pertanian | pekarangan
    area_m2: int
    source: str
    as_of: dt.date


class AssetsAnswer(_Answer):
    nik: NikStr
    vehicles: list[Vehicle]
    electricity: list[Electricity]  # PLN customers registered to this NIK
    land: list[LandParcel]
    source: str
    as_of: dt.date


# --- Changes (dynamic layer) --------------------------------------------------------------------------------


class ChangeKind(StrEnum):
    death = "death"
    moved = "moved"
    asn_appointment = "asn_appointment"
    reranking = "reranking"


class Change(_Answer):
    kind: ChangeKind
    nik: NikStr | None = None
    kk_number: str | None = None
    occurred_on: dt.date
    detail: dict[str, str | int | None] = Field(default_factory=dict)


class ChangePage(_Answer):
    """A page of changes. Pass ``cursor`` back to continue; ``more``: another page is ready now."""

    changes: list[Change]
    cursor: str
    more: bool
    source: str
