from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form
from fastapi.security import OAuth2PasswordRequestForm

from server.auth import service
from server.auth.deps import CurrentUser
from server.auth.schemas import TokenPublic, UserPublic
from server.core.state import SessionDep, StateDep

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _public(pair: service.TokenPair) -> TokenPublic:
    return TokenPublic(access_token=pair.access_token, expires_in=pair.expires_in, refresh_token=pair.refresh_token)


@router.post("/token", response_model=TokenPublic)
async def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    state: StateDep,
    session: SessionDep,
    device_id: Annotated[str | None, Form(max_length=128)] = None,
) -> TokenPublic:
    pair = await service.login(
        session,
        state.keys,
        username=form.username,
        password=form.password,
        device_id=device_id,
        refresh_ttl_s=state.settings.refresh_token_ttl_s,
    )
    return _public(pair)


@router.post("/refresh", response_model=TokenPublic)
async def refresh(
    state: StateDep,
    session: SessionDep,
    refresh_token: Annotated[str, Form()],
    device_id: Annotated[str | None, Form(max_length=128)] = None,
) -> TokenPublic:
    pair = await service.refresh(
        session,
        state.keys,
        refresh_token=refresh_token,
        device_id=device_id,
        refresh_ttl_s=state.settings.refresh_token_ttl_s,
    )
    return _public(pair)


@router.post("/logout", status_code=204)
async def logout(user: CurrentUser, session: SessionDep, device_id: Annotated[str, Form(max_length=128)]) -> None:
    """Revoke this device's refresh tokens; its access tokens stop working on their next request too."""
    assert user.id is not None
    await service.revoke_device(session, user.id, device_id)


@router.get("/me", response_model=UserPublic)
async def me(user: CurrentUser, session: SessionDep) -> UserPublic:
    assert user.id is not None
    regions = await service.assigned_regions(session, user.id)
    return UserPublic(id=user.id, username=user.username, full_name=user.full_name, role=user.role, regions=regions)
