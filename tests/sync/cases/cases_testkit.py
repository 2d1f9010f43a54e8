"""Building blocks of the pipeline tests: families taken from the generated reference data and turned into the
documents a device would sync, sources that can be switched off, a clock that can be moved, fast settings."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, select

from agent_forms.models.base import age_on
from registries import tables as t
from registries.errors import SourceUnavailable
from registries.models import ChangePage, IdentityQuery, IdentityVerification, KKMembership, PersonStatus
from registries.protocols import PopulationRegistry
from replication.couch import CouchClient
from simpul.scenarios import DISABILITY_CODES, EDUCATION_CODES, OCCUPATION_CODES, RELATIONSHIP_CODES
from sync.cases.config import PipelineSettings
from tests.agent_forms.forms_testkit import housing

CAPTURED = dt.datetime(2025, 10, 2, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))
AGENT = "pendamping.test"
DEVICE = "dev-test"
PENDAMPING = ("pendamping.satu", "pendamping.dua")

FAST = PipelineSettings(
    task_after_s=3600.0,
    source_retry_s=0.05,
    source_retry_max_s=0.2,
    failure_retry_max_s=0.2,
    sweep_interval_s=0.05,
    registry_poll_s=0.05,
    stop_grace_s=5.0,
    lookup_concurrency=4,
)


class Clock:
    """The pipeline's clock: stands still unless ``ticking`` (then it follows real time), moved by ``advance``."""

    def __init__(self, start: dt.datetime | None = None, *, ticking: bool = False) -> None:
        self.start = start or dt.datetime(2025, 10, 3, 2, 0, tzinfo=dt.UTC)
        self.offset = dt.timedelta(0)
        self.ticking = ticking
        self._began = time.monotonic()

    @property
    def now(self) -> dt.datetime:
        return self()

    def __call__(self) -> dt.datetime:
        elapsed = dt.timedelta(seconds=time.monotonic() - self._began) if self.ticking else dt.timedelta(0)
        return self.start + self.offset + elapsed

    def advance(self, seconds: float) -> None:
        self.offset += dt.timedelta(seconds=seconds)


class Pendamping:
    """The assignees of every desa, as the wiring's relational read would give them."""

    def __init__(self, names: Sequence[str] = PENDAMPING) -> None:
        self.names = list(names)
        self.asked: list[str] = []

    async def __call__(self, desa: str) -> Sequence[str]:
        self.asked.append(desa)
        return self.names


class Switchable:
    """A population registry that answers through the real one, or is down (``SourceUnavailable``) while ``down``."""

    def __init__(self, inner: PopulationRegistry) -> None:
        self.inner = inner
        self.down = False
        self.calls = 0

    def _check(self, *, lookup: bool = True) -> None:
        self.calls += lookup  # questions about people; reading changes is not one
        if self.down:
            raise SourceUnavailable("Dukcapil Kemendagri", "connection refused", retry_after_s=1.0)

    async def verify(self, query: IdentityQuery) -> IdentityVerification:
        self._check()
        return await self.inner.verify(query)

    async def status(self, nik: str) -> PersonStatus:
        self._check()
        return await self.inner.status(nik)

    async def nik_on_kk(self, nik: str, kk_number: str) -> KKMembership:
        self._check()
        return await self.inner.nik_on_kk(nik, kk_number)

    async def changes(self, cursor: str | None = None, limit: int = 100) -> ChangePage:
        self._check(lookup=False)
        return await self.inner.changes(cursor, limit)


@dataclass
class Family:
    """One DTSEN household of the reference data and the documents that register it."""

    kk_number: str
    desa: str  # dotted
    desil: int
    members: list[dict[str, Any]]
    key: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def household_id(self) -> str:
        return f"household:{self.key}"

    @property
    def application_id(self) -> str:
        return f"application:{self.key}"

    @property
    def consent_id(self) -> str:
        return f"consent:{self.key}"

    @property
    def applicant(self) -> dict[str, Any]:
        spouses = [m for m in self.members if m["relationship"] == "istri_suami" and m["sex"] == "P"]
        return spouses[0] if spouses else next(m for m in self.members if m["relationship"] == "kepala")

    @property
    def niks(self) -> list[str]:
        return [m["nik"] for m in self.members]

    def _common(self, doc_type: str, key: str, captured: dt.datetime) -> dict[str, Any]:
        return {
            "_id": f"{doc_type}:{key}",
            "type": doc_type,
            "form_version": 1,
            "desa": self.desa,
            "agent_id": AGENT,
            "device_id": DEVICE,
            "captured_at": captured.isoformat(),
        }

    def household(self, *, key: str | None = None, captured: dt.datetime = CAPTURED, **changes: Any) -> dict[str, Any]:
        doc = {
            **self._common("household", key or self.key, captured),
            "kk_number": self.kk_number,
            "address": {"street": "Jl. Raya Lateng 12", "rt": "001", "rw": "002"},
            "members": [self._member(m) for m in self.members],
            "housing": housing(),
        }
        doc.update(changes)
        return doc

    def _member(self, m: dict[str, Any]) -> dict[str, Any]:
        age = age_on(m["birth_date"], CAPTURED.date())
        if m["school_level"]:
            level, status = m["school_level"], "enrolled"
        elif m["education"] in EDUCATION_CODES:
            level, status = EDUCATION_CODES[m["education"]], "finished"
        elif m["education"] == "tidak_sekolah" and age >= 7:
            level, status = "sd", "dropped_out"
        else:
            level, status = "none", "never"
        return {
            "nik": m["nik"],
            "name": m["name"],
            "birth_date": m["birth_date"].isoformat(),
            "sex": "female" if m["sex"] == "P" else "male",
            "relationship": RELATIONSHIP_CODES.get(m["relationship"], "other_relative"),
            "disability": DISABILITY_CODES[m["disability"]],
            "maternal_status": "pregnant" if m["pregnant"] else "none",
            "school_level": level,
            "school_status": status,
            "occupation": OCCUPATION_CODES.get(m["occupation"], "other"),
        }

    def components(self) -> list[dict[str, str]]:
        claims: list[dict[str, str]] = []
        for m in self.members:
            age = age_on(m["birth_date"], CAPTURED.date())
            if m["pregnant"]:
                claims.append({"component": "pregnant_postpartum", "member_nik": m["nik"]})
            elif age <= 6:
                claims.append({"component": "early_childhood", "member_nik": m["nik"]})
            elif m["school_level"] and 6 <= age <= 21:
                claims.append({"component": m["school_level"], "member_nik": m["nik"]})
            elif m["disability"] == "berat":
                claims.append({"component": "severe_disability", "member_nik": m["nik"]})
            elif age >= 60:
                claims.append({"component": "elderly", "member_nik": m["nik"]})
        return claims

    def application(
        self, *, key: str | None = None, captured: dt.datetime = CAPTURED, **changes: Any
    ) -> dict[str, Any]:
        doc = {
            **self._common("application", key or self.key, captured),
            "household_id": self.household_id,
            "applicant_nik": self.applicant["nik"],
            "channel": "assisted",
            "components": self.components(),
            "consent_id": self.consent_id,
        }
        doc.update(changes)
        return doc

    def consent(
        self,
        *,
        key: str | None = None,
        subject: dict[str, Any] | None = None,
        captured: dt.datetime = CAPTURED,
        refused: Sequence[str] = (),
        **changes: Any,
    ) -> dict[str, Any]:
        person = subject or self.applicant
        doc = {
            **self._common("consent", key or self.key, captured),
            "household_id": self.household_id,
            "subject_nik": person["nik"],
            "subject_name": person["name"],
            "subject_birth_date": person["birth_date"].isoformat(),
            "purposes": [
                {"source": source, "granted": source not in refused}
                for source in (
                    "population_registry",
                    "dtsen",
                    "bpjs_ketenagakerjaan",
                    "bpjs_kesehatan",
                    "atr_bpn",
                    "polri",
                    "state_banks",
                    "bkn",
                    "dapodik",
                )
            ],
            "method": {"kind": "witnessed_verbal", "witness": {"name": "Pak RT Suwito", "role": "rt_rw"}},
            "notice_version": "pemberitahuan-2025-09-v1",
        }
        doc.update(changes)
        return doc

    def objection(
        self,
        *,
        key: str | None = None,
        captured: dt.datetime | None = None,
        grounds: Sequence[str] = ("data_incorrect",),
        statement: str = "Data rumah kami sudah berubah.",
    ) -> dict[str, Any]:
        """The applicant objects to the decision on this family's application."""
        return {
            **self._common("objection", key or self.key, captured or CAPTURED + dt.timedelta(days=3)),
            "application_id": self.application_id,
            "objector_nik": self.applicant["nik"],
            "objector_name": self.applicant["name"],
            "objector_role": "applicant",
            "grounds": list(grounds),
            "statement": statement,
            "channel": "assisted",
        }

    def withdrawal(
        self, *, key: str | None = None, subject: dict[str, Any] | None = None, captured: dt.datetime | None = None
    ) -> dict[str, Any]:
        person = subject or self.applicant
        return {
            **self._common("consent_withdrawal", key or self.key, captured or CAPTURED + dt.timedelta(days=1)),
            "consent_id": self.consent_id,
            "subject_nik": person["nik"],
            "subject_name": person["name"],
            "subject_birth_date": person["birth_date"].isoformat(),
            "method": {"kind": "witnessed_verbal", "witness": {"name": "Pak RT Suwito", "role": "rt_rw"}},
            "scope": "all",
        }

    def field_visit(
        self, *, key: str | None = None, recommendation: str = "eligible", captured: dt.datetime | None = None
    ) -> dict[str, Any]:
        when = captured or CAPTURED + dt.timedelta(days=2)
        return {
            **self._common("field_visit", key or self.key, when),
            "task_id": f"task:{self.application_id}",
            "household_id": self.household_id,
            "visited_at": (when - dt.timedelta(minutes=30)).isoformat(),
            "location": {"lat": -8.2147, "lon": 114.3689},
            "address_found": True,
            "respondent_nik": self.applicant["nik"],
            "checklist": housing(),
            "findings": "Rumah semi permanen; keluarga ditemui.",
            "recommendation": recommendation,
        }


def pick_families(engine: Engine, count: int, *, max_desil: int = 3) -> list[Family]:
    """Plain families of the reference data: low desil, everyone alive and on the KK, no edge case, no job or
    asset that would exclude them, at least one component, with a wife or a head as applicant."""
    h, m, p = t.table_of(t.RegDtsenHousehold), t.table_of(t.RegDtsenMember), t.table_of(t.RegPerson)
    edge = t.table_of(t.RegEdgeCase)
    employment, vehicle = t.table_of(t.RegEmployment), t.table_of(t.RegVehicle)
    power, land = t.table_of(t.RegElectricity), t.table_of(t.RegLand)
    from agent_forms import wilayah

    families: list[Family] = []
    with engine.connect() as conn:
        rows = conn.execute(select(h).where(h.c.desil <= max_desil).order_by(h.c.dtsen_id)).all()
        for row in rows:
            members = [dict(r._mapping) for r in conn.execute(select(m).where(m.c.dtsen_id == row.dtsen_id))]
            niks = [x["nik"] for x in members]
            if len(members) < 2 or len(members) > 8:
                continue
            if conn.scalar(select(func.count()).select_from(edge).where(edge.c.nik.in_(niks))):
                continue
            if conn.scalar(select(func.count()).select_from(edge).where(edge.c.kk_number == row.kk_number)):
                continue
            people = conn.execute(select(p).where(p.c.nik.in_(niks))).all()
            if len(people) != len(niks) or any(x.status != "alive" or x.kk_number != row.kk_number for x in people):
                continue
            if any(
                conn.scalar(select(func.count()).select_from(table).where(table.c.nik.in_(niks)))
                for table in (employment, vehicle, land)
            ):
                continue
            if conn.scalar(select(func.count()).select_from(power).where(power.c.nik.in_(niks), power.c.va >= 1300)):
                continue
            if sum(1 for x in members if x["relationship"] == "kepala") != 1:
                continue
            region = wilayah.find(row.desa_code)
            if region is None or region.level != "desa":
                continue
            family = Family(kk_number=row.kk_number, desa=region.code, desil=row.desil, members=members)
            if not family.components() or age_on(family.applicant["birth_date"], CAPTURED.date()) < 18:
                continue
            families.append(family)
            if len(families) == count:
                break
    return families


async def put(couch: CouchClient, db: str, doc: dict[str, Any]) -> str:
    """Store ``doc`` as a device's replication would: as it is, past the gateway."""
    return await couch.put_doc(db, doc)


async def delete(couch: CouchClient, db: str, doc_id: str) -> None:
    current = await couch.get_doc(db, doc_id)
    assert current is not None
    await couch.request("DELETE", f"/{db}/{doc_id}", params={"rev": current["_rev"]}, what=f"delete {doc_id}")


async def synced(couch: CouchClient, uow: Any, db: str, *docs: dict[str, Any], now: dt.datetime | None = None) -> None:
    """Store each document and record it in the projection, as the handler's first step does."""
    from sync.cases.documents import parse
    from sync.cases.handler import index_document

    for doc in docs:
        rev = await couch.put_doc(db, doc)
        async with uow.begin() as session:
            await index_document(
                session, db, doc["_id"], rev, parse(doc["_id"], doc), absent=False, now=now or dt.datetime.now(dt.UTC)
            )
