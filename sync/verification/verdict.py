"""What a verification ends with: every rule evaluated, its outcome and the data it rested on, the decision and its
explanation in Bahasa Indonesia. ``Verdict.to_result()`` is the body of the ``result:<application id>`` document."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any

import orjson


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

    def to_json(self) -> dict[str, Any]:
        return {"reasons": list(self.reasons), "capture": list(self.capture)}


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
        """The JSON body of the result document (without ``_id``/``_rev``/``type``/ids, which the writer adds).

        Only JSON types: dates as ISO strings, enums as their values, tuples as lists. Rules keep the order in which
        they were evaluated (the evaluation is deterministic); serialised with sorted keys (:meth:`canonical_json`)
        the same verdict always gives the same bytes.
        """
        return {
            "status": self.status.value,
            "decision": self.status.value if self.status in DECISIONS else None,
            "explanation": self.explanation,
            "rules": [_rule_json(r) for r in self.rules],
            "components": [
                {
                    "component": c.component,
                    "member_nik": c.member_nik,
                    "yearly_amount": c.yearly_amount,
                    "counted": c.counted,
                }
                for c in self.components
            ],
            "yearly_benefit": self.yearly_benefit,
            "rule_set_version": self.rule_set_version,
            "task": None if self.task is None else self.task.to_json(),
            "retry": self.retry,
            "notes": list(self.notes),
        }

    def canonical_json(self) -> bytes:
        """:meth:`to_result` as canonical JSON bytes (orjson, sorted keys)."""
        return orjson.dumps(self.to_result(), option=orjson.OPT_SORT_KEYS)

    def fingerprint(self) -> str:
        """SHA-256 (hex) of :meth:`canonical_json`: equal fingerprints, equal results (no rewrite needed)."""
        return hashlib.sha256(self.canonical_json()).hexdigest()


#: The statuses that are decisions (DESIGN.md); ``waiting`` and ``stopped`` are not.
DECISIONS = frozenset({Status.eligible, Status.not_eligible, Status.needs_field_verification, Status.needs_review})


def _rule_json(rule: RuleResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "rule": rule.rule,
        "outcome": rule.outcome.value,
        "reason": rule.reason,
        "data": [
            {
                "name": d.name,
                "value": _jsonable(d.value),
                "source": d.source,
                "as_of": None if d.as_of is None else d.as_of.isoformat(),
            }
            for d in rule.data
        ],
    }
    if rule.member_nik is not None:
        out["member_nik"] = rule.member_nik
    return out


def _jsonable(value: Any) -> Any:
    """A datum's value as plain JSON: enums by value, dates in ISO 8601, sequences as lists, sets sorted."""
    if isinstance(value, Enum):
        return _jsonable(value.value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.date):  # datetime included
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((_jsonable(v) for v in value), key=repr)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    raise TypeError(f"a rule datum must be JSON-like, not {type(value).__name__}")
