"""The consent gate: which registry questions the consents allow, person by person (UU 27/2022).

Each source is a purpose of its own (DESIGN.md "Consent"); a question is put to a source only when the person it is
about has consent in force for every purpose it needs (:data:`QUERY_SOURCES`: BPJS needs both BPJS Kesehatan and
BPJS Ketenagakerjaan, assets both ATR/BPN and Polri).

Whose consent covers whom, decided here:

- **The applicant's consent covers the household.** The consent the application references (``case.consent``)
  covers the data of every member of the household for the purposes it grants: DTSEN is kept per household, and a
  parent or guardian consents for a child. The household's DTSEN look-up by KK always rests on it. Two conditions,
  so that one family's consent never opens another family's data: the consent must be the applicant's own (its
  subject NIK is the applicant's; another person's consent named by the application counts as no consent, and the
  case waits for the applicant's, :func:`named_consent`), and the applicant must be listed in the household (an
  applicant the household does not list consents for themselves only; the members need consents of their own).
- **A member's own consent replaces it for that member.** A consent in ``member_consents`` whose subject is a member
  (their own, or a guardian's for a child) governs that member; the latest one captured wins. For the applicant,
  the latest of ``case.consent`` and their own later consents governs, and so governs the household.
- **A withdrawal must name the person as the case records them**: its name and birth date must match the household's
  (or the person's consent's) record of that NIK (the birth date exactly, the name as the registries compare names,
  :data:`WITHDRAWAL_NAME_MATCH`). Withdrawals are found by NIK in every desa database, so a mistyped NIK, or a
  withdrawal recorded in another desa to stop someone else's case, would otherwise stop a stranger's processing. One
  from another desa that does not match is not this person's and is ignored. One from the case's own desa that does
  not match is *held*: as a precaution nothing is asked about that person while it stands, but the case is not
  stopped; it goes to a supervisor (``QueryPlan.held_withdrawals``), and a fresh consent settles it as it would a
  withdrawal.
- **Withdrawals act on the person they name**, from the moment they were captured: a withdrawal captured before the
  consent in force (a fresh consent given later by or for that person) is superseded by it. A member's withdrawal
  is superseded only by a later consent whose subject is that member, never by the applicant consenting for the
  household again. A withdrawal by the applicant withdraws the household consent too, so members without a consent
  of their own lose those purposes with it.
- **The applicant withdrew everything**: the plan is stopped and nothing is asked, whether or not the household and
  the consent have synced (a withdrawal outranks waiting).
- **A member who withdrew everything** is not asked about at all (not even as "refused") and is not counted for any
  component; the plan lists them in ``withdrawn``. A member whose own consent excludes DTSEN is listed in
  ``dtsen_withheld``: the household is still looked up, but their DTSEN record is not used.
- **Nothing is planned** while the household or the consent has not synced: the verdict waits for them.
- **A restriction of processing** (``case.restricted``, recorded by an admin at the person's request) counts as a
  withdrawal of everything by that person, whatever consent they gave, for as long as it stands.

Which NIKs: identity and life status for every member of the household (and the applicant if the household does not
list them); the DTSEN household by the household's KK number; employment for every adult (18 or older on the
reference date); BPJS and assets for the head, the spouse(s) and the applicant, who is usually one of them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from agent_forms.models import Consent, ConsentSource, ConsentWithdrawal
from agent_forms.models.consent import WithdrawalScope
from agent_forms.models.household import Relationship
from agent_forms.names import names_match
from sync.verification.case import CaseFile, Doc, Query, QueryPlan
from sync.verification.people import is_adult
from sync.verification.ruleset import RuleSet

#: How alike (rapidfuzz token-sort ratio, 0-100) a withdrawal's name must be to the case's record of the person.
WITHDRAWAL_NAME_MATCH = 80.0

#: The purposes a question needs, every one of them.
QUERY_SOURCES: Mapping[Query, frozenset[ConsentSource]] = {
    Query.identity: frozenset({ConsentSource.POPULATION_REGISTRY}),
    Query.life_status: frozenset({ConsentSource.POPULATION_REGISTRY}),
    Query.dtsen_household: frozenset({ConsentSource.DTSEN}),
    Query.employment: frozenset({ConsentSource.BKN}),
    Query.bpjs: frozenset({ConsentSource.BPJS_KESEHATAN, ConsentSource.BPJS_KETENAGAKERJAAN}),
    Query.assets: frozenset({ConsentSource.ATR_BPN, ConsentSource.POLRI}),
}


@dataclass(frozen=True, slots=True)
class PersonConsent:
    """The purposes in force for one person, and where they come from."""

    nik: str
    granted: frozenset[ConsentSource]
    #: The person withdrew all processing after the consent in force.
    withdrawn_all: bool
    #: The consent in force is the person's own (or their guardian's), not the household's.
    own: bool
    consent_id: str | None
    #: Withdrawals in force naming this NIK that do not match the person: nothing is asked about them meanwhile.
    held: tuple[str, ...] = ()


def _captured(doc: Doc[Consent] | Doc[ConsentWithdrawal]) -> tuple[dt.datetime, str]:
    return doc.body.captured_at, doc.id


def recorded_identity(case: CaseFile, nik: str) -> tuple[str, dt.date] | None:
    """The name and birth date the case records for ``nik``: the household's, else the person's own consent's."""
    if case.household is not None:
        for member in case.household.body.members:
            if member.nik == nik:
                return member.name, member.birth_date
    for consent in (case.consent, *case.member_consents):
        if consent is not None and consent.body.subject_nik == nik:
            return consent.body.subject_name, consent.body.subject_birth_date
    return None


def withdrawal_matches(case: CaseFile, withdrawal: Doc[ConsentWithdrawal]) -> bool:
    """The withdrawal names the person the case records under its NIK (see the module); a person the case holds no
    record of cannot be compared, and their withdrawal is taken as it is."""
    recorded = recorded_identity(case, withdrawal.body.subject_nik)
    if recorded is None:
        return True
    name, birth_date = recorded
    return withdrawal.body.subject_birth_date == birth_date and names_match(
        withdrawal.body.subject_name, name, WITHDRAWAL_NAME_MATCH
    )


@dataclass(frozen=True, slots=True)
class _Withdrawn:
    granted: frozenset[ConsentSource]
    #: A matching withdrawal of everything is in force.
    withdrawn_all: bool
    #: Withdrawals in force that do not match the person (see the module).
    held: tuple[str, ...]


def _apply_withdrawals(
    case: CaseFile, nik: str, granted: frozenset[ConsentSource], since: dt.datetime | None
) -> _Withdrawn:
    """Remove what ``nik``'s withdrawals captured at or after ``since`` (None: any) take away."""
    withdrawn_all = False
    held: list[str] = []
    for w in sorted(case.withdrawals, key=_captured):
        if w.body.subject_nik != nik or (since is not None and w.body.captured_at < since):
            continue
        if not withdrawal_matches(case, w):
            if w.body.desa != case.application.body.desa:
                continue  # recorded elsewhere under this NIK, naming someone else: not this person's
            held.append(w.id)
            granted = frozenset()
        elif w.body.scope is WithdrawalScope.ALL:
            withdrawn_all = True
            granted = frozenset()
        else:
            granted = granted - frozenset(w.body.sources)
    return _Withdrawn(granted, withdrawn_all, tuple(held))


def _latest(consents: Iterable[Doc[Consent]]) -> Doc[Consent] | None:
    ordered = sorted(consents, key=_captured)
    return ordered[-1] if ordered else None


def _restricted(case: CaseFile, consent: PersonConsent) -> PersonConsent:
    if consent.nik in case.restricted:
        return PersonConsent(consent.nik, frozenset(), True, consent.own, consent.consent_id, consent.held)
    return consent


def applicant_consent(case: CaseFile) -> PersonConsent:
    """The household's consent: the applicant's latest consent, less the applicant's later withdrawals."""
    return _restricted(case, _applicant_consent(case))


def named_consent(case: CaseFile) -> Doc[Consent] | None:
    """The consent the application names, if it is the applicant's own; None while it has not synced, and when it
    is another person's (a mistake on the device, or an attempt to borrow a consent): that covers nobody here."""
    consent = case.consent
    if consent is None or consent.body.subject_nik != case.application.body.applicant_nik:
        return None
    return consent


def covers_household(case: CaseFile) -> bool:
    """The applicant's consent covers the household only when the household lists the applicant."""
    nik = case.application.body.applicant_nik
    return case.household is not None and any(member.nik == nik for member in case.household.body.members)


def _applicant_consent(case: CaseFile) -> PersonConsent:
    nik = case.application.body.applicant_nik
    own = [c for c in case.member_consents if c.body.subject_nik == nik]
    named = named_consent(case)
    latest = _latest([*([named] if named is not None else []), *own])
    if latest is None:
        w = _apply_withdrawals(case, nik, frozenset(), None)
        return PersonConsent(nik, w.granted, w.withdrawn_all, own=False, consent_id=None, held=w.held)
    w = _apply_withdrawals(case, nik, latest.body.granted_sources(), latest.body.captured_at)
    return PersonConsent(nik, w.granted, w.withdrawn_all, own=True, consent_id=latest.id, held=w.held)


def person_consent(case: CaseFile, nik: str, household: PersonConsent | None = None) -> PersonConsent:
    """The purposes in force for ``nik``: their own latest consent, or else the household's (see the module)."""
    return _restricted(case, _person_consent(case, nik, household))


def _person_consent(case: CaseFile, nik: str, household: PersonConsent | None) -> PersonConsent:
    if household is None:
        household = applicant_consent(case)
    if nik == household.nik:
        return household
    latest = _latest(c for c in case.member_consents if c.body.subject_nik == nik)
    if latest is None:
        covered = household.granted if covers_household(case) else frozenset()
        w = _apply_withdrawals(case, nik, covered, None)
        return PersonConsent(nik, w.granted, w.withdrawn_all, own=False, consent_id=household.consent_id, held=w.held)
    w = _apply_withdrawals(case, nik, latest.body.granted_sources(), latest.body.captured_at)
    return PersonConsent(nik, w.granted, w.withdrawn_all, own=True, consent_id=latest.id, held=w.held)


def plan_queries(case: CaseFile, rules: RuleSet) -> QueryPlan:
    """The registry questions the consents allow for ``case``, and those they do not (see the module docstring).

    ``rules`` is taken so that the plan and the decision always see the same rule set; the questions themselves do
    not depend on it today.
    """
    del rules  # the plan depends on consents and household composition only
    household_consent = applicant_consent(case)
    if household_consent.withdrawn_all:
        return QueryPlan(queries=frozenset(), stopped=True)
    if case.household is None or named_consent(case) is None:
        return QueryPlan(queries=frozenset())

    household = case.household.body
    applicant = case.application.body.applicant_nik
    reference = case.reference_date
    people = {m.nik: person_consent(case, m.nik, household_consent) for m in household.members}
    people.setdefault(applicant, household_consent)
    withdrawn = frozenset(nik for nik, c in people.items() if c.withdrawn_all)

    wanted: list[tuple[Query, str, PersonConsent]] = []

    def ask(query: Query, nik: str) -> None:
        if nik not in withdrawn:
            wanted.append((query, nik, people[nik]))

    member_niks = [m.nik for m in household.members]
    for nik in [*member_niks, *([] if applicant in member_niks else [applicant])]:
        ask(Query.identity, nik)
        ask(Query.life_status, nik)
    for member in household.members:
        if is_adult(member, reference):
            ask(Query.employment, member.nik)
    couple = [m.nik for m in household.members if m.relationship in (Relationship.HEAD, Relationship.SPOUSE)]
    for nik in dict.fromkeys([*couple, applicant]):
        ask(Query.bpjs, nik)
        ask(Query.assets, nik)

    queries: set[tuple[Query, str]] = set()
    refused: set[tuple[Query, str]] = set()
    for query, nik, consent in wanted:
        (queries if QUERY_SOURCES[query] <= consent.granted else refused).add((query, nik))
    dtsen_key = (Query.dtsen_household, household.kk_number)
    dtsen_allowed = covers_household(case) and QUERY_SOURCES[Query.dtsen_household] <= household_consent.granted
    (queries if dtsen_allowed else refused).add(dtsen_key)

    dtsen_withheld = (
        frozenset(nik for nik, c in people.items() if nik not in withdrawn and ConsentSource.DTSEN not in c.granted)
        if dtsen_key in queries
        else frozenset()
    )
    return QueryPlan(
        queries=frozenset(queries),
        refused=frozenset(refused),
        withdrawn=withdrawn,
        dtsen_withheld=dtsen_withheld,
        held_withdrawals=frozenset((nik, w) for nik, c in people.items() if nik not in withdrawn for w in c.held),
    )
