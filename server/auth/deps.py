from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer

from server.auth import service
from server.auth.models import User
from server.core.state import SessionDep, StateDep

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


async def current_user(
    state: StateDep, session: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> User:
    claims = state.gateway.access.claims(f"Bearer {token}" if token else None)
    return await service.active_user(session, claims.user_id)


CurrentUser = Annotated[User, Depends(current_user)]
