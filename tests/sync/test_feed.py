"""The feed reader against the real pouchdb-server, and its error translation against a mocked CouchDB."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest

from replication.couch import CouchClient
from replication.errors import CouchNotFound, CouchUnavailable
from sync.feed import FeedOutages, FeedReader
from tests.sync.sync_testkit import fast, feed_seqs, last_seq, write_docs

pytestmark = pytest.mark.anyio

NewDb = Callable[[], Awaitable[str]]


@pytest.mark.live
async def test_a_page_skips_design_documents_but_its_last_seq_covers_them(couch: CouchClient, new_db: NewDb) -> None:
    db = await new_db()
    await write_docs(couch, db, ["doc:1"])
    await couch.put_doc(db, {"_id": "_design/app", "views": {}})
    rev = await couch.put_doc(db, {"_id": "doc:2"})
    await couch.put_doc(db, {"_id": "doc:2", "_rev": rev, "_deleted": True})

    page = await FeedReader(couch, db, fast()).poll("0")

    assert [(change.id, change.deleted) for change in page.changes] == [("doc:1", False), ("doc:2", True)]
    assert page.last_seq == await last_seq(couch, db)
    assert page.complete
    seqs = await feed_seqs(couch, db)
    assert [change.seq for change in page.changes] == [seqs["doc:1"], seqs["doc:2"]]


@pytest.mark.live
async def test_pages_follow_the_feed_in_batches(couch: CouchClient, new_db: NewDb) -> None:
    db = await new_db()
    ids = [f"doc:{index:02d}" for index in range(12)]
    await write_docs(couch, db, ids)

    seen: list[str] = []
    complete: list[bool] = []
    async for page in FeedReader(couch, db, fast(batch_limit=5)).pages("0"):
        seen += [change.id for change in page.changes]
        complete.append(page.complete)
        if len(seen) == len(ids):
            break
    assert seen == ids
    assert complete == [False, False, True]


@pytest.mark.live
async def test_an_idle_long_poll_is_ended_by_the_client_and_a_change_wakes_it(
    couch: CouchClient, new_db: NewDb
) -> None:
    db = await new_db()
    await write_docs(couch, db, ["doc:1"])
    since = await last_seq(couch, db)
    reader = FeedReader(couch, db, fast(longpoll_timeout_s=0.2, longpoll_grace_s=0.2))

    idle = await reader.poll(since)  # pouchdb-server ignores `timeout`: the client's deadline ends it
    assert idle.timed_out
    assert idle.changes == []
    assert idle.last_seq == since

    waiting = asyncio.create_task(FeedReader(couch, db, fast(longpoll_timeout_s=10.0)).poll(since))
    await asyncio.sleep(0.1)
    await write_docs(couch, db, ["doc:2"])
    woken = await asyncio.wait_for(waiting, 10)
    assert [change.id for change in woken.changes] == ["doc:2"]
    assert not woken.timed_out


def _mocked(handler: Callable[[httpx.Request], httpx.Response]) -> CouchClient:
    couch = CouchClient("http://couch.test")
    couch.http = httpx.AsyncClient(base_url="http://couch.test", transport=httpx.MockTransport(handler))
    return couch


async def test_errors_are_translated_at_the_edge() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    couch = _mocked(refuse)
    with pytest.raises(CouchUnavailable) as unavailable:
        await FeedReader(couch, "desa_1", fast()).poll("0")
    assert isinstance(unavailable.value.__cause__, httpx.ConnectError)
    await couch.aclose()

    couch = _mocked(lambda request: httpx.Response(404, json={"error": "not_found", "reason": "missing"}))
    with pytest.raises(CouchNotFound):
        await FeedReader(couch, "desa_1", fast()).poll("0")
    await couch.aclose()

    couch = _mocked(lambda request: httpx.Response(200, content=b"<html>proxy</html>"))
    with pytest.raises(CouchUnavailable):
        await FeedReader(couch, "desa_1", fast()).poll("0")
    await couch.aclose()


async def test_the_reader_backs_off_while_couchdb_is_unavailable_then_resumes() -> None:
    answers = [
        httpx.Response(503, json={"error": "unavailable", "reason": "starting"}),
        httpx.Response(503, json={"error": "unavailable", "reason": "starting"}),
        httpx.Response(
            200,
            json={
                "results": [{"seq": "3-a", "id": "doc:1", "changes": [{"rev": "1-x"}]}],
                "last_seq": "3-a",
                "pending": 0,
            },
        ),
        httpx.Response(200, json={"results": [], "last_seq": "3-a", "pending": 0}),
    ]
    sinces: list[str | None] = []
    feeds: list[str] = []

    def serve(request: httpx.Request) -> httpx.Response:
        sinces.append(request.url.params.get("since"))
        feeds.append(request.url.params["feed"])
        assert request.url.params["style"] == "all_docs"
        return answers.pop(0)

    delays: list[float] = []
    reader_errors: list[str | None] = []

    async def sleep(delay: float) -> None:
        delays.append(delay)
        reader_errors.append(reader.last_error)

    couch = _mocked(serve)
    reader = FeedReader(couch, "desa_1", fast(feed_backoff_base_s=1.0, feed_backoff_max_s=30.0), sleep=sleep)
    pages = reader.pages("1-opaque")
    page = await anext(pages)
    await anext(pages)
    await couch.aclose()

    assert sinces == [*["1-opaque"] * 3, "3-a"]  # the seq is sent back untouched
    # Until a first page has come the reader asks without waiting; then it long-polls.
    assert feeds == [*["normal"] * 3, "longpoll"]
    assert [change.id for change in page.changes] == ["doc:1"]
    assert page.pending == 0
    assert 0.5 <= delays[0] <= 1.0 and 1.0 <= delays[1] <= 2.0
    assert all(error and "503" in error for error in reader_errors)
    assert reader.last_error is None


async def test_an_outage_is_logged_once_for_all_readers_and_its_end_once(caplog: pytest.LogCaptureFixture) -> None:
    down = {"desa_1": 2, "desa_2": 3}  # failed requests before each database's feed answers again

    def serve(request: httpx.Request) -> httpx.Response:
        db = request.url.path.split("/")[1]
        if down[db]:
            down[db] -= 1
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, json={"results": [], "last_seq": "1-a", "pending": 0})

    async def no_wait(delay: float) -> None:
        await asyncio.sleep(0)

    couch = _mocked(serve)
    outages = FeedOutages()
    readers = [FeedReader(couch, db, fast(), sleep=no_wait, outages=outages) for db in down]
    with caplog.at_level("DEBUG", logger="sync.feed"):
        await asyncio.gather(*(anext(reader.pages("0")) for reader in readers))
    await couch.aclose()

    said = [(r.levelname, r.getMessage()) for r in caplog.records if r.levelname in ("WARNING", "INFO")]
    assert [level for level, _ in said] == ["WARNING", "INFO"], said
    assert "CouchDB unreachable" in said[0][1] and "every feed resumed" in said[1][1]
    assert not outages.failing
