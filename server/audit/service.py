"""Recording and querying the audit trail. Recording happens in the request's own session, so an action and its
audit row commit together (or not at all)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.audit.models import AuditAction, AuditEntry
from server.auth.models import Role


class Actor(Protocol):
    """Who acts: a :class:`~server.auth.models.User`, or the sync gateway's principal."""

    @property
    def username(self) -> str: ...

    @property
    def role(self) -> Role: ...


def entry(
    actor: Actor,
    action: AuditAction,
    resource: str,
    *,
    case_id: str | None = None,
    person_ref: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> AuditEntry:
    return AuditEntry(
        actor=actor.username,
        actor_role=actor.role.value,
        action=action,
        resource=resource,
        case_id=case_id,
        person_ref=person_ref,
        detail=dict(detail or {}),
    )


def record(
    session: AsyncSession,
    actor: Actor,
    action: AuditAction,
    resource: str,
    *,
    case_id: str | None = None,
    person_ref: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """``person_ref``: the person's reference (:class:`server.audit.refs.PersonRefs`), never the NIK itself."""
    session.add(entry(actor, action, resource, case_id=case_id, person_ref=person_ref, detail=detail))


async def query(
    session: AsyncSession,
    *,
    actor: str | None = None,
    case_id: str | None = None,
    person_ref: str | None = None,
    action: AuditAction | None = None,
    resource: str | None = None,
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
    if person_ref is not None:
        statement = statement.where(AuditEntry.person_ref == person_ref)
    if action is not None:
        statement = statement.where(AuditEntry.action == action)
    if resource is not None:
        statement = statement.where(AuditEntry.resource == resource)
    if since is not None:
        statement = statement.where(col(AuditEntry.at) >= since)
    if until is not None:
        statement = statement.where(col(AuditEntry.at) < until)
    return list((await session.exec(statement)).all())
