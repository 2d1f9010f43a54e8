"""Web sessions for tests that call the supervisors' pages without a browser: a log-in through the real form, a
session written straight into the store (for a user the form would refuse), and the CSRF token of any form."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.auth.models import User
from server.web import sessions
from simpul.db import make_async_engine
from tests.fixtures.gateway import PASSWORD, ServerEnv

T = TypeVar("T")


def log_in(base_url: str, username: str, *, password: str = PASSWORD) -> str:
    """Logs ``username`` in through ``/web/masuk`` as a browser would; returns the session cookie's value."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        form = client.get("/web/masuk")
        form.raise_for_status()
        response = client.post(
            "/web/masuk",
            data={
                "username": username,
                "password": password,
                "csrf": form.cookies[sessions.LOGIN_COOKIE],
                "lanjut": "/web/antrian",
            },
        )
        assert response.status_code == 303, f"{username} could not log in: {response.status_code} {response.text}"
        return response.cookies[sessions.COOKIE]


def _with_session(env: ServerEnv, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = make_async_engine(env.database_url)
        try:
            async with AsyncSession(engine) as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def mint(env: ServerEnv, username: str) -> str:
    """A live session of ``username`` written straight into the store, whatever their role: what a session looks
    like when the user's role changed after they logged in. Returns the cookie's value."""

    async def start(session: AsyncSession) -> str:
        user = (await session.exec(select(User).where(User.username == username))).one()
        token = await sessions.start(session, user)
        await session.commit()
        return token

    return _with_session(env, start)


def csrf_key(env: ServerEnv, cookie: str) -> str:
    """The CSRF key of the live session behind ``cookie`` (tokens: :func:`server.web.sessions.form_token`)."""

    async def read(session: AsyncSession) -> str:
        active = await sessions.resume(session, cookie)
        assert active is not None, "the session is not live"
        await session.rollback()
        return active.csrf_key

    return _with_session(env, read)
