"""The local store: the three sources answered from the ``reg_`` tables of the shared relational store.

Used in development and tests, behind the simulator (which serves it over the HTTP contract), and as the
in-process reference for the contract tests. Reads only; the generator and ``emit_changes`` write.

Name matching follows Dukcapil's practice of a similarity threshold rather than byte equality: both names are
upper-cased, stripped of punctuation and compared with ``rapidfuzz``'s token-sort ratio against
``RegistriesSettings.name_match_threshold``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from agent_forms.names import names_match
from registries import tables as t
from registries.errors import InvalidCursor, InvalidQuery
from registries.generator import SOURCE_NAMES
from registries.models import (
    AssetsAnswer,
    BpjsAnswer,
    Change,
    ChangeKind,
    ChangePage,
    DtsenAnswer,
    DtsenHousehold,
    DtsenMember,
    Electricity,
    EmploymentAnswer,
    EmploymentKind,
    EmploymentRecord,
    HousingIndicators,
    IdentityQuery,
    IdentityVerification,
    KKMembership,
    LandParcel,
    LifeStatus,
    Match,
    PersonStatus,
    SourceName,
    Vehicle,
)

_PERSON = t.table_of(t.RegPerson)
_HOUSEHOLD = t.table_of(t.RegDtsenHousehold)
_MEMBER = t.table_of(t.RegDtsenMember)
_EMPLOYMENT = t.table_of(t.RegEmployment)
_BPJS = t.table_of(t.RegBpjs)
_VEHICLE = t.table_of(t.RegVehicle)
_ELECTRICITY = t.table_of(t.RegElectricity)
_LAND = t.table_of(t.RegLand)
_CHANGE = t.table_of(t.RegChange)
_META = t.table_of(t.RegMeta)

_HOUSING_FIELDS = tuple(HousingIndicators.model_fields)
_MEMBER_FIELDS = tuple(DtsenMember.model_fields)


def _require_digits(source: str, what: str, value: str) -> None:
    if len(value) != 16 or not (value.isascii() and value.isdigit()):
        raise InvalidQuery(source, f"{what} must be 16 digits")


def encode_cursor(source: str, last_id: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{source}:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(source: str, cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, cursor_source, last_id = raw.split(":")
        if version != "v1" or cursor_source != source:
            raise ValueError(raw)
        return int(last_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidCursor(source, "unknown cursor") from exc


class _LocalSource:
    source: SourceName

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @property
    def source_name(self) -> str:
        return SOURCE_NAMES[self.source.value]

    async def _as_of(self, conn: AsyncConnection) -> dt.date:
        value = await conn.scalar(select(_META.c.value).where(_META.c.key == f"{self.source.value}_as_of"))
        return dt.date.fromisoformat(value) if value else dt.date.today()

    async def changes(self, cursor: str | None = None, limit: int = 100) -> ChangePage:
        if not 1 <= limit <= 1000:
            raise InvalidQuery(self.source_name, "limit must be between 1 and 1000")
        after = decode_cursor(self.source.value, cursor)
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(_CHANGE)
                    .where(_CHANGE.c.source == self.source.value, _CHANGE.c.id > after)
                    .order_by(_CHANGE.c.id)
                    .limit(limit + 1)
                )
            ).all()
        page = rows[:limit]
        last = page[-1].id if page else after
        return ChangePage(
            changes=[
                Change(
                    kind=ChangeKind(r.kind),
                    nik=r.nik,
                    kk_number=r.kk_number,
                    occurred_on=r.occurred_on,
                    detail=json.loads(r.detail),
                )
                for r in page
            ],
            cursor=encode_cursor(self.source.value, last),
            more=len(rows) > limit,
            source=self.source_name,
        )


class LocalPopulationRegistry(_LocalSource):
    source = SourceName.dukcapil

    def __init__(self, engine: AsyncEngine, *, name_match_threshold: float = 90.0) -> None:
        super().__init__(engine)
        self._threshold = name_match_threshold

    async def _person(self, conn: AsyncConnection, nik: str) -> Row[Any] | None:
        _require_digits(self.source_name, "nik", nik)
        return (await conn.execute(select(_PERSON).where(_PERSON.c.nik == nik))).first()

    async def verify(self, query: IdentityQuery) -> IdentityVerification:
        async with self._engine.connect() as conn:
            person = await self._person(conn, query.nik)
            as_of = await self._as_of(conn)

        def judge(submitted: object, same: bool) -> Match | None:
            if submitted is None:
                return None
            return Match.match if person is not None and same else Match.no_match

        return IdentityVerification(
            nik_found=person is not None,
            name=judge(
                query.name,
                person is not None and query.name is not None and names_match(query.name, person.name, self._threshold),
            ),
            birth_date=judge(query.birth_date, person is not None and person.birth_date == query.birth_date),
            kk_number=judge(query.kk_number, person is not None and person.kk_number == query.kk_number),
            source=self.source_name,
            as_of=as_of,
        )

    async def status(self, nik: str) -> PersonStatus:
        async with self._engine.connect() as conn:
            person = await self._person(conn, nik)
            as_of = await self._as_of(conn)
        if person is None:
            return PersonStatus(nik=nik, status=LifeStatus.not_found, source=self.source_name, as_of=as_of)
        return PersonStatus(
            nik=nik,
            status=LifeStatus(person.status),
            since=person.status_since,
            source=self.source_name,
            as_of=as_of,
        )

    async def nik_on_kk(self, nik: str, kk_number: str) -> KKMembership:
        _require_digits(self.source_name, "kk_number", kk_number)
        async with self._engine.connect() as conn:
            person = await self._person(conn, nik)
            as_of = await self._as_of(conn)
        on_kk = person is not None and person.kk_number == kk_number
        return KKMembership(
            nik=nik,
            kk_number=kk_number,
            on_kk=Match.match if on_kk else Match.no_match,
            source=self.source_name,
            as_of=as_of,
        )


class LocalDtsen(_LocalSource):
    source = SourceName.dtsen

    async def household_by_kk(self, kk_number: str) -> DtsenAnswer:
        _require_digits(self.source_name, "kk_number", kk_number)
        return await self._answer(select(_HOUSEHOLD.c.dtsen_id).where(_HOUSEHOLD.c.kk_number == kk_number))

    async def households_by_nik(self, nik: str) -> DtsenAnswer:
        _require_digits(self.source_name, "nik", nik)
        return await self._answer(select(_MEMBER.c.dtsen_id).where(_MEMBER.c.nik == nik))

    async def _answer(self, ids_query: Any) -> DtsenAnswer:
        async with self._engine.connect() as conn:
            ids = sorted(set((await conn.scalars(ids_query)).all()))
            households: Sequence[Row[Any]] = []
            members: Sequence[Row[Any]] = []
            if ids:
                households = (
                    await conn.execute(
                        select(_HOUSEHOLD).where(_HOUSEHOLD.c.dtsen_id.in_(ids)).order_by(_HOUSEHOLD.c.dtsen_id)
                    )
                ).all()
                members = (
                    await conn.execute(select(_MEMBER).where(_MEMBER.c.dtsen_id.in_(ids)).order_by(_MEMBER.c.id))
                ).all()
            as_of = await self._as_of(conn)
        by_household: dict[str, list[DtsenMember]] = {}
        for m in members:
            row = m._mapping
            by_household.setdefault(m.dtsen_id, []).append(DtsenMember(**{f: row[f] for f in _MEMBER_FIELDS}))
        return DtsenAnswer(
            households=[
                DtsenHousehold(
                    dtsen_id=h.dtsen_id,
                    kk_number=h.kk_number,
                    desa_code=h.desa_code,
                    address=h.address,
                    desil=h.desil,
                    ranking_date=h.ranking_date,
                    housing=HousingIndicators(**{f: h._mapping[f] for f in _HOUSING_FIELDS}),
                    members=by_household.get(h.dtsen_id, []),
                )
                for h in households
            ],
            source=self.source_name,
            as_of=as_of,
        )


class LocalMinistriesData(_LocalSource):
    source = SourceName.splp

    async def employment(self, nik: str) -> EmploymentAnswer:
        _require_digits(self.source_name, "nik", nik)
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(select(_EMPLOYMENT).where(_EMPLOYMENT.c.nik == nik).order_by(_EMPLOYMENT.c.id))
            ).all()
            as_of = await self._as_of(conn)
        return EmploymentAnswer(
            nik=nik,
            records=[
                EmploymentRecord(
                    kind=EmploymentKind(r.kind),
                    employer=r.employer,
                    active=r.active,
                    retired=r.retired,
                    since=r.since,
                    source=r.source,
                    as_of=r.as_of,
                )
                for r in rows
            ],
            source=self.source_name,
            as_of=as_of,
        )

    async def bpjs(self, nik: str) -> BpjsAnswer:
        _require_digits(self.source_name, "nik", nik)
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(_BPJS).where(_BPJS.c.nik == nik))).first()
            as_of = await self._as_of(conn)
        return BpjsAnswer(
            nik=nik,
            kesehatan_segment=row.kesehatan_segment if row else None,
            ketenagakerjaan_active=bool(row and row.ketenagakerjaan_active),
            source=SOURCE_NAMES["bpjs"],
            as_of=row.as_of if row else as_of,
        )

    async def assets(self, nik: str) -> AssetsAnswer:
        _require_digits(self.source_name, "nik", nik)
        async with self._engine.connect() as conn:
            vehicles = (await conn.execute(select(_VEHICLE).where(_VEHICLE.c.nik == nik).order_by(_VEHICLE.c.id))).all()
            power = (
                await conn.execute(select(_ELECTRICITY).where(_ELECTRICITY.c.nik == nik).order_by(_ELECTRICITY.c.id))
            ).all()
            land = (await conn.execute(select(_LAND).where(_LAND.c.nik == nik).order_by(_LAND.c.id))).all()
            as_of = await self._as_of(conn)
        return AssetsAnswer(
            nik=nik,
            vehicles=[
                Vehicle(kind=v.kind, year=v.year, source=SOURCE_NAMES["vehicle"], as_of=v.as_of) for v in vehicles
            ],
            electricity=[
                Electricity(va=e.va, subsidised=e.subsidised, source=SOURCE_NAMES["electricity"], as_of=e.as_of)
                for e in power
            ],
            land=[LandParcel(kind=p.kind, area_m2=p.area_m2, source=SOURCE_NAMES["land"], as_of=p.as_of) for p in land],
            source=self.source_name,
            as_of=as_of,
        )
