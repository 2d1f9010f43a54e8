"""A person's rights through an admin: a copy of their data, restriction of processing; both audited."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import httpx
import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from replication.couch import CouchClient
from simpul.db import make_async_engine
from sync.cases.tables import CasePerson, CaseRecord
from sync.restrictions import Restrictions
from tests.fixtures.gateway import LATENG, LATENG_DB, GatewayProcess, ServerEnv, login

pytestmark = pytest.mark.live

NIK = "3510164107850002"


async def seed_case(env: ServerEnv) -> str:
    application_id = f"application:{uuid4().hex}"
    couch = CouchClient(env.couch_url)
    try:
        await couch.put_doc(LATENG_DB, {"_id": application_id, "type": "application", "applicant_nik": NIK})
        await couch.put_doc(LATENG_DB, {"_id": f"result:{application_id}", "type": "result", "status": "eligible"})
    finally:
        await couch.aclose()
    engine = make_async_engine(env.database_url)
    try:
        async with AsyncSession(engine) as session:
            session.add(
                CaseRecord(
                    application_id=application_id,
                    desa=LATENG,
                    db_name=LATENG_DB,
                    applicant_nik=NIK,
                    status="eligible",
                )
            )
            session.add(
                CasePerson(
                    nik=NIK, application_id=application_id, household_id="household:x", desa=LATENG, db_name=LATENG_DB
                )
            )
            await session.commit()
    finally:
        await engine.dispose()
    return application_id


async def case_due(env: ServerEnv, application_id: str) -> bool:
    engine = make_async_engine(env.database_url)
    try:
        async with AsyncSession(engine) as session:
            case = await session.get(CaseRecord, application_id)
            assert case is not None
            return case.next_check_at is not None and bool(await Restrictions(session).restricted([NIK]))
    finally:
        await engine.dispose()


def test_export_and_restriction_are_for_admins_and_audited(gateway: GatewayProcess, server_env: ServerEnv):
    application_id = asyncio.run(seed_case(server_env))
    base = gateway.url + f"/api/v1/admin/people/{NIK}"
    supervisor = {"Authorization": f"Bearer {login(gateway.url, 'spv.banyuwangi')['access_token']}"}
    assert httpx.get(base + "/export", headers=supervisor).status_code == 403
    assert httpx.post(base + "/restriction", headers=supervisor, json={"reason": "permintaan"}).status_code == 403

    admin = {"Authorization": f"Bearer {login(gateway.url, 'admin.kabupaten')['access_token']}"}
    exported = httpx.get(base + "/export", headers=admin)
    assert exported.status_code == 200
    [case] = [item for item in exported.json()["cases"] if item["case"]["application_id"] == application_id]
    assert {doc["_id"] for doc in case["documents"]} >= {application_id, f"result:{application_id}"}
    assert httpx.get(gateway.url + "/api/v1/admin/people/12345/export", headers=admin).status_code == 400

    restricted = httpx.post(base + "/restriction", headers=admin, json={"reason": "Permintaan warga, surat 12/2026"})
    assert restricted.status_code == 201 and application_id in restricted.json()["cases_to_re_evaluate"]
    assert asyncio.run(case_due(server_env, application_id))
    again = httpx.post(base + "/restriction", headers=admin, json={"reason": "Permintaan warga, surat 12/2026"})
    assert again.json()["restriction"]["id"] == restricted.json()["restriction"]["id"]  # idempotent
    lifted = httpx.delete(base + "/restriction", headers=admin)
    assert lifted.status_code == 200 and lifted.json()["restriction"]["lifted_by"] == "admin.kabupaten"

    trail = httpx.get(gateway.url + "/api/v1/admin/audit", headers=admin, params={"actor": "admin.kabupaten"}).json()
    actions = [(entry["action"], entry["resource"]) for entry in trail["entries"]]
    assert ("export", "person") in actions and actions.count(("restrict", "person")) >= 3
    assert all(NIK not in str(entry) for entry in trail["entries"])  # the trail holds case ids, not NIKs
