"""Who may replicate which database. Checked against the relational store on every request, so removing an
assignment takes effect on the next request, not when the token expires."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
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
        if user is None or not user.active:
            raise Unauthorized("the account no longer exists or is disabled")
        return Principal(claims.user_id, user.username, user.role, claims.device_id)

    async def database(self, authorization: str | None, db: str) -> tuple[Principal, str]:
        """The principal and the dotted desa code of ``db``, or Forbidden (never "not found": a replicator would
        then try to create the database)."""
        principal = await self.principal(authorization)
        desa_code = desa_code_of_db(db)
        if desa_code is None:
            raise Forbidden(f"{db} is not a database of this region")
        if principal.role is Role.admin:
            return principal, desa_code
        if principal.role is not Role.pendamping:
            raise Forbidden(f"role {principal.role.value} does not replicate desa databases")
        async with self.sessions() as session:
            found = await session.exec(
                select(Assignment.id).where(
                    Assignment.user_id == principal.user_id, Assignment.region_code == desa_code
                )
            )
            if found.first() is None:
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
