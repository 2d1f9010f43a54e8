"""Cases for review tests, written the way the worker would leave them: the documents in the desa database (with the
server's CouchDB client), the projection's rows (links, case, decision) through the pipeline's own stores. The
worker itself is not run: these tests are about what the review does with a case, not how the case came about."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from agent_forms import InvalidSubmission, load_submission
from replication.couch import CouchClient
from replication.naming import desa_db_name
from simpul.db import make_async_engine
from sync.cases.handler import links_of
from sync.cases.store import CaseStore, LinkStore
from sync.cases.tables import CaseRecord
from sync.checkpoints import utcnow
from sync.uow import UnitOfWork
from tests.agent_forms import forms_testkit as kit
from tests.fixtures.forms import form_doc
from tests.fixtures.gateway import KEMIREN, LATENG, ServerEnv

AGENTS = {LATENG: "agent.lateng", KEMIREN: "agent.kemiren"}

#: Ids a device cannot write through the gateway, but a document written to CouchDB directly may have.
UNUSUAL_IDS = ["application:a/b", "application:x?y#z", "application:p%2Fq", "application:désa-ü-日本"]
#: An "evidence photo" that is a page with a script: what must never run on the supervisors' origin.
HTML = b"<!doctype html><script>fetch('/api/auth/me').then(r => r.text()).then(alert)</script>"


def unique(doc_id: str) -> str:
    """``doc_id`` made unique in the desa database, its characters kept: ``application:3f2a9c1e-a/b``."""
    doc_type, _, key = doc_id.partition(":")
    return f"{doc_type}:{uuid.uuid4().hex[:8]}-{key}"


def evidence_of(application_id: str) -> str:
    return "evidence:" + application_id.removeprefix("application:")


T = TypeVar("T")


@dataclass(frozen=True)
class SeededCase:
    key: str
    desa: str
    db: str
    application_id: str
    household_id: str
    field_visit_id: str
    evidence_id: str
    objection_id: str | None
    #: The photo attachments of the evidence, by name, as written.
    photos: dict[str, bytes]


def review_rules(kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = [
        {"rule": "identity.nik", "outcome": "passed", "reason": "NIK pemohon sah", "data": []},
        {
            "rule": "eligibility.desil",
            "outcome": "passed",
            "reason": "Keluarga di DTSEN desil 2",
            "data": [{"name": "desil", "value": 2, "source": "dtsen", "as_of": "2025-07-01"}],
        },
    ]
    if "evidence" in kinds:
        rules.append(
            {
                "rule": "review.field_visit",
                "outcome": "review",
                "reason": "Hasil kunjungan lapangan sudah diterima; bukti menunggu persetujuan supervisor",
                "data": [{"name": "photos", "value": 2, "source": "perangkat/field_visit:x", "as_of": "2025-09-14"}],
            }
        )
    if "objection" in kinds:
        rules.append(
            {
                "rule": "review.objection",
                "outcome": "review",
                "reason": "Keluarga mengajukan keberatan atas keputusan; supervisor akan memutuskan",
                "data": [],
            }
        )
    if "review" in kinds:
        rules.append(
            {"rule": "identity.duplicate", "outcome": "review", "reason": "NIK terdaftar dua kali", "data": []}
        )
    return rules


def explanation(status: str) -> str:
    if status == "needs_review":
        return "Pengajuan ini akan diputuskan oleh supervisor. Pendamping akan menyampaikan hasilnya."
    if status == "eligible":
        return "Keluarga memenuhi syarat PKH menurut data yang diperiksa."
    return "Keluarga belum memenuhi syarat PKH menurut data yang diperiksa."


async def seed_case_async(
    couch_url: str,
    database_url: str,
    *,
    desa: str = LATENG,
    status: str = "needs_review",
    kinds: tuple[str, ...] = ("evidence",),
    age_days: float = 3,
    objection: bool = False,
    application_id: str | None = None,
    evidence_id: str | None = None,
    attachments: Mapping[str, tuple[bytes, str]] | None = None,
) -> SeededCase:
    """``application_id`` and ``evidence_id``: ids of one's own (any characters, as written straight to CouchDB);
    ``attachments``: the evidence's photos as (bytes, content type) by name instead of two JPEGs."""
    key = str(uuid.uuid4())
    db = desa_db_name(desa)
    agent = AGENTS.get(desa, "agent.lateng")
    application_id = application_id or f"application:{key}"
    household_id = f"household:{key}"
    consent_id = f"consent:{key}"
    field_visit_id = f"field_visit:{key}"
    evidence_id = evidence_id or f"evidence:{key}"
    if attachments is None:
        attachments = {
            "depan.jpg": (
                kit.jpeg_bytes((800, 600), exif_time="2025:09:14 08:45:10", gps=(-8.2147, 114.3689)),
                "image/jpeg",
            ),
            "kk.jpg": (kit.jpeg_bytes((600, 800)), "image/jpeg"),
        }
    photos = {name: data for name, (data, _) in attachments.items()}
    docs = [
        form_doc("household", key=key, agent=agent, desa=desa),
        form_doc("consent", key=key, agent=agent, desa=desa, household_id=household_id),
        form_doc(
            "application",
            key=key,
            agent=agent,
            desa=desa,
            _id=application_id,
            household_id=household_id,
            consent_id=consent_id,
        ),
        form_doc(
            "field_visit",
            key=key,
            agent=agent,
            desa=desa,
            task_id=f"task:{application_id}",
            household_id=household_id,
            findings="Dinding anyaman bambu, lantai semen; sesuai pendaftaran.",
        ),
        form_doc(
            "evidence",
            key=key,
            agent=agent,
            desa=desa,
            _id=evidence_id,
            field_visit_id=field_visit_id,
            _attachments={name: kit.inline(data, kind) for name, (data, kind) in attachments.items()},
        ),
    ]

    objection_id = None
    if objection:
        objection_id = f"objection:{key}"
        docs.append(
            form_doc(
                "objection",
                key=key,
                agent=agent,
                desa=desa,
                application_id=application_id,
                result_id=f"result:{application_id}",
            )
        )
    couch = CouchClient(couch_url)
    try:
        written = await couch.bulk_docs(db, docs)
        assert all(row.get("ok") for row in written), written
    finally:
        await couch.aclose()

    engine = make_async_engine(database_url)
    try:
        now = utcnow()
        decided_at = now - dt.timedelta(days=age_days)
        result = {
            "type": "result",
            "application_id": application_id,
            "household_id": household_id,
            "desa": desa,
            "status": status,
            "decision": status,
            "explanation": explanation(status),
            "rules": review_rules(kinds) if status == "needs_review" else review_rules(()),
            "components": [],
            "yearly_benefit": 3_000_000,
            "rule_set_version": "pkh-2026.1",
            "fingerprint": f"fp-{key}",
            "decided_at": decided_at.isoformat(),
        }
        async with UnitOfWork(engine).begin() as session:
            links = LinkStore(session)
            for doc in docs:
                await links.replace(db, doc["_id"], *_links(doc))
            store = CaseStore(session)
            store.save(
                CaseRecord(
                    application_id=application_id,
                    desa=desa,
                    db_name=db,
                    household_id=household_id,
                    consent_id=consent_id,
                    kk_number=kit.KK,
                    applicant_nik=kit.SPOUSE_NIK,
                    status=status,
                    decision=status,
                    rule_set_version="pkh-2026.1",
                    result_fingerprint=f"fp-{key}",
                    first_seen_at=decided_at - dt.timedelta(hours=1),
                    decided_at=decided_at,
                    updated_at=now,
                )
            )
            await store.append_decision(
                application_id,
                status=status,
                rule_set_version="pkh-2026.1",
                fingerprint=f"fp-{key}",
                result=result,
                decided_at=decided_at,
            )
    finally:
        await engine.dispose()
    return SeededCase(key, desa, db, application_id, household_id, field_visit_id, evidence_id, objection_id, photos)


#: The reference fields of the seeded documents, by the relation the pipeline links them with.
_REFERENCES = {"household_id": "household", "consent_id": "consent", "task_id": "task", "field_visit_id": "field_visit"}


def _links(doc: dict[str, Any]) -> tuple[list[tuple[str, str]], dt.datetime]:
    """The pipeline's links of ``doc``. A document that refers to an id the forms refuse (``task:application:a/b``:
    written straight to CouchDB) does not load; its links are its reference fields as written."""
    try:
        submission = load_submission(doc)
    except InvalidSubmission:
        links = [(relation, doc[name]) for name, relation in _REFERENCES.items() if doc.get(name)]
        return links, dt.datetime.fromisoformat(doc["captured_at"])
    return links_of(submission), submission.captured_at


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on a loop of its own in another thread: works from plain tests and from under Playwright's
    sync API (which keeps an event loop running in the test's thread)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def seed_case(env: ServerEnv, **options: Any) -> SeededCase:
    return _run(seed_case_async(env.couch_url, env.database_url, **options))


def get_doc(env: ServerEnv, db: str, doc_id: str) -> dict[str, Any] | None:
    async def read() -> dict[str, Any] | None:
        couch = CouchClient(env.couch_url)
        try:
            return await couch.get_doc(db, doc_id)
        finally:
            await couch.aclose()

    return _run(read())
