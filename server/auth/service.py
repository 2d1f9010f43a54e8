"""Users, logins, refresh tokens and what each user may reach. Raises domain errors only."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import ColumnElement, delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agent_forms import wilayah
from server.auth.models import Assignment, RefreshToken, Role, User, utcnow
from server.auth.passwords import hash_password, verify_password
from server.auth.tokens import AccessClaims, KeyRing
from server.core.errors import BadRequest, Conflict, NotFound, RevokedOnReplay, Unauthorized


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def validate_assignments(role: Role, desa: Sequence[str], kecamatan: Sequence[str]) -> list[str]:
    """Dotted region codes for a user, checked against the region file and the role."""
    codes: list[str] = []
    for raw, level in [(c, "desa") for c in desa] + [(c, "kecamatan") for c in kecamatan]:
        region = wilayah.find(raw)
        if region is None or region.level != level:
            raise BadRequest(f"{raw!r} is not a {level} code of the region file")
        codes.append(region.code)
    if role is Role.pendamping and (kecamatan or not desa):
        raise BadRequest("a pendamping is assigned to one or more desa (and no kecamatan)")
    if role is Role.supervisor and (desa or not kecamatan):
        raise BadRequest("a supervisor is assigned to one or more kecamatan (and no desa)")
    if role in (Role.verifier, Role.admin) and codes:
        raise BadRequest(f"a {role.value} covers the whole region and takes no assignment")
    return codes


async def create_user(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    role: Role,
    desa: Sequence[str] = (),
    kecamatan: Sequence[str] = (),
    full_name: str = "",
) -> User:
    if len(password) < 8:
        raise BadRequest("password must have at least 8 characters")
    codes = validate_assignments(role, desa, kecamatan)
    existing = await session.exec(select(User).where(User.username == username))
    if existing.first() is not None:
        raise Conflict(f"user {username!r} already exists")
    user = User(username=username, full_name=full_name, role=role, password_hash=hash_password(password))
    session.add(user)
    await session.flush()
    assert user.id is not None
    session.add_all(Assignment(user_id=user.id, region_code=code) for code in codes)
    await session.flush()
    return user


async def set_assignments(session: AsyncSession, user: User, codes: Sequence[str]) -> None:
    assert user.id is not None
    await session.exec(delete(Assignment).where(col(Assignment.user_id) == user.id))
    session.add_all(Assignment(user_id=user.id, region_code=code) for code in codes)
    await session.flush()


async def user_named(session: AsyncSession, username: str) -> User:
    user = (await session.exec(select(User).where(User.username == username))).first()
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


async def list_users(session: AsyncSession) -> list[tuple[User, list[str]]]:
    """Every user with their assigned region codes, by username."""
    users = (await session.exec(select(User).order_by(col(User.username)))).all()
    regions: dict[int, list[str]] = {}
    for user_id, code in await session.exec(select(Assignment.user_id, Assignment.region_code)):
        regions.setdefault(user_id, []).append(code)
    return [(user, sorted(regions.get(user.id or 0, []))) for user in users]


async def reassign(
    session: AsyncSession, username: str, *, desa: Sequence[str] = (), kecamatan: Sequence[str] = ()
) -> list[str]:
    """Replace a user's assignments. Takes effect on their next request: the gateway and the API read the
    assignments on every request, not from the token."""
    user = await user_named(session, username)
    codes = validate_assignments(user.role, desa, kecamatan)
    await set_assignments(session, user, codes)
    return codes


async def set_active(session: AsyncSession, username: str, *, active: bool) -> int:
    """Enable or disable an account. Disabling revokes every refresh token of every device of the user (their
    next request is refused, whatever access token it carries); returns how many were revoked."""
    user = await user_named(session, username)
    user.active = active
    session.add(user)
    return 0 if active else await _revoke_tokens(session, col(RefreshToken.user_id) == user.id)


async def assigned_regions(session: AsyncSession, user_id: int) -> list[str]:
    rows = await session.exec(select(Assignment.region_code).where(Assignment.user_id == user_id))
    return sorted(rows.all())


async def active_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None or not user.active:
        raise Unauthorized("Akun tidak ada lagi atau dinonaktifkan; hubungi admin")
    return user


async def token_user(session: AsyncSession, claims: AccessClaims) -> User:
    """The user of a verified access token, if their account is active and the token's device still holds a live
    refresh token: a logout, a replayed refresh token or a revoked device ends the API for that device on its next
    request, as it ends syncing (``server.gateway.access``), not when the access token expires."""
    user = await active_user(session, claims.user_id)
    live = await session.exec(
        select(RefreshToken.id)
        .where(
            RefreshToken.user_id == claims.user_id,
            RefreshToken.device_id == (claims.device_id or ""),
            col(RefreshToken.revoked_at).is_(None),
            col(RefreshToken.expires_at) > utcnow(),
        )
        .limit(1)
    )
    if live.first() is None:
        raise Unauthorized("Perangkat ini sudah keluar atau dicabut aksesnya; silakan masuk lagi")
    return user


async def login(
    session: AsyncSession,
    keys: KeyRing,
    *,
    username: str,
    password: str,
    device_id: str | None,
    refresh_ttl_s: int,
) -> TokenPair:
    user = (await session.exec(select(User).where(User.username == username))).first()
    if not verify_password(user.password_hash if user else None, password) or user is None or not user.active:
        raise Unauthorized("Nama pengguna atau kata sandi salah")
    return await _issue(session, keys, user, device_id or "", refresh_ttl_s)


async def refresh(
    session: AsyncSession, keys: KeyRing, *, refresh_token: str, device_id: str | None, refresh_ttl_s: int
) -> TokenPair:
    """Rotate a refresh token: the presented one is revoked and a new pair issued for the same device.

    A token presented again after rotation (a stolen copy, or a replay) revokes every token of that device.
    """
    stored = (
        await session.exec(select(RefreshToken).where(RefreshToken.token_hash == _hash_token(refresh_token)))
    ).first()
    now = utcnow()
    if stored is None or stored.expires_at <= now:
        raise Unauthorized("Token pembaruan tidak dikenal atau kedaluwarsa; silakan masuk lagi")
    if device_id is not None and device_id != stored.device_id:
        raise Unauthorized("Token pembaruan ini milik perangkat lain")
    if stored.revoked_at is not None:
        if stored.replaced_by_id is not None:
            await revoke_device(session, stored.user_id, stored.device_id)
            raise RevokedOnReplay(
                "Token pembaruan sudah pernah dipakai: semua token perangkat ini dicabut; silakan masuk lagi"
            )
        raise Unauthorized("Token pembaruan sudah dicabut; silakan masuk lagi")
    user = await active_user(session, stored.user_id)
    pair = await _issue(session, keys, user, stored.device_id, refresh_ttl_s)
    successor = (
        await session.exec(select(RefreshToken).where(RefreshToken.token_hash == _hash_token(pair.refresh_token)))
    ).one()
    stored.revoked_at = now
    stored.replaced_by_id = successor.id
    session.add(stored)
    return pair


async def revoke_device(session: AsyncSession, user_id: int, device_id: str) -> int:
    return await _revoke_tokens(session, col(RefreshToken.user_id) == user_id, col(RefreshToken.device_id) == device_id)


async def _revoke_tokens(session: AsyncSession, *where: ColumnElement[bool]) -> int:
    """Revoke the live refresh tokens matching ``where``; returns how many."""
    tokens = (await session.exec(select(RefreshToken).where(col(RefreshToken.revoked_at).is_(None), *where))).all()
    now = utcnow()
    for token in tokens:
        token.revoked_at = now
        session.add(token)
    return len(tokens)


async def _issue(session: AsyncSession, keys: KeyRing, user: User, device_id: str, refresh_ttl_s: int) -> TokenPair:
    assert user.id is not None
    refresh_token = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            token_hash=_hash_token(refresh_token),
            user_id=user.id,
            device_id=device_id,
            expires_at=utcnow() + timedelta(seconds=refresh_ttl_s),
        )
    )
    await session.flush()
    access = keys.issue(user_id=user.id, username=user.username, device_id=device_id or None)
    return TokenPair(access, keys.ttl_s, refresh_token)
