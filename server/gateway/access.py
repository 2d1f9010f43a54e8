"""Who may replicate which database. Checked against the relational store on every request, so removing an
assignment takes effect on the next request, not when the token expires."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_
from sqlalchemy import select as select_columns
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agent_forms import wilayah
from replication.naming import desa_code_of_db, desa_db_name
from server.auth.models import Assignment, RefreshToken, Role, User, utcnow
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
        principal, _ = await self._lookup(self.claims(authorization), "")
        return principal

    async def database(self, authorization: str | None, db: str) -> tuple[Principal, str]:
        """The principal and the dotted desa code of ``db``, or Forbidden (never "not found": a replicator would
        then try to create the database)."""
        claims = self.claims(authorization)
        desa_code = desa_code_of_db(db) or ""
        principal, assigned = await self._lookup(claims, desa_code)
        if not desa_code:
            raise Forbidden(f"{db} is not a database of this region")
        if principal.role is Role.admin:
            return principal, desa_code
        if principal.role is not Role.pendamping:
            raise Forbidden(f"role {principal.role.value} does not replicate desa databases")
        if not assigned:
            raise Forbidden(f"{db} is not assigned to {principal.username}")
        return principal, desa_code

    async def _lookup(self, claims: AccessClaims, desa_code: str) -> tuple[Principal, bool]:
        """One query per request: the user, whether ``desa_code`` is assigned to them, and whether the token's
        device still holds a live refresh token — so a logout or a revoked device stops syncing at once, not
        when its access token expires. Columns, not ORM entities: this runs on every sync request."""
        assigned = and_(col(Assignment.user_id) == col(User.id), col(Assignment.region_code) == desa_code)
        device_live = (
            select_columns(col(RefreshToken.id))
            .where(
                col(RefreshToken.user_id) == col(User.id),
                col(RefreshToken.device_id) == (claims.device_id or ""),
                col(RefreshToken.revoked_at).is_(None),
                col(RefreshToken.expires_at) > utcnow(),
            )
            .exists()
        )
        query = (
            select_columns(col(User.username), col(User.role), col(User.active), col(Assignment.id), device_live)
            .outerjoin(Assignment, assigned)
            .where(col(User.id) == claims.user_id)
            .limit(1)
        )
        async with self.sessions() as session:
            row = (await session.execute(query)).first()
        if row is None or not row[2]:
            raise Unauthorized("the account no longer exists or is disabled")
        if not row[4]:
            raise Unauthorized("this device was logged out or revoked: log in again")
        return Principal(claims.user_id, row[0], Role(row[1]), claims.device_id), row[3] is not None

    async def databases(self, authorization: str | None) -> list[str]:
        """The desa databases this user replicates: a pendamping's assigned desa, every desa for an admin."""
        principal = await self.principal(authorization)
        if principal.role is Role.admin:
            return sorted(desa_db_name(desa.code) for desa in wilayah.desa_list())
        if principal.role is not Role.pendamping:
            return []
        async with self.sessions() as session:
            codes = (
                await session.exec(select(Assignment.region_code).where(Assignment.user_id == principal.user_id))
            ).all()
        return sorted(desa_db_name(code) for code in codes if desa_code_of_db(desa_db_name(code)))
