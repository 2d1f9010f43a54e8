"""A person's rights through an admin: a copy of their data, restriction of processing; both audited."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import httpx
import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from replication.couch import CouchClient
from simpul.db import make_async_engine
from sync.cases.store import CaseStore, LinkStore, PeopleStore
from sync.cases.tables import CasePerson, CaseRecord, ConsentLedgerEntry
from sync.restrictions import Restrictions
from tests.agent_forms import forms_testkit as kit
from tests.fixtures.couch import free_port
from tests.fixtures.forms import form_doc
from tests.fixtures.gateway import KEMIREN, KEMIREN_DB, LATENG, LATENG_DB, GatewayProcess, ServerEnv, login

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

    hidden = httpx.post(base + "/restriction", headers=admin, json={"reason": "abc\u0000\u001b[31mdef"})
    assert hidden.status_code == 400 and "tak terlihat" in hidden.json()["detail"]
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


# --- The export holds every document of the person ------------------------------------------------------------

CAPTURED = dt.datetime(2025, 9, 14, 2, 0, tzinfo=dt.UTC)


def fresh_nik() -> str:
    """A NIK no other test uses (the session's store is shared)."""
    return f"35101641{random.randrange(10**8):08d}"


def admin_headers(url: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {login(url, 'admin.kabupaten')['access_token']}"}


@dataclass
class World:
    """A person (``nik``), a household member but not the applicant of one case in Lateng, also listed in a
    household of Kemiren that no application names; ``ids`` by kind, ``photo``: the bytes of one evidence photo."""

    nik: str
    application_id: str
    ids: dict[str, tuple[str, str]]
    photo: bytes
    #: Documents in the same databases that are not the person's.
    foreign: list[tuple[str, str]]


def loose(doc_id: str, **fields: Any) -> dict[str, Any]:
    return {"_id": doc_id, "type": doc_id.partition(":")[0], **fields}


async def seed_world(env: ServerEnv) -> World:
    key = uuid4().hex
    nik, applicant, neighbour = fresh_nik(), fresh_nik(), fresh_nik()
    app = f"application:{key}"
    ids = {
        "application": (LATENG_DB, app),
        "household": (LATENG_DB, f"household:{key}"),
        "household_correction": (LATENG_DB, f"household:{key}-2"),
        "consent": (LATENG_DB, f"consent:{key}"),
        "case_withdrawal": (LATENG_DB, f"consent_withdrawal:{key}-case"),
        "result": (LATENG_DB, f"result:{app}"),
        "task": (LATENG_DB, f"task:{app}"),
        "case_review": (LATENG_DB, f"review:{app}"),
        "field_visit": (LATENG_DB, f"field_visit:{key}"),
        "visit_evidence": (LATENG_DB, f"evidence:{key}-visit"),
        "evidence_review": (LATENG_DB, f"review:evidence:{key}-visit"),
        "application_evidence": (LATENG_DB, f"evidence:{key}-app"),
        "objection": (LATENG_DB, f"objection:{key}"),
        "own_consent": (LATENG_DB, f"consent:{key}-member"),
        "own_withdrawal": (LATENG_DB, f"consent_withdrawal:{key}-member"),
        "lone_household": (KEMIREN_DB, f"household:{key}-kemiren"),
        "lone_consent": (KEMIREN_DB, f"consent:{key}-kemiren"),
    }
    foreign = [
        (LATENG_DB, f"consent:{key}-neighbour"),  # another member's own consent: theirs, not the person's
        (LATENG_DB, f"household:{key}-unrelated"),
    ]
    photo = kit.jpeg_bytes((64, 48))
    doc = {kind: doc_id for kind, (_, doc_id) in ids.items()}
    members = [{"nik": applicant}, {"nik": nik}, {"nik": neighbour}]
    lateng = [
        loose(doc["household"], members=members[:2]),
        loose(doc["household_correction"], supersedes=doc["household"], members=members),
        loose(doc["application"], applicant_nik=applicant, household_id=doc["household"], consent_id=doc["consent"]),
        loose(
            doc["consent"],
            subject_nik=applicant,
            household_id=doc["household"],
            _attachments={"ttd.png": kit.inline(kit.png_bytes(), "image/png")},
        ),
        loose(doc["case_withdrawal"], subject_nik=applicant, consent_id=doc["consent"]),
        loose(doc["result"], application_id=app, status="needs_review"),
        loose(doc["task"], application_id=app),
        loose(doc["case_review"], application_id=app, subject="case"),
        loose(doc["field_visit"], task_id=doc["task"], household_id=doc["household"]),
        form_doc(
            "evidence",
            key=f"{key}-visit",
            field_visit_id=doc["field_visit"],
            photos=[{"attachment": "depan.jpg", "kind": "house_front"}],
            _attachments={"depan.jpg": kit.inline(photo, "image/jpeg")},
        ),
        loose(doc["evidence_review"], application_id=app, evidence_id=doc["visit_evidence"], subject="evidence"),
        loose(doc["application_evidence"], application_id=app),
        loose(doc["objection"], application_id=app),
        loose(
            doc["own_consent"],
            subject_nik=nik,
            household_id=doc["household"],
            _attachments={"cap.png": kit.inline(kit.png_bytes(), "image/png")},
        ),
        loose(doc["own_withdrawal"], subject_nik=nik, consent_id=doc["own_consent"]),
        loose(foreign[0][1], subject_nik=neighbour, household_id=doc["household"]),
        loose(foreign[1][1], members=[{"nik": neighbour}]),
    ]
    kemiren = [
        loose(doc["lone_household"], members=[{"nik": nik}]),
        loose(doc["lone_consent"], subject_nik=nik, household_id=doc["lone_household"]),
    ]
    couch = CouchClient(env.couch_url)
    try:
        for db, docs in ((LATENG_DB, lateng), (KEMIREN_DB, kemiren)):
            written = await couch.bulk_docs(db, docs)
            assert all(row.get("ok") for row in written), written
    finally:
        await couch.aclose()

    # The projection, as the worker leaves it (sync/cases/handler.py: links, ledger, people; the case).
    links: list[tuple[str, str, str, str]] = [
        (LATENG_DB, doc["household_correction"], "supersedes", doc["household"]),
        (LATENG_DB, app, "household", doc["household"]),
        (LATENG_DB, app, "consent", doc["consent"]),
        (LATENG_DB, doc["consent"], "household", doc["household"]),
        (LATENG_DB, doc["case_withdrawal"], "consent", doc["consent"]),
        (LATENG_DB, doc["field_visit"], "task", doc["task"]),
        (LATENG_DB, doc["field_visit"], "household", doc["household"]),
        (LATENG_DB, doc["visit_evidence"], "field_visit", doc["field_visit"]),
        (LATENG_DB, doc["application_evidence"], "application", app),
        (LATENG_DB, doc["objection"], "application", app),
        (LATENG_DB, doc["own_consent"], "household", doc["household"]),
        (LATENG_DB, doc["own_withdrawal"], "consent", doc["own_consent"]),
        (LATENG_DB, foreign[0][1], "household", doc["household"]),
        (KEMIREN_DB, doc["lone_consent"], "household", doc["lone_household"]),
    ]
    ledger = [
        (LATENG_DB, doc["consent"], "consent", applicant, LATENG),
        (LATENG_DB, doc["case_withdrawal"], "consent_withdrawal", applicant, LATENG),
        (LATENG_DB, doc["own_consent"], "consent", nik, LATENG),
        (LATENG_DB, doc["own_withdrawal"], "consent_withdrawal", nik, LATENG),
        (LATENG_DB, foreign[0][1], "consent", neighbour, LATENG),
        (KEMIREN_DB, doc["lone_consent"], "consent", nik, KEMIREN),
    ]
    engine = make_async_engine(env.database_url)
    try:
        async with AsyncSession(engine) as session:
            link_store, people = LinkStore(session), PeopleStore(session)
            for db, source in {(db, source) for db, source, _, _ in links}:
                wanted = [(relation, target) for d, s, relation, target in links if (d, s) == (db, source)]
                await link_store.replace(db, source, wanted, CAPTURED)
            for db, doc_id, kind, subject, desa in ledger:
                session.add(
                    ConsentLedgerEntry(
                        doc_id=doc_id,
                        db_name=db,
                        kind=kind,
                        rev="1-x",
                        subject_nik=subject,
                        desa=desa,
                        method="signature",
                        captured_at=CAPTURED,
                        agent_id="agent.lateng",
                        channel="assisted",
                    )
                )
            await people.replace_for_household(doc["household_correction"], LATENG, LATENG_DB, [applicant, nik])
            await people.replace_for_household(doc["lone_household"], KEMIREN, KEMIREN_DB, [nik])
            await people.replace_for_household(foreign[1][1], LATENG, LATENG_DB, [neighbour])
            await people.replace_for_application(app, doc["household"], LATENG, LATENG_DB, [applicant, nik])
            store = CaseStore(session)
            store.save(
                CaseRecord(
                    application_id=app,
                    desa=LATENG,
                    db_name=LATENG_DB,
                    household_id=doc["household"],
                    consent_id=doc["consent"],
                    applicant_nik=applicant,
                    status="needs_review",
                )
            )
            await store.append_decision(
                app,
                status="needs_review",
                rule_set_version="pkh-2026.1",
                fingerprint=f"fp-{key}",
                result={"status": "needs_review"},
                decided_at=CAPTURED,
            )
            await session.commit()
    finally:
        await engine.dispose()
    return World(nik, app, ids, photo, foreign)


def all_exported(exported: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for case in exported["cases"]:
        for doc in case["documents"]:
            found[(case["case"]["db_name"], doc["_id"])] = doc
    for group in exported["other_documents"]:
        for doc in group["documents"]:
            found[(group["db_name"], doc["_id"])] = doc
    return found


def test_the_export_holds_every_document_of_the_person(gateway: GatewayProcess, server_env: ServerEnv):
    world = asyncio.run(seed_world(server_env))
    admin = admin_headers(gateway.url)
    response = httpx.get(gateway.url + f"/api/v1/admin/people/{world.nik}/export", headers=admin, timeout=30)
    assert response.status_code == 200, response.text
    exported = response.json()

    [case] = exported["cases"]
    assert case["case"]["application_id"] == world.application_id
    assert [decision["status"] for decision in case["decisions"]] == ["needs_review"]
    in_case = {doc["_id"] for doc in case["documents"]}
    case_kinds = [
        "application", "household", "household_correction", "consent", "case_withdrawal", "result", "task",
        "case_review", "field_visit", "visit_evidence", "evidence_review", "application_evidence", "objection",
    ]  # fmt: skip
    for kind in case_kinds:
        assert world.ids[kind][1] in in_case, kind

    outside = {(group["db_name"], doc["_id"]) for group in exported["other_documents"] for doc in group["documents"]}
    assert outside == {world.ids[kind] for kind in ("own_consent", "own_withdrawal", "lone_household", "lone_consent")}
    documents = all_exported(exported)
    for db_doc in world.foreign:
        assert db_doc not in documents  # another member's consent, a household the person is not in
    assert {(h["db_name"], h["household_id"]) for h in exported["households"]} == {
        world.ids["household"],
        world.ids["household_correction"],
        world.ids["lone_household"],
    }
    assert {entry["doc_id"] for entry in exported["consent_ledger"]} == {
        world.ids[kind][1] for kind in ("own_consent", "own_withdrawal", "lone_consent")
    }

    # Attachments: listed (name, type, size) with where to fetch them, never their bytes.
    stubs = [stub for doc in documents.values() for stub in (doc.get("_attachments") or {}).values()]
    assert len(stubs) == 3  # the applicant's signature, the person's own consent, the evidence photo
    assert all(set(stub) == {"content_type", "length", "digest", "couchdb_path", "url"} for stub in stubs)
    photo = documents[world.ids["visit_evidence"]]["_attachments"]["depan.jpg"]
    assert photo["content_type"] == "image/jpeg" and photo["length"] == len(world.photo)
    assert photo["couchdb_path"] == f"/{LATENG_DB}/{world.ids['visit_evidence'][1].replace(':', '%3A')}/depan.jpg"
    fetched = httpx.get(gateway.url + photo["url"], headers=admin, timeout=30)
    assert fetched.status_code == 200 and fetched.content == world.photo
    signature = documents[world.ids["own_consent"]]["_attachments"]["cap.png"]
    assert signature["content_type"] == "image/png" and signature["length"] > 0 and signature["url"] is None
    assert signature["couchdb_path"].endswith("/cap.png")

    # Audited under the person's keyed reference, found by the NIK, which the trail never holds.
    trail = httpx.get(gateway.url + "/api/v1/admin/audit", headers=admin, params={"nik": world.nik}, timeout=30)
    assert trail.status_code == 200
    [entry] = trail.json()["entries"]
    assert (entry["action"], entry["resource"], entry["actor"]) == ("export", "person", "admin.kabupaten")
    assert entry["person_ref"] and world.nik not in str(entry)
    assert entry["detail"]["cases"] == [world.application_id]
    assert world.ids["lone_household"][1] in entry["detail"]["households"]


def test_a_person_without_a_case_is_exported_restricted_and_traced(gateway: GatewayProcess, server_env: ServerEnv):
    """Only in a household no application names: the export has it, the restriction reaches it, and the trail can
    say whose data it was (by the NIK's keyed reference) though no case id does."""
    nik = fresh_nik()
    other = fresh_nik()
    household = f"household:{uuid4().hex}"

    async def seed() -> None:
        couch = CouchClient(server_env.couch_url)
        try:
            await couch.put_doc(KEMIREN_DB, loose(household, members=[{"nik": nik}]))
        finally:
            await couch.aclose()
        engine = make_async_engine(server_env.database_url)
        try:
            async with AsyncSession(engine) as session:
                await PeopleStore(session).replace_for_household(household, KEMIREN, KEMIREN_DB, [nik])
                await session.commit()
        finally:
            await engine.dispose()

    asyncio.run(seed())
    admin = admin_headers(gateway.url)
    base = gateway.url + f"/api/v1/admin/people/{nik}"
    exported = httpx.get(base + "/export", headers=admin, timeout=30).json()
    assert exported["cases"] == []
    assert [doc["_id"] for group in exported["other_documents"] for doc in group["documents"]] == [household]

    restricted = httpx.post(base + "/restriction", headers=admin, json={"reason": "Permintaan warga, surat 13/2026"})
    assert restricted.status_code == 201
    assert restricted.json()["cases_to_re_evaluate"] == []
    assert restricted.json()["households"] == [{"db_name": KEMIREN_DB, "household_id": household}]
    assert httpx.delete(base + "/restriction", headers=admin).status_code == 200
    httpx.get(gateway.url + f"/api/v1/admin/people/{other}/export", headers=admin, timeout=30)

    def trail(**params: str) -> list[dict[str, Any]]:
        response = httpx.get(gateway.url + "/api/v1/admin/audit", headers=admin, params=params, timeout=30)
        assert response.status_code == 200, response.text
        entries: list[dict[str, Any]] = response.json()["entries"]
        return entries

    about = trail(nik=nik)
    assert [(e["action"], e["detail"].get("restricted")) for e in about] == [
        ("export", None),
        ("restrict", True),
        ("restrict", False),
    ]
    assert len({e["person_ref"] for e in about}) == 1 and all(nik not in str(e) for e in about)
    assert [e["action"] for e in trail(nik=other)] == ["export"]  # another person's rows are apart
    assert trail(nik=nik, action="export") == about[:1]
    bad = httpx.get(gateway.url + "/api/v1/admin/audit", headers=admin, params={"nik": "12345"}, timeout=30)
    assert bad.status_code == 400


def test_a_couchdb_failure_during_an_export_is_a_clean_503(
    gateway_factory: Callable[..., GatewayProcess], server_env: ServerEnv
):
    application_id = asyncio.run(seed_case(server_env))  # the projection knows a case of NIK; CouchDB is away
    down = gateway_factory(SIMPUL_COUCHDB_URL=f"http://127.0.0.1:{free_port()}")
    admin = admin_headers(down.url)
    response = httpx.get(down.url + f"/api/v1/admin/people/{NIK}/export", headers=admin, timeout=30)
    assert response.status_code == 503
    assert response.json()["error"] == "service_unavailable" and application_id not in response.text
    # An export not given is not recorded as given.
    trail = httpx.get(down.url + "/api/v1/admin/audit", headers=admin, params={"nik": NIK, "action": "export"})
    assert all(entry["detail"]["cases"] != [application_id] for entry in trail.json()["entries"])
    log = down.log_path.read_text()
    assert NIK not in log
