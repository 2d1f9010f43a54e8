"""Reading one database's ``_changes`` feed: ``since → async iterator`` of changes, in feed order.

**Why a long-poll with a client-side deadline.** Each request is
``GET /{db}/_changes?feed=longpoll&style=all_docs&since=S&limit=N&heartbeat=H&timeout=T``. When changes are
waiting it answers at once; when not, it answers as soon as one arrives, so latency stays low without polling
hundreds of idle databases every second. CouchDB 3 ends an idle long-poll after ``timeout`` with an empty page and
writes a newline every ``heartbeat`` meanwhile. pouchdb-server 4.2 does neither (checked: no byte for as long as
nothing changes), so the reader also ends the request itself ``longpoll_grace_s`` after ``timeout`` and asks
again from the same ``since``; the read timeout is set past that deadline so the silent server is not mistaken
for a dead one. Ending the request closes its connection, and pouchdb-server then cancels its listener
(express-pouchdb's changes route listens for ``close``), so abandoned polls do not pile up there. A dead CouchDB
is noticed by the next request failing to connect. ``feed=normal`` polling would work on both as well, at the
cost of either latency or a request per database per second.

``style=all_docs`` keeps every leaf revision (a deleted conflict leaf is still a change). Design documents are
skipped but still covered by the page's ``last_seq``. Transport failures and error statuses are translated here
into :mod:`replication.errors`; no caller sees an httpx exception. :meth:`FeedReader.pages` backs off and retries
on every :class:`CouchError` (exponentially on :class:`CouchUnavailable`, at the longest delay on the others,
which need an operator: a missing database, refused credentials, a ``since`` this server did not mint) and
keeps the last error for the worker's status.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from replication.couch import CouchClient
from replication.errors import CouchError, CouchNotFound, CouchUnauthorized, CouchUnavailable
from sync.config import WorkerSettings

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


def opaque_seq(value: Any) -> str:
    """A seq as the string to store and send back: strings as they are, anything else as its JSON text."""
    return value if isinstance(value, str) else orjson.dumps(value).decode()


@dataclass(frozen=True, slots=True)
class Change:
    """One row of a database's changes feed. ``revs`` are the leaf revisions, the winning one first."""

    db: str
    seq: str
    id: str
    revs: tuple[str, ...]
    deleted: bool = False

    @property
    def rev(self) -> str:
        return self.revs[0] if self.revs else ""

    @classmethod
    def from_row(cls, db: str, row: dict[str, Any]) -> Change:
        return cls(
            db=db,
            seq=opaque_seq(row["seq"]),
            id=str(row["id"]),
            revs=tuple(str(entry["rev"]) for entry in row.get("changes", []) if "rev" in entry),
            deleted=bool(row.get("deleted", False)),
        )

    def to_json(self) -> str:
        return orjson.dumps(
            {"db": self.db, "seq": self.seq, "id": self.id, "revs": list(self.revs), "deleted": self.deleted}
        ).decode()

    @classmethod
    def from_json(cls, text: str) -> Change:
        data = orjson.loads(text)
        return cls(
            db=data["db"], seq=data["seq"], id=data["id"], revs=tuple(data["revs"]), deleted=bool(data["deleted"])
        )


@dataclass(frozen=True, slots=True)
class FeedPage:
    """One answer of the feed. ``changes`` exclude design documents; ``last_seq`` covers them too.

    ``complete`` is true when the page held fewer rows than asked for (the reader has caught up); ``pending`` is
    CouchDB's count of changes after ``last_seq`` when the server reports it (pouchdb-server does not).
    """

    changes: list[Change]
    last_seq: str
    complete: bool
    pending: int | None = None
    timed_out: bool = False


@dataclass
class FeedOutages:
    """The readers whose feeds fail because CouchDB is unreachable, shared by all readers of a worker: when the
    server goes away every database's reader fails together, and the outage is said once (and its end once), not
    once per database."""

    failing: set[str] = field(default_factory=set)

    def failed(self, db: str, error: CouchError) -> None:
        if not self.failing:
            log.warning("changes feeds: CouchDB unreachable (%s); every database's feed retries with back-off", error)
        self.failing.add(db)

    def resumed(self, db: str) -> None:
        if db in self.failing:
            self.failing.discard(db)
            if not self.failing:
                log.info("changes feeds: CouchDB reachable again, every feed resumed")


@dataclass
class FeedReader:
    couch: CouchClient
    db: str
    settings: WorkerSettings
    slots: asyncio.Semaphore | None = None
    sleep: Sleep = asyncio.sleep
    outages: FeedOutages = field(default_factory=FeedOutages)
    last_error: str | None = field(default=None, init=False)
    failures: int = field(default=0, init=False)

    async def changes(self, since: str) -> AsyncIterator[Change]:
        """Every change after ``since``, forever, in feed order."""
        async for page in self.pages(since):
            for change in page.changes:
                yield change

    async def pages(self, since: str) -> AsyncIterator[FeedPage]:
        """Pages after ``since``, forever, each ``since`` the previous page's ``last_seq``.

        Empty pages are yielded too (an idle long-poll that ended): they tell the caller it has caught up. The
        first request is a plain ``feed=normal`` one, which answers at once: a database with nothing new is known to
        be caught up on start (``/healthz``), not only once its first long-poll has been held to its deadline.
        """
        first = True
        while True:
            try:
                page = await self.poll(since, wait=not first)
            except CouchError as exc:
                self.failures += 1
                self.last_error = str(exc)
                transient = isinstance(exc, CouchUnavailable)
                delay = self.settings.feed_delay(self.failures if transient else 64)
                if transient:
                    self.outages.failed(self.db, exc)
                else:  # this database's own problem, for an operator: said once per streak
                    level = logging.WARNING if self.failures == 1 else logging.DEBUG
                    log.log(level, "changes feed of %s failed (%s); retrying in %.1fs", self.db, exc, delay)
                await self.sleep(delay)
                continue
            if self.failures:
                log.debug("changes feed of %s resumed after %d failed requests", self.db, self.failures)
                self.outages.resumed(self.db)
            first = False
            self.failures = 0
            self.last_error = None
            yield page
            since = page.last_seq

    async def poll(self, since: str, *, wait: bool = True) -> FeedPage:
        """One long-poll (or, without ``wait``, one ``feed=normal`` request); an empty page with ``timed_out`` when
        the client-side deadline ended it."""
        settings = self.settings
        params = {"feed": "longpoll" if wait else "normal", "style": "all_docs", "since": since}
        params["limit"] = str(settings.batch_limit)
        if wait:
            params["heartbeat"] = str(int(settings.heartbeat_s * 1000))
            params["timeout"] = str(int(settings.longpoll_timeout_s * 1000))
        what = f"changes of {self.db}"
        if self.slots is None:
            body = await self._fetch(params, what)
        else:
            async with self.slots:
                body = await self._fetch(params, what)
        if body is None:
            return FeedPage(changes=[], last_seq=since, complete=True, timed_out=True)
        try:
            data = orjson.loads(body)
            rows: list[dict[str, Any]] = data["results"]
            last_seq = opaque_seq(data["last_seq"]) if data.get("last_seq") is not None else since
            changes = [
                Change.from_row(self.db, row) for row in rows if not str(row.get("id", "")).startswith("_design/")
            ]
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise CouchUnavailable(f"{what}: malformed answer: {exc!r}") from exc
        pending = data.get("pending")
        return FeedPage(
            changes=changes,
            last_seq=last_seq,
            complete=len(rows) < settings.batch_limit,
            pending=pending if isinstance(pending, int) else None,
        )

    async def _fetch(self, params: dict[str, str], what: str) -> bytes | None:
        # The read timeout lies past the deadline: a silent pouchdb-server long-poll is idle, not dead.
        deadline = self.settings.longpoll_timeout_s + self.settings.longpoll_grace_s
        http_timeout = httpx.Timeout(deadline + 5.0, connect=5.0)
        try:
            async with asyncio.timeout(deadline):
                request = self.couch.http.build_request(
                    "GET", f"/{self.db}/_changes", params=params, timeout=http_timeout
                )
                response = await self.couch.http.send(request, stream=True)
                try:
                    body = await response.aread()
                finally:
                    await response.aclose()
        except TimeoutError:
            return None
        except httpx.TransportError as exc:
            raise CouchUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise CouchError(f"{what}: {type(exc).__name__}: {exc}") from exc
        _raise_for_status(response, body, what)
        return body


def _raise_for_status(response: httpx.Response, body: bytes, what: str) -> None:
    if response.is_success:
        return
    error = reason = ""
    try:
        parsed = orjson.loads(body)
        if isinstance(parsed, dict):
            error, reason = str(parsed.get("error", "")), str(parsed.get("reason", ""))
    except orjson.JSONDecodeError:
        reason = body[:200].decode(errors="replace")
    status = response.status_code
    message = f"{what}: {status} {error} {reason}".strip()
    kind: type[CouchError] = CouchError
    if status == 404:
        kind = CouchNotFound
    elif status in (401, 403):
        kind = CouchUnauthorized
    elif status >= 500 or status == 429:
        kind = CouchUnavailable
    raise kind(message, status=status, error=error, reason=reason)
