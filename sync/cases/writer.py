"""Pushing results down: the ``result:<application id>`` and ``task:<application id>`` documents of a desa database.

The server is the only writer of these ids (DESIGN.md), so it never creates a conflict: every write is a ``PUT``
with the revision just read. A 409 can still happen when two processes of the server race (a worker restarted
while the old one finishes a change): the document is read again, compared again and written once more; a second
409 is raised and the worker retries the change later.

**No churn.** A document is written only when what it says changes: the result when the verdict's fingerprint
differs from the stored one, the task when its status, reasons, what to capture, household or assignees differ.
Re-delivering a change, re-evaluating a case on a timer or redoing work after a crash therefore writes nothing, and
devices replicate nothing new.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from replication.couch import CouchClient, doc_path
from replication.errors import CouchConflict, CouchNotFound
from sync.cases.documents import result_id, task_id
from sync.verification.verdict import FieldTask

JSON = dict[str, Any]

SUPERSEDED = "superseded"
SUPERSEDED_EXPLANATION = "Pengajuan ini digantikan oleh pengajuan yang lebih baru"

#: Task statuses: ``open`` while a visit is needed; ``done`` once the case no longer needs it after a field visit
#: answered it; ``cancelled`` when it stopped being needed otherwise (the documents arrived, a withdrawal, a
#: correction superseding the application).
TASK_OPEN, TASK_DONE, TASK_CANCELLED = "open", "done", "cancelled"

#: The fields of a task that make it a different task for the pendamping; timestamps are not among them.
_TASK_CONTENT = ("status", "reasons", "capture", "assignees", "household_id", "desa")


class Assignees(Protocol):
    """The usernames of the pendamping assigned to a desa (dotted code), who receive its field tasks.

    ``sync`` must not import ``server``: the wiring passes a callable reading the assignments of the relational
    store.
    """

    async def __call__(self, desa: str, /) -> Sequence[str]: ...


@dataclass(frozen=True, slots=True)
class CaseAddress:
    """Where a case's documents go and the ids they repeat."""

    db: str
    application_id: str
    household_id: str
    desa: str


@dataclass(frozen=True, slots=True)
class Written:
    """The document as it stands after a write (or as it was, when nothing needed writing)."""

    doc: JSON
    changed: bool


def fingerprint_of(value: Any) -> str:
    """A stable digest of a JSON-able value: sorted keys, no whitespace."""
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class DocumentWriter:
    def __init__(self, couch: CouchClient, clock: Callable[[], dt.datetime]) -> None:
        self._couch = couch
        self._clock = clock

    async def _without_conflicts(self, db: str, doc_id: str) -> JSON | None:
        """The document as it stands, its conflicting leaves deleted first. The server writes these ids only one
        revision after another, so a conflict on one was made by something else (revisions a device sent that the
        gateway answered, two gateway replicas racing): left there, one could win once the server's leaf is
        deleted or overtaken, and every device would pull them all."""
        try:
            existing: JSON = await self._couch.request(
                "GET", doc_path(db, doc_id), params={"conflicts": "true"}, what=f"get {doc_id}"
            )
        except CouchNotFound:
            return None
        conflicts = existing.pop("_conflicts", None)
        if conflicts:
            await self._couch.bulk_docs(db, [{"_id": doc_id, "_rev": rev, "_deleted": True} for rev in conflicts])
        return existing

    async def _put_if_changed(self, db: str, doc_id: str, build: Callable[[JSON | None], JSON | None]) -> Written:
        """Read ``doc_id``, let ``build`` say what it should be (None: leave it), write that with the read rev."""
        for attempt in (1, 2):
            existing = await self._without_conflicts(db, doc_id)
            wanted = build(existing)
            if wanted is None:
                return Written(existing or {}, changed=False)
            doc = {**wanted, "_id": doc_id}
            if existing is not None:
                doc["_rev"] = existing["_rev"]
            try:
                doc["_rev"] = await self._couch.put_doc(db, doc)
            except CouchConflict:
                if attempt == 2:
                    raise
                continue
            return Written(doc, changed=True)
        raise AssertionError("unreachable")  # pragma: no cover

    # --- results ------------------------------------------------------------------------------------------------

    async def write_result(self, where: CaseAddress, result: Mapping[str, Any], fingerprint: str) -> Written:
        """``result:<application id>`` carrying ``result`` (``Verdict.to_result()``), unless it already says so.

        ``decided_at`` is when this verdict was first written; an unchanged verdict keeps the stored one.
        """

        def build(existing: JSON | None) -> JSON | None:
            if existing is not None and existing.get("fingerprint") == fingerprint:
                return None
            return {
                "type": "result",
                "application_id": where.application_id,
                "household_id": where.household_id,
                "desa": where.desa,
                **result,
                "fingerprint": fingerprint,
                "decided_at": iso(self._clock()),
            }

        return await self._put_if_changed(where.db, result_id(where.application_id), build)

    async def write_superseded(self, where: CaseAddress, superseded_by: str) -> Written:
        """The result of an application a later one corrected: says so and names the correction."""
        result = {"status": SUPERSEDED, "superseded_by": superseded_by, "explanation": SUPERSEDED_EXPLANATION}
        return await self.write_result(where, result, fingerprint_of(result))

    async def delete_result(self, db: str, application_id: str) -> bool:
        """Remove the result of an application that no longer exists; False when there was none."""
        written = await self._put_if_changed(
            db,
            result_id(application_id),
            lambda existing: None if existing is None else {"_deleted": True},
        )
        return written.changed

    # --- tasks --------------------------------------------------------------------------------------------------

    async def open_task(self, where: CaseAddress, task: FieldTask, assignees: Sequence[str]) -> Written:
        """``task:<application id>`` open with ``task``'s reasons; reopened when it had been closed."""
        now = iso(self._clock())
        wanted_content: JSON = {
            "status": TASK_OPEN,
            "reasons": list(task.reasons),
            "capture": list(task.capture),
            "assignees": sorted(set(assignees)),
            "household_id": where.household_id,
            "desa": where.desa,
        }

        def build(existing: JSON | None) -> JSON | None:
            if existing is not None and _content(existing) == wanted_content:
                return None
            doc = {
                "type": "task",
                "case_id": where.application_id,
                "application_id": where.application_id,
                **wanted_content,
                "created_at": existing.get("created_at", now) if existing else now,
                "updated_at": now,
            }
            return doc

        return await self._put_if_changed(where.db, task_id(where.application_id), build)

    async def close_task(self, db: str, application_id: str, status: str) -> Written:
        """Set an existing open task ``done`` or ``cancelled``; nothing when there is none or it is closed."""
        now = iso(self._clock())

        def build(existing: JSON | None) -> JSON | None:
            if existing is None or existing.get("status") != TASK_OPEN:
                return None
            body = {k: v for k, v in existing.items() if k not in ("_id", "_rev")}
            return {**body, "status": status, "updated_at": now, "closed_at": now}

        return await self._put_if_changed(db, task_id(application_id), build)


def _content(doc: Mapping[str, Any]) -> JSON:
    return {key: doc.get(key) for key in _TASK_CONTENT}
