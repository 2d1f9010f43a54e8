"""The worker against a mocked CouchDB 3 feed: string seqs that sort differently from feed order, design documents,
``pending``. The seqs must come back as ``since`` and land in the checkpoint exactly as the feed gave them."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest

from replication.couch import CouchClient
from sync.checkpoints import CheckpointStore
from sync.uow import UnitOfWork
from sync.worker import Worker
from tests.sync.sync_testkit import Recorder, eventually, fast, running

pytestmark = pytest.mark.anyio

# Lexical order of these seqs is not feed order: a worker that compared them would go wrong.
ROWS: list[dict[str, Any]] = [
    {"seq": "9-g1AAAAzz", "id": "doc:a", "changes": [{"rev": "1-a"}]},
    {"seq": "10-g1AAAAaa", "id": "_design/app", "changes": [{"rev": "1-d"}]},
    {"seq": "11-g1AAAAmm", "id": "doc:b", "changes": [{"rev": "2-b"}, {"rev": "2-c"}]},
    {"seq": "100-g1AAAAbb", "id": "doc:c", "changes": [{"rev": "1-c"}], "deleted": True},
]


class FakeCouchDB3:
    def __init__(self) -> None:
        self.sinces: list[str] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        since = request.url.params["since"]
        self.sinces.append(since)
        limit = int(request.url.params["limit"])
        start = 0 if since == "0" else [row["seq"] for row in ROWS].index(since) + 1
        rows = ROWS[start : start + limit]
        if not rows:
            await asyncio.sleep(0.05)  # a long-poll ended by `timeout`, shortened
            return httpx.Response(200, content=b'{"results":[],\n"last_seq":"' + since.encode() + b'","pending":0}')
        body = {"results": rows, "last_seq": rows[-1]["seq"], "pending": len(ROWS) - start - len(rows)}
        return httpx.Response(200, content=b"\n\n" + orjson.dumps(body))  # heartbeats before the body


async def test_string_seqs_are_passed_through_untouched(uow: UnitOfWork) -> None:
    server = FakeCouchDB3()
    couch = CouchClient("http://couch.test")
    await couch.http.aclose()
    couch.http = httpx.AsyncClient(base_url="http://couch.test", transport=httpx.MockTransport(server))
    recorder = Recorder()
    worker = Worker(
        couch=couch, uow=uow, handlers=[recorder], databases=["desa_3510161014"], settings=fast(batch_limit=2)
    )

    async with running(worker):
        await eventually(lambda: worker.status()["desa_3510161014"].caught_up)
    await couch.aclose()

    assert [(c.id, c.seq, c.revs, c.deleted) for c in recorder.seen] == [
        ("doc:a", "9-g1AAAAzz", ("1-a",), False),
        ("doc:b", "11-g1AAAAmm", ("2-b", "2-c"), False),
        ("doc:c", "100-g1AAAAbb", ("1-c",), True),
    ]
    assert server.sinces[:3] == ["0", "10-g1AAAAaa", "100-g1AAAAbb"]
    async with uow.begin() as session:
        assert await CheckpointStore(session, "verification").get("desa_3510161014") == "100-g1AAAAbb"
    status = worker.status()["desa_3510161014"]
    assert (status.pending, status.processed, status.checkpoint_seq) == (0, 3, "100-g1AAAAbb")
