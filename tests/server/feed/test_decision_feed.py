"""The verifier's decision feed: finalised decisions in order, a cursor that resumes without loss or repeat."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.core.errors import BadRequest
from server.feed.service import DecisionFeed, decode_cursor, encode_cursor
from simpul.db import make_async_engine
from simpul.schema import create_tables
from sync.cases.tables import CaseDecision, CaseRecord
from sync.checkpoints import utcnow
from tests.fixtures.gateway import GatewayProcess, ServerEnv, login

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = make_async_engine(f"sqlite:///{tmp_path / 'feed.db'}")
    await create_tables(engine)
    yield engine
    await engine.dispose()


async def add_decisions(
    engine: AsyncEngine, statuses: list[str], *, at: datetime | None = None, prefix: str = "feed"
) -> None:
    """One case per status, each decided once (five minutes ago unless ``at``)."""
    async with AsyncSession(engine) as session:
        count = len((await session.exec(select(CaseDecision))).all())
    for number, status in enumerate(statuses, start=count):
        await add_history(engine, f"application:{prefix}-{number}", [status], at=at)


async def read_all(feed: DecisionFeed, after: int, limit: int = 100) -> list[dict[str, object]]:
    return [line async for line in feed.lines(after, limit)]


async def test_only_finalised_decisions_in_order_and_the_cursor_resumes(engine: AsyncEngine):
    feed = DecisionFeed(async_sessionmaker(engine, class_=AsyncSession), settle_s=30)
    await add_decisions(engine, ["eligible", "needs_review", "not_eligible", "waiting", "eligible"])
    first = await read_all(feed, 0, limit=2)
    assert [line["status"] for line in first] == ["eligible", "not_eligible"]
    assert "_id" not in first[0] and first[0]["desa"] == "35.10.16.1014"
    assert first[0]["links"] == {"case": f"/api/v1/cases/{first[0]['application_id']}"}

    rest = await read_all(feed, decode_cursor(str(first[-1]["cursor"])))
    assert [line["status"] for line in rest] == ["eligible"]

    await add_decisions(engine, ["not_eligible"])
    newer = await read_all(feed, decode_cursor(str(rest[-1]["cursor"])))
    assert [line["application_id"] for line in newer] == ["application:feed-5"]
    everything = await read_all(feed, 0)
    assert [line["cursor"] for line in everything] == [line["cursor"] for line in first + rest + newer]


async def add_history(
    engine: AsyncEngine, application_id: str, statuses: list[str], *, at: datetime | None = None
) -> None:
    """One case whose verdict changed through ``statuses``, recorded five minutes ago unless ``at``."""
    async with AsyncSession(engine) as session:
        session.add(
            CaseRecord(
                application_id=application_id,
                desa="35.10.16.1014",
                db_name="desa_3510161014",
                applicant_nik="3510164101900001",
                status=statuses[-1],
            )
        )
        for number, status in enumerate(statuses):
            session.add(
                CaseDecision(
                    application_id=application_id,
                    status=status,
                    rule_set_version="pkh-2026.1",
                    fingerprint=f"{application_id}-{number}",
                    result={
                        "_id": f"result:{application_id}",
                        "status": status,
                        "explanation": "…",
                        "rules": [],
                        "decided_at": f"2026-12-01T0{number}:00:00+00:00",
                    },
                    decided_at=at or utcnow() - timedelta(minutes=5),
                )
            )
            await session.commit()


async def test_a_case_that_leaves_its_final_verdict_comes_again_as_not_final(engine: AsyncEngine):
    feed = DecisionFeed(async_sessionmaker(engine, class_=AsyncSession), settle_s=30)
    await add_history(engine, "application:objected", ["waiting", "eligible", "needs_review", "not_eligible"])
    await add_history(engine, "application:withdrawn", ["eligible", "stopped"])
    await add_history(engine, "application:never-final", ["waiting", "needs_review", "stopped"])
    await add_history(engine, "application:a/b?c", ["eligible"])

    lines = await read_all(feed, 0)
    assert [(line["application_id"], line["status"], line["final"]) for line in lines] == [
        ("application:objected", "eligible", True),
        ("application:objected", "needs_review", False),
        ("application:objected", "not_eligible", True),
        ("application:withdrawn", "eligible", True),
        ("application:withdrawn", "stopped", False),
        ("application:a/b?c", "eligible", True),
    ]
    assert lines[-1]["links"] == {"case": "/api/v1/cases/application:a%2Fb%3Fc"}
    # The latest line per case is what a consumer keeps: the withdrawn case's decision no longer stands.
    latest = {line["application_id"]: line for line in lines}
    assert latest["application:withdrawn"]["final"] is False
    # The result's own time, not when the row was recorded.
    assert lines[0]["decided_at"] == "2026-12-01T01:00:00+00:00"


async def test_a_decision_younger_than_the_settle_time_waits(engine: AsyncEngine):
    feed = DecisionFeed(async_sessionmaker(engine, class_=AsyncSession), settle_s=30)
    await add_decisions(engine, ["eligible"], at=utcnow())
    assert await read_all(feed, 0) == []
    assert len([line async for line in feed.lines(0, 10, now=utcnow() + timedelta(seconds=31))]) == 1


async def test_csv_has_a_header_and_one_row_per_decision(engine: AsyncEngine):
    feed = DecisionFeed(async_sessionmaker(engine, class_=AsyncSession), settle_s=0)
    await add_decisions(engine, ["eligible", "not_eligible"])
    body = b"".join([chunk async for chunk in feed.csv(await feed.plan(0, 10))]).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [row["status"] for row in rows] == ["eligible", "not_eligible"]


def test_cursors_are_opaque_and_checked():
    assert decode_cursor(encode_cursor(42)) == 42
    assert decode_cursor(None) == 0
    for junk in ("42", "abc", encode_cursor(1)[:-2] + "!!"):
        with pytest.raises(BadRequest):
            decode_cursor(junk)


def _raw_cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_a_cursor_is_a_position_the_database_can_hold():
    largest = 2**63 - 1  # SQLite's INTEGER, PostgreSQL's BIGINT
    assert decode_cursor(encode_cursor(largest)) == largest
    assert decode_cursor(_raw_cursor("cd1:0")) == 0
    too_large = ("cd1:9223372036854775808", "cd1:99999999999999999999999", "cd1:" + "9" * 5000)
    # int() takes these as well; encode_cursor never writes them.
    lenient = ("cd1:+1", "cd1: 1", "cd1:1_0", "cd1:-1", "cd1:", "cd1:١", "cd2:1", "1")
    for text in (*too_large, *lenient):
        with pytest.raises(BadRequest):
            decode_cursor(_raw_cursor(text))
    with pytest.raises(BadRequest):
        decode_cursor("é")


@pytest.mark.live
def test_the_feed_is_for_the_verifier_and_every_read_is_audited(gateway_factory: object, server_env: ServerEnv) -> None:
    gateway: GatewayProcess = gateway_factory(SIMPUL_DECISION_FEED_SETTLE_S="0")  # type: ignore[operator]
    asyncio.run(_seed(server_env))
    url = gateway.url + "/api/v1/decisions"
    assert httpx.get(url).status_code == 401
    for username in ("agent.lateng", "spv.banyuwangi"):
        headers = {"Authorization": f"Bearer {login(gateway.url, username)['access_token']}"}
        assert httpx.get(url, headers=headers).status_code == 403

    verifier = {"Authorization": f"Bearer {login(gateway.url, 'verifier')['access_token']}"}
    response = httpx.get(url, headers=verifier)
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines and all(line["status"] in ("eligible", "not_eligible") for line in lines)
    again = httpx.get(url, headers=verifier, params={"cursor": lines[-1]["cursor"]})
    assert again.status_code == 200 and again.text == ""
    assert httpx.get(url, headers=verifier, params={"cursor": "nonsense"}).status_code == 400
    for path in ("/api/v1/decisions", "/api/v1/decisions.csv"):
        # A position past SQLite's integers: a 400 in the API's shape, not an OverflowError (500).
        huge = httpx.get(gateway.url + path, headers=verifier, params={"cursor": _raw_cursor("cd1:" + "9" * 23)})
        assert huge.status_code == 400 and huge.json()["error"] == "bad_request", huge.text
        too_many = httpx.get(gateway.url + path, headers=verifier, params={"limit": "9" * 20})
        assert too_many.status_code == 422 and too_many.json()["error"] == "invalid_request"
    exported = httpx.get(gateway.url + "/api/v1/decisions.csv", headers=verifier)
    assert exported.status_code == 200 and exported.text.startswith("cursor,application_id")

    admin = {"Authorization": f"Bearer {login(gateway.url, 'admin.kabupaten')['access_token']}"}
    trail = httpx.get(gateway.url + "/api/v1/admin/audit", headers=admin, params={"actor": "verifier"}).json()
    resources = [entry["resource"] for entry in trail["entries"]]
    assert resources.count("decision_feed") >= 2 and "decision_feed_csv" in resources
    # Each read says exactly which positions it served: the first read served every line the verifier got.
    first = next(entry for entry in trail["entries"] if entry["resource"] == "decision_feed")
    assert first["detail"]["after"] == 0 and first["detail"]["lines"] == len(lines)
    assert encode_cursor(first["detail"]["until"]) == lines[-1]["cursor"]
    assert httpx.get(gateway.url + "/api/v1/admin/audit", headers=verifier).status_code == 403


async def _seed(env: ServerEnv) -> None:
    engine = make_async_engine(env.database_url)
    try:
        await add_decisions(engine, ["eligible", "not_eligible", "needs_review"], prefix=uuid4().hex)
    finally:
        await engine.dispose()
