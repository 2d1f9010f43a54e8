"""The consent gate: which questions the consents allow, for whom, and what withdrawals take away."""

from __future__ import annotations

import datetime as dt

import pytest

from agent_forms.models import ConsentSource
from sync.verification.case import Query, QueryPlan
from sync.verification.gate import QUERY_SOURCES, applicant_consent, person_consent, plan_queries
from tests.sync.verification.casekit import (
    ALL_SOURCES,
    APPLICANT,
    CHILD,
    GUARDIAN,
    HEAD,
    KK,
    PUPIL,
    SPOUSE,
    application_doc,
    at,
    case_file,
    consent_doc,
    household_doc,
    make_nik,
    member,
    rules,
    withdrawal_doc,
)

S = ConsentSource
PEOPLE = (HEAD, SPOUSE, CHILD, PUPIL)


def plan(**case: object) -> QueryPlan:
    return plan_queries(case_file(**case), rules())  # type: ignore[arg-type]


def about(p: QueryPlan, nik: str) -> set[Query]:
    return {q for q, key in p.queries if key == nik}


def refused_about(p: QueryPlan, nik: str) -> set[Query]:
    return {q for q, key in p.refused if key == nik}


PERSON_QUERIES = {Query.identity, Query.life_status}
COUPLE_QUERIES = {Query.identity, Query.life_status, Query.employment, Query.bpjs, Query.assets}


def test_full_consent_asks_each_question_of_the_right_people() -> None:
    p = plan()
    assert not p.stopped and not p.refused and not p.withdrawn and not p.dtsen_withheld
    assert about(p, HEAD) == COUPLE_QUERIES
    assert about(p, SPOUSE) == COUPLE_QUERIES  # the applicant, an adult, the wife
    assert about(p, CHILD) == PERSON_QUERIES  # 6 years old: no employment, no BPJS or assets
    assert about(p, PUPIL) == PERSON_QUERIES  # 13
    assert about(p, KK) == {Query.dtsen_household}
    assert len(p.queries) == 2 * 5 + 2 * 2 + 1


def test_employment_is_asked_from_the_eighteenth_birthday() -> None:
    turning = make_nik(dt.date(2007, 9, 14), serial="0005")
    almost = make_nik(dt.date(2007, 9, 15), serial="0006")
    hh = household_doc(
        extra=[
            member(turning, "2007-09-14", school_level="sma", school_status="finished"),
            member(almost, "2007-09-15", school_level="sma", school_status="enrolled"),
        ]
    )
    p = plan(household=hh)
    assert Query.employment in about(p, turning)
    assert Query.employment not in about(p, almost)
    assert Query.bpjs not in about(p, turning)  # a child of the family, not the couple


@pytest.mark.parametrize("query", list(Query))
def test_each_question_needs_every_purpose_it_maps_to(query: Query) -> None:
    needed = QUERY_SOURCES[query]
    for missing in needed:
        p = plan(consent=consent_doc(refused=[missing]))
        key = KK if query is Query.dtsen_household else HEAD
        assert (query, key) in p.refused
        assert (query, key) not in p.queries
    p = plan(consent=consent_doc(granted=[*needed, S.POPULATION_REGISTRY]))
    key = KK if query is Query.dtsen_household else HEAD
    assert (query, key) in p.queries


def test_the_mapping_of_questions_to_purposes() -> None:
    assert {
        Query.identity: {S.POPULATION_REGISTRY},
        Query.life_status: {S.POPULATION_REGISTRY},
        Query.dtsen_household: {S.DTSEN},
        Query.employment: {S.BKN},
        Query.bpjs: {S.BPJS_KESEHATAN, S.BPJS_KETENAGAKERJAAN},
        Query.assets: {S.ATR_BPN, S.POLRI},
    } == QUERY_SOURCES


def test_the_example_consent_allows_only_what_it_grants() -> None:
    # population registry and DTSEN granted, BPJS Kesehatan refused, nothing said of the others
    p = plan(consent=consent_doc(granted=[S.POPULATION_REGISTRY, S.DTSEN], refused=[S.BPJS_KESEHATAN]))
    assert {q for q, _ in p.queries} == {Query.identity, Query.life_status, Query.dtsen_household}
    assert {q for q, _ in p.refused} == {Query.employment, Query.bpjs, Query.assets}


@pytest.mark.parametrize("missing", ["household", "consent"])
def test_nothing_is_planned_before_the_household_and_the_consent_have_synced(missing: str) -> None:
    p = plan(**{missing: None})
    assert p == QueryPlan(queries=frozenset())


def test_the_applicant_withdrawing_everything_stops_the_case() -> None:
    p = plan(withdrawals=(withdrawal_doc(APPLICANT),))
    assert p.stopped and not p.queries and not p.refused


def test_a_withdrawal_stops_the_case_even_before_the_documents_synced() -> None:
    p = plan(household=None, consent=None, withdrawals=(withdrawal_doc(APPLICANT),))
    assert p.stopped


def test_a_fresh_consent_after_a_withdrawal_supersedes_it() -> None:
    fresh = consent_doc(APPLICANT, captured=at(22), key="fresh", granted=[S.POPULATION_REGISTRY, S.DTSEN])
    p = plan(withdrawals=(withdrawal_doc(APPLICANT, captured=at(20)),), member_consents=(fresh,))
    assert not p.stopped
    assert {q for q, _ in p.queries} == {Query.identity, Query.life_status, Query.dtsen_household}


def test_a_withdrawal_after_the_latest_consent_holds() -> None:
    fresh = consent_doc(APPLICANT, captured=at(18), key="fresh")
    p = plan(withdrawals=(withdrawal_doc(APPLICANT, captured=at(20)),), member_consents=(fresh,))
    assert p.stopped


def test_the_applicant_withdrawing_one_source_withdraws_it_for_the_household() -> None:
    p = plan(withdrawals=(withdrawal_doc(APPLICANT, sources=[S.DTSEN, S.BKN]),))
    assert not p.stopped
    assert (Query.dtsen_household, KK) in p.refused
    assert (Query.employment, HEAD) in p.refused  # the head has no consent of his own
    assert (Query.employment, SPOUSE) in p.refused
    assert (Query.identity, HEAD) in p.queries


def test_a_member_withdrawing_everything_is_not_asked_about_at_all() -> None:
    p = plan(withdrawals=(withdrawal_doc(HEAD, born="1980-05-17"),))
    assert not p.stopped
    assert p.withdrawn == {HEAD}
    assert about(p, HEAD) == set() and refused_about(p, HEAD) == set()
    assert about(p, SPOUSE) == COUPLE_QUERIES
    assert (Query.dtsen_household, KK) in p.queries  # the household look-up rests on the applicant's consent


def test_a_member_withdrawing_one_source() -> None:
    p = plan(withdrawals=(withdrawal_doc(HEAD, sources=[S.BKN], born="1980-05-17"),))
    assert refused_about(p, HEAD) == {Query.employment}
    assert Query.employment in about(p, SPOUSE)


def test_a_members_own_consent_replaces_the_applicants_for_that_member() -> None:
    household_consent = consent_doc(granted=[S.POPULATION_REGISTRY, S.DTSEN])
    own = consent_doc(HEAD, key="head", born="1980-05-17", granted=ALL_SOURCES)
    p = plan(consent=household_consent, member_consents=(own,))
    assert about(p, HEAD) == COUPLE_QUERIES
    assert refused_about(p, SPOUSE) == {Query.employment, Query.bpjs, Query.assets}


def test_a_members_own_refusal_outranks_the_applicants_consent() -> None:
    own = consent_doc(HEAD, key="head", born="1980-05-17", granted=[S.DTSEN], refused=[S.POPULATION_REGISTRY])
    p = plan(member_consents=(own,))
    assert refused_about(p, HEAD) == {Query.identity, Query.life_status, Query.employment, Query.bpjs, Query.assets}
    assert about(p, SPOUSE) == COUPLE_QUERIES


def test_a_child_is_covered_by_the_applicants_consent() -> None:
    p = plan(consent=consent_doc(granted=[S.POPULATION_REGISTRY, S.DTSEN]))
    assert about(p, CHILD) == PERSON_QUERIES
    assert p.dtsen_withheld == frozenset()


def test_a_guardians_consent_for_a_child_governs_that_child() -> None:
    own = consent_doc(CHILD, key="child", born="2019-07-23", guardian=GUARDIAN, granted=[S.BKN], refused=[S.DTSEN])
    p = plan(member_consents=(own,))
    assert refused_about(p, CHILD) == PERSON_QUERIES
    assert p.dtsen_withheld == {CHILD}  # the household is looked up, the child's DTSEN record not used
    assert (Query.dtsen_household, KK) in p.queries


def test_a_member_withdrawal_is_superseded_only_by_that_members_later_consent() -> None:
    head_withdraws = withdrawal_doc(HEAD, captured=at(16), born="1980-05-17")
    later_household_consent = consent_doc(captured=at(18))
    assert plan(consent=later_household_consent, withdrawals=(head_withdraws,)).withdrawn == {HEAD}
    head_consents_again = consent_doc(HEAD, key="head", captured=at(18), born="1980-05-17")
    p = plan(withdrawals=(head_withdraws,), member_consents=(head_consents_again,))
    assert p.withdrawn == frozenset() and about(p, HEAD) == COUPLE_QUERIES


def test_withdrawal_order_in_the_case_file_does_not_matter() -> None:
    a = withdrawal_doc(HEAD, captured=at(16), born="1980-05-17", sources=[S.BKN], key="a")
    b = withdrawal_doc(HEAD, captured=at(17), born="1980-05-17", sources=[S.POLRI], key="b")
    assert plan(withdrawals=(a, b)) == plan(withdrawals=(b, a))


def test_an_applicant_outside_the_household_is_still_identified() -> None:
    outsider = make_nik(dt.date(1990, 1, 1), female=True, serial="0009")
    p = plan(
        application=application_doc(applicant_nik=outsider),
        consent=consent_doc(outsider, born="1990-01-01"),
    )
    assert about(p, outsider) == {Query.identity, Query.life_status, Query.bpjs, Query.assets}


def test_person_consent_reports_where_the_purposes_come_from() -> None:
    own = consent_doc(HEAD, key="head", born="1980-05-17", granted=[S.DTSEN])
    case = case_file(member_consents=(own,))
    household = applicant_consent(case)
    assert household.own and household.consent_id == "consent:9b2c6c1e-1f0a-4a52-9b53-6f1d8e2f7a10"
    head = person_consent(case, HEAD, household)
    assert head.own and head.granted == {S.DTSEN} and head.consent_id == "consent:head"
    child = person_consent(case, CHILD)
    assert not child.own and child.granted == frozenset(ALL_SOURCES)


def test_a_consent_of_someone_else_named_by_the_application_asks_nothing() -> None:
    borrowed = plan(consent=consent_doc(HEAD, born="1980-05-17"))
    assert borrowed.queries == frozenset() and not borrowed.stopped


def test_an_applicant_the_household_does_not_list_consents_for_themselves_only() -> None:
    outsider = make_nik(dt.date(1990, 1, 1), female=True, serial="0099")
    p = plan(application=application_doc(applicant_nik=outsider), consent=consent_doc(outsider, born="1990-01-01"))
    assert about(p, outsider) >= {Query.identity, Query.life_status}
    for nik in PEOPLE:  # the members have no consent of their own: nothing about them, nor the household's DTSEN
        assert about(p, nik) == set()
    assert (Query.dtsen_household, KK) in p.refused


def test_a_withdrawal_that_does_not_match_the_person_is_held_not_applied() -> None:
    stranger = withdrawal_doc(CHILD, born="2019-07-23", guardian=GUARDIAN, name="Rina Marlina")
    p = plan(withdrawals=(stranger,))
    assert not p.stopped and CHILD not in p.withdrawn
    assert about(p, CHILD) == set()  # a precaution while a supervisor looks
    assert p.held_withdrawals == {(CHILD, stranger.id)}
    assert about(p, HEAD) >= {Query.identity}

    # A fresh consent for the child, captured after it, settles it like any withdrawal.
    fresh = consent_doc(CHILD, key="c2", born="2019-07-23", guardian=GUARDIAN, captured=at(21))
    settled = plan(withdrawals=(stranger,), member_consents=(fresh,))
    assert settled.held_withdrawals == frozenset() and Query.identity in about(settled, CHILD)
