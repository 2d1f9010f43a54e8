"""Gathering a case: the application and everything of the desa database that bears on it, current versions only.

Where the pieces are found:

- the application by its id; its household and consent by the ids it names;
- the other members' consents (their own, or a guardian's for a child) through the consent ledger, by subject NIK,
  in the same database: consent is given where the family is registered;
- withdrawals through the ledger by subject NIK in **every** database: a withdrawal stops all processing of that
  person (UU 27/2022), wherever else they are named;
- field visits answering ``task:<application id>``, evidence attached to them or to the application, and objections
  to the application, through ``doc_links``;
- supervisors' reviews by their deterministic ids: ``review:<application id>`` and ``review:<evidence id>``
  (written by the server, see :mod:`server.review`);
- restrictions of processing of the family's people, from the relational store (:mod:`sync.restrictions`).

The projection is the index, CouchDB holds the bodies: a document is found once its own change has been handled
(which records its links), and handling it re-evaluates the cases it touches, so the order in which documents sync
does not matter.

**Current versions.** A device corrects a synced document by writing a new one with ``supersedes: <id>``. Every
version known for a document (through the ``supersedes`` links, both ways) is read; a version that another readable
version supersedes is dropped; of what is left, the latest captured wins (the larger id on a tie), so the outcome
does not depend on read order. A version that is deleted or does not parse is absent.

**Unreadable documents.** Documents were validated at the gateway, so one that does not parse now was written past
it (an operator, a replication from elsewhere) or by an older model: it is treated as absent and its id noted on the
case. The application itself is the exception: without it there is no case, so :class:`UnreadableApplication` is
raised and the worker retries, then parks the change (a dead letter an operator can look at).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from agent_forms import InvalidSubmission, load_submission
from agent_forms.corrections import corrects
from agent_forms.models import (
    Application,
    Consent,
    ConsentWithdrawal,
    Evidence,
    FieldVisit,
    Household,
    Objection,
    Submission,
)
from replication.couch import CouchClient
from sync.cases.store import LedgerStore, LinkStore, PeopleStore
from sync.restrictions import Restrictions
from sync.uow import UnitOfWork
from sync.verification.case import CaseFile, Doc, OtherClaim, Review, ReviewSubject

log = logging.getLogger(__name__)

S = TypeVar("S", bound=Submission)

#: The document types whose changes concern the pipeline, by id prefix.
CASE_DOCUMENT_TYPES: Mapping[str, type[Submission]] = {
    "application": Application,
    "household": Household,
    "consent": Consent,
    "consent_withdrawal": ConsentWithdrawal,
    "field_visit": FieldVisit,
    "evidence": Evidence,
    "objection": Objection,
}


class UnreadableApplication(Exception):
    """The application exists but does not parse as any known form version: there is no case to build."""


def doc_type(doc_id: str) -> str:
    return doc_id.partition(":")[0]


def task_id(application_id: str) -> str:
    return f"task:{application_id}"


def result_id(application_id: str) -> str:
    return f"result:{application_id}"


def review_id(target_id: str) -> str:
    """The supervisor's review of an evidence document or of a case (its application)."""
    return f"review:{target_id}"


def parse_review(body: Mapping[str, Any] | None, application_id: str) -> Review | None:
    """A ``review:`` document the server wrote; None (and a warning) when it is not one of this case's."""
    if body is None:
        return None
    try:
        subject = ReviewSubject(body["subject"])
        review = Review(
            subject=subject,
            decision=str(body["decision"]),
            reason=str(body["reason"]),
            reviewer=str(body["reviewer"]),
            reviewed_at=dt.datetime.fromisoformat(str(body["reviewed_at"])),
            application_id=str(body["application_id"]),
            evidence_id=str(body["evidence_id"]) if body.get("evidence_id") else None,
            field_visit_id=str(body["field_visit_id"]) if body.get("field_visit_id") else None,
        )
    except (KeyError, ValueError, TypeError):
        log.warning("review document %s is not readable; ignored", body.get("_id"))
        return None
    allowed = {"evidence": ("approved", "rejected"), "case": ("eligible", "not_eligible")}[subject.value]
    if review.application_id != application_id or review.decision not in allowed or review.reviewed_at.tzinfo is None:
        log.warning("review document %s does not fit its case; ignored", body.get("_id"))
        return None
    return review


def parse(doc_id: str, body: Mapping[str, Any] | None) -> Submission | None:
    """The typed document, or None when it is absent, deleted, of another type than its id says, or unparseable."""
    if body is None or body.get("_deleted"):
        return None
    model = CASE_DOCUMENT_TYPES.get(doc_type(doc_id))
    if model is None:
        return None
    try:
        submission = load_submission(body)
    except InvalidSubmission:
        return None
    return submission if isinstance(submission, model) else None


async def fetch_documents(couch: CouchClient, db: str, doc_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The current body of each of ``doc_ids`` that exists and is not deleted, in one ``_all_docs`` request.

    ``POST _all_docs`` with ``keys`` and ``include_docs`` is common to CouchDB 3 and pouchdb-server, so the
    client needs no new method for it.
    """
    ids = sorted(set(doc_ids))
    if not ids:
        return {}
    result = await couch.request(
        "POST",
        f"/{db}/_all_docs",
        json={"keys": ids},
        params={"include_docs": "true"},
        what=f"documents of {db}",
    )
    found: dict[str, dict[str, Any]] = {}
    for row in (result or {}).get("rows", []):
        doc = row.get("doc")
        value = row.get("value") or {}
        if isinstance(doc, dict) and not value.get("deleted") and not doc.get("_deleted"):
            found[str(row["key"])] = doc
    return found


@dataclass(frozen=True, slots=True)
class Gathered:
    """A case file and what the projection needs from it."""

    case: CaseFile
    db: str
    #: The household the case is about: the current version of the one the application names.
    household_id: str
    #: The NIKs the case claims: the household's members (when it has synced) and the applicant.
    people: frozenset[str]
    #: Documents found but unreadable, treated as absent.
    unreadable: tuple[str, ...] = ()
    #: Every version of the application (itself and the ones it corrects or that correct it).
    own_applications: frozenset[str] = frozenset()

    @property
    def application_id(self) -> str:
        return self.case.application.id

    @property
    def kk_number(self) -> str | None:
        return self.case.household.body.kk_number if self.case.household else None


class _Reader:
    """One gathering: fetches bodies and remembers which ones did not parse."""

    def __init__(self, couch: CouchClient, uow: UnitOfWork, db: str) -> None:
        self.couch = couch
        self.uow = uow
        self.db = db
        self.unreadable: set[str] = set()

    async def versions(self, doc_ids: Iterable[str]) -> set[str]:
        ids = [doc_id for doc_id in doc_ids if doc_id]
        if not ids:
            return set()
        async with self.uow.begin() as session:
            return await LinkStore(session).versions(self.db, ids)

    async def read(self, doc_ids: Iterable[str], model: type[S], db: str | None = None) -> list[Doc[S]]:
        """The readable documents among ``doc_ids``, of type ``model``."""
        bodies = await fetch_documents(self.couch, db or self.db, doc_ids)
        docs: list[Doc[S]] = []
        for doc_id, body in sorted(bodies.items()):
            parsed = parse(doc_id, body)
            if parsed is None or not isinstance(parsed, model):
                self.unreadable.add(doc_id)
                log.warning("document %s in %s does not parse; treated as absent", doc_id, db or self.db)
                continue
            docs.append(Doc(doc_id, parsed))
        return docs

    async def current(self, doc_id: str, model: type[S]) -> Doc[S] | None:
        """The current version of the document ``doc_id`` stands for."""
        return current_of(await self.read(await self.versions([doc_id]), model), doc_id)


def current_versions(docs: Sequence[Doc[S]]) -> list[Doc[S]]:
    """Drop every version another of ``docs`` validly supersedes (:func:`agent_forms.corrections.corrects`: the same
    subject, captured later; a ``supersedes`` naming another family's document is ignored, and so is one of two
    documents naming each other); of each family keep the latest captured. Sorted by capture time, then id."""
    families, _ = _families(docs)
    return sorted(families.values(), key=_order)


def current_of(docs: Sequence[Doc[S]], doc_id: str) -> Doc[S] | None:
    """The current version of the family ``doc_id`` belongs to: its own valid corrections, never a document that
    only claims to correct it (another family's, which stands on its own)."""
    families, root_of = _families(docs)
    return families.get(root_of(doc_id))


def _families(docs: Sequence[Doc[S]]) -> tuple[dict[str, Doc[S]], Callable[[str], str]]:
    """Each family's current version by the id of its first version, and a function giving an id's first version."""
    by_id = {doc.id: doc for doc in docs}

    def parent(doc: Doc[S]) -> str | None:
        target = doc.body.supersedes
        if target is None or (target in by_id and not corrects(doc.body, by_id[target].body)):
            return None
        return target  # an original that is not here (deleted, unreadable) cannot be compared, nor does it matter

    parents = {doc.id: parent(doc) for doc in docs}

    def root_of(doc_id: str) -> str:
        root, seen = doc_id, {doc_id}
        while parents.get(root) and parents[root] not in seen:
            root = cast(str, parents[root])
            seen.add(root)
        return root

    superseded = {target for target in parents.values() if target}
    # Two corrections of one document (two devices, say) leave two leaves of one family: keep the latest.
    families: dict[str, Doc[S]] = {}
    for doc in docs:
        if doc.id in superseded:
            continue
        root = root_of(doc.id)
        best = families.get(root)
        if best is None or _order(doc) > _order(best):
            families[root] = doc
    return families, root_of


def _order(doc: Doc[Any]) -> tuple[dt.datetime, str]:
    return (doc.body.captured_at, doc.id)


async def gather_case(
    couch: CouchClient, uow: UnitOfWork, db: str, application_id: str, *, waiting_since: dt.datetime | None
) -> Gathered | None:
    """Everything that bears on ``application_id`` in ``db``; None when the application is absent or deleted."""
    reader = _Reader(couch, uow, db)
    bodies = await fetch_documents(couch, db, [application_id])
    if application_id not in bodies:
        return None
    application = parse(application_id, bodies[application_id])
    if not isinstance(application, Application):
        raise UnreadableApplication(f"{application_id} in {db} does not parse as an application")

    household = await reader.current(application.household_id, Household)
    consent = await reader.current(application.consent_id, Consent)
    household_id = household.id if household else application.household_id
    people = {application.applicant_nik}
    if household is not None:
        people |= {member.nik for member in household.body.members}

    consent_family = await reader.versions([application.consent_id])
    own_households = await reader.versions([application.household_id, household_id])
    own_applications = await reader.versions([application_id])
    async with uow.begin() as session:
        ledger = LedgerStore(session)
        links = LinkStore(session)
        consent_rows = await ledger.of_subjects(people, kind="consent", db_name=db)
        withdrawal_rows = await ledger.of_subjects(people, kind="consent_withdrawal")
        naming_consent = await links.incoming(db, consent_family, "consent", prefix="consent_withdrawal:")
        withdrawal_rows += await ledger.of_documents(db, [link.doc_id for link in naming_consent])
        visit_ids = {link.doc_id for link in await links.incoming(db, [task_id(application_id)], "task")}
        claims = await PeopleStore(session).elsewhere(people, own_applications, own_households)
        restricted = await Restrictions(session).restricted(people)

    member_ids = {row.doc_id for row in consent_rows} - consent_family
    member_consents = current_versions(await reader.read(await reader.versions(member_ids), Consent))
    member_consents = [doc for doc in member_consents if doc.id not in consent_family]

    withdrawals: list[Doc[ConsentWithdrawal]] = []
    by_db: dict[str, set[str]] = {}
    for row in withdrawal_rows:
        by_db.setdefault(row.db_name, set()).add(row.doc_id)
    for other_db, ids in sorted(by_db.items()):  # each database's versions on their own: ids are not kabupaten-wide
        withdrawals += current_versions(await reader.read(ids, ConsentWithdrawal, db=other_db))

    field_visits = current_versions(await reader.read(await reader.versions(visit_ids), FieldVisit))
    visit_family = await reader.versions(visit_ids)
    async with uow.begin() as session:
        links = LinkStore(session)
        evidence_ids = {
            link.doc_id for link in await links.incoming(db, [application_id], "application", prefix="evidence:")
        }
        evidence_ids |= {link.doc_id for link in await links.incoming(db, visit_family, "field_visit")}
        objection_ids = {
            link.doc_id for link in await links.incoming(db, [application_id], "application", prefix="objection:")
        }
    evidence = current_versions(await reader.read(await reader.versions(evidence_ids), Evidence))
    objections = current_versions(await reader.read(await reader.versions(objection_ids), Objection))
    review_ids = [review_id(application_id), *(review_id(doc.id) for doc in evidence)]
    reviews = [
        Doc(doc_id, review)
        for doc_id, body in sorted((await fetch_documents(couch, db, review_ids)).items())
        if (review := parse_review(body, application_id)) is not None
    ]

    case = CaseFile(
        application=Doc(application_id, application),
        household=household,
        consent=consent,
        member_consents=tuple(member_consents),
        withdrawals=tuple(withdrawals),
        field_visits=tuple(field_visits),
        evidence=tuple(evidence),
        objections=tuple(objections),
        elsewhere=tuple(
            OtherClaim(nik=row.nik, application_id=row.application_id, household_id=row.household_id, desa=row.desa)
            for row in claims
        ),
        waiting_since=waiting_since,
        restricted=restricted,
        reviews=tuple(reviews),
    )
    return Gathered(
        case=case,
        db=db,
        household_id=household_id,
        people=frozenset(people),
        unreadable=tuple(sorted(reader.unreadable)),
        own_applications=frozenset(own_applications | {application_id}),
    )
