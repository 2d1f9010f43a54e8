from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer

from server.auth import service
from server.auth.models import User
from server.core.errors import Unauthorized
from server.core.state import SessionDep, StateDep

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


async def current_user(
    state: StateDep, session: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> User:
    if not token:
        raise Unauthorized("missing Authorization: Bearer token")
    return await service.active_user(session, state.keys.verify(token).user_id)


CurrentUser = Annotated[User, Depends(current_user)]
