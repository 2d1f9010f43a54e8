"""Re-queue requests: an operator asks from any process (CLI, admin API); the running worker delivers."""

from __future__ import annotations

import pytest

from sync.deadletters import DeadLetterNotFound, FailureStore, RequeueOutcome, list_dead_letters, requeue_requested
from sync.feed import Change
from sync.uow import UnitOfWork
from tests.sync.sync_testkit import Poison

CHANGE = Change(db="desa_3510161014", seq="12", id="doc:007", revs=("1-abc",))

pytestmark = pytest.mark.anyio


async def park(uow: UnitOfWork, handler: str = "poison") -> int:
    async with uow.begin() as session:
        letter = await FailureStore(session).park(CHANGE, handler, "ValueError: cannot digest doc:007", 5)
    assert letter.id is not None
    return letter.id


async def test_a_requested_letter_is_delivered_once_by_the_worker(uow: UnitOfWork):
    letter_id = await park(uow)
    poison = Poison([], name="poison")
    assert await requeue_requested(uow, [poison]) == []  # nothing requested yet: nothing delivered

    async with uow.begin() as session:
        requested = await FailureStore(session).request_requeue(letter_id, "admin.kabupaten")
    assert requested.requeue_requested_by == "admin.kabupaten"

    [result] = await requeue_requested(uow, [poison])
    assert result.outcome is RequeueOutcome.delivered
    assert poison.done == ["doc:007"]
    assert await requeue_requested(uow, [poison]) == []  # the request is cleared
    assert await list_dead_letters(uow) == []


async def test_a_request_that_fails_again_stays_parked_and_is_cleared(uow: UnitOfWork):
    letter_id = await park(uow)
    poison = Poison(["doc:007"], name="poison")
    async with uow.begin() as session:
        await FailureStore(session).request_requeue(letter_id, "cli:operator")
    [result] = await requeue_requested(uow, [poison])
    assert result.outcome is RequeueOutcome.failed and result.dead_letter.attempts == 6
    [letter] = await list_dead_letters(uow)
    assert letter.requeue_requested_at is None  # the operator decides again; the worker does not loop on it
    assert await requeue_requested(uow, [poison]) == []


async def test_a_request_for_an_unknown_handler_is_refused_and_recorded(uow: UnitOfWork):
    letter_id = await park(uow, handler="retired-handler")
    async with uow.begin() as session:
        await FailureStore(session).request_requeue(letter_id, "cli:operator")
    assert await requeue_requested(uow, [Poison([])]) == []
    [letter] = await list_dead_letters(uow)
    assert letter.requeue_requested_at is None and "re-queue refused" in letter.error


async def test_requesting_an_unknown_letter(uow: UnitOfWork):
    with pytest.raises(DeadLetterNotFound):
        async with uow.begin() as session:
            await FailureStore(session).request_requeue(999, "cli:operator")
