"""Operators' view of the worker's dead letters. A re-queue is a request the running worker honours within
seconds (it may run in another process), so the API never runs a handler itself."""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from server.admin.people import checked_nik
from server.admin.schemas import AuditEntryPublic, AuditPublic, DeadLetterPublic
from server.audit import service as audit
from server.audit.refs import PersonRefs
from server.core.errors import NotFound
from sync.deadletters import DeadLetterNotFound, FailureStore


async def dead_letters(session: AsyncSession, *, db: str | None, include_requeued: bool) -> list[DeadLetterPublic]:
    letters = await FailureStore(session).dead_letters(db=db, include_requeued=include_requeued)
    return [DeadLetterPublic.model_validate(letter, from_attributes=True) for letter in letters]


async def request_requeue(session: AsyncSession, dead_letter_id: int, username: str) -> DeadLetterPublic:
    try:
        letter = await FailureStore(session).request_requeue(dead_letter_id, username)
    except DeadLetterNotFound:
        raise NotFound(f"no dead letter {dead_letter_id}") from None
    return DeadLetterPublic.model_validate(letter, from_attributes=True)


async def audit_trail(
    session: AsyncSession, refs: PersonRefs, *, nik: str | None = None, limit: int, **filters: Any
) -> AuditPublic:
    """The trail, filtered. ``nik`` finds the rows about one person: it is hashed with the audit key exactly as the
    rows were written (:mod:`server.audit.refs`), so the NIK itself is compared with nothing stored."""
    person_ref = refs.of(checked_nik(nik)) if nik is not None else None
    entries = await audit.query(session, limit=limit, person_ref=person_ref, **filters)
    return AuditPublic(
        entries=[AuditEntryPublic.model_validate(entry, from_attributes=True) for entry in entries],
        next_after_id=entries[-1].id if len(entries) == limit else None,
    )
