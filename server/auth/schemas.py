from __future__ import annotations

from pydantic import BaseModel

from server.auth.models import Role


class TokenPublic(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    refresh_token: str


class UserPublic(BaseModel):
    id: int
    username: str
    full_name: str
    role: Role
    regions: list[str]
