"""A person's rights under UU 27/2022, exercised through an admin: a copy of their data (access) and restriction
of processing. Both are answered within the law's 3×24 hours by being immediate, and both are audited.

**What the export holds.** Everything Simpul holds about one NIK, found through the projection (the relational
index of the desa databases, :mod:`sync.cases.tables`) and read from CouchDB:

- each case the person is part of (as applicant or household member, or resting on a household that lists them),
  with the case's documents in every version (``supersedes``, both ways): the application, its household and
  consent, the field visits answering ``task:<application id>``, the evidence attached to those visits or to the
  application, objections, withdrawals of the case's consent, and what the server wrote (``result:``, ``task:``,
  ``review:`` of the case and of each evidence document); the case's decision history;
- documents outside those cases: households listing the NIK that no application names, the person's own consents
  (a household member consenting separately, or a guardian consenting for a child) and withdrawals, in whichever
  desa database they were captured;
- the consent ledger rows of the person (as subject or guardian) and any restriction.

**Attachments** (photos, signature and thumbprint images) are listed by name, type and size, never inlined: each
stub carries ``couchdb_path`` (the attachment in CouchDB, for an operator) and, for evidence photos, ``url``: the
API route that serves the original to an admin (audited there).

**Audit.** The export, a restriction and its lifting each write a row naming the person by ``person_ref``, the
keyed HMAC of the NIK (:mod:`server.audit.refs`), with the case and household ids reached: never the NIK itself.
``GET /api/v1/admin/audit?nik=...`` hashes the NIK the same way to find every row about that person.

A CouchDB failure while reading answers 503 (:class:`~server.core.errors.ServiceUnavailable`), nothing partial;
a desa database that no longer exists holds nothing and is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agent_forms.models.base import has_invisible_characters
from replication.couch import CouchClient, doc_path
from replication.errors import CouchError, CouchNotFound
from server.audit import service as audit
from server.audit.models import AuditAction
from server.audit.refs import PersonRefs
from server.auth.models import User
from server.core.errors import BadRequest, ServiceUnavailable
from server.review.service import photo_url
from sync.cases.documents import fetch_documents, result_id, review_id, task_id
from sync.cases.store import LinkStore
from sync.cases.tables import CaseDecision, CaseRecord, ConsentLedgerEntry
from sync.checkpoints import utcnow
from sync.restrictions import ProcessingRestriction, Restrictions

_NIK = re.compile(r"[0-9]{16}")


def checked_nik(nik: str) -> str:
    if not _NIK.fullmatch(nik):
        raise BadRequest("NIK harus 16 digit angka")
    return nik


def _attachment_stubs(db: str, doc: dict[str, Any], application_id: str | None) -> dict[str, Any]:
    """The document with its attachments as stubs: name, type, size, digest, and where to fetch the bytes."""
    attachments = doc.get("_attachments")
    if not isinstance(attachments, Mapping):
        return doc
    doc_id = str(doc.get("_id", ""))
    stubs = {}
    for name, meta in attachments.items():
        meta = meta if isinstance(meta, Mapping) else {}
        stub = {key: meta.get(key) for key in ("content_type", "length", "digest")}
        stub["couchdb_path"] = f"{doc_path(db, doc_id)}/{quote(str(name), safe='')}"
        stub["url"] = (
            photo_url(application_id, doc_id, str(name), original=True)
            if application_id is not None and doc_id.startswith("evidence:")
            else None
        )
        stubs[str(name)] = stub
    doc["_attachments"] = stubs
    return doc


async def _case_documents(session: AsyncSession, case: CaseRecord) -> set[str]:
    """Ids of the documents of ``case`` in its database, from the projection's links (see the module docstring).
    Versions of the application that are cases of their own are left to those cases."""
    db, application_id = case.db_name, case.application_id
    links = LinkStore(session)
    versions = await links.versions(db, [application_id]) - {application_id}
    own_cases = select(CaseRecord.application_id).where(col(CaseRecord.application_id).in_(sorted(versions)))
    applications = {application_id} | (versions - set((await session.exec(own_cases)).all()))
    outgoing = [link for version in sorted(applications) for link in await links.outgoing(db, version)]
    named: set[tuple[str, str | None]] = {(link.relation, link.target_id) for link in outgoing}
    named |= {("household", case.household_id), ("consent", case.consent_id)}
    households = await links.versions(db, {doc_id for relation, doc_id in named if relation == "household" and doc_id})
    consents = await links.versions(db, {doc_id for relation, doc_id in named if relation == "consent" and doc_id})
    tasks = [task_id(version) for version in sorted(applications)]
    visits = await links.versions(db, {link.doc_id for link in await links.incoming(db, tasks, "task")})
    evidence = {link.doc_id for link in await links.incoming(db, applications, "application", prefix="evidence:")}
    evidence |= {link.doc_id for link in await links.incoming(db, visits, "field_visit", prefix="evidence:")}
    evidence = await links.versions(db, evidence)
    objections = await links.versions(
        db, {link.doc_id for link in await links.incoming(db, applications, "application", prefix="objection:")}
    )
    withdrawals = await links.versions(
        db, {link.doc_id for link in await links.incoming(db, consents, "consent", prefix="consent_withdrawal:")}
    )
    written = {make(version) for version in applications for make in (result_id, task_id, review_id)}
    written |= {review_id(evidence_id) for evidence_id in evidence}
    return applications | households | consents | visits | evidence | objections | withdrawals | written


async def _read(couch: CouchClient, wanted: Mapping[str, set[str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The current bodies of ``wanted`` (ids by database), one request per database; deleted or missing ids are
    absent. A CouchDB failure is the API's 503: an export is whole or not given."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for db, ids in sorted(wanted.items()):
        try:
            bodies = await fetch_documents(couch, db, ids)
        except CouchNotFound:
            continue  # the database is gone: it holds nothing of the person
        except CouchError as exc:
            raise ServiceUnavailable("Dokumen sedang tidak dapat dibaca dari CouchDB; coba lagi sebentar lagi") from exc
        found.update(((db, doc_id), body) for doc_id, body in bodies.items())
    return found


async def _ledger_of(session: AsyncSession, nik: str) -> list[ConsentLedgerEntry]:
    query = (
        select(ConsentLedgerEntry)
        .where(or_(ConsentLedgerEntry.subject_nik == nik, ConsentLedgerEntry.guardian_nik == nik))
        .order_by(col(ConsentLedgerEntry.captured_at), col(ConsentLedgerEntry.doc_id))
    )
    return list((await session.exec(query)).all())


def _grouped(pairs: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    by_db: dict[str, set[str]] = {}
    for db, doc_id in pairs:
        by_db.setdefault(db, set()).add(doc_id)
    return by_db


async def export_person(
    session: AsyncSession, couch: CouchClient, refs: PersonRefs, admin: User, nik: str
) -> dict[str, Any]:
    nik = checked_nik(nik)
    restrictions = Restrictions(session)
    households = await restrictions.households_of(nik)
    case_ids = await restrictions.cases_of(nik, households)
    cases = list(
        (
            await session.exec(
                select(CaseRecord)
                .where(col(CaseRecord.application_id).in_(case_ids))
                .order_by(col(CaseRecord.application_id))
            )
        ).all()
    )
    case_docs = {case.application_id: await _case_documents(session, case) for case in cases}
    ledger = await _ledger_of(session, nik)

    in_cases = {(case.db_name, doc_id) for case in cases for doc_id in case_docs[case.application_id]}
    outside = {*households, *((row.db_name, row.doc_id) for row in ledger)} - in_cases
    bodies = await _read(couch, _grouped(in_cases | outside))

    exported_cases = []
    for case in cases:
        documents = [
            _attachment_stubs(case.db_name, dict(bodies[(case.db_name, doc_id)]), case.application_id)
            for doc_id in sorted(case_docs[case.application_id])
            if (case.db_name, doc_id) in bodies
        ]
        decisions = (
            await session.exec(
                select(CaseDecision)
                .where(CaseDecision.application_id == case.application_id)
                .order_by(col(CaseDecision.id))
            )
        ).all()
        exported_cases.append(
            {
                "case": case.model_dump(mode="json"),
                "documents": documents,
                "decisions": [decision.model_dump(mode="json") for decision in decisions],
            }
        )
    other_documents = [
        {
            "db_name": db,
            "documents": [
                _attachment_stubs(db, dict(bodies[(db, doc_id)]), None)
                for doc_id in sorted(ids)
                if (db, doc_id) in bodies
            ],
        }
        for db, ids in sorted(_grouped(outside).items())
        if any((db, doc_id) in bodies for doc_id in ids)
    ]
    restricted = (
        await session.exec(
            select(ProcessingRestriction)
            .where(ProcessingRestriction.nik == nik)
            .order_by(col(ProcessingRestriction.id))
        )
    ).all()
    audit.record(
        session,
        admin,
        AuditAction.export,
        "person",
        person_ref=refs.of(nik),
        detail={"cases": case_ids, "households": [household for _, household in households], "documents": len(bodies)},
    )
    return {
        "nik": nik,
        "exported_at": utcnow().isoformat(),
        "cases": exported_cases,
        "households": [{"db_name": db, "household_id": household} for db, household in households],
        "other_documents": other_documents,
        "consent_ledger": [entry.model_dump(mode="json") for entry in ledger],
        "restrictions": [restriction.model_dump(mode="json") for restriction in restricted],
    }


async def restrict(session: AsyncSession, refs: PersonRefs, admin: User, nik: str, reason: str) -> dict[str, Any]:
    nik = checked_nik(nik)
    if has_invisible_characters(reason):
        raise BadRequest("Alasan tidak boleh berisi karakter tak terlihat (kontrol, lebar nol, pengatur arah teks)")
    restrictions = Restrictions(session)
    restriction, case_ids = await restrictions.restrict(nik, reason, admin.username)
    households = await restrictions.households_of(nik)
    audit.record(
        session,
        admin,
        AuditAction.restrict,
        "person",
        person_ref=refs.of(nik),
        detail={"restricted": True, "cases": case_ids, "households": [household for _, household in households]},
    )
    return {
        "restriction": restriction.model_dump(mode="json"),
        "cases_to_re_evaluate": case_ids,
        "households": [{"db_name": db, "household_id": household} for db, household in households],
    }


async def lift(session: AsyncSession, refs: PersonRefs, admin: User, nik: str) -> dict[str, Any]:
    nik = checked_nik(nik)
    restriction, case_ids = await Restrictions(session).lift(nik, admin.username)
    audit.record(
        session,
        admin,
        AuditAction.restrict,
        "person",
        person_ref=refs.of(nik),
        detail={"restricted": False, "cases": case_ids},
    )
    return {
        "restriction": restriction.model_dump(mode="json") if restriction else None,
        "cases_to_re_evaluate": case_ids,
    }
