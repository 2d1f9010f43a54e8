"""The changes-feed handler of the verification pipeline (``name = "verification"``).

For each change of an application, household, consent, withdrawal, field visit, evidence or objection, deletions
included (a document the server removed must re-evaluate what rested on it):

1. read the document's current state (the change is only a notification);
2. record it in the projection: its links to other documents, its consent-ledger row, the NIKs of a household;
3. find the cases it touches: an application → itself (and the versions it corrects); any other document → through
   the links recorded so far, for a withdrawal every case naming the person anywhere in the kabupaten, and for a
   household every case claiming one of its members (the same person in two households);
4. evaluate each of them (:class:`~sync.cases.processor.CaseProcessor`).

Every case touched is attempted even when one fails; the first failure is then raised so the worker retries the
change (the cases that succeeded simply find nothing to change next time) and, after its attempts, parks it.
An application that does not parse is raised at once: without it there is no case (see
:mod:`sync.cases.documents`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable

from sqlmodel.ext.asyncio.session import AsyncSession

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
from agent_forms.models.consent import ConsentSource, WithdrawalScope
from replication.couch import CouchClient
from sync.cases.documents import CASE_DOCUMENT_TYPES, UnreadableApplication, doc_type, parse
from sync.cases.processor import CaseProcessor
from sync.cases.store import LedgerStore, LinkStore, PeopleStore
from sync.cases.tables import ConsentLedgerEntry
from sync.feed import Change
from sync.uow import UnitOfWork

log = logging.getLogger(__name__)

MATCHED_PREFIXES: tuple[str, ...] = (*(f"{kind}:" for kind in CASE_DOCUMENT_TYPES), "review:")
_TASK_OF_APPLICATION = "task:application:"

CaseKey = tuple[str, str]  # (database, application id)


def links_of(submission: Submission) -> list[tuple[str, str]]:
    """(relation, target id) for every document ``submission`` refers to."""
    links: list[tuple[str, str]] = []
    if submission.supersedes:
        links.append(("supersedes", submission.supersedes))
    match submission:
        case Application():
            links += [("household", submission.household_id), ("consent", submission.consent_id)]
        case Consent() if submission.household_id:
            links.append(("household", submission.household_id))
        case ConsentWithdrawal() if submission.consent_id:
            links.append(("consent", submission.consent_id))
        case FieldVisit():
            links.append(("task", submission.task_id))
            if submission.household_id:
                links.append(("household", submission.household_id))
        case Evidence():
            if submission.field_visit_id:
                links.append(("field_visit", submission.field_visit_id))
            if submission.application_id:
                links.append(("application", submission.application_id))
        case Objection():
            links.append(("application", submission.application_id))
            links += [("evidence", evidence_id) for evidence_id in submission.evidence_ids]
    return links


def ledger_entry(db: str, doc_id: str, rev: str, submission: Consent | ConsentWithdrawal) -> ConsentLedgerEntry:
    """The consent ledger's row of a consent or withdrawal: the proof of who agreed to (or took back) what."""
    method = submission.method
    entry = ConsentLedgerEntry(
        doc_id=doc_id,
        db_name=db,
        kind=submission.type,
        rev=rev,
        subject_nik=submission.subject_nik,
        guardian_nik=submission.guardian.nik if submission.guardian else None,
        desa=submission.desa,
        supersedes=submission.supersedes,
        method=method.kind,
        captured_at=submission.captured_at,
        agent_id=submission.agent_id,
        channel=submission.channel.value,
    )
    if isinstance(submission, Consent):
        entry.household_id = submission.household_id
        entry.granted = sorted(p.source.value for p in submission.purposes if p.granted)
        entry.refused = sorted(p.source.value for p in submission.purposes if not p.granted)
        entry.notice_version = submission.notice_version
    else:
        entry.consent_id = submission.consent_id
        entry.scope = submission.scope.value
        everything = [source.value for source in ConsentSource]
        withdrawn = everything if submission.scope is WithdrawalScope.ALL else [s.value for s in submission.sources]
        entry.withdrawn = sorted(withdrawn)
    return entry


async def index_document(
    session: AsyncSession,
    db: str,
    doc_id: str,
    rev: str,
    submission: Submission | None,
    *,
    absent: bool,
    now: dt.datetime,
) -> None:
    """Record what the projection keeps of one document. An absent (deleted) or unreadable document keeps its
    links, so the cases that rested on it can still be found and re-evaluated."""
    links = LinkStore(session)
    people = PeopleStore(session)
    if submission is None:
        if absent:
            await LedgerStore(session).mark_deleted(db, doc_id, now)
            if doc_type(doc_id) == "household":
                await people.drop_household(doc_id)
        return
    await links.replace(db, doc_id, links_of(submission), submission.captured_at)
    if isinstance(submission, Consent | ConsentWithdrawal):
        await LedgerStore(session).record(ledger_entry(db, doc_id, rev, submission))
    if isinstance(submission, Household):
        family = await links.versions(db, [doc_id])
        if await links.superseded_by(db, doc_id):
            await people.drop_household(doc_id)  # an older version arriving late: the correction stands
        else:
            niks = [member.nik for member in submission.members]
            await people.replace_for_household(doc_id, submission.desa, db, niks)
        for other in sorted(family - {doc_id}):
            if await links.superseded_by(db, other):
                await people.drop_household(other)


async def affected_cases(session: AsyncSession, db: str, doc_id: str) -> list[CaseKey]:
    """The cases a document bears on, from what the projection knows (so it works for a deleted document too)."""
    links = LinkStore(session)
    family = await links.versions(db, [doc_id])
    outgoing = [link for version in sorted(family) for link in await links.outgoing(db, version)]

    def targets(relation: str) -> set[str]:
        return {link.target_id for link in outgoing if link.relation == relation}

    async def naming(targets: Iterable[str], relation: str) -> set[CaseKey]:
        found = await links.incoming(db, targets, relation, prefix="application:")
        return {(db, link.doc_id) for link in found}

    async def subjects() -> set[str]:
        return {row.subject_nik for row in await LedgerStore(session).of_documents(db, family)}

    cases: set[CaseKey] = set()
    match doc_type(doc_id):
        case "application":
            cases |= {(db, version) for version in family}
        case "household":
            cases |= await naming(family, "household")
            # Another family's case claiming one of these people must learn of this household too.
            people = PeopleStore(session)
            claimed = await people.applications_of(await people.of_households(family))
            cases |= {(case_db, app) for app, case_db in claimed}
        case "consent":
            cases |= await naming(family, "consent")
            households = targets("household")
            if households:
                cases |= await naming(await links.versions(db, households), "household")
            claimed = await PeopleStore(session).applications_of(await subjects())
            cases |= {(case_db, app) for app, case_db in claimed if case_db == db}
        case "consent_withdrawal":
            claimed = await PeopleStore(session).applications_of(await subjects())
            cases |= {(case_db, app) for app, case_db in claimed}
            consents = targets("consent")
            if consents:
                cases |= await naming(await links.versions(db, consents), "consent")
        case "field_visit":
            cases |= _cases_of_tasks(db, targets("task"))
        case "evidence":
            cases |= {(db, app) for app in targets("application")}
            visits = await links.versions(db, targets("field_visit"))
            tasks = {link.target_id for v in sorted(visits) for link in await links.outgoing(db, v)}
            cases |= _cases_of_tasks(db, tasks)
        case "objection":
            cases |= {(db, app) for app in targets("application")}
    return sorted(cases)


def _cases_of_tasks(db: str, task_ids: Iterable[str]) -> set[CaseKey]:
    return {(db, t.removeprefix("task:")) for t in task_ids if t.startswith(_TASK_OF_APPLICATION)}


class VerificationHandler:
    """Re-evaluates the cases a synced document bears on; see the module docstring."""

    name = "verification"

    def __init__(
        self, *, couch: CouchClient, uow: UnitOfWork, processor: CaseProcessor, clock: Callable[[], dt.datetime]
    ) -> None:
        self._couch = couch
        self._uow = uow
        self._processor = processor
        self._clock = clock

    def matches(self, change: Change) -> bool:
        return change.id.startswith(MATCHED_PREFIXES)

    async def handle(self, change: Change) -> None:
        body = await self._couch.get_doc(change.db, change.id)
        if change.id.startswith("review:"):
            # A supervisor's review (written by the server) names its case; re-evaluate it. Reviews are never
            # deleted, so a tombstone has nothing to re-evaluate.
            application_id = body.get("application_id") if body else None
            if isinstance(application_id, str) and application_id.startswith("application:"):
                await self._processor.process(change.db, application_id)
            return
        submission = parse(change.id, body)
        if body is not None and submission is None:
            if doc_type(change.id) == "application":
                raise UnreadableApplication(f"{change.id} in {change.db} does not parse as an application")
            log.warning("document %s in %s does not parse; treated as absent", change.id, change.db)
        rev = str(body.get("_rev", "")) if body else change.rev
        async with self._uow.begin() as session:
            await index_document(session, change.db, change.id, rev, submission, absent=body is None, now=self._clock())
            cases = await affected_cases(session, change.db, change.id)
        failures: list[Exception] = []
        for db, application_id in cases:
            try:
                await self._processor.process(db, application_id)
            except Exception as exc:
                log.warning("case %s of %s failed: %s", application_id, db, type(exc).__name__)
                failures.append(exc)
        if failures:
            raise failures[0]
