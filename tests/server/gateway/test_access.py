"""The scope query of every sync request: both readers answer the same, nothing is remembered between requests,
and a SQLite lock never stops the answer."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.auth import service
from server.auth.models import RefreshToken, Role, User, utcnow
from server.auth.tokens import KeyRing
from server.core.errors import Forbidden, Unauthorized
from server.gateway.access import (
    EngineScopeReader,
    SqliteScopeReader,
    SyncAccess,
    SyncRequest,
    scope_reader,
    writes_documents,
)
from simpul.db import make_async_engine
from simpul.schema import create_tables

LATENG = "35.10.16.1014"
LATENG_DB = "desa_3510161014"
KEMIREN_DB = "desa_3510152004"


async def _store(path: Path) -> tuple[int, int]:
    """A pendamping of Lateng with a live device ``d1``, a revoked ``d2`` and an expired ``d3``; an admin."""
    engine = make_async_engine(f"sqlite:///{path}")
    await create_tables(engine)
    async with AsyncSession(engine) as session:
        agent = await service.create_user(
            session, username="agent", password="rahasia-123", role=Role.pendamping, desa=[LATENG]
        )
        admin = await service.create_user(session, username="boss", password="rahasia-123", role=Role.admin)
        await session.flush()
        assert agent.id is not None and admin.id is not None
        ids = agent.id, admin.id
        later, earlier = utcnow() + timedelta(days=1), utcnow() - timedelta(minutes=1)
        for n, (device, expires, revoked) in enumerate(
            [("d1", later, None), ("d2", later, utcnow()), ("d3", earlier, None)]
        ):
            session.add(
                RefreshToken(token_hash=f"{n:064d}", user_id=ids[0], device_id=device, expires_at=expires,
                             revoked_at=revoked)
            )  # fmt: skip
        session.add(RefreshToken(token_hash="f" * 64, user_id=ids[1], device_id="d1", expires_at=later))
        await session.commit()
    await engine.dispose()
    return ids


def _params(user_id: int, desa: str, device: str) -> dict[str, Any]:
    return {"user_id": user_id, "desa": desa, "device_id": device, "now": utcnow()}


def test_sqlite_and_engine_readers_answer_the_same(tmp_path: Path) -> None:
    path = tmp_path / "simpul.db"

    async def main() -> None:
        agent, admin = await _store(path)
        engine = make_async_engine(f"sqlite:///{path}")
        fast, reference = SqliteScopeReader(str(path), engine.dialect), EngineScopeReader(engine)
        assert isinstance(scope_reader(engine), SqliteScopeReader)
        try:
            for user, desa, device in [
                (agent, LATENG, "d1"),  # assigned, live device
                (agent, "35.10.15.2004", "d1"),  # not assigned
                (agent, LATENG, "d2"),  # revoked device
                (agent, LATENG, "d3"),  # expired refresh token
                (agent, LATENG, "unknown"),
                (admin, "", "d1"),
                (9999, LATENG, "d1"),  # no such user
            ]:
                got, expected = await fast(_params(user, desa, device)), await reference(_params(user, desa, device))
                if expected is None:
                    assert got is None
                    continue
                assert got is not None
                username, role, active, assignment, live = got
                assert (username, Role(role), bool(active), assignment is None, bool(live)) == (
                    expected[0], Role(expected[1]), bool(expected[2]), expected[3] is None, bool(expected[4])
                )  # fmt: skip
        finally:
            await fast.aclose()
            await engine.dispose()

    asyncio.run(main())


def test_a_locked_database_is_waited_for_off_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "simpul.db"

    async def main() -> None:
        agent, _ = await _store(path)
        engine = make_async_engine(f"sqlite:///{path}")
        reader = SqliteScopeReader(str(path), engine.dialect)
        blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        blocker.execute("PRAGMA locking_mode=EXCLUSIVE")
        blocker.execute("BEGIN EXCLUSIVE")
        blocker.execute("UPDATE users SET full_name = 'x'")

        def release() -> None:
            blocker.execute("COMMIT")
            blocker.close()

        released = threading.Timer(0.3, release)
        try:
            started = time.monotonic()
            released.start()
            ticks = 0

            async def tick() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            ticker = asyncio.create_task(tick())
            row = await reader(_params(agent, LATENG, "d1"))
            ticker.cancel()
            assert row is not None and row[0] == "agent"
            assert time.monotonic() - started >= 0.25  # it waited for the lock …
            assert ticks >= 10  # … and the loop kept running meanwhile
        finally:
            released.join()
            await reader.aclose()
            await engine.dispose()

    asyncio.run(main())


def test_nothing_is_remembered_between_requests(tmp_path: Path) -> None:
    """What a token may do is asked anew on every request: the next one after a change already sees it."""
    path = tmp_path / "simpul.db"
    keys = KeyRing({"k1": "s" * 64}, "k1", audience="simpul-sync", issuer="simpul", ttl_s=900)

    async def main() -> None:
        agent, _ = await _store(path)
        engine = make_async_engine(f"sqlite:///{path}")
        sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
        gate = SyncAccess(keys, sessions, scope_reader(engine))
        bearer = "Bearer " + keys.issue(user_id=agent, username="agent", device_id="d1")
        try:
            principal, desa = await gate.database(bearer, LATENG_DB)
            assert (principal.username, desa) == ("agent", LATENG)
            with pytest.raises(Forbidden):
                await gate.database(bearer, KEMIREN_DB)
            async with sessions() as session:
                user = (await session.exec(select(User).where(User.id == agent))).one()
                await service.set_assignments(session, user, [])
                await session.commit()
            with pytest.raises(Forbidden):
                await gate.database(bearer, LATENG_DB)  # the very next request
            async with sessions() as session:
                await service.revoke_device(session, agent, "d1")
                await session.commit()
            with pytest.raises(Unauthorized):
                await gate.database(bearer, LATENG_DB)
        finally:
            await gate.scope.aclose()
            await engine.dispose()

    asyncio.run(main())


@pytest.mark.parametrize(
    ("method", "path", "writes"),
    [
        ("POST", b"/sync/desa_3510161014/_bulk_docs", True),
        ("PUT", b"/sync/desa_3510161014/household%3Aabc", True),
        ("DELETE", b"/sync/desa_3510161014/household%3Aabc?rev=1-a", True),
        ("PUT", b"/sync/desa_3510161014/household%3Aabc/photo.jpg", True),
        ("PUT", b"/sync/desa_3510161014/_local/checkpoint-1", False),
        ("POST", b"/sync/desa_3510161014/_revs_diff", False),
        ("POST", b"/sync/desa_3510161014/_bulk_get", False),
        ("POST", b"/sync/desa_3510161014/_ensure_full_commit", False),
        ("GET", b"/sync/desa_3510161014/household%3Aabc", False),
    ],
)
def test_what_counts_as_writing_documents(method: str, path: bytes, writes: bool) -> None:
    assert writes_documents(SyncRequest(method, path)) is writes
