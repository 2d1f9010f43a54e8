from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer

from server.auth import service
from server.auth.models import Role, User
from server.core.errors import Forbidden, Unauthorized
from server.core.state import SessionDep, StateDep

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


async def current_user(
    state: StateDep, session: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> User:
    if not token:
        raise Unauthorized("Belum masuk: header Authorization: Bearer <token> tidak ada")
    return await service.token_user(session, state.keys.verify(token))


CurrentUser = Annotated[User, Depends(current_user)]


def require_role(*roles: Role) -> Callable[[User], Awaitable[User]]:
    """A dependency admitting only users of ``roles`` (checked against the stored user, not only the token)."""

    async def check(user: CurrentUser) -> User:
        if user.role not in roles:
            raise Forbidden(f"this needs the role {' or '.join(role.value for role in roles)}")
        return user

    return check


AdminUser = Annotated[User, Depends(require_role(Role.admin))]
