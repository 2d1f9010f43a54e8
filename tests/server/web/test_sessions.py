"""Web sessions: only a hash is stored, idle and absolute expiry, a disabled user is logged out, per-form tokens."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.auth import service
from server.auth.models import Role
from server.web import sessions
from simpul.db import make_async_engine
from simpul.schema import create_tables
from sync.checkpoints import utcnow

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[AsyncSession]:
    engine = make_async_engine(f"sqlite:///{tmp_path / 'web.db'}")
    await create_tables(engine)
    async with AsyncSession(engine, expire_on_commit=False) as session:
        await service.create_user(
            session, username="spv", password="rahasia-uji-123", role=Role.supervisor, kecamatan=["35.10.16"]
        )
        await session.commit()
        yield session
    await engine.dispose()


async def test_a_session_lives_while_used_and_ends_when_idle_or_old(db: AsyncSession):
    user = await sessions.authenticate(db, "spv", "rahasia-uji-123")
    assert user is not None
    assert await sessions.authenticate(db, "spv", "salah") is None
    assert await sessions.authenticate(db, "nobody", "rahasia-uji-123") is None

    start = utcnow()
    token = await sessions.start(db, user, start)
    [row] = (await db.exec(select(sessions.WebSession))).all()
    assert row.token_hash != token and len(row.token_hash) == 64

    step = sessions.IDLE_TIMEOUT - dt.timedelta(minutes=1)
    moment = start
    while moment + step < start + sessions.MAX_AGE:
        moment += step
        active = await sessions.resume(db, token, moment)
        assert active is not None and active.name == "spv"
    assert await sessions.resume(db, token, start + sessions.MAX_AGE) is None, "a working day at most"

    idle = await sessions.start(db, user, start)
    assert await sessions.resume(db, idle, start + sessions.IDLE_TIMEOUT) is None
    assert await sessions.resume(db, "unknown", start) is None
    assert await sessions.resume(db, None, start) is None


async def test_log_out_disable_and_purge(db: AsyncSession):
    user = await sessions.authenticate(db, "spv", "rahasia-uji-123")
    assert user is not None
    first = await sessions.start(db, user)
    second = await sessions.start(db, user)
    await sessions.end(db, first)
    assert await sessions.resume(db, first) is None
    assert await sessions.resume(db, second) is not None
    user.active = False
    db.add(user)
    assert await sessions.resume(db, second) is None
    old = await sessions.start(db, user, utcnow() - dt.timedelta(days=2))
    await sessions.purge_expired(db)
    assert old and len((await db.exec(select(sessions.WebSession))).all()) == 0


def test_form_tokens_are_per_session_and_per_form():
    key, other = "k" * 43, "o" * 43
    token = sessions.form_token(key, "/web/kasus/application:1/keputusan")
    assert token == sessions.form_token(key, "/web/kasus/application:1/keputusan")
    assert token != sessions.form_token(key, "/web/kasus/application:2/keputusan")
    assert token != sessions.form_token(other, "/web/kasus/application:1/keputusan")


def test_the_cookie_is_secure_except_plain_http_on_loopback():
    assert not sessions.secure_cookie("http", "127.0.0.1")
    assert not sessions.secure_cookie("http", "localhost")
    assert sessions.secure_cookie("https", "127.0.0.1")
    assert sessions.secure_cookie("http", "simpul.banyuwangikab.go.id")
