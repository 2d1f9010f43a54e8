"""What the app holds for its lifetime: made in the lifespan, kept in typed state, reached through dependencies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from replication.couch import CouchClient
from server.auth.tokens import KeyRing
from server.core.errors import SimpulError
from server.core.metrics import Metrics
from server.gateway.service import Gateway
from simpul.settings import Settings


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    couch: CouchClient
    keys: KeyRing
    metrics: Metrics
    gateway: Gateway


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.simpul
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_settings(state: StateDep) -> Settings:
    return state.settings


async def get_session(state: StateDep) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: the one place an API request commits."""
    async with state.sessions() as session:
        try:
            yield session
        except SimpulError as exc:
            if exc.keeps_changes:
                await session.commit()
            raise
        await session.commit()


SettingsDep = Annotated[Settings, Depends(get_settings)]
# scope="function": the commit happens before the response is sent, so a client that acts on the answer (a
# logout, then a refresh) always finds the change stored.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
