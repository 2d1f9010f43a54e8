"""The pipeline end to end: documents synced into a real desa database, a real Worker following it, the local
registries answering, results and tasks pushed back down, and the projection recording it all."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import insert, update

from registries import tables as t
from registries.sources import Sources
from replication.couch import CouchClient
from simpul.db import make_sync_engine
from sync.cases import processor as processor_module
from sync.cases.pipeline import Pipeline
from sync.cases.store import CaseStore, CursorStore, LedgerStore, PeopleStore
from sync.cases.tables import CaseDecision, CaseRecord
from sync.deadletters import list_dead_letters
from sync.feed import Change
from sync.uow import UnitOfWork
from sync.worker import Worker
from tests.sync.cases.cases_testkit import CAPTURED, Clock, Family, Pendamping, Switchable, delete, put
from tests.sync.cases.conftest import MakePipeline, NewDb
from tests.sync.sync_testkit import fast

pytestmark = [pytest.mark.live, pytest.mark.anyio]


# --- helpers --------------------------------------------------------------------------------------------------


async def until(check: Callable[[], Awaitable[bool]], *, within_s: float = 30.0) -> None:
    """Wait until the async ``check`` holds; a safety net against hanging, not a timing assertion."""
    async with asyncio.timeout(within_s):
        while not await check():  # noqa: ASYNC110  (the state polled has no event of its own)
            await asyncio.sleep(0.05)


async def result_of(couch: CouchClient, db: str, family: Family) -> dict[str, Any] | None:
    return await couch.get_doc(db, f"result:{family.application_id}")


async def status_of(couch: CouchClient, db: str, family: Family) -> str | None:
    result = await result_of(couch, db, family)
    return result["status"] if result else None


async def case_row(uow: UnitOfWork, application_id: str) -> CaseRecord:
    async with uow.begin() as session:
        row = await CaseStore(session).get(application_id)
    assert row is not None
    return row


async def decisions(uow: UnitOfWork, application_id: str) -> list[CaseDecision]:
    async with uow.begin() as session:
        return await CaseStore(session).decisions(application_id)


def change(db: str, doc_id: str, *, deleted: bool = False) -> Change:
    return Change(db=db, seq="0", id=doc_id, revs=("1-x",), deleted=deleted)


async def handle(pipeline: Pipeline, db: str, *doc_ids: str, deleted: bool = False) -> None:
    for doc_id in doc_ids:
        await pipeline.handler.handle(change(db, doc_id, deleted=deleted))


async def sync_and_handle(couch: CouchClient, pipeline: Pipeline, db: str, *docs: dict[str, Any]) -> None:
    for doc in docs:
        await put(couch, db, doc)
        await handle(pipeline, db, doc["_id"])


@contextlib.asynccontextmanager
async def running(
    pipeline: Pipeline, couch: CouchClient, uow: UnitOfWork, db: str, **settings: Any
) -> AsyncIterator[Worker]:
    """A Worker following ``db`` with the pipeline's handler, and the pipeline's background loops beside it."""
    worker = Worker(couch=couch, uow=uow, handlers=pipeline.handlers, databases=[db], settings=fast(**settings))
    stop = asyncio.Event()
    following = asyncio.create_task(worker.run())
    background = asyncio.create_task(pipeline.run_background(stop))
    try:
        yield worker
    finally:
        worker.stop()
        stop.set()
        async with asyncio.timeout(30):
            await following
            await background


def edit_registry(url: str, *, nik: str, kk_number: str) -> None:
    """Dukcapil records a death and publishes it as a change, as the generator's ``emit_changes`` does."""
    engine = make_sync_engine(url)
    try:
        with engine.begin() as conn:
            when = dt.date(2025, 10, 20)
            conn.execute(
                update(t.table_of(t.RegPerson))
                .where(t.table_of(t.RegPerson).c.nik == nik)
                .values(status="deceased", status_since=when)
            )
            conn.execute(
                insert(t.table_of(t.RegChange)),
                [
                    {
                        "source": "dukcapil",
                        "kind": "death",
                        "nik": nik,
                        "kk_number": kk_number,
                        "occurred_on": when,
                        "detail": json.dumps({}),
                    }
                ],
            )
    finally:
        engine.dispose()


# --- through a real Worker ------------------------------------------------------------------------------------


async def test_a_consent_syncing_after_its_application_completes_the_case(
    couch: CouchClient, uow: UnitOfWork, new_db: NewDb, make_pipeline: MakePipeline, family: Family
) -> None:
    db = await new_db()
    pipeline = make_pipeline()
    await put(couch, db, family.household())
    await put(couch, db, family.application())
    async with running(pipeline, couch, uow, db):
        await until(lambda: _is(status_of(couch, db, family), "waiting"))
        waiting = await result_of(couch, db, family)
        assert waiting is not None and waiting["task"]["capture"] == ["consent"]
        await put(couch, db, family.consent())
        await until(lambda: _is(status_of(couch, db, family), "eligible"))

    result = await result_of(couch, db, family)
    assert result is not None
    assert {k: result[k] for k in ("type", "application_id", "household_id", "desa", "decision")} == {
        "type": "result",
        "application_id": family.application_id,
        "household_id": family.household_id,
        "desa": family.desa,
        "decision": "eligible",
    }
    assert result["rule_set_version"] and result["rules"] and result["explanation"]
    assert [d.status for d in await decisions(uow, family.application_id)] == ["waiting", "eligible"]
    row = await case_row(uow, family.application_id)
    assert (row.status, row.decision, row.kk_number, row.consent_id) == (
        "eligible",
        "eligible",
        family.kk_number,
        family.consent_id,
    )
    assert (row.waiting_since, row.next_check_at, row.task_raised_at) == (None, None, None)
    assert await couch.get_doc(db, f"task:{family.application_id}") is None
    async with uow.begin() as session:
        entry = await LedgerStore(session).get(db, family.consent_id)
        people = await PeopleStore(session).applications_of(family.niks)
    assert entry is not None and entry.subject_nik == family.applicant["nik"]
    assert "population_registry" in entry.granted and entry.method == "witnessed_verbal"
    assert people == [(family.application_id, db)]


async def test_a_withdrawal_stops_processing(
    couch: CouchClient, uow: UnitOfWork, new_db: NewDb, make_pipeline: MakePipeline, family: Family, sources: Sources
) -> None:
    db = await new_db()
    pipeline = make_pipeline()
    for doc in (family.household(), family.consent(), family.application()):
        await put(couch, db, doc)
    async with running(pipeline, couch, uow, db):
        await until(lambda: _is(status_of(couch, db, family), "eligible"))
        assert isinstance(sources.population, Switchable)
        await put(couch, db, family.withdrawal())
        await until(lambda: _is(status_of(couch, db, family), "stopped"))
    # Once stopped, evaluating the case again (a re-delivery, a sweep) asks nothing more about them.
    asked = sources.population.calls
    await handle(pipeline, db, family.application_id, family.household_id)
    assert sources.population.calls == asked
    assert await status_of(couch, db, family) == "stopped"
    assert [d.status for d in await decisions(uow, family.application_id)] == ["eligible", "stopped"]
    async with uow.begin() as session:
        entry = await LedgerStore(session).get(db, f"consent_withdrawal:{family.key}")
    assert entry is not None and entry.scope == "all" and "dtsen" in entry.withdrawn


async def test_a_registry_that_is_down_makes_the_case_wait_and_the_sweeper_completes_it(
    couch: CouchClient,
    uow: UnitOfWork,
    new_db: NewDb,
    make_pipeline: MakePipeline,
    family: Family,
    sources: Sources,
    clock: Clock,
) -> None:
    clock.ticking = True
    db = await new_db()
    pipeline = make_pipeline(source_retry_s=0.3, source_retry_max_s=0.3)
    assert isinstance(sources.population, Switchable)
    sources.population.down = True
    for doc in (family.household(), family.consent(), family.application()):
        await put(couch, db, doc)
    async with running(pipeline, couch, uow, db):
        await until(lambda: _is(status_of(couch, db, family), "waiting"))
        await until(lambda: _projected(uow, family.application_id))  # the projection commits after the result
        row = await case_row(uow, family.application_id)
        assert row.next_check_at is not None and row.source_waits >= 1
        population = sources.population
        await until(lambda: _more_than(population, 5))  # the sweeper keeps asking
        sources.population.down = False
        await until(lambda: _is(status_of(couch, db, family), "eligible"))

    row = await case_row(uow, family.application_id)
    assert (row.status, row.next_check_at, row.source_waits) == ("eligible", None, 0)
    # Re-checks that found the registry still down record nothing new: at most the first wait's verdict and the
    # one after the consent's own change was indexed (which may race with the application's), never one per check.
    statuses = [d.status for d in await decisions(uow, family.application_id)]
    assert [s for i, s in enumerate(statuses) if i == 0 or statuses[i - 1] != s] == ["waiting", "eligible"]
    assert len(statuses) <= 3 < population.calls


async def test_a_poison_document_is_parked_while_the_rest_flow(
    couch: CouchClient, uow: UnitOfWork, new_db: NewDb, make_pipeline: MakePipeline, families_pool: list[Family]
) -> None:
    db = await new_db()
    pipeline = make_pipeline()
    poison_family, good = (Family(**_fields(f)) for f in families_pool[:2])
    poison = poison_family.application()
    poison["components"] = "tidak terbaca"
    await put(couch, db, poison)
    for doc in (good.household(), good.consent(), good.application()):
        await put(couch, db, doc)
    async with running(pipeline, couch, uow, db, max_attempts=2):
        await until(lambda: _is(status_of(couch, db, good), "eligible"))
        await until(lambda: _parked(uow, poison["_id"]))
    letters = await list_dead_letters(uow, db=db)
    assert [(letter.doc_id, letter.handler) for letter in letters] == [(poison["_id"], "verification")]
    assert "UnreadableApplication" in letters[0].error
    assert await result_of(couch, db, poison_family) is None


# --- the handler, change by change ----------------------------------------------------------------------------


async def test_the_same_change_twice_makes_one_decision_and_one_revision(
    couch: CouchClient, uow: UnitOfWork, new_db: NewDb, make_pipeline: MakePipeline, family: Family
) -> None:
    db = await new_db()
    pipeline = make_pipeline()
    for doc in (family.household(), family.consent(), family.application()):
        await put(couch, db, doc)
    await handle(pipeline, db, family.application_id, family.application_id)
    await handle(pipeline, db, family.household_id, family.consent_id)
    # A second pipeline (a restarted worker) re-delivered everything.
    await handle(make_pipeline(), db, family.application_id, family.consent_id)

    result = await result_of(couch, db, family)
    assert result is not None and result["status"] == "eligible" and result["_rev"].startswith("1-")
    assert len(await decisions(uow, family.application_id)) == 1


async def test_a_crash_between_the_result_and_the_projection_is_redone_without_a_second_write(
    couch: CouchClient,
    uow: UnitOfWork,
    new_db: NewDb,
    make_pipeline: MakePipeline,
    family: Family,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = await new_db()
    pipeline = make_pipeline()
    for doc in (family.household(), family.consent(), family.application()):
        await put(couch, db, doc)
    real = PeopleStore.replace_for_application
    crashes = [RuntimeError("the process died here")]

    async def crash_once(self: PeopleStore, *args: Any) -> None:
        if crashes:
            raise crashes.pop()
        await real(self, *args)

    monkeypatch.setattr(PeopleStore, "replace_for_application", crash_once)
    with pytest.raises(RuntimeError):
        await handle(pipeline, db, family.application_id)
    written = await result_of(couch, db, family)
    assert written is not None and written["_rev"].startswith("1-")
    assert await decisions(uow, family.application_id) == []

    clock.advance(600)  # the worker comes back ten minutes later
    await handle(pipeline, db, family.application_id)
    redone = await result_of(couch, db, family)
    assert redone is not None and redone["_rev"] == written["_rev"]
    rows = await decisions(uow, family.application_id)
    assert [d.status for d in rows] == ["eligible"] and rows[0].fingerprint == written["fingerprint"]
    # The case keeps the verdict's time; the decision row is dated when it was recorded, which is what the
    # decision feed settles on (an old date would let it be served before a transaction that started earlier).
    assert (await case_row(uow, family.application_id)).decided_at == dt.datetime.fromisoformat(written["decided_at"])
    assert rows[0].decided_at == clock.now


async def test_a_person_registered_again_elsewhere_sends_both_cases_to_review(
    couch: CouchClient, uow: UnitOfWork, new_db: NewDb, make_pipeline: MakePipeline, family: Family
) -> None:
    first_db, second_db = await new_db(), await new_db()
    pipeline = make_pipeline()
    await sync_and_handle(couch, pipeline, first_db, family.household(), family.consent(), family.application())
    assert await status_of(couch, first_db, family) == "eligible"

    # The same family registered again by another pendamping, in another desa database.
    again = Family(kk_number=family.kk_number, desa=family.desa, desil=family.desil, members=family.members)
    await sync_and_handle(couch, pipeline, second_db, again.household(), again.consent(), again.application())

    assert await status_of(couch, second_db, again) == "needs_review"
    # The case decided first learns of the second at once, not only when something of its own syncs.
    first = await result_of(couch, first_db, family)
    assert first is not None and first["status"] == "needs_review"
    duplicates = [rule for rule in first["rules"] if rule["rule"] == "identity.duplicate"]
    assert duplicates and all(rule["outcome"] == "review" for rule in duplicates)
    # Reviewed once the second household synced, and again (another reason) when its application did.
    assert [d.status for d in await decisions(uow, family.application_id)] == ["eligible", *["needs_review"] * 2]
    # Nothing more to do for either: the second look at the first case claimed no new person.
    async with uow.begin() as session:
        rows = await CaseStore(session).many([family.application_id, again.application_id])
    assert [row.next_check_at for row in rows] == [None, None]


async def test_a_member_turning_up_in_another_household_sends_the_case_to_review(
    couch: CouchClient, new_db: NewDb, make_pipeline: MakePipeline, family: Family, families_pool: list[Family]
) -> None:
    db, other_db = await new_db(), await new_db()
    pipeline = make_pipeline()
    await sync_and_handle(couch, pipeline, db, family.household(), family.consent(), family.application())
    assert await status_of(couch, db, family) == "eligible"

    # Another family's household (no application yet) lists one of this family's members.
    neighbours = families_pool[1]
    household = neighbours.household()
    household["members"].append(family.household()["members"][-1])
    await sync_and_handle(couch, pipeline, other_db, household)

    result = await result_of(couch, db, family)
    assert result is not None and result["status"] == "needs_review"
    assert any(rule["rule"] == "identity.duplicate" for rule in result["rules"])


async def test_another_desa_cannot_remove_or_take_over_a_case(
    couch: CouchClient, uow: UnitOfWork, new_db: NewDb, make_pipeline: MakePipeline, family: Family
) -> None:
    own_db, other_db = await new_db(), await new_db()
    pipeline = make_pipeline()
    await sync_and_handle(couch, pipeline, own_db, family.household(), family.consent(), family.application())
    assert await status_of(couch, own_db, family) == "eligible"

    # Another desa's device names the case in an objection, then writes an application under the case's id.
    objection = family.objection(key="elsewhere", statement="Bukan dari desa ini.")
    await sync_and_handle(couch, pipeline, other_db, objection)
    await sync_and_handle(couch, pipeline, other_db, family.household(), family.consent(), family.application())

    row = await case_row(uow, family.application_id)
    assert (row.db_name, row.status) == (own_db, "eligible")
    assert [d.status for d in await decisions(uow, family.application_id)] == ["eligible"]
    assert await status_of(couch, own_db, family) == "eligible"
    assert await result_of(couch, other_db, family) is None


async def test_a_corrected_application_supersedes_the_old_case_in_either_order(
    couch: CouchClient, uow: UnitOfWork, new_db: NewDb, make_pipeline: MakePipeline, family: Family
) -> None:
    db = await new_db()
    pipeline = make_pipeline()
    await sync_and_handle(couch, pipeline, db, family.household(), family.consent(), family.application())
    assert await status_of(couch, db, family) == "eligible"

    later = CAPTURED + dt.timedelta(hours=1)
    # Its id sorts before the original's, so the handler evaluates it before closing the original: the original's
    # claim on the same people must not count as a duplicate.
    correction = family.application(key="0-koreksi", captured=later, supersedes=family.application_id)
    await sync_and_handle(couch, pipeline, db, correction)

    old = await result_of(couch, db, family)
    assert old is not None
    assert (old["status"], old["superseded_by"]) == ("superseded", correction["_id"])
    assert old["explanation"] == "Pengajuan ini digantikan oleh pengajuan yang lebih baru"
    new = await couch.get_doc(db, f"result:{correction['_id']}")
    assert new is not None and new["status"] == "eligible"
    row = await case_row(uow, family.application_id)
    assert (row.status, row.superseded_by, row.next_check_at) == ("superseded", correction["_id"], None)
    assert [d.status for d in await decisions(uow, family.application_id)] == ["eligible", "superseded"]
    async with uow.begin() as session:
        assert await PeopleStore(session).applications_of(family.niks) == [(correction["_id"], db)]

    # The other order: the correction syncs first, the application it corrects later.
    first = family.application(key="kedua", captured=later, supersedes="application:pertama")
    await sync_and_handle(couch, pipeline, db, first, family.application(key="pertama"))
    late = await couch.get_doc(db, "result:application:pertama")
    assert late is not None and (late["status"], late["superseded_by"]) == ("superseded", "application:kedua")


async def test_another_familys_application_naming_a_case_in_supersedes_does_not_end_it(
    couch: CouchClient, uow: UnitOfWork, new_db: NewDb, make_pipeline: MakePipeline, families_pool: list[Family]
) -> None:
    db = await new_db()
    pipeline = make_pipeline()
    victim, intruder = families_pool[0], families_pool[1]
    await sync_and_handle(couch, pipeline, db, victim.household(), victim.consent(), victim.application())
    assert await status_of(couch, db, victim) == "eligible"

    later = CAPTURED + dt.timedelta(hours=1)
    borrowed = intruder.application(captured=later, supersedes=victim.application_id)
    await sync_and_handle(couch, pipeline, db, intruder.household(), intruder.consent(), borrowed)

    assert await status_of(couch, db, victim) == "eligible"
    assert (await case_row(uow, victim.application_id)).superseded_by is None
    assert await status_of(couch, db, intruder) == "eligible"  # a case of its own family


async def test_a_task_is_raised_after_a_long_wait_and_cancelled_when_the_documents_arrive(
    couch: CouchClient,
    uow: UnitOfWork,
    new_db: NewDb,
    make_pipeline: MakePipeline,
    family: Family,
    clock: Clock,
    pendamping: Pendamping,
) -> None:
    db = await new_db()
    pipeline = make_pipeline(task_after_s=3600.0)
    await sync_and_handle(couch, pipeline, db, family.application())
    assert await status_of(couch, db, family) == "waiting"
    row = await case_row(uow, family.application_id)
    assert row.waiting_since == clock() and row.next_check_at == clock() + dt.timedelta(hours=1)
    assert await couch.get_doc(db, f"task:{family.application_id}") is None

    clock.advance(1800)
    assert await pipeline.sweeper.sweep_once() == 0  # not due yet
    clock.advance(1800)
    assert await pipeline.sweeper.sweep_once() == 1
    task = await couch.get_doc(db, f"task:{family.application_id}")
    assert task is not None
    assert (task["status"], task["assignees"], task["capture"]) == (
        "open",
        sorted(pendamping.names),
        ["household", "consent"],
    )
    assert pendamping.asked == [family.desa]
    row = await case_row(uow, family.application_id)
    assert row.task_raised_at == clock() and row.next_check_at is None
    assert await pipeline.sweeper.sweep_once() == 0

    await sync_and_handle(couch, pipeline, db, family.household(), family.consent())
    assert await status_of(couch, db, family) == "eligible"
    task = await couch.get_doc(db, f"task:{family.application_id}")
    assert task is not None and task["status"] == "cancelled"
    assert (await case_row(uow, family.application_id)).task_raised_at is None


async def test_a_case_needing_a_visit_gets_its_task_at_once_and_the_visit_closes_it(
    couch: CouchClient, uow: UnitOfWork, new_db: NewDb, make_pipeline: MakePipeline, family: Family
) -> None:
    db = await new_db()
    pipeline = make_pipeline()
    household = family.household()
    household["members"][0]["name"] = "Nama Yang Tidak Sesuai"
    await sync_and_handle(couch, pipeline, db, household, family.consent(), family.application())
    assert await status_of(couch, db, family) == "needs_field_verification"
    task = await couch.get_doc(db, f"task:{family.application_id}")
    assert task is not None and task["status"] == "open" and "field_visit" in task["capture"]

    await sync_and_handle(couch, pipeline, db, family.field_visit())
    assert await status_of(couch, db, family) == "needs_review"
    task = await couch.get_doc(db, f"task:{family.application_id}")
    assert task is not None and task["status"] == "done"
    assert [d.status for d in await decisions(uow, family.application_id)] == [
        "needs_field_verification",
        "needs_review",
    ]


async def test_an_open_task_survives_a_registry_outage_untouched(
    couch: CouchClient, uow: UnitOfWork, new_db: NewDb, make_pipeline: MakePipeline, family: Family, sources: Sources
) -> None:
    db = await new_db()
    pipeline = make_pipeline()
    household = family.household()
    household["members"][0]["name"] = "Nama Yang Tidak Sesuai"
    await sync_and_handle(couch, pipeline, db, household, family.consent(), family.application())
    task = await couch.get_doc(db, f"task:{family.application_id}")
    assert task is not None and task["status"] == "open"

    assert isinstance(sources.population, Switchable)
    sources.population.down = True
    await handle(pipeline, db, family.application_id)
    assert await status_of(couch, db, family) == "waiting"
    row = await case_row(uow, family.application_id)
    assert row.task_raised_at is not None and row.decision == "needs_field_verification"

    sources.population.down = False
    await handle(pipeline, db, family.application_id)
    assert await status_of(couch, db, family) == "needs_field_verification"
    unchanged = await couch.get_doc(db, f"task:{family.application_id}")
    assert unchanged is not None and unchanged["_rev"] == task["_rev"]


async def test_a_deleted_household_makes_the_case_wait_and_a_deleted_application_removes_it(
    couch: CouchClient, uow: UnitOfWork, new_db: NewDb, make_pipeline: MakePipeline, family: Family
) -> None:
    db = await new_db()
    pipeline = make_pipeline()
    await sync_and_handle(couch, pipeline, db, family.household(), family.consent(), family.application())
    await delete(couch, db, family.household_id)
    await handle(pipeline, db, family.household_id, deleted=True)
    assert await status_of(couch, db, family) == "waiting"

    await delete(couch, db, family.application_id)
    await handle(pipeline, db, family.application_id, deleted=True)
    assert await result_of(couch, db, family) is None
    row = await case_row(uow, family.application_id)
    assert (row.status, row.decision) == ("removed", "eligible")
    assert [d.status for d in await decisions(uow, family.application_id)] == ["eligible", "waiting", "removed"]


async def test_an_unreadable_household_is_absent_and_noted_on_the_case(
    couch: CouchClient, uow: UnitOfWork, new_db: NewDb, make_pipeline: MakePipeline, family: Family
) -> None:
    db = await new_db()
    pipeline = make_pipeline()
    broken = family.household()
    broken["members"] = []
    await sync_and_handle(couch, pipeline, db, family.consent(), family.application(), broken)
    assert await status_of(couch, db, family) == "waiting"
    row = await case_row(uow, family.application_id)
    assert row.unreadable == [family.household_id]


async def test_a_withdrawal_synced_in_another_desa_stops_the_case(
    couch: CouchClient, uow: UnitOfWork, new_db: NewDb, make_pipeline: MakePipeline, family: Family
) -> None:
    db, other = await new_db(), await new_db()
    pipeline = make_pipeline()
    await sync_and_handle(couch, pipeline, db, family.household(), family.consent(), family.application())
    await sync_and_handle(couch, pipeline, other, family.withdrawal(key="di-desa-lain"))
    assert await status_of(couch, db, family) == "stopped"


# --- background loops -----------------------------------------------------------------------------------------


async def test_a_registry_change_re_evaluates_the_cases_it_touches(
    couch: CouchClient,
    uow: UnitOfWork,
    new_db: NewDb,
    make_pipeline: MakePipeline,
    family: Family,
    registry_url: str,
    sources: Sources,
) -> None:
    db = await new_db()
    pipeline = make_pipeline()
    await sync_and_handle(couch, pipeline, db, family.household(), family.consent(), family.application())
    assert await status_of(couch, db, family) == "eligible"
    assert await pipeline.follower.poll_once() == 0
    async with uow.begin() as session:
        start = await CursorStore(session).get("population")
    assert start is not None

    head = next(m for m in family.members if m["relationship"] == "kepala")
    edit_registry(registry_url, nik=head["nik"], kk_number=family.kk_number)
    assert await pipeline.follower.poll_once() == 1
    statuses = [d.status for d in await decisions(uow, family.application_id)]
    assert len(statuses) == 2 and statuses[0] == "eligible"
    result = await result_of(couch, db, family)
    assert result is not None and result["_rev"].startswith("2-")
    life = [r for r in result["rules"] if r["rule"].startswith("identity.life") and r["outcome"] != "passed"]
    assert life, "the death is among the rules that changed"
    async with uow.begin() as session:
        assert await CursorStore(session).get("population") != start

    # Read once: the next round finds nothing new and writes nothing.
    assert await pipeline.follower.poll_once() == 0
    assert len(await decisions(uow, family.application_id)) == 2


async def test_a_source_down_leaves_its_cursor_where_it_was(
    uow: UnitOfWork, make_pipeline: MakePipeline, sources: Sources, registry_url: str, family: Family
) -> None:
    pipeline = make_pipeline()
    assert isinstance(sources.population, Switchable)
    sources.population.down = True
    edit_registry(registry_url, nik=family.niks[0], kk_number=family.kk_number)
    assert await pipeline.follower.poll_once() == 0
    async with uow.begin() as session:
        assert await CursorStore(session).get("population") is None
        assert await CursorStore(session).get("dtsen") is not None
    sources.population.down = False
    assert await pipeline.follower.poll_once() == 1


async def test_a_case_that_keeps_failing_in_the_sweeper_is_pushed_back_and_the_rest_go_on(
    couch: CouchClient,
    uow: UnitOfWork,
    new_db: NewDb,
    make_pipeline: MakePipeline,
    families_pool: list[Family],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = await new_db()
    pipeline = make_pipeline(task_after_s=60.0, sweep_interval_s=10.0, failure_retry_max_s=1000.0)
    bad, good = (Family(**_fields(f)) for f in families_pool[:2])
    await sync_and_handle(couch, pipeline, db, bad.application(), good.application())
    clock.advance(60)

    real = processor_module.gather_case

    async def failing(couch: CouchClient, uow: UnitOfWork, db: str, application_id: str, **kw: Any) -> Any:
        if application_id == bad.application_id:
            raise RuntimeError("disk full")
        return await real(couch, uow, db, application_id, **kw)

    monkeypatch.setattr(processor_module, "gather_case", failing)
    assert await pipeline.sweeper.sweep_once() == 2
    good_task = await couch.get_doc(db, f"task:{good.application_id}")
    assert good_task is not None and good_task["status"] == "open"
    row = await case_row(uow, bad.application_id)
    assert (row.check_failures, row.next_check_at) == (1, clock() + dt.timedelta(seconds=10))
    assert row.last_error == "RuntimeError: disk full"
    clock.advance(10)
    assert await pipeline.sweeper.sweep_once() == 1
    row = await case_row(uow, bad.application_id)
    assert (row.check_failures, row.next_check_at) == (2, clock() + dt.timedelta(seconds=20))

    monkeypatch.setattr(processor_module, "gather_case", real)
    clock.advance(20)
    assert await pipeline.sweeper.sweep_once() == 1
    row = await case_row(uow, bad.application_id)
    assert (row.check_failures, row.last_error, row.next_check_at) == (0, None, None)


async def test_the_background_loops_stop_promptly(make_pipeline: MakePipeline) -> None:
    pipeline = make_pipeline(sweep_interval_s=3600.0, registry_poll_s=3600.0)
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run_background(stop))
    await asyncio.sleep(0.2)
    assert not task.done()
    stop.set()
    async with asyncio.timeout(2):
        await task


# --- small helpers --------------------------------------------------------------------------------------------


async def _is(value: Awaitable[str | None], expected: str) -> bool:
    return await value == expected


async def _more_than(source: Switchable, calls: int) -> bool:
    return source.calls > calls


async def _projected(uow: UnitOfWork, application_id: str) -> bool:
    async with uow.begin() as session:
        return await CaseStore(session).get(application_id) is not None


async def _parked(uow: UnitOfWork, doc_id: str) -> bool:
    return any(letter.doc_id == doc_id for letter in await list_dead_letters(uow))


def _fields(family: Family) -> dict[str, Any]:
    return {"kk_number": family.kk_number, "desa": family.desa, "desil": family.desil, "members": family.members}
