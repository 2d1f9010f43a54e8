"""What a verification ends with: every rule evaluated, its outcome and the data it rested on, the decision and its
explanation in Bahasa Indonesia. ``Verdict.to_result()`` is the body of the ``result:<application id>`` document."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """Where a case stands. The first four are decisions (DESIGN.md); the last two are not decisions yet."""

    eligible = "eligible"
    not_eligible = "not_eligible"
    needs_field_verification = "needs_field_verification"
    needs_review = "needs_review"
    #: Waiting for a document not yet synced, or for a source that is down.
    waiting = "waiting"
    #: The applicant withdrew consent: processing stopped (UU 27/2022).
    stopped = "stopped"


class Outcome(StrEnum):
    passed = "passed"
    failed = "failed"
    #: The data needed is missing or contradictory: a field visit settles it.
    unresolved = "unresolved"
    #: A person must decide (duplicate, objection, field evidence to approve).
    review = "review"
    #: Not checked: no consent for that source, or not applicable.
    skipped = "skipped"
    #: Informational; never changes the decision.
    info = "info"


@dataclass(frozen=True, slots=True)
class Datum:
    """One fact a rule used: which source said it and as of when."""

    name: str
    value: Any
    source: str
    as_of: dt.date | None


@dataclass(frozen=True, slots=True)
class RuleResult:
    rule: str  # stable code, e.g. "eligibility.desil"
    outcome: Outcome
    reason: str  # Bahasa Indonesia, one sentence
    data: tuple[Datum, ...] = ()
    member_nik: str | None = None


@dataclass(frozen=True, slots=True)
class ComponentBenefit:
    component: str  # agent_forms Component value
    member_nik: str
    yearly_amount: int  # rupiah, information only
    counted: bool  # False when beyond the maximum number of components


@dataclass(frozen=True, slots=True)
class FieldTask:
    """What the pendamping is asked to do on a field visit (``task:<case id>``)."""

    reasons: tuple[str, ...]  # Bahasa Indonesia, one line each
    capture: tuple[str, ...]  # document types to capture: "household", "consent", "field_visit", "evidence"


@dataclass(frozen=True, slots=True)
class Verdict:
    status: Status
    rule_set_version: str
    rules: tuple[RuleResult, ...]
    explanation: str  # Bahasa Indonesia, to be read out to the family
    components: tuple[ComponentBenefit, ...] = ()
    task: FieldTask | None = None
    #: When waiting on a source that is down, or on a document: the pipeline re-evaluates later.
    retry: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def yearly_benefit(self) -> int:
        return sum(c.yearly_amount for c in self.components if c.counted)

    def to_result(self) -> dict[str, Any]:
        """The JSON body of the result document (without ``_id``/``_rev``/``type``/ids, which the writer adds)."""
        raise NotImplementedError
