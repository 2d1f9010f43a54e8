"""Supervisors' reviews and restrictions of processing reach the verdict: the pipeline re-evaluates the case."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import update

from replication.couch import CouchClient
from sync.cases.tables import CaseRecord
from sync.restrictions import Restrictions
from sync.uow import UnitOfWork
from tests.sync.cases.cases_testkit import CAPTURED, Family
from tests.sync.cases.conftest import MakePipeline, NewDb
from tests.sync.cases.test_cases_pipeline import handle, status_of, sync_and_handle

pytestmark = [pytest.mark.live, pytest.mark.anyio]


def evidence(family: Family) -> dict[str, Any]:
    when = CAPTURED + dt.timedelta(days=2)
    return {
        "_id": f"evidence:{family.key}",
        "type": "evidence",
        "form_version": 1,
        "desa": family.desa,
        "agent_id": "agent.lateng",
        "device_id": "device-1",
        "captured_at": when.isoformat(),
        "field_visit_id": f"field_visit:{family.key}",
        "photos": [{"attachment": "depan.jpg", "kind": "house_front"}],
    }


def review(family: Family, subject: str, decision: str, *, days: int = 3) -> dict[str, Any]:
    target = f"evidence:{family.key}" if subject == "evidence" else family.application_id
    return {
        "_id": f"review:{target}",
        "type": "review",
        "desa": family.desa,
        "subject": subject,
        "application_id": family.application_id,
        **({"evidence_id": target, "field_visit_id": f"field_visit:{family.key}"} if subject == "evidence" else {}),
        "decision": decision,
        "reason": "Foto rumah sesuai dengan daftar periksa",
        "reviewer": "spv.banyuwangi",
        "reviewed_at": (CAPTURED + dt.timedelta(days=days)).isoformat(),
    }


async def test_approved_field_evidence_settles_the_case_and_a_rejection_asks_for_a_new_visit(
    couch: CouchClient, new_db: NewDb, make_pipeline: MakePipeline, family: Family
) -> None:
    db = await new_db()
    pipeline = make_pipeline()
    household = family.household()
    household["members"][0]["name"] = "Nama Yang Tidak Sesuai"
    await sync_and_handle(couch, pipeline, db, household, family.consent(), family.application())
    assert await status_of(couch, db, family) == "needs_field_verification"

    await sync_and_handle(couch, pipeline, db, family.field_visit(), evidence(family))
    assert await status_of(couch, db, family) == "needs_review"

    await sync_and_handle(couch, pipeline, db, review(family, "evidence", "rejected"))
    assert await status_of(couch, db, family) == "needs_field_verification"
    task = await couch.get_doc(db, f"task:{family.application_id}")
    assert task is not None and task["status"] == "open"

    stored = await couch.get_doc(db, f"review:evidence:{family.key}")
    assert stored is not None
    approved = {**review(family, "evidence", "approved", days=4), "_rev": stored["_rev"]}
    await sync_and_handle(couch, pipeline, db, approved)
    assert await status_of(couch, db, family) == "eligible"
    result = await couch.get_doc(db, f"result:{family.application_id}")
    assert result is not None
    assert any(rule["rule"] == "review.field_visit_approved" for rule in result["rules"])


async def test_a_supervisors_decision_on_an_objection(
    couch: CouchClient, new_db: NewDb, make_pipeline: MakePipeline, family: Family
) -> None:
    db = await new_db()
    pipeline = make_pipeline()
    await sync_and_handle(couch, pipeline, db, family.household(), family.consent(), family.application())
    assert await status_of(couch, db, family) == "eligible"
    objection = family.objection(
        captured=CAPTURED + dt.timedelta(days=1), grounds=["component_missed"], statement="Anak kedua belum terhitung"
    )
    await sync_and_handle(couch, pipeline, db, objection)
    assert await status_of(couch, db, family) == "needs_review"
    await sync_and_handle(couch, pipeline, db, review(family, "case", "not_eligible"))
    assert await status_of(couch, db, family) == "not_eligible"
    result = await couch.get_doc(db, f"result:{family.application_id}")
    assert result is not None and "Supervisor" in result["explanation"]


async def test_a_restricted_applicant_stops_the_case_until_the_restriction_is_lifted(
    couch: CouchClient, uow: UnitOfWork, new_db: NewDb, make_pipeline: MakePipeline, family: Family
) -> None:
    db = await new_db()
    pipeline = make_pipeline()
    await sync_and_handle(couch, pipeline, db, family.household(), family.consent(), family.application())
    assert await status_of(couch, db, family) == "eligible"

    async with uow.begin() as session:
        _, due = await Restrictions(session).restrict(family.applicant["nik"], "Permintaan warga", "admin")
    assert due == [family.application_id]
    await handle(pipeline, db, family.application_id)
    assert await status_of(couch, db, family) == "stopped"

    async with uow.begin() as session:
        await Restrictions(session).lift(family.applicant["nik"], "admin")
        await session.exec(update(CaseRecord).values(next_check_at=None))
    await handle(pipeline, db, family.application_id)
    assert await status_of(couch, db, family) == "eligible"
