"""What a verification starts from: the case's documents (gathered from the desa database) and the registry
answers the consents allowed (fetched by the pipeline). Both are plain frozen values so a verdict is a pure
function of them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

from agent_forms.models import Application, Consent, ConsentWithdrawal, Evidence, FieldVisit, Household, Objection
from registries.models import (
    AssetsAnswer,
    BpjsAnswer,
    DtsenAnswer,
    EmploymentAnswer,
    IdentityVerification,
    PersonStatus,
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Doc(Generic[T]):
    """A synced document: its id and its validated body."""

    id: str
    body: T


@dataclass(frozen=True, slots=True)
class OtherClaim:
    """The same NIK found in another household or application of the kabupaten (from the case projection)."""

    nik: str
    application_id: str | None
    household_id: str
    desa: str  # dotted code


class ReviewSubject(StrEnum):
    evidence = "evidence"  # review:<evidence id>: approved | rejected
    case = "case"  # review:<application id>: eligible | not_eligible


@dataclass(frozen=True, slots=True)
class Review:
    """A supervisor's review, written by the server (``review:<evidence id>`` or ``review:<application id>``)."""

    subject: ReviewSubject
    decision: str  # evidence: approved | rejected; case: eligible | not_eligible
    reason: str
    reviewer: str
    reviewed_at: dt.datetime
    application_id: str
    evidence_id: str | None = None
    field_visit_id: str | None = None


@dataclass(frozen=True, slots=True)
class CaseFile:
    """One application and everything of the desa database that bears on it, current versions only (a document
    superseded by a correction is replaced by the correction).

    ``household`` / ``consent`` are None while they have not synced yet; ``waiting_since`` is when the pipeline
    first saw the application, so the gate can turn a long wait into a field-verification task.
    """

    application: Doc[Application]
    household: Doc[Household] | None
    consent: Doc[Consent] | None
    #: Consents of other members of the household (their own, or a guardian's for a child).
    member_consents: tuple[Doc[Consent], ...] = ()
    #: Withdrawals by any member of the household (matched by subject NIK), oldest first.
    withdrawals: tuple[Doc[ConsentWithdrawal], ...] = ()
    #: Field visits answering this case's task, with the evidence attached to them or to the application.
    field_visits: tuple[Doc[FieldVisit], ...] = ()
    evidence: tuple[Doc[Evidence], ...] = ()
    objections: tuple[Doc[Objection], ...] = ()
    #: Members' NIKs found elsewhere in the kabupaten (another household or another application).
    elsewhere: tuple[OtherClaim, ...] = ()
    waiting_since: dt.datetime | None = None
    #: NIKs whose processing is restricted at the person's request (UU 27/2022): treated as a full withdrawal.
    restricted: frozenset[str] = frozenset()
    #: Supervisors' reviews of this case's evidence and of the case itself (``review:`` documents).
    reviews: tuple[Doc[Review], ...] = ()

    @property
    def reference_date(self) -> dt.date:
        """The day ages and durations are computed on: the application's capture day, never the server's clock."""
        return self.application.body.captured_at.date()


class Query(StrEnum):
    """A question the pipeline may put to a source, one NIK (or KK) at a time."""

    identity = "identity"  # PopulationRegistry.verify
    life_status = "life_status"  # PopulationRegistry.status
    dtsen_household = "dtsen_household"  # Dtsen.household_by_kk (KK of the household)
    employment = "employment"  # MinistriesData.employment
    bpjs = "bpjs"  # MinistriesData.bpjs
    assets = "assets"  # MinistriesData.assets


@dataclass(frozen=True, slots=True)
class QueryPlan:
    """What the consents allow: ``queries`` to run (query, NIK or KK number), and what was not allowed, so the
    verdict can say which check was skipped and why."""

    queries: frozenset[tuple[Query, str]]
    refused: frozenset[tuple[Query, str]] = frozenset()
    #: Whole-case stop: the applicant withdrew all consent. No query is run.
    stopped: bool = False
    #: Members who withdrew all consent: not queried at all and not counted for any component.
    withdrawn: frozenset[str] = frozenset()
    #: Members whose own consent does not (or no longer) allow DTSEN: the household is still looked up by KK under
    #: the applicant's consent, but these members' DTSEN records are not used.
    dtsen_withheld: frozenset[str] = frozenset()
    #: (NIK, withdrawal id): withdrawals in force that do not match the person the case records under that NIK.
    #: Nothing is asked about the person meanwhile, and a supervisor looks at the case.
    held_withdrawals: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True, slots=True)
class RegistryFacts:
    """The answers to a :class:`QueryPlan`, keyed by NIK (KK number for DTSEN). A source that could not be reached
    is listed in ``unavailable`` and its answers are missing; the verdict then waits for it."""

    identity: Mapping[str, IdentityVerification] = field(default_factory=dict)
    life_status: Mapping[str, PersonStatus] = field(default_factory=dict)
    dtsen: Mapping[str, DtsenAnswer] = field(default_factory=dict)
    employment: Mapping[str, EmploymentAnswer] = field(default_factory=dict)
    bpjs: Mapping[str, BpjsAnswer] = field(default_factory=dict)
    assets: Mapping[str, AssetsAnswer] = field(default_factory=dict)
    unavailable: frozenset[Query] = frozenset()
