"""The consent gate: which registry questions the consents allow, person by person (UU 27/2022).

Each source is a purpose of its own (DESIGN.md "Consent"); a question is put to a source only when the person it is
about has consent in force for every purpose it needs (:data:`QUERY_SOURCES`: BPJS needs both BPJS Kesehatan and
BPJS Ketenagakerjaan, assets both ATR/BPN and Polri).

Whose consent covers whom, decided here:

- **The applicant's consent covers the household.** The consent the application references (``case.consent``, the
  applicant's) covers the data of every member of the household for the purposes it grants: DTSEN is kept per
  household, and a parent or guardian consents for a child. The household's DTSEN look-up by KK always rests on it.
- **A member's own consent replaces it for that member.** A consent in ``member_consents`` whose subject is a member
  (their own, or a guardian's for a child) governs that member; the latest one captured wins. For the applicant,
  the latest of ``case.consent`` and their own later consents governs, and so governs the household.
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
from sync.verification.case import CaseFile, Doc, Query, QueryPlan
from sync.verification.people import is_adult
from sync.verification.ruleset import RuleSet

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


def _captured(doc: Doc[Consent] | Doc[ConsentWithdrawal]) -> tuple[dt.datetime, str]:
    return doc.body.captured_at, doc.id


def _apply_withdrawals(
    nik: str,
    granted: frozenset[ConsentSource],
    since: dt.datetime | None,
    withdrawals: Iterable[Doc[ConsentWithdrawal]],
) -> tuple[frozenset[ConsentSource], bool]:
    """Remove what ``nik``'s withdrawals captured at or after ``since`` (None: any) take away."""
    withdrawn_all = False
    for w in sorted(withdrawals, key=_captured):
        if w.body.subject_nik != nik or (since is not None and w.body.captured_at < since):
            continue
        if w.body.scope is WithdrawalScope.ALL:
            withdrawn_all = True
            granted = frozenset()
        else:
            granted = granted - frozenset(w.body.sources)
    return granted, withdrawn_all


def _latest(consents: Iterable[Doc[Consent]]) -> Doc[Consent] | None:
    ordered = sorted(consents, key=_captured)
    return ordered[-1] if ordered else None


def _restricted(case: CaseFile, consent: PersonConsent) -> PersonConsent:
    if consent.nik in case.restricted:
        return PersonConsent(consent.nik, frozenset(), True, consent.own, consent.consent_id)
    return consent


def applicant_consent(case: CaseFile) -> PersonConsent:
    """The household's consent: the applicant's latest consent, less the applicant's later withdrawals."""
    return _restricted(case, _applicant_consent(case))


def _applicant_consent(case: CaseFile) -> PersonConsent:
    nik = case.application.body.applicant_nik
    own = [c for c in case.member_consents if c.body.subject_nik == nik]
    latest = _latest([*([case.consent] if case.consent is not None else []), *own])
    if latest is None:
        granted, withdrawn_all = _apply_withdrawals(nik, frozenset(), None, case.withdrawals)
        return PersonConsent(nik, granted, withdrawn_all, own=False, consent_id=None)
    granted, withdrawn_all = _apply_withdrawals(
        nik, latest.body.granted_sources(), latest.body.captured_at, case.withdrawals
    )
    return PersonConsent(nik, granted, withdrawn_all, own=True, consent_id=latest.id)


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
        granted, withdrawn_all = _apply_withdrawals(nik, household.granted, None, case.withdrawals)
        return PersonConsent(nik, granted, withdrawn_all, own=False, consent_id=household.consent_id)
    granted, withdrawn_all = _apply_withdrawals(
        nik, latest.body.granted_sources(), latest.body.captured_at, case.withdrawals
    )
    return PersonConsent(nik, granted, withdrawn_all, own=True, consent_id=latest.id)


def plan_queries(case: CaseFile, rules: RuleSet) -> QueryPlan:
    """The registry questions the consents allow for ``case``, and those they do not (see the module docstring).

    ``rules`` is taken so that the plan and the decision always see the same rule set; the questions themselves do
    not depend on it today.
    """
    del rules  # the plan depends on consents and household composition only
    household_consent = applicant_consent(case)
    if household_consent.withdrawn_all:
        return QueryPlan(queries=frozenset(), stopped=True)
    if case.household is None or case.consent is None:
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
    (queries if QUERY_SOURCES[Query.dtsen_household] <= household_consent.granted else refused).add(dtsen_key)

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
    )
