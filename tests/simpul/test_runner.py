"""The main job's stop: the worker is waited for through the Ctrl-C that uvicorn re-raises after shutting down."""

from __future__ import annotations

import asyncio

from simpul.runner import _finish


async def _stopping_worker(done: list[str]) -> None:
    await asyncio.sleep(0.3)  # finishing in-flight changes, saving checkpoints
    done.append("checkpoints saved")


def test_the_wait_for_the_worker_outlasts_one_cancellation_but_not_two() -> None:
    async def main(cancellations: int) -> list[str]:
        done: list[str] = []
        worker = asyncio.create_task(_stopping_worker(done))
        waiting = asyncio.create_task(_finish(worker))
        for _ in range(cancellations):
            await asyncio.sleep(0.05)
            waiting.cancel()
        try:
            await waiting
        except asyncio.CancelledError:
            done.append("interrupted")
        await asyncio.sleep(0.4)
        return done

    assert asyncio.run(main(1)) == ["checkpoints saved"]
    assert asyncio.run(main(2)) == ["interrupted", "checkpoints saved"]


def test_a_failed_worker_does_not_fail_the_stop() -> None:
    async def main() -> None:
        async def broken() -> None:
            raise RuntimeError("the worker stopped after a failure")

        worker = asyncio.create_task(broken())
        await asyncio.sleep(0)
        await _finish(worker)

    asyncio.run(main())
