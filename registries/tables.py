"""The reference tables of the local store, in the shared relational store (all prefixed ``reg_``).

They hold what the three sources would hold: the population registry (``reg_family``, ``reg_person``),
DTSEN (``reg_dtsen_household``, ``reg_dtsen_member``), the ministries' data over SPLP (``reg_employment``,
``reg_bpjs``, ``reg_vehicle``, ``reg_electricity``, ``reg_land``), plus the changes log each source publishes
(``reg_change``), the generator's labelled edge cases (``reg_edge_case``) and metadata (``reg_meta``).
"""

from __future__ import annotations

import datetime as dt
from typing import cast

from sqlalchemy import Table
from sqlmodel import Field, SQLModel


class RegFamily(SQLModel, table=True):
    __tablename__ = "reg_family"

    kk_number: str = Field(primary_key=True, max_length=16)
    desa_code: str = Field(index=True, max_length=10)
    address: str
    issued_on: dt.date


class RegPerson(SQLModel, table=True):
    __tablename__ = "reg_person"

    nik: str = Field(primary_key=True, max_length=16)
    name: str
    sex: str = Field(max_length=1)
    birth_date: dt.date
    birth_place: str
    kk_number: str = Field(index=True, max_length=16)
    relationship: str
    religion: str
    marital_status: str
    status: str = Field(default="alive", index=True)  # alive | deceased | moved
    status_since: dt.date | None = None


class RegDtsenHousehold(SQLModel, table=True):
    __tablename__ = "reg_dtsen_household"

    dtsen_id: str = Field(primary_key=True, max_length=20)
    kk_number: str = Field(index=True, max_length=16)
    desa_code: str = Field(index=True, max_length=10)
    address: str
    desil: int = Field(index=True)
    ranking_date: dt.date
    pmt_score: float
    house_ownership: str
    floor_area_m2: int
    floor: str
    wall: str
    roof: str
    drinking_water: str
    lighting: str
    electricity_va: int
    cooking_fuel: str
    toilet: str
    owns_land: bool
    livestock: bool
    motorcycles: int
    cars: int


class RegDtsenMember(SQLModel, table=True):
    __tablename__ = "reg_dtsen_member"

    id: int | None = Field(default=None, primary_key=True)
    dtsen_id: str = Field(index=True, max_length=20)
    nik: str = Field(index=True, max_length=16)
    name: str
    sex: str = Field(max_length=1)
    birth_date: dt.date
    relationship: str
    education: str
    school_level: str | None = None
    years_of_schooling: int
    occupation: str
    disability: str
    chronic_illness: bool
    pregnant: bool


class RegEmployment(SQLModel, table=True):
    __tablename__ = "reg_employment"

    id: int | None = Field(default=None, primary_key=True)
    nik: str = Field(index=True, max_length=16)
    kind: str
    employer: str
    active: bool
    retired: bool
    since: dt.date
    source: str
    as_of: dt.date


class RegBpjs(SQLModel, table=True):
    __tablename__ = "reg_bpjs"

    nik: str = Field(primary_key=True, max_length=16)
    kesehatan_segment: str | None = None
    ketenagakerjaan_active: bool
    as_of: dt.date


class RegVehicle(SQLModel, table=True):
    __tablename__ = "reg_vehicle"

    id: int | None = Field(default=None, primary_key=True)
    nik: str = Field(index=True, max_length=16)
    kind: str
    year: int
    as_of: dt.date


class RegElectricity(SQLModel, table=True):
    __tablename__ = "reg_electricity"

    id: int | None = Field(default=None, primary_key=True)
    nik: str = Field(index=True, max_length=16)
    va: int
    subsidised: bool
    as_of: dt.date


class RegLand(SQLModel, table=True):
    __tablename__ = "reg_land"

    id: int | None = Field(default=None, primary_key=True)
    nik: str = Field(index=True, max_length=16)
    kind: str
    area_m2: int
    as_of: dt.date


class RegChange(SQLModel, table=True):
    __tablename__ = "reg_change"

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(index=True)  # dukcapil | dtsen | splp
    kind: str
    nik: str | None = Field(default=None, max_length=16)
    kk_number: str | None = Field(default=None, max_length=16)
    occurred_on: dt.date
    detail: str = "{}"  # JSON object


class RegEdgeCase(SQLModel, table=True):
    """A deliberately odd record, labelled so tests and the pipeline can pick it out."""

    __tablename__ = "reg_edge_case"

    id: int | None = Field(default=None, primary_key=True)
    label: str = Field(index=True)
    nik: str | None = Field(default=None, max_length=16, index=True)
    kk_number: str | None = Field(default=None, max_length=16)
    detail: str = ""


class RegMeta(SQLModel, table=True):
    __tablename__ = "reg_meta"

    key: str = Field(primary_key=True)
    value: str


REGISTRY_MODELS: list[type[SQLModel]] = [
    RegFamily,
    RegPerson,
    RegDtsenHousehold,
    RegDtsenMember,
    RegEmployment,
    RegBpjs,
    RegVehicle,
    RegElectricity,
    RegLand,
    RegChange,
    RegEdgeCase,
    RegMeta,
]


def table_of(model: type[SQLModel]) -> Table:
    """The ``sqlalchemy.Table`` behind a table model (typed, which ``Model.__table__`` is not)."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


def registry_tables() -> list[Table]:
    """The tables of the registries, for a create or drop limited to them."""
    return [table_of(model) for model in REGISTRY_MODELS]
