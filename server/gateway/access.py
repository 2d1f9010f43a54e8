"""Who may replicate which database. Checked against the relational store on every request, so removing an
assignment takes effect on the next request, not when the token expires."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_
from sqlalchemy import select as select_columns
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from replication.naming import desa_code_of_db, desa_db_name
from server.auth.models import Assignment, Role, User
from server.auth.tokens import AccessClaims, KeyRing
from server.core.errors import Forbidden, Unauthorized


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    role: Role
    device_id: str | None


class SyncAccess:
    def __init__(self, keys: KeyRing, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.keys = keys
        self.sessions = sessions

    def claims(self, authorization: str | None) -> AccessClaims:
        if not authorization:
            raise Unauthorized("missing Authorization: Bearer token")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("expected Authorization: Bearer <token>")
        return self.keys.verify(token.strip())

    async def principal(self, authorization: str | None) -> Principal:
        claims = self.claims(authorization)
        async with self.sessions() as session:
            user = await session.get(User, claims.user_id)
        return _principal(user, claims)

    async def database(self, authorization: str | None, db: str) -> tuple[Principal, str]:
        """The principal and the dotted desa code of ``db``, or Forbidden (never "not found": a replicator would
        then try to create the database). One query per request: the user and the assignment together."""
        claims = self.claims(authorization)
        desa_code = desa_code_of_db(db) or ""
        # Columns, not ORM entities: this runs on every sync request and the entity machinery costs more than
        # the query.
        assigned = and_(col(Assignment.user_id) == col(User.id), col(Assignment.region_code) == desa_code)
        query = (
            select_columns(col(User.id), col(User.username), col(User.role), col(User.active), col(Assignment.id))
            .outerjoin(Assignment, assigned)
            .where(col(User.id) == claims.user_id)
        )
        async with self.sessions() as session:
            row = (await session.execute(query)).first()
        if row is None or not row.active:
            raise Unauthorized("the account no longer exists or is disabled")
        principal = Principal(row.id, row.username, Role(row.role), claims.device_id)
        if not desa_code:
            raise Forbidden(f"{db} is not a database of this region")
        if principal.role is Role.admin:
            return principal, desa_code
        if principal.role is not Role.pendamping:
            raise Forbidden(f"role {principal.role.value} does not replicate desa databases")
        if row[4] is None:
            raise Forbidden(f"{db} is not assigned to {principal.username}")
        return principal, desa_code

    async def databases(self, authorization: str | None) -> list[str]:
        principal = await self.principal(authorization)
        if principal.role is not Role.pendamping:
            return []
        async with self.sessions() as session:
            codes = (
                await session.exec(select(Assignment.region_code).where(Assignment.user_id == principal.user_id))
            ).all()
        return sorted(desa_db_name(code) for code in codes if desa_code_of_db(desa_db_name(code)))


def _principal(user: User | None, claims: AccessClaims) -> Principal:
    if user is None or not user.active or user.id is None:
        raise Unauthorized("the account no longer exists or is disabled")
    return Principal(user.id, user.username, user.role, claims.device_id)
