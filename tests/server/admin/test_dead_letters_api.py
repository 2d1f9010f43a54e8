"""The admin API over the worker's dead letters: admin only, a re-queue is a request the worker honours."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from simpul.db import make_async_engine
from sync.deadletters import FailureStore
from sync.feed import Change
from sync.uow import UnitOfWork
from tests.fixtures.gateway import GatewayProcess, ServerEnv, login

pytestmark = pytest.mark.live


def park_one(env: ServerEnv, doc_id: str) -> int:
    async def park() -> int:
        engine = make_async_engine(env.database_url)
        try:
            async with UnitOfWork(engine).begin() as session:
                change = Change(db="desa_3510161014", seq="3", id=doc_id, revs=("1-abc",))
                letter = await FailureStore(session).park(change, "verification", "ValueError: boom", 5)
                assert letter.id is not None
                return letter.id
        finally:
            await engine.dispose()

    return asyncio.run(park())


def bearer(gateway: GatewayProcess, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {login(gateway.url, username)['access_token']}"}


def test_only_an_admin_lists_and_requeues(gateway: GatewayProcess, server_env: ServerEnv):
    letter_id = park_one(server_env, "application:admin-api-1")
    url = gateway.url + "/api/v1/admin/dead-letters"

    assert httpx.get(url).status_code == 401
    for username in ("agent.lateng", "spv.banyuwangi", "verifier"):
        denied = httpx.get(url, headers=bearer(gateway, username))
        assert denied.status_code == 403, username
        assert httpx.post(f"{url}/{letter_id}/requeue", headers=bearer(gateway, username)).status_code == 403

    admin = bearer(gateway, "admin.kabupaten")
    listed = httpx.get(url, headers=admin, params={"db": "desa_3510161014"})
    assert listed.status_code == 200
    [letter] = [item for item in listed.json()["dead_letters"] if item["id"] == letter_id]
    assert (letter["doc_id"], letter["handler"], letter["attempts"]) == ("application:admin-api-1", "verification", 5)
    assert letter["requeue_requested_at"] is None

    requested = httpx.post(f"{url}/{letter_id}/requeue", headers=admin)
    assert requested.status_code == 202
    assert requested.json()["requeue_requested_by"] == "admin.kabupaten"
    missing = httpx.post(f"{url}/999999/requeue", headers=admin)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


def test_healthz_shows_the_worker_without_failing_the_gateway(gateway: GatewayProcess):
    health = httpx.get(gateway.url + "/healthz")
    assert health.status_code == 200
    assert "worker" in health.json()


def test_ids_past_the_databases_integers_are_refused_not_a_500(gateway: GatewayProcess):
    admin = bearer(gateway, "admin.kabupaten")
    url = gateway.url + "/api/v1/admin"
    largest = 2**63 - 1  # SQLite's INTEGER, PostgreSQL's BIGINT
    assert httpx.post(f"{url}/dead-letters/{largest}/requeue", headers=admin).status_code == 404
    for bad in ("99999999999999999999", str(largest + 1), "0", "-1"):
        refused = httpx.post(f"{url}/dead-letters/{bad}/requeue", headers=admin)
        assert refused.status_code == 422 and refused.json()["error"] == "invalid_request", (bad, refused.text)

    assert httpx.get(f"{url}/audit", headers=admin, params={"after_id": largest}).json()["entries"] == []
    for bad in ("99999999999999999999", str(largest + 1), "-1"):
        refused = httpx.get(f"{url}/audit", headers=admin, params={"after_id": bad})
        assert refused.status_code == 422 and refused.json()["error"] == "invalid_request", (bad, refused.text)
    assert httpx.get(f"{url}/audit", headers=admin, params={"limit": "9" * 20}).status_code == 422
