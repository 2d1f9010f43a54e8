"""Recording and querying the audit trail. Recording happens in the request's own session, so an action and its
audit row commit together (or not at all)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.audit.models import AuditAction, AuditEntry
from server.auth.models import User


def record(
    session: AsyncSession,
    actor: User,
    action: AuditAction,
    resource: str,
    *,
    case_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(
            actor=actor.username,
            actor_role=actor.role.value,
            action=action,
            resource=resource,
            case_id=case_id,
            detail=dict(detail or {}),
        )
    )


async def query(
    session: AsyncSession,
    *,
    actor: str | None = None,
    case_id: str | None = None,
    action: AuditAction | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_id: int = 0,
    limit: int = 200,
) -> list[AuditEntry]:
    statement = select(AuditEntry).where(col(AuditEntry.id) > after_id).order_by(col(AuditEntry.id)).limit(limit)
    if actor is not None:
        statement = statement.where(AuditEntry.actor == actor)
    if case_id is not None:
        statement = statement.where(AuditEntry.case_id == case_id)
    if action is not None:
        statement = statement.where(AuditEntry.action == action)
    if since is not None:
        statement = statement.where(col(AuditEntry.at) >= since)
    if until is not None:
        statement = statement.where(col(AuditEntry.at) < until)
    return list((await session.exec(statement)).all())
