from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, status

from server.admin import people, service
from server.admin.schemas import AuditPublic, DeadLetterPublic, DeadLettersPublic
from server.audit.models import AuditAction
from server.audit.refs import PersonRefs
from server.auth.deps import AdminUser
from server.core.state import SessionDep, SettingsDep, StateDep

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])

#: The largest id SQLite's INTEGER and PostgreSQL's BIGINT hold: a larger one is refused (422), never sent to the
#: database (where it overflows into a 500).
MAX_ID = 2**63 - 1


def person_refs(settings: SettingsDep) -> PersonRefs:
    return PersonRefs.from_settings(settings)


PersonRefsDep = Annotated[PersonRefs, Depends(person_refs)]


@router.get("/dead-letters", response_model=DeadLettersPublic)
async def dead_letters(
    admin: AdminUser, session: SessionDep, db: str | None = None, include_requeued: bool = False
) -> DeadLettersPublic:
    """Changes the worker parked after repeated failures, oldest first."""
    return DeadLettersPublic(dead_letters=await service.dead_letters(session, db=db, include_requeued=include_requeued))


@router.post(
    "/dead-letters/{dead_letter_id}/requeue", response_model=DeadLetterPublic, status_code=status.HTTP_202_ACCEPTED
)
async def requeue(
    dead_letter_id: Annotated[int, Path(ge=1, le=MAX_ID)], admin: AdminUser, session: SessionDep
) -> DeadLetterPublic:
    """Ask the worker to deliver a parked change again; 202: it does so within seconds and records the outcome."""
    return await service.request_requeue(session, dead_letter_id, admin.username)


@router.get("/audit", response_model=AuditPublic)
async def audit_trail(
    admin: AdminUser,
    session: SessionDep,
    refs: PersonRefsDep,
    actor: str | None = None,
    case_id: str | None = None,
    nik: Annotated[str | None, Query(description="Rows about this person (matched by its keyed hash).")] = None,
    action: AuditAction | None = None,
    resource: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_id: Annotated[int, Query(ge=0, le=MAX_ID, description="Rows after this id (the last page's last).")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> AuditPublic:
    """Who read or acted on personal data: filter by user, case, person (``nik``), action, resource (e.g.
    ``sync_database`` for replication reads) and time; page with ``after_id``. The trail holds no NIK: a person is
    recorded as the HMAC-SHA256 of their NIK under the server's audit key, and ``nik`` is hashed the same way."""
    return await service.audit_trail(
        session,
        refs,
        nik=nik,
        actor=actor,
        case_id=case_id,
        action=action,
        resource=resource,
        since=since,
        until=until,
        after_id=after_id,
        limit=limit,
    )


@router.get("/people/{nik}/export", response_model=dict[str, Any])
async def export_person(
    nik: str, admin: AdminUser, session: SessionDep, state: StateDep, refs: PersonRefsDep
) -> dict[str, Any]:
    """Everything Simpul holds about one person (right of access, UU 27/2022): their cases with every document
    (field visits, evidence, reviews, ...), the decisions, households and consents outside their cases, the consent
    ledger, restrictions. Attachments are listed (name, type, size, where to fetch), not inlined. Audited."""
    return await people.export_person(session, state.couch, refs, admin, nik)


@router.post("/people/{nik}/restriction", response_model=dict[str, Any], status_code=status.HTTP_201_CREATED)
async def restrict_processing(
    nik: str,
    admin: AdminUser,
    session: SessionDep,
    reason: Annotated[str, Body(embed=True, min_length=5, max_length=2000)],
    refs: PersonRefsDep,
) -> dict[str, Any]:
    """Restrict processing of a person at their request: no source is consulted about them and their cases stop
    (re-evaluated by the worker within one sweep), every case resting on a household that lists them included;
    ``households`` lists the household documents reached. Idempotent. Audited."""
    return await people.restrict(session, refs, admin, nik, reason)


@router.delete("/people/{nik}/restriction", response_model=dict[str, Any])
async def lift_restriction(nik: str, admin: AdminUser, session: SessionDep, refs: PersonRefsDep) -> dict[str, Any]:
    """Lift the restriction: the person's cases are re-evaluated. Audited."""
    return await people.lift(session, refs, admin, nik)
