"""The writer against the real local server: no write without a change, a conflict re-read and retried once,
and a field task's life (open, kept, updated, closed, reopened)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pytest

from replication.couch import CouchClient
from replication.errors import CouchConflict
from sync.cases.writer import SUPERSEDED_EXPLANATION, CaseAddress, DocumentWriter
from sync.verification.verdict import FieldTask
from tests.sync.cases.cases_testkit import Clock
from tests.sync.cases.conftest import NewDb

pytestmark = [pytest.mark.live, pytest.mark.anyio]


def where(db: str) -> CaseAddress:
    return CaseAddress(db=db, application_id="application:a1", household_id="household:h1", desa="35.10.16.1014")


class RacingCouch(CouchClient):
    """A client whose next ``races`` writes are each preceded by another process writing the same document."""

    def __init__(self, url: str, races: int) -> None:
        super().__init__(url)
        self.races = races

    async def put_doc(self, db: str, doc: Mapping[str, Any]) -> str:
        if self.races:
            self.races -= 1
            current = await self.get_doc(db, str(doc["_id"]))
            rival = {"_id": doc["_id"], "type": "result", "fingerprint": "rival", "status": "waiting"}
            if current is not None:
                rival["_rev"] = current["_rev"]
            await super().put_doc(db, rival)
        return await super().put_doc(db, doc)


async def test_a_result_is_written_only_when_its_fingerprint_changes(couch: CouchClient, new_db: NewDb) -> None:
    db = await new_db()
    clock = Clock()
    writer = DocumentWriter(couch, clock)
    first = await writer.write_result(where(db), {"status": "waiting", "explanation": "Menunggu."}, "f1")
    assert first.changed
    clock.advance(60)
    again = await writer.write_result(where(db), {"status": "waiting", "explanation": "Menunggu."}, "f1")
    assert not again.changed
    stored = await couch.get_doc(db, "result:application:a1")
    assert stored is not None and stored["_rev"].startswith("1-")
    assert stored["decided_at"] == "2025-10-03T02:00:00Z"
    assert {k: stored[k] for k in ("type", "application_id", "household_id", "desa", "fingerprint")} == {
        "type": "result",
        "application_id": "application:a1",
        "household_id": "household:h1",
        "desa": "35.10.16.1014",
        "fingerprint": "f1",
    }

    changed = await writer.write_result(where(db), {"status": "eligible", "explanation": "Layak."}, "f2")
    assert changed.changed and changed.doc["_rev"].startswith("2-")
    assert changed.doc["decided_at"] == "2025-10-03T02:01:00Z"


async def test_a_conflict_is_read_again_and_retried_once_then_raised(couch_server: Any, new_db: NewDb) -> None:
    db = await new_db()
    once = RacingCouch(couch_server.url, races=1)
    try:
        written = await DocumentWriter(once, Clock()).write_result(where(db), {"status": "eligible"}, "f1")
        assert written.changed and written.doc["_rev"].startswith("2-")
        stored = await once.get_doc(db, "result:application:a1")
        assert stored is not None and stored["fingerprint"] == "f1"
    finally:
        await once.aclose()

    twice = RacingCouch(couch_server.url, races=2)
    try:
        with pytest.raises(CouchConflict):
            await DocumentWriter(twice, Clock()).write_result(where(db), {"status": "not_eligible"}, "f2")
    finally:
        await twice.aclose()


async def test_conflicting_leaves_on_a_result_are_deleted_before_it_is_compared(
    couch: CouchClient, new_db: NewDb
) -> None:
    """Only the server writes results, one revision after another: leaves beside its own were made by something
    else (revisions sent through two gateway replicas at once) and go, so none can win later."""
    db = await new_db()
    writer = DocumentWriter(couch, Clock())
    first = await writer.write_result(where(db), {"status": "eligible", "explanation": "Layak."}, "f1")
    base = first.doc["_rev"].split("-", 1)[1]
    await couch.bulk_docs(
        db,
        [
            {
                "_id": "result:application:a1",
                "status": "eligible",
                "_rev": f"2-{n}",
                "_revisions": {"start": 2, "ids": [n, base]},
            }
            for n in ("aaaa", "ffff")
        ],
        new_edits=False,
    )
    await writer.write_result(where(db), {"status": "eligible", "explanation": "Layak."}, "f1")
    stored = await couch.request("GET", f"/{db}/result:application:a1", params={"conflicts": "true"}, what="get")
    assert "_conflicts" not in stored and stored["fingerprint"] == "f1"  # the server's content, one leaf

    await writer.delete_result(db, "application:a1")  # an application removed: no leaf of its result stands
    assert await couch.get_doc(db, "result:application:a1") is None


async def test_a_superseded_result_names_the_correction(couch: CouchClient, new_db: NewDb) -> None:
    db = await new_db()
    writer = DocumentWriter(couch, Clock())
    await writer.write_result(where(db), {"status": "eligible"}, "f1")
    written = await writer.write_superseded(where(db), "application:a2")
    assert written.changed
    assert (written.doc["status"], written.doc["superseded_by"], written.doc["explanation"]) == (
        "superseded",
        "application:a2",
        SUPERSEDED_EXPLANATION,
    )
    assert not (await writer.write_superseded(where(db), "application:a2")).changed
    assert await writer.delete_result(db, "application:a1")
    assert await couch.get_doc(db, "result:application:a1") is None
    assert not await writer.delete_result(db, "application:a1")


async def test_a_task_is_opened_kept_updated_closed_and_reopened(couch: CouchClient, new_db: NewDb) -> None:
    db = await new_db()
    clock = Clock()
    writer = DocumentWriter(couch, clock)
    visit = FieldTask(reasons=("Nama kepala keluarga tidak sesuai data kependudukan.",), capture=("field_visit",))

    opened = await writer.open_task(where(db), visit, ["pendamping.dua", "pendamping.satu"])
    assert opened.changed
    assert {k: opened.doc[k] for k in ("type", "case_id", "status", "reasons", "capture", "assignees")} == {
        "type": "task",
        "case_id": "application:a1",
        "status": "open",
        "reasons": list(visit.reasons),
        "capture": ["field_visit"],
        "assignees": ["pendamping.dua", "pendamping.satu"],
    }
    clock.advance(3600)
    assert not (await writer.open_task(where(db), visit, ["pendamping.satu", "pendamping.dua"])).changed

    more = FieldTask(reasons=(*visit.reasons, "Foto rumah belum ada."), capture=("field_visit", "evidence"))
    updated = await writer.open_task(where(db), more, ["pendamping.satu"])
    assert updated.changed and updated.doc["created_at"] == "2025-10-03T02:00:00Z"
    assert updated.doc["updated_at"] == "2025-10-03T03:00:00Z"

    closed = await writer.close_task(db, "application:a1", "done")
    assert closed.changed and closed.doc["status"] == "done" and closed.doc["closed_at"] == "2025-10-03T03:00:00Z"
    assert not (await writer.close_task(db, "application:a1", "cancelled")).changed
    assert not (await writer.close_task(db, "application:none", "cancelled")).changed

    reopened = await writer.open_task(where(db), more, ["pendamping.satu"])
    assert reopened.changed and reopened.doc["status"] == "open"
    stored = await couch.get_doc(db, "task:application:a1")
    assert stored is not None and stored["_rev"].startswith("4-")


def test_times_are_written_in_utc() -> None:
    from sync.cases.writer import iso

    wib = dt.timezone(dt.timedelta(hours=7))
    assert iso(dt.datetime(2025, 10, 3, 9, 0, tzinfo=wib)) == "2025-10-03T02:00:00Z"
