"""The ``review:`` documents: a supervisor's word on field evidence or on a case, written into the desa database.

The server is their only writer (DESIGN.md), under a deterministic id, so a device never conflicts with one and the
pendamping receives it on the next pull. The worker re-evaluates the case it names when it sees one.

**Evidence reviewed** — ``review:<evidence id>`` (e.g. ``review:evidence:4f0c…``)::

    {
      "_id": "review:evidence:4f0c…",
      "type": "review",
      "subject": "evidence",
      "desa": "35.10.16.1014",              # dotted Kemendagri code of the database's desa
      "evidence_id": "evidence:4f0c…",
      "application_id": "application:9b2c…",  # the case the evidence belongs to
      "field_visit_id": "field_visit:…",    # null when the evidence is attached to the application itself
      "decision": "approved" | "rejected",
      "reason": "…",                        # the reviewer's own words, at least MIN_REASON characters
      "reviewer": "spv.banyuwangi",         # username
      "reviewed_at": "2026-03-02T04:05:06Z",
      "history": [ {decision, reason, reviewer, reviewed_at}, … ]   # earlier reviews, oldest first
    }

**A ``needs_review`` case decided** — ``review:<application id>`` (e.g. ``review:application:9b2c…``)::

    {
      "_id": "review:application:9b2c…",
      "type": "review",
      "subject": "case",
      "desa": "35.10.16.1014",
      "application_id": "application:9b2c…",
      "decision": "eligible" | "not_eligible",
      "reason": "…",
      "reviewer": "spv.banyuwangi",
      "reviewed_at": "…",
      "history": [ … ]
    }

A second review of the same thing replaces the document (a ``PUT`` with the ``_rev`` just read) and moves the earlier
decision into ``history``, so the latest word is always at the top level and nothing a supervisor said is lost. Two
supervisors saving at the same instant race on the ``_rev``: the loser reads again and writes once more; a second
conflict is answered 409 and the supervisor saves again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from replication.couch import CouchClient
from replication.errors import CouchConflict, CouchError
from server.core.errors import Conflict, ServiceUnavailable

#: A reason shorter than this says nothing a pendamping or an auditor could act on.
MIN_REASON = 10
MAX_REASON = 2000

#: The fields of a review that make up one decision; ``history`` keeps them for every earlier review.
DECISION_FIELDS = ("decision", "reason", "reviewer", "reviewed_at")


class EvidenceDecision(StrEnum):
    approved = "approved"
    rejected = "rejected"


class CaseVerdict(StrEnum):
    eligible = "eligible"
    not_eligible = "not_eligible"


def review_id(subject_id: str) -> str:
    """``review:<evidence id>`` or ``review:<application id>``."""
    return f"review:{subject_id}"


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class EvidenceReview:
    desa: str
    evidence_id: str
    application_id: str
    field_visit_id: str | None
    decision: EvidenceDecision
    reason: str
    reviewer: str

    @property
    def doc_id(self) -> str:
        return review_id(self.evidence_id)

    def body(self, reviewed_at: dt.datetime) -> dict[str, Any]:
        return {
            "type": "review",
            "subject": "evidence",
            "desa": self.desa,
            "evidence_id": self.evidence_id,
            "application_id": self.application_id,
            "field_visit_id": self.field_visit_id,
            "decision": self.decision.value,
            "reason": self.reason,
            "reviewer": self.reviewer,
            "reviewed_at": iso(reviewed_at),
        }


@dataclass(frozen=True, slots=True)
class CaseReview:
    desa: str
    application_id: str
    decision: CaseVerdict
    reason: str
    reviewer: str

    @property
    def doc_id(self) -> str:
        return review_id(self.application_id)

    def body(self, reviewed_at: dt.datetime) -> dict[str, Any]:
        return {
            "type": "review",
            "subject": "case",
            "desa": self.desa,
            "application_id": self.application_id,
            "decision": self.decision.value,
            "reason": self.reason,
            "reviewer": self.reviewer,
            "reviewed_at": iso(reviewed_at),
        }


def next_version(existing: Mapping[str, Any] | None, body: Mapping[str, Any]) -> dict[str, Any]:
    """The document to write: ``body``, with the earlier decision (if any) appended to the history it carried."""
    history: list[dict[str, Any]] = []
    if existing is not None:
        history = [dict(entry) for entry in existing.get("history") or [] if isinstance(entry, Mapping)]
        if existing.get("decision") is not None:
            history.append({key: existing.get(key) for key in DECISION_FIELDS})
    return {**body, "history": history}


async def write_review(
    couch: CouchClient, db: str, review: EvidenceReview | CaseReview, reviewed_at: dt.datetime
) -> dict[str, Any]:
    """Write ``review`` into ``db`` (creating or updating its document) and return the document as stored."""
    body = review.body(reviewed_at)
    try:
        for attempt in (1, 2):
            existing = await couch.get_doc(db, review.doc_id)
            doc = {**next_version(existing, body), "_id": review.doc_id}
            if existing is not None:
                doc["_rev"] = existing["_rev"]
            try:
                doc["_rev"] = await couch.put_doc(db, doc)
            except CouchConflict:
                if attempt == 2:
                    raise Conflict(
                        "Tinjauan ini baru saja diubah orang lain; muat ulang halaman lalu simpan lagi"
                    ) from None
                continue
            return doc
    except CouchError as exc:
        raise ServiceUnavailable("Penyimpanan dokumen sedang tidak dapat dihubungi; coba lagi sebentar lagi") from exc
    raise AssertionError("unreachable")  # pragma: no cover
