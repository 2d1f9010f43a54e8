"""What the worker delivers changes to.

A handler is an object with a stable ``name`` (it keys failure records and dead letters, so renaming a handler
orphans its dead letters), a pure ``matches(change)`` and an ``async handle(change)``.

Contract:
- **Idempotent.** Delivery is at least once: after a crash, a restart, a retry or a re-queue the same change comes
  again, possibly after later changes of the same document. Write with deterministic ids, compare before writing.
- **A change is a notification, not the document.** Read the document's current state in ``handle``; the change
  may be older than what is stored by then.
- **Raise to fail.** Any exception counts as a failure of this handler for this change: it is recorded, retried
  with back-off and parked after ``max_attempts``. Return normally only when the work is done.
- ``matches`` must be cheap and must not raise or do I/O: it runs in the feed reader, once per change. If it
  raises, the change is delivered anyway (nothing is skipped silently) and ``handle`` decides.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from sync.feed import Change


@runtime_checkable
class Handler(Protocol):
    @property
    def name(self) -> str: ...

    def matches(self, change: Change) -> bool: ...

    async def handle(self, change: Change) -> None: ...
