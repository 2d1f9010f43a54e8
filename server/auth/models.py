"""Users, their assignments and their refresh tokens (tables of the relational store)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class Role(StrEnum):
    pendamping = "pendamping"
    supervisor = "supervisor"
    verifier = "verifier"
    admin = "admin"


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, index=True, max_length=64)
    full_name: str = Field(default="", max_length=200)
    role: Role
    password_hash: str
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class Assignment(SQLModel, table=True):
    """A pendamping's desa or a supervisor's kecamatan; ``region_code`` is the dotted Kemendagri code."""

    __tablename__ = "assignments"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    region_code: str = Field(index=True, max_length=16)
    created_at: datetime = Field(default_factory=utcnow)


class RefreshToken(SQLModel, table=True):
    """A long-lived, device-bound, revocable refresh token. Only its SHA-256 is stored."""

    __tablename__ = "refresh_tokens"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, index=True, max_length=64)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    device_id: str = Field(max_length=128)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: datetime | None = None
    replaced_by_id: int | None = None
