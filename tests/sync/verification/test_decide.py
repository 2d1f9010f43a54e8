"""The decision, rule by rule and status by status: one table of cases, each changing one thing of the example
family, with the checks every verdict must pass (explanation read out without names or NIKs, task when a visit is
needed, same inputs same bytes)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from agent_forms.models import ConsentSource
from registries.models import (
    DtsenAnswer,
    Electricity,
    EmploymentKind,
    EmploymentRecord,
    LandParcel,
    LifeStatus,
    Match,
    Vehicle,
)
from sync.verification.case import CaseFile, Query, QueryPlan, RegistryFacts
from sync.verification.decide import EMPLOYMENT_WORDS, SOURCE_WORDS, evaluate, rupiah
from sync.verification.gate import plan_queries
from sync.verification.verdict import Outcome, Status, Verdict
from tests.sync.verification.casekit import (
    APPLICANT,
    AS_OF,
    CHILD,
    GUARDIAN,
    HEAD,
    KK,
    NAMES,
    PUPIL,
    SPOUSE,
    agreeing_facts,
    application_doc,
    application_evidence,
    application_evidence_review,
    case_file,
    consent_doc,
    elsewhere,
    evidence_doc,
    field_visit_doc,
    household_doc,
    make_nik,
    member,
    objection_doc,
    patch,
    patch_dtsen_member,
    review_doc,
    rules,
    withdrawal_doc,
)

S = ConsentSource
Facts = Callable[[RegistryFacts], RegistryFacts]

GRANDMA = make_nik(dt.date(1962, 3, 1), female=True, serial="0007")
BABY = make_nik(dt.date(2024, 1, 5), serial="0008")
TODDLER = make_nik(dt.date(2022, 6, 1), female=True, serial="0009")
SD_PUPIL = make_nik(dt.date(2016, 8, 1), serial="0010")
OUTSIDER = make_nik(dt.date(1990, 1, 1), female=True, serial="0011")


def same(facts: RegistryFacts) -> RegistryFacts:
    return facts


@dataclass
class Case:
    id: str
    status: Status
    expect: list[tuple[str, Outcome]] = field(default_factory=list)
    case: dict[str, Any] = field(default_factory=dict)
    facts: Facts = same
    rules: dict[str, Any] = field(default_factory=dict)
    desil: int = 3
    absent: list[tuple[str, Outcome]] = field(default_factory=list)


def run(c: Case) -> tuple[CaseFile, QueryPlan, RegistryFacts, Verdict]:
    case = case_file(**c.case)
    rule_set = rules(**c.rules)
    plan = plan_queries(case, rule_set)
    facts = c.facts(agreeing_facts(case, plan, desil=c.desil))
    return case, plan, facts, evaluate(case, plan, facts, rule_set)


def employment(nik: str, kind: EmploymentKind, *, active: bool = True, retired: bool = False) -> Facts:
    record = EmploymentRecord(
        kind=kind,
        employer="Instansi",
        active=active,
        retired=retired,
        since=dt.date(2010, 1, 1),
        source="BKN (SIASN)",
        as_of=AS_OF,
    )
    return lambda f: patch(f, "employment", nik, records=[record])


def unavailable(*queries: Query) -> Facts:
    def change(f: RegistryFacts) -> RegistryFacts:
        drop = {
            Query.identity: "identity",
            Query.life_status: "life_status",
            Query.dtsen_household: "dtsen",
            Query.employment: "employment",
            Query.bpjs: "bpjs",
            Query.assets: "assets",
        }
        changes: dict[str, Any] = {drop[q]: {} for q in queries}
        return dataclasses.replace(f, unavailable=frozenset(queries), **changes)

    return change


def both(*changes: Facts) -> Facts:
    def change(f: RegistryFacts) -> RegistryFacts:
        for c in changes:
            f = c(f)
        return f

    return change


def dtsen_households(count: int) -> Facts:
    def change(f: RegistryFacts) -> RegistryFacts:
        answer = f.dtsen[KK]
        if count == 0:
            return patch(f, "dtsen", KK, households=[])
        first = answer.households[0]
        extra = [first.model_copy(update={"dtsen_id": f"DTSEN-{i:04d}"}) for i in range(2, count + 1)]
        return dataclasses.replace(
            f, dtsen={KK: DtsenAnswer(households=[first, *extra], source=answer.source, as_of=answer.as_of)}
        )

    return change


def assets(nik: str, **changes: Any) -> Facts:
    return lambda f: patch(f, "assets", nik, **changes)


CAR = Vehicle(kind="mobil", year=2019, source="Korlantas Polri (ERI)", as_of=AS_OF)
MOTORBIKE = Vehicle(kind="sepeda_motor", year=2019, source="Korlantas Polri (ERI)", as_of=AS_OF)


def power(va: int, subsidised: bool) -> Electricity:
    return Electricity(va=va, subsidised=subsidised, source="PT PLN (Persero)", as_of=AS_OF)


def land(kind: str, area: int) -> LandParcel:
    return LandParcel(kind=kind, area_m2=area, source="Kementerian ATR/BPN", as_of=AS_OF)


def claims(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"application": application_doc(list(pairs))}


def family(*extra: dict[str, Any], claimed: list[tuple[str, str]]) -> dict[str, Any]:
    return {"household": household_doc(extra=extra), "application": application_doc(claimed)}


GRANDMA_MEMBER = member(GRANDMA, "1962-03-01", sex="female", relationship="parent", occupation="not_working")
#: 25 on the reference day, recorded (consistently with an SMA claim) as still at SMA.
ADULT_STUDENT = member(
    make_nik(dt.date(2000, 3, 1), serial="0012"), "2000-03-01", school_level="sma", school_status="enrolled"
)
OUTSIDE_APPLICATION = application_doc(applicant_nik=OUTSIDER)


CASES = [
    # --- eligible and the gather step ---
    Case(
        "eligible",
        Status.eligible,
        [
            ("gather.application", Outcome.passed),
            ("eligibility.desil", Outcome.passed),
            ("eligibility.components", Outcome.passed),
            ("eligibility.exclusion", Outcome.passed),
        ],
    ),
    Case("household missing", Status.waiting, [("gather.household", Outcome.unresolved)], {"household": None}),
    Case("consent missing", Status.waiting, [("gather.consent", Outcome.unresolved)], {"consent": None}),
    Case(
        "both missing",
        Status.waiting,
        [("gather.household", Outcome.unresolved), ("gather.consent", Outcome.unresolved)],
        {"household": None, "consent": None},
    ),
    Case(
        "stopped",
        Status.stopped,
        [("consent.applicant_withdrawn", Outcome.info)],
        {"withdrawals": (withdrawal_doc(APPLICANT),)},
    ),
    # --- identity ---
    Case(
        "nik not found",
        Status.needs_field_verification,
        [("identity.registry", Outcome.unresolved)],
        facts=lambda f: patch(f, "identity", HEAD, nik_found=False, name=None, birth_date=None, kk_number=None),
    ),
    Case(
        "name no match",
        Status.needs_field_verification,
        [("identity.registry", Outcome.unresolved)],
        facts=lambda f: patch(f, "identity", CHILD, name=Match.no_match),
    ),
    Case(
        "birth date no match is information",
        Status.eligible,
        [("identity.birth_date", Outcome.info)],
        facts=lambda f: patch(f, "identity", SPOUSE, birth_date=Match.no_match),
        absent=[("identity.registry", Outcome.unresolved)],
    ),
    Case(
        "kk no match",
        Status.needs_field_verification,
        [("identity.registry", Outcome.unresolved)],
        facts=lambda f: patch(f, "identity", PUPIL, kk_number=Match.no_match),
    ),
    Case(
        "claimed child deceased is not counted",
        Status.eligible,
        [("identity.life_status", Outcome.info), ("eligibility.component", Outcome.failed)],
        facts=lambda f: patch(f, "life_status", CHILD, status=LifeStatus.deceased, since=dt.date(2025, 8, 1)),
    ),
    Case(
        "applicant deceased",
        Status.needs_review,
        [("identity.applicant_deceased", Outcome.review)],
        facts=lambda f: patch(f, "life_status", APPLICANT, status=LifeStatus.deceased),
    ),
    Case(
        "head moved away",
        Status.eligible,
        [("identity.life_status", Outcome.info)],
        facts=lambda f: patch(f, "life_status", HEAD, status=LifeStatus.moved),
    ),
    Case(
        "life status not found",
        Status.needs_field_verification,
        [("identity.life_status", Outcome.unresolved)],
        facts=lambda f: patch(f, "life_status", PUPIL, status=LifeStatus.not_found),
    ),
    Case(
        "same nik elsewhere",
        Status.needs_review,
        [("identity.duplicate", Outcome.review)],
        {"elsewhere": (elsewhere(HEAD),)},
    ),
    Case(
        "same nik in another application",
        Status.needs_review,
        [("identity.duplicate", Outcome.review)],
        {"elsewhere": (elsewhere(CHILD, application_id="application:other"),)},
    ),
    Case(
        "applicant outside the household",
        Status.needs_field_verification,
        # Their consent covers themselves, not a household that does not list them: the household is not looked up.
        [("identity.applicant_member", Outcome.unresolved), ("consent.household", Outcome.unresolved)],
        {"application": OUTSIDE_APPLICATION, "consent": consent_doc(OUTSIDER, born="1990-01-01")},
    ),
    Case(
        "nik soft check is information",
        Status.eligible,
        [("identity.nik_soft", Outcome.info)],
        {
            "household": household_doc(
                members=[
                    {**m, "birth_date": "1984-02-04"} if m["nik"] == SPOUSE else m
                    for m in household_doc().body.model_dump(mode="json")["members"]
                ]
            )
        },
    ),
    # --- DTSEN ---
    Case(
        "not in dtsen",
        Status.needs_field_verification,
        [("eligibility.dtsen", Outcome.unresolved)],
        facts=dtsen_households(0),
        absent=[("eligibility.desil", Outcome.failed)],
    ),
    Case("desil above the limit", Status.not_eligible, [("eligibility.desil", Outcome.failed)], desil=5),
    Case("desil at the limit", Status.eligible, [("eligibility.desil", Outcome.passed)], desil=4),
    Case(
        "desil above an overridden limit",
        Status.not_eligible,
        [("eligibility.desil", Outcome.failed)],
        rules={"max_desil": 3},
        desil=4,
    ),
    Case(
        "kk on two dtsen households",
        Status.needs_field_verification,
        [("eligibility.dtsen", Outcome.unresolved)],
        facts=dtsen_households(2),
    ),
    # --- components ---
    # A claim the household's own data contradict is unresolved, never failed: one of the two documents is wrong
    # and only a visit can tell which (it used to fail, and refuse a family whose only claims were of this kind).
    Case(
        "a claim for someone outside the household needs a field visit",
        Status.needs_field_verification,
        [("eligibility.component", Outcome.unresolved), ("eligibility.components", Outcome.passed)],
        claims(("pregnant_postpartum", SPOUSE), ("elderly", OUTSIDER)),
        absent=[("eligibility.component", Outcome.failed)],
    ),
    Case(
        "dtsen says not pregnant",
        Status.needs_field_verification,
        [("eligibility.component", Outcome.unresolved)],
        facts=lambda f: patch_dtsen_member(f, SPOUSE, pregnant=False),
    ),
    Case(
        "dtsen says disability is mild",
        Status.needs_field_verification,
        [("eligibility.component", Outcome.unresolved)],
        facts=lambda f: patch_dtsen_member(f, PUPIL, disability="ringan"),
    ),
    Case(
        "dtsen says the pupil is not at school",
        Status.needs_field_verification,
        [("eligibility.component", Outcome.unresolved)],
        claims(("smp", PUPIL)),
        facts=lambda f: patch_dtsen_member(f, PUPIL, school_level=None),
    ),
    Case(
        "dtsen says twelve years of schooling",
        Status.needs_field_verification,
        [("eligibility.component", Outcome.unresolved)],
        claims(("smp", PUPIL)),
        facts=lambda f: patch_dtsen_member(f, PUPIL, years_of_schooling=12),
    ),
    Case(
        "pupil at school qualifies",
        Status.eligible,
        [("eligibility.component", Outcome.passed)],
        claims(("smp", PUPIL)),
    ),
    Case(
        "the only claim for someone outside the household is not a refusal",
        Status.needs_field_verification,
        [("eligibility.component", Outcome.unresolved), ("eligibility.components", Outcome.info)],
        claims(("elderly", OUTSIDER)),
        absent=[("eligibility.components", Outcome.failed)],
    ),
    Case(
        "a school level that disagrees with the claim needs a field visit",
        Status.needs_field_verification,
        [("eligibility.component", Outcome.unresolved), ("eligibility.components", Outcome.info)],
        claims(("sma", PUPIL)),
        absent=[("eligibility.component", Outcome.failed), ("eligibility.components", Outcome.failed)],
    ),
    Case(
        "a pregnancy the household does not record needs a field visit",
        Status.needs_field_verification,
        [("eligibility.component", Outcome.unresolved)],
        claims(("pregnant_postpartum", HEAD)),
        absent=[("eligibility.components", Outcome.failed)],
    ),
    Case(
        "a severe disability the household does not record needs a field visit",
        Status.needs_field_verification,
        [("eligibility.component", Outcome.unresolved)],
        claims(("severe_disability", CHILD)),
        absent=[("eligibility.components", Outcome.failed)],
    ),
    # The data agree with each other and the rule is not met: the claim fails, and with no claim left the family.
    Case(
        "a school child aged 25 whose data agree fails normally",
        Status.not_eligible,
        [("eligibility.component", Outcome.failed), ("eligibility.components", Outcome.failed)],
        family(ADULT_STUDENT, claimed=[("sma", ADULT_STUDENT["nik"])]),
        absent=[("eligibility.component", Outcome.unresolved)],
    ),
    Case(
        "a school child aged 25 fails on age even when the level disagrees",
        Status.not_eligible,
        [("eligibility.component", Outcome.failed)],
        family(ADULT_STUDENT, claimed=[("smp", ADULT_STUDENT["nik"])]),
        absent=[("eligibility.component", Outcome.unresolved)],
    ),
    Case(
        "no component qualifies",
        Status.not_eligible,
        [("eligibility.components", Outcome.failed)],
        claims(("elderly", HEAD), ("early_childhood", PUPIL)),
    ),
    Case(
        "an unresolved claim is not a refusal",
        Status.needs_field_verification,
        [("eligibility.component", Outcome.unresolved), ("eligibility.components", Outcome.info)],
        claims(("severe_disability", PUPIL)),
        facts=lambda f: patch_dtsen_member(f, PUPIL, disability="tidak"),
        absent=[("eligibility.components", Outcome.failed)],
    ),
    Case(
        "elderly grandmother",
        Status.eligible,
        [("eligibility.component", Outcome.passed)],
        family(GRANDMA_MEMBER, claimed=[("elderly", GRANDMA)]),
    ),
    Case(
        "elderly age overridden",
        Status.not_eligible,
        [("eligibility.component", Outcome.failed)],
        family(GRANDMA_MEMBER, claimed=[("elderly", GRANDMA)]),
        rules={"elderly_age": 65},
    ),
    Case(
        "early childhood capped at two",
        Status.eligible,
        [("eligibility.component_limit", Outcome.info)],
        family(
            member(BABY, "2024-01-05"),
            member(TODDLER, "2022-06-01", sex="female"),
            claimed=[("early_childhood", CHILD), ("early_childhood", BABY), ("early_childhood", TODDLER)],
        ),
    ),
    Case(
        "one component per person",
        Status.eligible,
        [("eligibility.component_limit", Outcome.info)],
        claims(("smp", PUPIL), ("severe_disability", PUPIL)),
    ),
    # --- exclusions ---
    Case(
        "retired asn excludes",
        Status.not_eligible,
        [("eligibility.exclusion", Outcome.failed)],
        facts=employment(HEAD, EmploymentKind.asn, active=False, retired=True),
    ),
    Case(
        "retired village official does not exclude",
        Status.eligible,
        [("eligibility.exclusion", Outcome.passed)],
        facts=employment(HEAD, EmploymentKind.village_official, active=False, retired=True),
        absent=[("eligibility.exclusion", Outcome.failed)],
    ),
    Case(
        "a past asn post that is neither active nor retired",
        Status.eligible,
        [("eligibility.exclusion", Outcome.passed)],
        facts=employment(SPOUSE, EmploymentKind.asn, active=False, retired=False),
    ),
    # --- assets and BPJS ---
    Case(
        "a car contradicts a low desil",
        Status.needs_field_verification,
        [("eligibility.assets", Outcome.unresolved)],
        facts=assets(HEAD, vehicles=[CAR, MOTORBIKE]),
    ),
    Case(
        "a motorbike does not",
        Status.eligible,
        [("eligibility.assets", Outcome.passed)],
        facts=assets(HEAD, vehicles=[MOTORBIKE]),
    ),
    Case(
        "non-subsidised 2200 VA contradicts",
        Status.needs_field_verification,
        [("eligibility.assets", Outcome.unresolved)],
        facts=assets(SPOUSE, electricity=[power(2200, False)]),
    ),
    Case(
        "subsidised 900 VA does not",
        Status.eligible,
        [("eligibility.assets", Outcome.passed)],
        facts=assets(SPOUSE, electricity=[power(900, True), power(1300, False)]),
    ),
    Case(
        "half a hectare of farm land contradicts",
        Status.needs_field_verification,
        [("eligibility.assets", Outcome.unresolved)],
        facts=assets(HEAD, land=[land("pertanian", 3000), land("pertanian", 2000)]),
    ),
    Case(
        "a house yard does not",
        Status.eligible,
        [("eligibility.assets", Outcome.passed)],
        facts=assets(HEAD, land=[land("pekarangan", 6000)]),
    ),
    Case(
        "assets are not compared when the desil fails",
        Status.not_eligible,
        [("eligibility.assets", Outcome.info)],
        facts=assets(HEAD, vehicles=[CAR]),
        desil=7,
    ),
    Case("bpjs is information", Status.eligible, [("info.bpjs", Outcome.info)]),
    # --- consent ---
    Case(
        "another person's consent named by the application is no consent: the case waits for the applicant's",
        Status.waiting,
        [("gather.consent", Outcome.unresolved)],
        {"consent": consent_doc(HEAD, born="1980-05-17")},
        absent=[("identity.registry", Outcome.passed), ("eligibility.dtsen", Outcome.passed)],
    ),
    Case(
        "a withdrawal naming someone else under a member's NIK goes to a supervisor; the member is not asked about",
        Status.needs_review,
        [("consent.withdrawal_unmatched", Outcome.review), ("eligibility.component", Outcome.unresolved)],
        {"withdrawals": (withdrawal_doc(CHILD, born="2019-07-23", guardian=GUARDIAN, name="Rina Marlina"),)},
        absent=[("consent.member_withdrawn", Outcome.info)],
    ),
    Case(
        "a withdrawal of everything under the applicant's NIK with another birth date does not stop the case",
        Status.needs_review,
        [("consent.withdrawal_unmatched", Outcome.review), ("consent.household", Outcome.unresolved)],
        {"withdrawals": (withdrawal_doc(born="1990-03-04"),)},
        absent=[("consent.applicant_withdrawn", Outcome.info)],
    ),
    Case(
        "a withdrawal recorded in another desa under the applicant's NIK naming someone else is not theirs",
        Status.eligible,
        [("gather.consent", Outcome.passed)],
        {"withdrawals": (withdrawal_doc(born="1990-03-04", name="Rina Marlina", desa="35.10.15.2004"),)},
        absent=[("consent.withdrawal_unmatched", Outcome.review), ("consent.applicant_withdrawn", Outcome.info)],
    ),
    Case(
        "a withdrawal spelling the name a little differently is the person's",
        Status.stopped,
        [("consent.applicant_withdrawn", Outcome.info)],
        {"withdrawals": (withdrawal_doc(name="AMINAH, SITI"),)},
    ),
    Case(
        "dtsen refused for the household",
        Status.needs_field_verification,
        [("consent.household", Outcome.unresolved), ("eligibility.dtsen", Outcome.skipped)],
        {"consent": consent_doc(refused=[S.DTSEN])},
    ),
    Case(
        "population registry refused for the household",
        Status.needs_field_verification,
        [("consent.household", Outcome.unresolved), ("identity.registry", Outcome.skipped)],
        {"consent": consent_doc(refused=[S.POPULATION_REGISTRY])},
    ),
    Case(
        "bkn refused: exclusions skipped",
        Status.eligible,
        [("eligibility.exclusion", Outcome.skipped), ("info.bpjs", Outcome.info)],
        {"consent": consent_doc(refused=[S.BKN])},
    ),
    Case(
        "only the two purposes of the example consent",
        Status.eligible,
        [("eligibility.exclusion", Outcome.skipped), ("eligibility.assets", Outcome.skipped)],
        {"consent": consent_doc(granted=[S.POPULATION_REGISTRY, S.DTSEN], refused=[S.BPJS_KESEHATAN])},
    ),
    Case(
        "a child withdrawn by the guardian is not counted",
        Status.eligible,
        [("consent.member_withdrawn", Outcome.info), ("eligibility.component", Outcome.skipped)],
        {"withdrawals": (withdrawal_doc(CHILD, born="2019-07-23", guardian=GUARDIAN),)},
    ),
    Case(
        "a claimed child whose identity may not be checked",
        Status.needs_field_verification,
        [("eligibility.component", Outcome.unresolved), ("identity.registry", Outcome.skipped)],
        {
            "member_consents": (
                consent_doc(CHILD, key="c", born="2019-07-23", guardian=GUARDIAN, refused=[S.POPULATION_REGISTRY]),
            )
        },
    ),
    Case(
        "a member's dtsen record withheld is not held against the claim",
        Status.eligible,
        [("eligibility.component", Outcome.passed)],
        {"member_consents": (consent_doc(PUPIL, key="p", born="2012-01-09", guardian=GUARDIAN, refused=[S.DTSEN]),)},
        facts=lambda f: patch_dtsen_member(f, PUPIL, disability="tidak"),
    ),
    # --- humans ---
    Case("objection", Status.needs_review, [("review.objection", Outcome.review)], {"objections": (objection_doc(),)}),
    Case(
        "field visit answered",
        Status.needs_review,
        [("review.field_visit", Outcome.review)],
        {"field_visits": (field_visit_doc(),), "evidence": (evidence_doc(),)},
    ),
    Case(
        "evidence with the application only",
        Status.eligible,
        [("review.evidence", Outcome.info)],
        {"evidence": (evidence_doc(field_visit_id=None),)},
    ),
    # --- supervisors' reviews ---
    Case(
        "approved evidence of a visit recommending eligible settles unresolved data",
        Status.eligible,
        [("eligibility.dtsen", Outcome.unresolved), ("review.field_visit_approved", Outcome.passed)],
        {"field_visits": (field_visit_doc(),), "evidence": (evidence_doc(),), "reviews": (review_doc("approved"),)},
        facts=dtsen_households(0),
    ),
    Case(
        "approved visit recommending eligible against a failed rule goes back to the supervisor",
        Status.needs_review,
        [("eligibility.desil", Outcome.failed), ("review.field_conflict", Outcome.review)],
        {"field_visits": (field_visit_doc(),), "evidence": (evidence_doc(),), "reviews": (review_doc("approved"),)},
        desil=7,
    ),
    Case(
        "approved visit recommending not eligible",
        Status.not_eligible,
        [("review.field_visit_approved", Outcome.failed)],
        {
            "field_visits": (field_visit_doc(recommendation="not_eligible"),),
            "evidence": (evidence_doc(),),
            "reviews": (review_doc("approved"),),
        },
    ),
    Case(
        "approved visit asking for another visit",
        Status.needs_field_verification,
        [("review.field_visit_approved", Outcome.unresolved)],
        {
            "field_visits": (field_visit_doc(recommendation="revisit"),),
            "evidence": (evidence_doc(),),
            "reviews": (review_doc("approved"),),
        },
    ),
    Case(
        "approved visit leaving the decision to the supervisor",
        Status.needs_review,
        [("review.field_visit_approved", Outcome.review)],
        {
            "field_visits": (field_visit_doc(recommendation="needs_review"),),
            "evidence": (evidence_doc(),),
            "reviews": (review_doc("approved"),),
        },
    ),
    Case(
        "rejected evidence asks for a new visit",
        Status.needs_field_verification,
        [("review.evidence_rejected", Outcome.unresolved)],
        {"field_visits": (field_visit_doc(),), "evidence": (evidence_doc(),), "reviews": (review_doc("rejected"),)},
    ),
    Case(
        "the supervisor decides an objection",
        Status.not_eligible,
        [("review.objection", Outcome.info), ("review.supervisor", Outcome.failed)],
        {"objections": (objection_doc(),), "reviews": (review_doc("not_eligible", evidence_id=None),)},
    ),
    Case(
        "an objection after the supervisor's decision goes back to the supervisor",
        Status.needs_review,
        [("review.objection", Outcome.review)],
        {"objections": (objection_doc(),), "reviews": (review_doc("eligible", evidence_id=None, day=20),)},
        absent=[("review.supervisor", Outcome.passed)],
    ),
    Case(
        "the supervisor's decision stands while a source is down",
        Status.eligible,
        [("review.supervisor", Outcome.passed)],
        {"objections": (objection_doc(),), "reviews": (review_doc("eligible", evidence_id=None),)},
        facts=unavailable(Query.dtsen_household),
    ),
    Case(
        "a death after the supervisor's decision goes back to the supervisor",
        Status.needs_review,
        [("review.objection", Outcome.info), ("review.facts_changed", Outcome.review)],
        {"objections": (objection_doc(),), "reviews": (review_doc("eligible", evidence_id=None),)},
        facts=lambda f: patch(f, "life_status", HEAD, status=LifeStatus.deceased, since=dt.date(2025, 9, 30)),
        absent=[("review.supervisor", Outcome.passed)],
    ),
    # --- evidence attached to the application (no field visit) ---
    Case(
        "application evidence waits for the supervisor when the case needs a visit",
        Status.needs_review,
        [("eligibility.dtsen", Outcome.unresolved), ("review.evidence", Outcome.review)],
        {"evidence": (application_evidence(),)},
        facts=dtsen_households(0),
    ),
    Case(
        "approved application evidence settles unresolved data",
        Status.eligible,
        [("eligibility.dtsen", Outcome.unresolved), ("review.evidence_approved", Outcome.passed)],
        {"evidence": (application_evidence(),), "reviews": (application_evidence_review("approved"),)},
        facts=dtsen_households(0),
    ),
    Case(
        "approved application evidence settles a contradicted claim, which then counts",
        Status.eligible,
        [
            ("eligibility.component", Outcome.unresolved),
            ("review.evidence_approved", Outcome.passed),
            ("eligibility.components_settled", Outcome.passed),
        ],
        {
            **claims(("sma", PUPIL)),
            "evidence": (application_evidence(),),
            "reviews": (application_evidence_review("approved"),),
        },
    ),
    Case(
        "rejected application evidence asks for a field visit",
        Status.needs_field_verification,
        [("review.evidence_rejected", Outcome.unresolved)],
        {"evidence": (application_evidence(),), "reviews": (application_evidence_review("rejected"),)},
    ),
    # --- restriction of processing ---
    Case(
        "restricted applicant",
        Status.stopped,
        [("consent.applicant_restricted", Outcome.info)],
        {"restricted": frozenset({APPLICANT})},
    ),
    Case(
        "restricted member",
        Status.eligible,
        [("consent.member_restricted", Outcome.info)],
        {"restricted": frozenset({PUPIL})},
    ),
    # --- precedence ---
    Case(
        "stopped beats waiting",
        Status.stopped,
        [],
        {"household": None, "withdrawals": (withdrawal_doc(APPLICANT),)},
    ),
    Case(
        "waiting beats review",
        Status.waiting,
        [("source.dtsen_household", Outcome.skipped), ("review.objection", Outcome.review)],
        {"objections": (objection_doc(),)},
        facts=unavailable(Query.dtsen_household),
    ),
    Case(
        "review beats field verification",
        Status.needs_review,
        [("review.field_visit", Outcome.review), ("eligibility.dtsen", Outcome.unresolved)],
        {"field_visits": (field_visit_doc(),)},
        facts=dtsen_households(0),
    ),
    Case(
        "field verification beats refusal",
        Status.needs_field_verification,
        [("identity.registry", Outcome.unresolved), ("eligibility.desil", Outcome.failed)],
        facts=lambda f: patch(f, "identity", HEAD, name=Match.no_match),
        desil=6,
    ),
    Case(
        "refusal beats eligible",
        Status.not_eligible,
        [("eligibility.exclusion", Outcome.failed), ("eligibility.components", Outcome.passed)],
        facts=employment(HEAD, EmploymentKind.polri),
    ),
    Case(
        "an answer the plan needed is missing",
        Status.waiting,
        [("source.employment", Outcome.skipped)],
        facts=lambda f: dataclasses.replace(f, employment={}),
    ),
]


def outcomes(v: Verdict) -> set[tuple[str, Outcome]]:
    return {(r.rule, r.outcome) for r in v.rules}


SENTENCE_END = re.compile(r"[.!?](?:\s|$)")


def check_common(case: CaseFile, verdict: Verdict) -> None:
    """What every verdict owes the family and the pipeline."""
    text = verdict.explanation
    assert 1 <= len(SENTENCE_END.findall(text)) <= 4, text
    people = [m.nik for m in case.household.body.members] if case.household else []
    for secret in [*people, case.application.body.applicant_nik, *NAMES, KK]:
        assert secret not in text
    for rule in verdict.rules:
        for secret in [*people, *NAMES]:
            assert secret not in rule.reason, rule
    if verdict.status is Status.needs_field_verification:
        assert verdict.task is not None and verdict.task.reasons
        assert set(verdict.task.reasons) == {r.reason for r in verdict.rules if r.outcome is Outcome.unresolved}
        assert "field_visit" in verdict.task.capture
    elif verdict.status is not Status.waiting:
        assert verdict.task is None
    assert verdict.retry is (verdict.status is Status.waiting)
    result = verdict.to_result()
    assert result["status"] == verdict.status.value
    if verdict.status in (Status.waiting, Status.stopped):
        assert result["decision"] is None
    else:
        assert result["decision"] == verdict.status.value
    assert verdict.rule_set_version.startswith("pkh-2026.1")


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_rules_and_statuses(c: Case) -> None:
    case, plan, facts, verdict = run(c)
    assert verdict.status is c.status, [(r.rule, r.outcome.value, r.reason) for r in verdict.rules]
    assert set(c.expect) <= outcomes(verdict)
    assert not set(c.absent) & outcomes(verdict)
    check_common(case, verdict)
    rule_set = rules(**c.rules)
    assert evaluate(case, plan, facts, rule_set).canonical_json() == verdict.canonical_json()


def test_every_status_is_covered_by_the_table() -> None:
    assert {c.status for c in CASES} == set(Status)


def test_eligible_explains_components_and_the_indicative_benefit() -> None:
    _, _, _, v = run(CASES[0])
    assert v.yearly_benefit == 3_000_000 + 3_000_000 + 2_400_000
    assert "Rp8.400.000" in v.explanation
    assert "bukan janji pembayaran" in v.explanation
    assert "ibu hamil/nifas (istri)" in v.explanation
    assert [c.counted for c in v.components] == [True, True, True]


def test_rupiah() -> None:
    assert rupiah(3_000_000) == "Rp3.000.000"
    assert rupiah(900_000) == "Rp900.000"
    assert rupiah(0) == "Rp0"


def test_the_highest_valued_components_are_kept_up_to_the_maximum() -> None:
    hh = household_doc(
        extra=[
            GRANDMA_MEMBER,
            member(SD_PUPIL, "2016-08-01", school_level="sd", school_status="enrolled", occupation="student"),
        ]
    )
    claimed = [
        ("sd", SD_PUPIL),
        ("pregnant_postpartum", SPOUSE),
        ("early_childhood", CHILD),
        ("severe_disability", PUPIL),
        ("elderly", GRANDMA),
    ]
    case = case_file(household=hh, application=application_doc(claimed))
    plan = plan_queries(case, rules())
    v = evaluate(case, plan, agreeing_facts(case, plan), rules())
    assert v.status is Status.eligible
    counted = {(c.component, c.counted) for c in v.components}
    assert ("sd", False) in counted and sum(c.counted for c in v.components) == 4
    assert v.yearly_benefit == 3_000_000 * 2 + 2_400_000 * 2
    # two components of equal value: the application's order decides
    v3 = evaluate(case, plan, agreeing_facts(case, plan), rules(max_components=3))
    assert [(c.component, c.counted) for c in v3.components if c.component in ("severe_disability", "elderly")] == [
        ("severe_disability", True),
        ("elderly", False),
    ]
    assert v3.rule_set_version == "pkh-2026.1+max_components=3"


def test_caps_per_component() -> None:
    hh = household_doc(extra=[member(BABY, "2024-01-05"), member(TODDLER, "2022-06-01", sex="female")])
    claimed = [("early_childhood", n) for n in (CHILD, BABY, TODDLER)]
    case = case_file(household=hh, application=application_doc(claimed))
    plan = plan_queries(case, rules())
    v = evaluate(case, plan, agreeing_facts(case, plan), rules())
    assert [(c.member_nik, c.counted) for c in v.components] == [(CHILD, True), (BABY, True), (TODDLER, False)]


@pytest.mark.parametrize("kind", list(EmploymentKind))
def test_each_excluding_kind_is_named_in_bahasa(kind: EmploymentKind) -> None:
    _, _, _, v = run(Case("x", Status.not_eligible, facts=employment(HEAD, kind)))
    assert v.status is Status.not_eligible
    assert f"Kepala keluarga tercatat sebagai {EMPLOYMENT_WORDS[kind]} yang masih aktif" in v.explanation
    assert "keberatan" in v.explanation
    assert v.components == ()  # no indicative benefit on a refusal


@pytest.mark.parametrize("query", list(Query))
def test_a_source_that_is_down_makes_the_case_wait_and_names_it(query: Query) -> None:
    case, _, _, v = run(Case("x", Status.waiting, facts=unavailable(query)))
    assert v.status is Status.waiting and v.retry and v.task is None
    assert SOURCE_WORDS[query] in v.explanation
    check_common(case, v)


def test_a_source_the_plan_did_not_need_is_ignored() -> None:
    case = case_file(consent=consent_doc(refused=[S.BKN]))
    plan = plan_queries(case, rules())
    facts = dataclasses.replace(agreeing_facts(case, plan), unavailable=frozenset({Query.employment}))
    assert evaluate(case, plan, facts, rules()).status is Status.eligible


def test_missing_documents_give_the_task_content() -> None:
    _, _, _, v = run(Case("x", Status.waiting, case={"household": None, "consent": None}))
    assert v.task is not None and v.task.capture == ("household", "consent")
    assert v.retry
    assert "data keluarga dan persetujuan pemohon" in v.explanation


def test_a_consent_problem_asks_to_capture_consent_on_the_visit() -> None:
    _, _, _, v = run(Case("x", Status.needs_field_verification, case={"consent": consent_doc(refused=[S.DTSEN])}))
    assert v.task is not None and v.task.capture == ("consent", "field_visit", "evidence")
    assert any("konfirmasi ulang persetujuan" in r for r in v.task.reasons)


def test_a_field_visit_says_the_evidence_awaits_the_supervisor() -> None:
    _, _, _, v = run(Case("x", Status.needs_review, case={"field_visits": (field_visit_doc(),)}))
    assert "supervisor" in v.explanation
    visit = next(r for r in v.rules if r.rule == "review.field_visit")
    assert "menunggu persetujuan supervisor" in visit.reason
    assert visit.data[0].source == "perangkat/field_visit:v1"


def test_a_contradicted_claim_says_what_to_check_on_the_visit() -> None:
    """The application claims SMA, the household records the same child at SMP: not a refusal, a visit that checks
    the school level, and the explanation read out to the family says so."""
    _, _, _, v = run(Case("x", Status.needs_field_verification, case=claims(("sma", PUPIL))))
    assert v.status is Status.needs_field_verification
    assert "jenjang SMA" in v.explanation and "jenjang SMP" in v.explanation
    assert "pastikan jenjang dan status sekolahnya" in v.explanation
    assert "belum merupakan penolakan" in v.explanation
    assert v.task is not None and v.task.capture == ("field_visit", "evidence")
    assert any("pastikan jenjang dan status sekolahnya" in reason for reason in v.task.reasons)
    claim = next(r for r in v.rules if r.rule == "eligibility.component")
    assert {("component", "sma"), ("school_level", "smp")} <= {(d.name, d.value) for d in claim.data}


def test_a_claim_for_someone_outside_the_household_asks_to_check_the_household() -> None:
    _, _, _, v = run(Case("x", Status.needs_field_verification, case=claims(("elderly", OUTSIDER))))
    assert "pastikan apakah ia anggota keluarga ini" in v.explanation
    assert v.components == ()


def test_stopped_says_at_whose_request() -> None:
    _, _, _, v = run(Case("x", Status.stopped, case={"withdrawals": (withdrawal_doc(APPLICANT),)}))
    assert "dihentikan atas permintaan" in v.explanation
    assert v.task is None and not v.retry and v.components == ()


def test_a_borrowed_consent_is_explained_as_the_applicants_own_still_missing() -> None:
    case = case_file(consent=consent_doc(HEAD, born="1980-05-17"))
    plan = plan_queries(case, rules())
    v = evaluate(case, plan, agreeing_facts(case, plan), rules())
    assert v.status is Status.waiting and "persetujuan pemohon sendiri belum diterima" in v.explanation
    assert v.task is not None and v.task.capture == ("consent",)
    assert any("bukan persetujuan pemohon" in reason for reason in v.task.reasons)


def test_an_invalid_nik_is_unresolved() -> None:
    """Documents are validated at the gateway; a NIK that slipped through is still caught, never refused."""
    app = application_doc()
    broken = dataclasses.replace(app, body=app.body.model_copy(update={"applicant_nik": "3510161713840002"}))
    consent = consent_doc()
    theirs = dataclasses.replace(consent, body=consent.body.model_copy(update={"subject_nik": "3510161713840002"}))
    case = case_file(application=broken, consent=theirs)
    plan = plan_queries(case, rules())
    v = evaluate(case, plan, agreeing_facts(case, plan), rules())
    assert ("identity.nik", Outcome.unresolved) in outcomes(v)
    assert v.status is Status.needs_field_verification


def test_every_datum_names_its_source_and_registry_data_its_date() -> None:
    _, _, _, v = run(CASES[0])
    for rule in v.rules:
        for datum in rule.data:
            assert datum.source
            if not datum.source.startswith(("perangkat/", "aturan/", "simpul")):
                assert datum.as_of == AS_OF


def test_a_plan_made_for_another_case_is_refused() -> None:
    case = case_file()
    other = case_file(household=household_doc(kk_number="3510161203150099"))
    plan = plan_queries(other, rules())
    with pytest.raises(ValueError, match="does not belong to this case"):
        evaluate(case, plan, agreeing_facts(other, plan), rules())


def test_the_table_exercises_every_rule() -> None:
    """Each rule code written in decide.py appears in some case of the table (``source.*`` as one)."""
    source = (Path(__file__).resolve().parents[3] / "sync" / "verification" / "decide.py").read_text(encoding="utf-8")
    codes = set(re.findall(r'"((?:gather|consent|identity|eligibility|info|review)\.[a-z_]+)"', source))
    codes |= {"gather.household", "gather.consent"}  # written as f"gather.{doc_type}"
    seen = {rule for c in CASES for rule, _ in outcomes(run(c)[3])}
    assert codes <= seen, codes - seen
    assert any(rule.startswith("source.") for rule in seen)
