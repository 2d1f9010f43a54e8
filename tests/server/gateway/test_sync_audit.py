"""Replication reads by any role but pendamping are audited (who, which database, what kind of request, when); a
pendamping's requests, the hot path, write nothing and ask nothing more than the scope query."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.audit.models import AuditEntry
from server.auth import service
from server.auth.models import RefreshToken, Role, utcnow
from server.auth.tokens import KeyRing
from server.core.errors import Forbidden, ServiceUnavailable
from server.gateway.access import SyncAccess, SyncRequest, read_kind, scope_reader, sync_request
from simpul.db import make_async_engine
from simpul.schema import create_tables
from tests.fixtures.gateway import LATENG_DB, GatewayProcess, login

LATENG = "35.10.16.1014"
KEYS = KeyRing({"k1": "s" * 64}, "k1", audience="simpul-sync", issuer="simpul", ttl_s=900)


class CountingSessions:
    """A session maker that counts the sessions opened, and can fail the way a locked or lost store does."""

    def __init__(self, inner: async_sessionmaker[AsyncSession], *, fail: bool = False) -> None:
        self.inner = inner
        self.fail = fail
        self.opened = 0

    def __call__(self) -> AsyncSession:
        self.opened += 1
        if self.fail:
            raise OperationalError("INSERT INTO audit_log", {}, Exception("database is locked"))
        return self.inner()


async def _store(path: Path) -> dict[str, int]:
    engine = make_async_engine(f"sqlite:///{path}")
    await create_tables(engine)
    ids = {}
    async with AsyncSession(engine) as session:
        for username, role, desa in (("agent", Role.pendamping, [LATENG]), ("boss", Role.admin, [])):
            user = await service.create_user(session, username=username, password="rahasia-123", role=role, desa=desa)
            await session.flush()
            assert user.id is not None
            ids[username] = user.id
            session.add(
                RefreshToken(
                    token_hash=f"{user.id:064d}",
                    user_id=user.id,
                    device_id="d1",
                    expires_at=utcnow() + dt.timedelta(days=1),
                )
            )
        await session.commit()
    await engine.dispose()
    return ids


def _bearer(user_id: int, username: str) -> str:
    return "Bearer " + KEYS.issue(user_id=user_id, username=username, device_id="d1")


@pytest.mark.parametrize(
    ("method", "path", "kind"),
    [
        ("GET", "/sync/desa_3510161014/", "database"),
        ("HEAD", "/sync/desa_3510161014/", "database"),
        ("GET", "/sync/desa_3510161014/_changes?since=0", "_changes"),
        ("POST", "/sync/desa_3510161014/_changes", "_changes"),
        ("POST", "/sync/desa_3510161014/_all_docs", "_all_docs"),
        ("POST", "/sync/desa_3510161014/_bulk_get", "_bulk_get"),
        ("POST", "/sync/desa_3510161014/_revs_diff", "_revs_diff"),
        ("GET", "/sync/desa_3510161014/household%3Aabc", "document"),
        ("GET", "/sync/desa_3510161014/_local/replication-1", "local_document"),
        ("GET", "/sync/desa_3510161014/_design/x", "design_document"),
        ("GET", "/sync/desa_3510161014/evidence%3Aabc/depan.jpg", "attachment"),
        ("POST", "/sync/desa_3510161014/_bulk_docs", None),
        ("PUT", "/sync/desa_3510161014/household%3Aabc", None),
        ("DELETE", "/sync/desa_3510161014/household%3Aabc", None),
        ("POST", "/sync/desa_3510161014/_ensure_full_commit", None),
    ],
)
def test_read_kinds(method: str, path: str, kind: str | None) -> None:
    assert read_kind(SyncRequest(method, path.encode())) == kind


def test_admin_reads_are_recorded_and_pendamping_requests_ask_nothing_more(tmp_path: Path) -> None:
    path = tmp_path / "simpul.db"

    async def main() -> None:
        ids = await _store(path)
        engine = make_async_engine(f"sqlite:///{path}")
        sessions = CountingSessions(async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False))
        gate = SyncAccess(KEYS, cast(async_sessionmaker[AsyncSession], sessions), scope_reader(engine))
        agent, boss = _bearer(ids["agent"], "agent"), _bearer(ids["boss"], "boss")
        try:
            for method, endpoint in (("GET", b"_changes"), ("POST", b"_all_docs")):
                with sync_request(method, b"/sync/desa_3510161014/" + endpoint):
                    await gate.database(agent, LATENG_DB)
            assert sessions.opened == 0  # the pendamping's requests: the scope query only

            with sync_request("GET", b"/sync/desa_3510161014/_changes?feed=longpoll"):
                principal, desa = await gate.database(boss, LATENG_DB)
            assert (principal.username, desa) == ("boss", LATENG)
            with sync_request("PUT", b"/sync/desa_3510152004/_local/checkpoint"):  # the replicator's own: no read
                await gate.database(boss, "desa_3510152004")
            # Documents are written only by a pendamping's device: refused, and nothing recorded.
            with sync_request("POST", b"/sync/desa_3510152004/_bulk_docs"), pytest.raises(Forbidden):
                await gate.database(boss, "desa_3510152004")
            assert sessions.opened == 1
            async with AsyncSession(engine) as session:
                rows = (await session.exec(select(AuditEntry))).all()
            [row] = rows
            assert (row.actor, row.actor_role, row.action, row.resource) == ("boss", "admin", "read", "sync_database")
            assert row.detail == {
                "db": LATENG_DB,
                "desa": LATENG,
                "request": "_changes",
                "method": "GET",
                "device_id": "d1",
            }
            assert utcnow() - row.at < dt.timedelta(minutes=1)

            sessions.fail = True  # the trail cannot be written: the read is refused, never relayed unrecorded
            with sync_request("GET", b"/sync/desa_3510161014/"), pytest.raises(ServiceUnavailable):
                await gate.database(boss, LATENG_DB)
            with sync_request("GET", b"/sync/desa_3510161014/"):
                await gate.database(agent, LATENG_DB)  # the pendamping is not held up by the audit trail
        finally:
            await gate.scope.aclose()
            await engine.dispose()

    asyncio.run(main())


@pytest.mark.live
def test_replication_reads_by_the_admin_are_in_the_trail(gateway: GatewayProcess) -> None:
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)

    def bearer(username: str, device_id: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {login(gateway.url, username, device_id=device_id)['access_token']}"}

    admin, agent = bearer("admin.kabupaten", "audit-laptop"), bearer("agent.lateng", "audit-phone")
    sync = f"{gateway.url}/sync/{LATENG_DB}"
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/", {}),
        ("GET", "/_changes", {"params": {"since": "0", "limit": "1"}}),
        ("POST", "/_all_docs", {"json": {"keys": ["household:none"]}}),
        ("POST", "/_revs_diff", {"json": {}}),
        ("GET", "/_local/audit-checkpoint", {}),
    ]
    for headers in (admin, agent):
        for method, suffix, extra in calls:
            response = httpx.request(method, sync + suffix, headers=headers, timeout=30, **extra)
            assert response.status_code in (200, 404), response.text
    # A write by the admin is not a read.
    written = httpx.put(sync + "/_local/audit-checkpoint", headers=admin, json={"last_seq": "0"}, timeout=30)
    assert written.status_code in (200, 201)

    trail = httpx.get(
        gateway.url + "/api/v1/admin/audit",
        headers=admin,
        params={"resource": "sync_database", "since": since.isoformat()},
        timeout=30,
    )
    assert trail.status_code == 200
    entries = trail.json()["entries"]
    assert {entry["actor"] for entry in entries} == {"admin.kabupaten"}  # nothing of the pendamping
    mine = [entry for entry in entries if entry["detail"]["device_id"] == "audit-laptop"]
    assert [(e["detail"]["method"], e["detail"]["request"]) for e in mine] == [
        ("GET", "database"),
        ("GET", "_changes"),
        ("POST", "_all_docs"),
        ("POST", "_revs_diff"),
        ("GET", "local_document"),
    ]
    for entry in mine:
        assert (entry["action"], entry["actor_role"], entry["case_id"], entry["person_ref"]) == (
            "read",
            "admin",
            None,
            None,
        )
        assert entry["detail"]["db"] == LATENG_DB and entry["detail"]["desa"] == "35.10.16.1014"
        assert dt.datetime.fromisoformat(entry["at"]) >= since
