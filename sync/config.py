"""Settings of the changes-feed worker, nested in ``simpul.settings.Settings.worker``.

From the environment with the ``SIMPUL_WORKER__`` prefix, e.g. ``SIMPUL_WORKER__MAX_ATTEMPTS=8``.
"""

from __future__ import annotations

import random

from pydantic import BaseModel, Field


class WorkerSettings(BaseModel):
    # --- Failures -------------------------------------------------------------------------------------------
    max_attempts: int = Field(
        5,
        ge=1,
        description="Attempts of one change by one handler before it is parked. A failure because CouchDB or the "
        "relational store is unreachable is not counted: the change waits for it (see sync/worker.py).",
    )
    backoff_base_s: float = Field(2.0, gt=0, description="Delay before the first retry; doubles with each failure.")
    backoff_max_s: float = Field(
        300.0,
        gt=0,
        description="Longest delay between two tries of one change, also while it waits for an unreachable "
        "dependency (it is retried at once when the outage is seen to end).",
    )

    handler_timeout_s: float = Field(
        300.0,
        gt=0,
        description="A handler still running after this long has failed (and is retried): a hung call must not hold "
        "a handler task and the checkpoint forever.",
    )

    # --- Throughput and back-pressure -----------------------------------------------------------------------
    queue_size: int = Field(500, ge=1, description="Changes read but not yet taken by a handler task.")
    concurrency: int = Field(8, ge=1, description="Handler tasks working at once, across all databases.")
    feed_concurrency: int = Field(
        256,
        ge=1,
        description="Databases long-polled at once. With more databases than this they take turns, each holding a "
        "slot for at most one long-poll; the worker's CouchDB client needs at least this many connections.",
    )
    batch_limit: int = Field(100, ge=1, description="Changes asked for in one `_changes` request.")

    # --- Long-poll ------------------------------------------------------------------------------------------
    heartbeat_s: float = Field(10.0, gt=0, description="`heartbeat` sent to CouchDB (it writes a newline this often).")
    longpoll_timeout_s: float = Field(
        30.0, gt=0, description="`timeout` sent to CouchDB: it answers an empty page after this long without change."
    )
    longpoll_grace_s: float = Field(
        5.0,
        ge=0,
        description="The client ends a long-poll itself this long after `longpoll_timeout_s` (pouchdb-server ignores "
        "`timeout` and sends no heartbeat).",
    )
    feed_backoff_base_s: float = Field(0.5, gt=0, description="First wait after a failed `_changes` request.")
    feed_backoff_max_s: float = Field(30.0, gt=0, description="Longest wait between two failed `_changes` requests.")

    # --- Checkpoints and stop -------------------------------------------------------------------------------
    checkpoint_interval_s: float = Field(1.0, gt=0, description="How often advanced checkpoints are written.")
    stop_grace_s: float = Field(
        30.0, ge=0, description="On stop, how long in-flight handlers may take before they are cancelled."
    )

    def feed_connections(self, databases: int) -> int:
        """Connections for the feed readers' own ``CouchClient``: one long-poll per followed database, and spare.

        The feed readers and the handlers get a client (a pool) each. Long-polls sharing the gateway's pool would
        starve it; handlers sharing the readers' pool would wait behind idle long-polls, and every request in a
        pool of hundreds of open long-polls pays for scanning all of them (measured: docs/benchmarks.md).
        """
        return min(databases, self.feed_concurrency) + 2

    def handler_connections(self) -> int:
        """Connections for the handlers' ``CouchClient``: a few requests in flight per handler task."""
        return self.concurrency * 4 + 4

    def retry_delay(self, attempts: int, *, rng: random.Random | None = None) -> float:
        """Delay before the next attempt of a change that has failed ``attempts`` times."""
        return backoff_delay(attempts, self.backoff_base_s, self.backoff_max_s, rng=rng)

    def feed_delay(self, failures: int, *, rng: random.Random | None = None) -> float:
        """Delay before the next `_changes` request after ``failures`` consecutive failed ones."""
        return backoff_delay(failures, self.feed_backoff_base_s, self.feed_backoff_max_s, rng=rng)


def backoff_delay(failures: int, base_s: float, max_s: float, *, rng: random.Random | None = None) -> float:
    """Exponential back-off with jitter: ``base · 2^(failures-1)`` capped at ``max``, then scaled into [½, 1] of it.

    The jitter keeps many changes that failed together (a registry down) from retrying in lockstep.
    """
    if failures < 1:
        return 0.0
    ceiling = min(max_s, base_s * 2 ** min(failures - 1, 62))
    return ceiling * (0.5 + 0.5 * (rng or random).random())
