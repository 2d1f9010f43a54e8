"""One case, start to finish: gather → consent gate → registry look-ups → decision → push down → project.

Shared by the changes-feed handler, the sweeper and the dynamic layer, which all call :meth:`CaseProcessor.process`.

**Serialised per case.** An in-process lock keyed by application id keeps two evaluations of one case from
interleaving (a consent and a household syncing together, a sweep meeting a registry change). Workers partitioned
by region never share a desa, hence never a case.

**Idempotent, crash-safe.** The CouchDB documents are written first, compare-before-write (:mod:`sync.cases.writer`),
then the projection commits in one unit of work. A crash between the two leaves the documents ahead of the
projection; the redo finds the documents already saying so, writes nothing, and commits the projection. A decision
row is appended when the fingerprint differs from the projection's, so a redo appends it exactly once.

**A person claimed twice.** The same NIK in two applications (or households) is seen by whichever case is
evaluated second; the first must learn it too. So when an evaluation records NIKs its case did not claim before,
the other open cases claiming them are made due for the sweeper in the same transaction (crash-safe) and then
re-evaluated at once, outside this case's lock. Their own claims are unchanged by that, so it goes no further.

**A case belongs to one database.** An application id is the case of the desa database it was first seen in.
The same id anywhere else — an objection or evidence in another desa naming it, an application written there with
a colliding id — is never evaluated against it: a device of one desa cannot remove, re-decide or take over another
desa's case (devices only reach their own desa, and this keeps it so through the pipeline too).

**Timers.** ``next_check_at`` is when the sweeper looks again: a registry was down → after
``source_retry_s``, doubling up to ``source_retry_max_s``; waiting for a document → when ``task_after_s`` will have
passed, to raise the field task; otherwise never (a new document or registry change triggers the case instead).
``waiting_since`` is when the current wait began (the first sight of a new application), handed to the rules in the
case file and used to time the task.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent_forms.corrections import corrects
from agent_forms.models import Application
from registries.sources import Sources
from replication.couch import CouchClient
from sync.cases.config import PipelineSettings
from sync.cases.documents import Gathered, fetch_documents, gather_case, parse
from sync.cases.facts import fetch_facts
from sync.cases.store import CaseStore, LinkStore, PeopleStore
from sync.cases.tables import CaseRecord
from sync.cases.writer import (
    SUPERSEDED,
    TASK_CANCELLED,
    TASK_DONE,
    Assignees,
    CaseAddress,
    DocumentWriter,
)
from sync.locks import KeyedLocks
from sync.uow import UnitOfWork
from sync.verification.decide import evaluate
from sync.verification.gate import plan_queries
from sync.verification.ruleset import RuleSet
from sync.verification.verdict import DECISIONS, Status, Verdict

log = logging.getLogger(__name__)

#: Status of a case whose application was deleted from its database.
REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class CaseOutcome:
    """What one evaluation did (for tests, logs and the background loops)."""

    application_id: str
    status: str
    changed: bool
    result_written: bool = False
    task: str | None = None


class CaseProcessor:
    def __init__(
        self,
        *,
        couch: CouchClient,
        uow: UnitOfWork,
        sources: Sources,
        rules: RuleSet,
        settings: PipelineSettings,
        assignees: Assignees,
        clock: Callable[[], dt.datetime],
        locks: KeyedLocks[str] | None = None,
    ) -> None:
        self._couch = couch
        self._uow = uow
        self._sources = sources
        self._rules = rules
        self._settings = settings
        self._assignees = assignees
        self._clock = clock
        self._writer = DocumentWriter(couch, clock)
        self.locks: KeyedLocks[str] = locks or KeyedLocks()

    async def process(self, db: str, application_id: str) -> CaseOutcome | None:
        """Evaluate the case of ``application_id`` in ``db`` and push the outcome down; None when there is no
        case (the application never synced, or was removed before it was ever seen)."""
        async with self.locks.hold(application_id):
            async with self._uow.begin() as session:
                record = await CaseStore(session).get(application_id)
                corrections = await LinkStore(session).superseded_by(db, application_id)
            if record is not None and record.db_name != db:
                log.warning("%s in %s is a case of %s: left alone", application_id, db, record.db_name)
                return None
            correction = await self._valid_correction(db, application_id, [link.doc_id for link in corrections])
            if correction is not None:
                return await self._supersede(db, application_id, record, correction)
            now = self._clock()
            waiting_since = record.waiting_since if record and record.waiting_since else now
            gathered = await gather_case(self._couch, self._uow, db, application_id, waiting_since=waiting_since)
            if gathered is None:
                return await self._remove(db, application_id, record)
            outcome, sharing = await self._evaluate(gathered, record, now, waiting_since)
        for other in sharing:
            # Best effort: a failure here is the sweeper's (the case was made due with this one's projection).
            try:
                await self.process(other.db_name, other.application_id)
            except Exception as exc:
                log.warning(
                    "case %s, which shares a person with %s, failed: %s",
                    other.application_id,
                    application_id,
                    type(exc).__name__,
                )
        return outcome

    async def record_failure(self, application_id: str, error: str) -> None:
        """A background re-evaluation failed: count it and push the case's next re-check back."""
        async with self.locks.hold(application_id), self._uow.begin() as session:
            now = self._clock()
            store = CaseStore(session)
            record = await store.get(application_id)
            if record is None:
                return
            record.check_failures += 1
            record.last_error = error
            record.next_check_at = now + dt.timedelta(seconds=self._settings.failure_delay(record.check_failures))
            record.updated_at = now
            store.save(record)

    async def schedule(self, application_id: str) -> None:
        """Ask the sweeper to look at a case at once (its evaluation just failed outside the sweeper)."""
        async with self.locks.hold(application_id), self._uow.begin() as session:
            now = self._clock()
            store = CaseStore(session)
            record = await store.get(application_id)
            open_case = record is not None and record.status not in (SUPERSEDED, REMOVED)
            if record is not None and open_case and (record.next_check_at is None or record.next_check_at > now):
                record.next_check_at = now
                store.save(record)

    # --- the evaluation ---------------------------------------------------------------------------------------

    async def _evaluate(
        self, gathered: Gathered, record: CaseRecord | None, now: dt.datetime, waiting_since: dt.datetime
    ) -> tuple[CaseOutcome, list[CaseRecord]]:
        """The outcome, and the other cases that must be re-evaluated because this one now shares a person with
        them (see the module docstring)."""
        case = gathered.case
        plan = plan_queries(case, self._rules)
        facts = await fetch_facts(case, plan, self._sources, concurrency=self._settings.lookup_concurrency)
        verdict = evaluate(case, plan, facts, self._rules)
        fingerprint = verdict.fingerprint()
        application = case.application.body
        where = CaseAddress(
            db=gathered.db,
            application_id=gathered.application_id,
            household_id=gathered.household_id,
            desa=application.desa,
        )

        written = await self._writer.write_result(where, verdict.to_result(), fingerprint)
        decided_at = _parse_time(written.doc.get("decided_at")) or now

        waiting = verdict.status is Status.waiting
        task_state, task_raised_at = await self._push_task(
            where,
            verdict,
            record,
            waiting_since=waiting_since,
            now=now,
            visited=bool(case.field_visits),
            source_down=bool(facts.unavailable),
        )

        source_waits = ((record.source_waits if record else 0) + 1) if facts.unavailable else 0
        next_check_at: dt.datetime | None = None
        if facts.unavailable:
            next_check_at = now + dt.timedelta(seconds=self._settings.source_retry_delay(source_waits))
        elif (verdict.retry or waiting) and task_raised_at is None:
            # Waiting for a document: look again when the wait turns into a field task (once; after that the
            # document's own change brings the case back).
            due = waiting_since + dt.timedelta(seconds=self._settings.task_after_s)
            next_check_at = due if due > now else None

        result_body = {k: v for k, v in written.doc.items() if k not in ("_id", "_rev")}
        async with self._uow.begin() as session:
            store = CaseStore(session)
            row = await store.get(where.application_id) or CaseRecord(
                application_id=where.application_id,
                desa=where.desa,
                db_name=where.db,
                applicant_nik=application.applicant_nik,
                status=verdict.status.value,
                first_seen_at=now,
            )
            changed = row.result_fingerprint != fingerprint
            if changed:
                await store.append_decision(
                    where.application_id,
                    status=verdict.status.value,
                    rule_set_version=verdict.rule_set_version,
                    fingerprint=fingerprint,
                    result=result_body,
                    # The projection's own clock, not the result's: a redo after a crash records an old verdict
                    # now, and the decision feed settles rows by when they were recorded.
                    decided_at=self._clock(),
                )
            row.desa = where.desa
            row.db_name = where.db
            row.household_id = where.household_id
            row.consent_id = case.consent.id if case.consent else application.consent_id
            row.kk_number = gathered.kk_number
            row.applicant_nik = application.applicant_nik
            row.status = verdict.status.value
            if verdict.status in DECISIONS:
                row.decision = verdict.status.value
            row.rule_set_version = verdict.rule_set_version
            row.result_fingerprint = fingerprint
            row.waiting_since = waiting_since if (waiting or verdict.retry) else None
            row.next_check_at = next_check_at
            row.source_waits = source_waits
            row.check_failures = 0
            row.last_error = None
            row.unreadable = list(gathered.unreadable)
            row.task_raised_at = task_raised_at
            row.superseded_by = None
            row.decided_at = decided_at
            row.updated_at = now
            store.save(row)
            people = PeopleStore(session)
            claimed_before = await people.of_application(where.application_id)
            await people.replace_for_application(
                where.application_id, where.household_id, where.desa, where.db, gathered.people
            )
            sharing: list[CaseRecord] = []
            newly_claimed = gathered.people - claimed_before
            if newly_claimed:
                own = set(gathered.own_applications)
                others = {app for app, _ in await people.applications_of(newly_claimed) if app not in own}
                sharing = await store.check_now(others, now)
        outcome = CaseOutcome(where.application_id, verdict.status.value, changed, written.changed, task_state)
        return outcome, sharing

    async def _push_task(
        self,
        where: CaseAddress,
        verdict: Verdict,
        record: CaseRecord | None,
        *,
        waiting_since: dt.datetime,
        now: dt.datetime,
        visited: bool,
        source_down: bool,
    ) -> tuple[str | None, dt.datetime | None]:
        """Open, keep, or close the case's field task; returns what happened and when the task was raised.

        A registry that is down says nothing about the field: an open task is left as it is until the source is
        back, rather than cancelled now and raised again in a minute.
        """
        raised_at = record.task_raised_at if record else None
        if source_down and verdict.task is None:
            return ("open" if raised_at else None), raised_at
        if verdict.task is not None:
            due = verdict.status is not Status.waiting or now >= waiting_since + dt.timedelta(
                seconds=self._settings.task_after_s
            )
            if due:
                assignees = await self._assignees(where.desa)
                written = await self._writer.open_task(where, verdict.task, assignees)
                return ("opened" if written.changed else "open"), raised_at or now
            if raised_at is None:
                return None, None
            # Raised earlier and still waiting on the same documents: keep it open as it is.
            return "open", raised_at
        closed = await self._writer.close_task(where.db, where.application_id, TASK_DONE if visited else TASK_CANCELLED)
        return ("closed" if closed.changed else None), None

    # --- superseded and removed applications ------------------------------------------------------------------

    async def _valid_correction(self, db: str, application_id: str, corrections: list[str]) -> str | None:
        """The latest of ``corrections`` (latest first) that may replace the application: the same applicant,
        captured after it (:func:`agent_forms.corrections.corrects`). Another family's application naming this one
        in ``supersedes`` does not end this case. An application that is gone or unreadable cannot be compared: any
        correction stands."""
        if not corrections:
            return None
        bodies = await fetch_documents(self._couch, db, [application_id, *corrections])
        original = parse(application_id, bodies.get(application_id))
        for doc_id in corrections:
            correction = parse(doc_id, bodies.get(doc_id))
            if not isinstance(original, Application) or (
                isinstance(correction, Application) and corrects(correction, original)
            ):
                return doc_id
        log.warning(
            "%s in %s: %d correction(s) of another applicant or older, ignored", application_id, db, len(corrections)
        )
        return None

    async def _supersede(self, db: str, application_id: str, record: CaseRecord | None, by: str) -> CaseOutcome | None:
        bodies = await fetch_documents(self._couch, db, [application_id])
        body = bodies.get(application_id)
        if body is None and record is None:
            return None  # corrected before it ever synced here: no case, nothing to say
        application = parse(application_id, body)
        if isinstance(application, Application):
            desa, household_id, applicant = application.desa, application.household_id, application.applicant_nik
        else:  # unreadable, or deleted since: what the projection (or the raw body) says is enough for this result
            raw: dict[str, Any] = body or {}
            desa = record.desa if record else str(raw.get("desa", ""))
            household_id = (record.household_id if record else None) or str(raw.get("household_id", ""))
            applicant = record.applicant_nik if record else str(raw.get("applicant_nik", ""))
        where = CaseAddress(db=db, application_id=application_id, household_id=household_id, desa=desa)
        written = await self._writer.write_superseded(where, by)
        await self._writer.close_task(db, application_id, TASK_CANCELLED)
        now = self._clock()
        fingerprint = str(written.doc.get("fingerprint", ""))
        async with self._uow.begin() as session:
            store = CaseStore(session)
            row = await store.get(application_id) or CaseRecord(
                application_id=application_id,
                desa=desa,
                db_name=db,
                household_id=household_id,
                applicant_nik=applicant,
                status=SUPERSEDED,
                first_seen_at=now,
            )
            changed = row.result_fingerprint != fingerprint or row.status != SUPERSEDED
            if changed:
                await store.append_decision(
                    application_id,
                    status=SUPERSEDED,
                    rule_set_version=None,
                    fingerprint=fingerprint,
                    result={k: v for k, v in written.doc.items() if k not in ("_id", "_rev")},
                    decided_at=self._clock(),
                )
                row.decided_at = _parse_time(written.doc.get("decided_at")) or now
            row.status = SUPERSEDED
            row.superseded_by = by
            row.result_fingerprint = fingerprint
            row.next_check_at = None
            row.waiting_since = None
            row.updated_at = now
            store.save(row)
            await PeopleStore(session).drop_application(application_id)
        return CaseOutcome(application_id, SUPERSEDED, changed, written.changed, None)

    async def _remove(self, db: str, application_id: str, record: CaseRecord | None) -> CaseOutcome | None:
        """The application is gone from the database (deleted by an operator): so are its result and task."""
        if record is None:
            return None
        await self._writer.delete_result(db, application_id)
        await self._writer.close_task(db, application_id, TASK_CANCELLED)
        now = self._clock()
        async with self._uow.begin() as session:
            store = CaseStore(session)
            row = await store.get(application_id)
            if row is None:
                return None
            changed = row.status != REMOVED
            if changed:
                await store.append_decision(
                    application_id,
                    status=REMOVED,
                    rule_set_version=None,
                    fingerprint=REMOVED,
                    result={},
                    decided_at=now,
                )
                row.decided_at = now
            row.status = REMOVED
            row.result_fingerprint = REMOVED
            row.next_check_at = None
            row.waiting_since = None
            row.updated_at = now
            store.save(row)
            await PeopleStore(session).drop_application(application_id)
        return CaseOutcome(application_id, REMOVED, changed)


def _parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
