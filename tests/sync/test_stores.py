"""Checkpoints, failures and dead letters in the relational store, through the unit of work."""

from __future__ import annotations

import pytest

from sync.checkpoints import CheckpointStore
from sync.deadletters import FailureStore
from sync.feed import Change
from sync.uow import UnitOfWork

pytestmark = pytest.mark.anyio

CHANGE = Change(db="desa_3510161014", seq="12-g1AAAA", id="application:1", revs=("1-a",))


async def test_checkpoints_are_saved_per_follower_and_database(uow: UnitOfWork) -> None:
    async with uow.begin() as session:
        await CheckpointStore(session, "verification").save("desa_1", "3-abc")
        await CheckpointStore(session, "other").save("desa_1", "1-xyz")
    async with uow.begin() as session:
        await CheckpointStore(session, "verification").save("desa_1", "5-def")
    async with uow.begin() as session:
        store = CheckpointStore(session, "verification")
        assert await store.get("desa_1") == "5-def"
        assert await store.get("desa_2") is None
        assert await store.all() == {"desa_1": "5-def"}


async def test_a_unit_of_work_that_raises_commits_nothing(uow: UnitOfWork) -> None:
    with pytest.raises(RuntimeError):
        async with uow.begin() as session:
            await CheckpointStore(session, "verification").save("desa_1", "3-abc")
            raise RuntimeError("boom")
    async with uow.begin() as session:
        assert await CheckpointStore(session, "verification").get("desa_1") is None


async def test_failures_are_counted_per_change_and_handler_and_parking_is_idempotent(uow: UnitOfWork) -> None:
    async with uow.begin() as session:
        store = FailureStore(session)
        assert await store.record_failure(CHANGE, "identity", "boom 1") == 1
        assert await store.record_failure(CHANGE, "identity", "boom 2") == 2
        assert await store.record_failure(CHANGE, "eligibility", "other") == 1
    newer = Change(db=CHANGE.db, seq="15-g1BBBB", id=CHANGE.id, revs=("2-b",))
    async with uow.begin() as session:
        store = FailureStore(session)
        assert await store.record_failure(newer, "identity", "new rev, new count") == 1
        await store.park(CHANGE, "identity", "boom 2", 2)
        await store.park(CHANGE, "identity", "boom 3", 3)
    async with uow.begin() as session:
        store = FailureStore(session)
        [letter] = await store.dead_letters()
        assert (letter.doc_id, letter.rev, letter.seq, letter.attempts, letter.error) == (
            CHANGE.id,
            "1-a",
            "12-g1AAAA",
            3,
            "boom 3",
        )
        assert Change.from_json(letter.change) == CHANGE
        parked = [failure for failure in await store.failures() if failure.parked]
        assert [(failure.handler, failure.attempts) for failure in parked] == [("identity", 2)]
