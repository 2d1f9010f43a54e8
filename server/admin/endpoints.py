from __future__ import annotations

from fastapi import APIRouter, status

from server.admin import service
from server.admin.schemas import DeadLetterPublic, DeadLettersPublic
from server.auth.deps import AdminUser
from server.core.state import SessionDep

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


@router.get("/dead-letters", response_model=DeadLettersPublic)
async def dead_letters(
    admin: AdminUser, session: SessionDep, db: str | None = None, include_requeued: bool = False
) -> DeadLettersPublic:
    """Changes the worker parked after repeated failures, oldest first."""
    return DeadLettersPublic(dead_letters=await service.dead_letters(session, db=db, include_requeued=include_requeued))


@router.post(
    "/dead-letters/{dead_letter_id}/requeue", response_model=DeadLetterPublic, status_code=status.HTTP_202_ACCEPTED
)
async def requeue(dead_letter_id: int, admin: AdminUser, session: SessionDep) -> DeadLetterPublic:
    """Ask the worker to deliver a parked change again; 202: it does so within seconds and records the outcome."""
    return await service.request_requeue(session, dead_letter_id, admin.username)
