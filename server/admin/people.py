"""A person's rights under UU 27/2022, exercised through an admin: a copy of their data (access) and restriction
of processing. Both are answered within the law's 3×24 hours by being immediate, and both are audited.

The export gathers what Simpul holds about one NIK: the cases they are part of (as applicant or household member),
each case's documents as synced from the device and as written by the server (results, tasks, reviews), the
decision history, the consent ledger and any restriction. Attachments (signature, photos) are listed by name and
size; their bytes are fetched on request.
"""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from replication.couch import CouchClient
from server.audit import service as audit
from server.audit.models import AuditAction
from server.auth.models import User
from server.core.errors import BadRequest
from sync.cases.tables import CaseDecision, CaseRecord, ConsentLedgerEntry, DocLink
from sync.checkpoints import utcnow
from sync.restrictions import ProcessingRestriction, Restrictions

_NIK = re.compile(r"[0-9]{16}")


def _checked(nik: str) -> str:
    if not _NIK.fullmatch(nik):
        raise BadRequest("NIK harus 16 digit angka")
    return nik


def _strip_attachment_bytes(doc: dict[str, Any]) -> dict[str, Any]:
    attachments = doc.get("_attachments")
    if isinstance(attachments, dict):
        doc["_attachments"] = {
            name: {key: value for key, value in (meta or {}).items() if key in ("content_type", "length", "digest")}
            for name, meta in attachments.items()
        }
    return doc


async def export_person(session: AsyncSession, couch: CouchClient, admin: User, nik: str) -> dict[str, Any]:
    nik = _checked(nik)
    restrictions = Restrictions(session)
    case_ids = await restrictions.cases_of(nik)
    cases = list(
        (
            await session.exec(
                select(CaseRecord)
                .where(col(CaseRecord.application_id).in_(case_ids))
                .order_by(col(CaseRecord.application_id))
            )
        ).all()
    )
    exported_cases = []
    for case in cases:
        linked = (
            await session.exec(
                select(DocLink.doc_id).where(DocLink.db_name == case.db_name, DocLink.target_id == case.application_id)
            )
        ).all()
        doc_ids = [
            case.application_id,
            *(doc_id for doc_id in (case.household_id, case.consent_id) if doc_id),
            *linked,
            f"result:{case.application_id}",
            f"task:{case.application_id}",
            f"review:{case.application_id}",
        ]
        documents = []
        for doc_id in dict.fromkeys(doc_ids):
            doc = await couch.get_doc(case.db_name, doc_id)
            if doc is not None:
                documents.append(_strip_attachment_bytes(dict(doc)))
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
    consents = (
        await session.exec(
            select(ConsentLedgerEntry)
            .where(ConsentLedgerEntry.subject_nik == nik)
            .order_by(col(ConsentLedgerEntry.captured_at))
        )
    ).all()
    restricted = (
        await session.exec(
            select(ProcessingRestriction)
            .where(ProcessingRestriction.nik == nik)
            .order_by(col(ProcessingRestriction.id))
        )
    ).all()
    audit.record(session, admin, AuditAction.export, "person", detail={"cases": case_ids})
    return {
        "nik": nik,
        "exported_at": utcnow().isoformat(),
        "cases": exported_cases,
        "consent_ledger": [entry.model_dump(mode="json") for entry in consents],
        "restrictions": [restriction.model_dump(mode="json") for restriction in restricted],
    }


async def restrict(session: AsyncSession, admin: User, nik: str, reason: str) -> dict[str, Any]:
    restriction, case_ids = await Restrictions(session).restrict(_checked(nik), reason, admin.username)
    audit.record(session, admin, AuditAction.restrict, "person", detail={"restricted": True, "cases": case_ids})
    return {"restriction": restriction.model_dump(mode="json"), "cases_to_re_evaluate": case_ids}


async def lift(session: AsyncSession, admin: User, nik: str) -> dict[str, Any]:
    restriction, case_ids = await Restrictions(session).lift(_checked(nik), admin.username)
    audit.record(session, admin, AuditAction.restrict, "person", detail={"restricted": False, "cases": case_ids})
    return {
        "restriction": restriction.model_dump(mode="json") if restriction else None,
        "cases_to_re_evaluate": case_ids,
    }
