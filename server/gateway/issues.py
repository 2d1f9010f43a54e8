"""``sync_issue:<doc id>`` documents: how a device learns, through replication, why a write was refused or
accepted with a warning, and that a correction settled it. Server-owned, deterministic ids, idempotent writes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from replication.errors import CouchConflict, CouchError
from server.core.errors import ServiceUnavailable
from server.gateway.access import Principal
from server.gateway.upstream import Upstream
from server.gateway.validation import Accepted, Outcome, Refusal

log = logging.getLogger(__name__)


class SyncIssues:
    def __init__(self, couch: Upstream) -> None:
        self.couch = couch

    async def record_refusals(
        self, db: str, desa_code: str, principal: Principal, refused: Sequence[tuple[Mapping[str, Any], Refusal]]
    ) -> None:
        plans: dict[str, _Plan] = {}
        for doc, refusal in refused:
            doc_id = doc.get("_id")
            if not isinstance(doc_id, str) or not doc_id:
                continue  # nothing to address the issue to; the forbidden entry is all the device gets
            plans[issue_id(doc_id)] = _replace_with(sync_issue_doc(doc, desa_code, principal, refusal))
        try:
            await self._write(db, plans)
        except CouchError as exc:
            raise ServiceUnavailable("could not record the refusal; try again") from exc

    async def settle(
        self,
        db: str,
        desa_code: str,
        principal: Principal,
        stored: Sequence[tuple[Mapping[str, Any], Outcome]],
        existing: frozenset[str],
    ) -> None:
        """What stored documents change in the ``sync_issue`` documents, after they are stored.

        - A document accepted with warnings gets ``sync_issue:<its id>`` with ``status: "warning"``.
        - A document stored under an id that was refused before (the device fixed it in place before it ever
          synced) resolves that id's open issue.
        - A correction, ``supersedes: <id>``, resolves ``sync_issue:<id>`` when it is open (or a warning):
          ``status: "resolved"``, ``resolved_by: <the correction's id>``.

        Server-owned writes, idempotent (a re-sent batch changes nothing). They never fail the device's write,
        which is already stored: a failure is logged and the issue stays as it was. So does a refusal recorded
        after its correction was stored (a different device, a later batch): nothing settles it yet.
        """
        plans: dict[str, _Plan] = {}
        for doc, outcome in stored:
            doc_id = doc.get("_id")
            if not isinstance(doc_id, str) or not doc_id:
                continue
            own = issue_id(doc_id)
            if isinstance(outcome, Accepted) and outcome.warnings:
                _add_plan(plans, own, _replace_with(warning_issue_doc(doc, desa_code, principal, outcome)))
            elif own in existing:
                _add_plan(plans, own, _resolve(doc_id, ("open",)))
            supersedes = doc.get("supersedes")
            if isinstance(supersedes, str) and issue_id(supersedes) in existing:
                _add_plan(plans, issue_id(supersedes), _resolve(doc_id, ("open", "warning")))
        if not plans:
            return
        try:
            await self._write(db, plans)
        except CouchError:
            log.warning("could not settle the sync issues of %s in %s", sorted(plans), db, exc_info=True)

    async def _write(self, db: str, plans: Mapping[str, _Plan]) -> None:
        """Create or update server-owned ``sync_issue`` documents: each plan gets the current document (or
        ``None``) and gives the new body, or ``None`` when nothing must change. Another gateway replica may write
        the same issue at the same time: a conflict is read again and retried. Raises :class:`CouchError`."""
        if not plans:
            return
        for _attempt in range(3):
            try:
                before_docs = {row["_id"]: row for row in await self._fetch(db, sorted(plans))}
                writes = []
                for issue_id, plan in plans.items():
                    before = before_docs.get(issue_id)
                    after = plan(before)
                    if after is None:
                        continue
                    writes.append({**after, "_rev": before["_rev"]} if before is not None else after)
                if not writes:
                    return
                results = await self.couch.bulk_docs(db, writes)
                if not any(r.get("error") == "conflict" for r in results):
                    return
            except CouchConflict:
                continue
        raise CouchConflict(f"sync issues of {db} kept changing under concurrent updates")

    async def _fetch(self, db: str, ids: Sequence[str]) -> list[dict[str, Any]]:
        if not ids:
            return []
        result = await self.couch.request(
            "POST",
            f"/{db}/_all_docs",
            json={"keys": list(ids)},
            params={"include_docs": "true"},
            what=f"sync issues of {db}",
        )
        return [row["doc"] for row in result.get("rows", []) if row.get("doc")]


ISSUE_PREFIX = "sync_issue:"


def issue_id(doc_id: str) -> str:
    return ISSUE_PREFIX + doc_id


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _issue_base(doc: Mapping[str, Any], desa_code: str, principal: Principal, status: str) -> dict[str, Any]:
    now = _now()
    return {
        "_id": issue_id(str(doc.get("_id"))),
        "type": "sync_issue",
        "doc_id": doc.get("_id"),
        "doc_rev": doc.get("_rev"),
        "doc_type": doc.get("type"),
        "desa": desa_code,
        "agent_id": principal.username,
        "device_id": principal.device_id,
        "status": status,
        "created_at": now,
        "updated_at": now,
    }


def sync_issue_doc(doc: Mapping[str, Any], desa_code: str, principal: Principal, refusal: Refusal) -> dict[str, Any]:
    """The refusal as a document of the desa database, so the device learns it through replication.

    ``status`` is ``open`` until a document that supersedes the refused one is stored (then ``resolved``, with
    ``resolved_by``). ``problems`` lists every error as ``{"field", "code", "message"}``; ``warnings`` the soft
    checks the refused document would also have earned.
    """
    return {
        **_issue_base(doc, desa_code, principal, "open"),
        "reason": refusal.reason,
        "problems": [p.as_dict() for p in refusal.problems],
        "warnings": [p.as_dict() for p in refusal.warnings],
    }


def warning_issue_doc(
    doc: Mapping[str, Any], desa_code: str, principal: Principal, accepted: Accepted
) -> dict[str, Any]:
    """The warnings of an accepted document, beside it (never inside it: its revision is the device's).

    ``status: "warning"``: the document is stored and goes through the pipeline; the pendamping sees what to
    check, and a correction (``supersedes``) marks it ``resolved``. ``metadata`` holds what validation learnt
    from the attachments (format, size, EXIF capture time and GPS).
    """
    first = accepted.warnings[0].sentence()
    rest = len(accepted.warnings) - 1
    return {
        **_issue_base(doc, desa_code, principal, "warning"),
        "reason": f"Diterima dengan catatan: {first}" + (f" Ada {rest} catatan lain." if rest else ""),
        "problems": [],
        "warnings": [p.as_dict() for p in accepted.warnings],
        "metadata": dict(accepted.metadata),
    }


# A plan for one sync_issue document: the current document (or None) → the new body, or None to leave it.
_Plan = Callable[[Mapping[str, Any] | None], dict[str, Any] | None]


def _replace_with(issue: dict[str, Any]) -> _Plan:
    def plan(before: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if before is None:
            return issue
        if _same_issue(before, issue):
            return None
        if before.get("status") == "resolved" and before.get("doc_rev") == issue.get("doc_rev"):
            return None  # the same revision sent again after a correction resolved it: stays resolved
        return {**issue, "created_at": before.get("created_at", issue["created_at"])}

    return plan


def _resolve(by: str, statuses: tuple[str, ...]) -> _Plan:
    def plan(before: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if before is None or before.get("status") not in statuses:
            return None  # nothing to resolve, or already resolved: idempotent
        now = _now()
        body = {k: v for k, v in before.items() if k != "_rev"}
        return {**body, "status": "resolved", "resolved_by": by, "resolved_at": now, "updated_at": now}

    return plan


def _add_plan(plans: dict[str, _Plan], issue_id: str, plan: _Plan) -> None:
    """Two changes to one issue in one batch (a document and its correction side by side) apply in order."""
    first = plans.get(issue_id)
    if first is None:
        plans[issue_id] = plan
        return

    def both(before: Mapping[str, Any] | None) -> dict[str, Any] | None:
        middle = first(before)
        after = plan(middle if middle is not None else before)
        return after if after is not None else middle

    plans[issue_id] = both


def _same_issue(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    keys = ("doc_rev", "reason", "problems", "warnings", "status")
    return all(before.get(k) == after.get(k) for k in keys)
