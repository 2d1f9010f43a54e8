"""The result document a verdict becomes, and determinism: the same inputs give the same bytes, whatever the order
in which the pipeline gathered them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import re
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_forms.models import ConsentSource
from sync.verification.case import CaseFile, RegistryFacts
from sync.verification.decide import evaluate
from sync.verification.gate import plan_queries
from sync.verification.verdict import (
    ComponentBenefit,
    Datum,
    FieldTask,
    Outcome,
    RuleResult,
    Status,
    Verdict,
    _jsonable,
)
from tests.sync.verification.casekit import (
    APPLICANT,
    CHILD,
    GUARDIAN,
    HEAD,
    PUPIL,
    SPOUSE,
    agreeing_facts,
    application_doc,
    at,
    case_file,
    consent_doc,
    elsewhere,
    evidence_doc,
    household_doc,
    make_nik,
    member,
    objection_doc,
    rules,
    withdrawal_doc,
)

S = ConsentSource


def verdict_of(case: CaseFile, **overrides: int) -> Verdict:
    rule_set = rules(**overrides)
    plan = plan_queries(case, rule_set)
    return evaluate(case, plan, agreeing_facts(case, plan), rule_set)


def test_result_shape_of_an_eligible_verdict() -> None:
    result = verdict_of(case_file()).to_result()
    assert set(result) == {
        "status",
        "decision",
        "explanation",
        "rules",
        "components",
        "yearly_benefit",
        "rule_set_version",
        "task",
        "retry",
        "notes",
    }
    assert result["status"] == result["decision"] == "eligible"
    assert result["task"] is None and result["retry"] is False
    assert result["yearly_benefit"] == 8_400_000
    assert result["rule_set_version"] == "pkh-2026.1"
    assert result["components"][0] == {
        "component": "pregnant_postpartum",
        "member_nik": SPOUSE,
        "yearly_amount": 3_000_000,
        "counted": True,
    }
    for rule in result["rules"]:
        assert set(rule) <= {"rule", "outcome", "reason", "member_nik", "data"}
        assert {"rule", "outcome", "reason", "data"} <= set(rule)
        for datum in rule["data"]:
            assert set(datum) == {"name", "value", "source", "as_of"}
            assert datum["as_of"] is None or re.fullmatch(r"\d{4}-\d{2}-\d{2}", datum["as_of"])
    desil = next(r for r in result["rules"] if r["rule"] == "eligibility.desil")
    assert "member_nik" not in desil
    assert desil["data"][0] == {"name": "desil", "value": 3, "source": "DTSEN (BPS)", "as_of": "2025-09-01"}


def test_result_of_a_waiting_case_has_no_decision_and_carries_the_task() -> None:
    result = verdict_of(case_file(household=None)).to_result()
    assert result["status"] == "waiting" and result["decision"] is None and result["retry"] is True
    assert result["task"]["capture"] == ["household"]
    assert all(isinstance(r, str) for r in result["task"]["reasons"])


def test_canonical_json_round_trips_and_sorts_keys() -> None:
    v = verdict_of(case_file())
    raw = v.canonical_json()
    assert orjson.loads(raw) == v.to_result()
    assert raw == orjson.dumps(orjson.loads(raw), option=orjson.OPT_SORT_KEYS)
    assert raw.startswith(b'{"components":')


def test_fingerprint_detects_any_change() -> None:
    v = verdict_of(case_file())
    assert re.fullmatch(r"[0-9a-f]{64}", v.fingerprint())
    assert v.fingerprint() == verdict_of(case_file()).fingerprint()
    assert dataclasses.replace(v, explanation=v.explanation + " ").fingerprint() != v.fingerprint()
    assert verdict_of(case_file(), max_desil=3).fingerprint() != v.fingerprint()  # the version is recorded


def test_a_verdict_built_by_hand_serialises() -> None:
    class Colour(enum.Enum):
        red = "merah"

    v = Verdict(
        status=Status.needs_field_verification,
        rule_set_version="x",
        rules=(
            RuleResult(
                "r",
                Outcome.unresolved,
                "Alasan.",
                (
                    Datum("when", dt.date(2025, 1, 2), "s", dt.date(2025, 1, 3)),
                    Datum("set", frozenset({"b", "a"}), "s", None),
                    Datum("nested", {"k": (Colour.red, dt.datetime(2025, 1, 2, 3, 4, tzinfo=dt.UTC))}, "s", None),
                ),
                member_nik="3510161705800001",
            ),
        ),
        explanation="Penjelasan.",
        components=(ComponentBenefit("sd", "3510161705800001", 900_000, False),),
        task=FieldTask(("Alasan.",), ("field_visit",)),
    )
    result = orjson.loads(v.canonical_json())
    data = result["rules"][0]["data"]
    assert [d["value"] for d in data] == ["2025-01-02", ["a", "b"], {"k": ["merah", "2025-01-02T03:04:00+00:00"]}]
    assert result["yearly_benefit"] == 0
    assert result["task"] == {"reasons": ["Alasan."], "capture": ["field_visit"]}


def test_a_datum_that_is_not_json_like_is_refused() -> None:
    with pytest.raises(TypeError, match="JSON-like"):
        _jsonable(object())


# --- Determinism --------------------------------------------------------------------------------------------

GRANDMA = make_nik(dt.date(1960, 3, 1), female=True, serial="0007")

BASE_CONSENTS = (
    consent_doc(HEAD, key="head", born="1980-05-17", captured=at(15), refused=[S.POLRI]),
    consent_doc(PUPIL, key="pupil", born="2012-01-09", guardian=GUARDIAN, captured=at(15), refused=[S.DTSEN]),
    consent_doc(HEAD, key="head-again", born="1980-05-17", captured=at(17)),
)
BASE_WITHDRAWALS = (
    withdrawal_doc(HEAD, key="w1", born="1980-05-17", captured=at(16), sources=[S.BKN]),
    withdrawal_doc(HEAD, key="w2", born="1980-05-17", captured=at(18), sources=[S.ATR_BPN]),
    withdrawal_doc(CHILD, key="w3", born="2019-07-23", guardian=GUARDIAN, captured=at(19), sources=[S.BKN]),
)
BASE_OBJECTIONS = (objection_doc("o1", at(21)), objection_doc("o2", at(22)))
BASE_ELSEWHERE = (elsewhere(HEAD), elsewhere(CHILD, application_id="application:x"), elsewhere(APPLICANT))
BASE_EVIDENCE = (evidence_doc("e1"), evidence_doc("e2", field_visit_id=None), evidence_doc("e3", field_visit_id=None))


def reversed_mappings(facts: RegistryFacts) -> RegistryFacts:
    """The same answers, inserted in the opposite order."""
    flip: dict[str, Any] = {
        name: dict(reversed(list(getattr(facts, name).items())))
        for name in ("identity", "life_status", "employment", "bpjs", "assets")
    }
    return dataclasses.replace(facts, **flip)


@settings(max_examples=40, deadline=None)
@given(
    consents=st.permutations(BASE_CONSENTS),
    withdrawals=st.permutations(BASE_WITHDRAWALS),
    objections=st.permutations(BASE_OBJECTIONS),
    others=st.permutations(BASE_ELSEWHERE),
    evidence=st.permutations(BASE_EVIDENCE),
    flip=st.booleans(),
)
def test_the_order_of_gathering_never_changes_the_bytes(
    consents: list, withdrawals: list, objections: list, others: list, evidence: list, flip: bool
) -> None:
    def build(c: tuple, w: tuple, o: tuple, e: tuple, ev: tuple) -> CaseFile:
        return case_file(member_consents=c, withdrawals=w, objections=o, elsewhere=e, evidence=ev)

    reference = build(BASE_CONSENTS, BASE_WITHDRAWALS, BASE_OBJECTIONS, BASE_ELSEWHERE, BASE_EVIDENCE)
    shuffled = build(tuple(consents), tuple(withdrawals), tuple(objections), tuple(others), tuple(evidence))
    rule_set = rules()
    plan_a, plan_b = plan_queries(reference, rule_set), plan_queries(shuffled, rule_set)
    assert plan_a == plan_b
    facts = agreeing_facts(reference, plan_a)
    a = evaluate(reference, plan_a, facts, rule_set)
    b = evaluate(shuffled, plan_b, reversed_mappings(facts) if flip else facts, rule_set)
    assert a.canonical_json() == b.canonical_json()
    assert a.status is Status.needs_review


HOUSEHOLD = household_doc(
    extra=[
        member(GRANDMA, "1960-03-01", sex="female", relationship="parent"),
        member(make_nik(dt.date(2016, 8, 1), serial="0010"), "2016-08-01", school_level="sd", school_status="enrolled"),
        member(make_nik(dt.date(2024, 1, 5), serial="0008"), "2024-01-05"),
    ]
)
ALL_CLAIMS = [
    (component, m.nik)
    for m in HOUSEHOLD.body.members
    for component in ("pregnant_postpartum", "early_childhood", "sd", "smp", "sma", "severe_disability", "elderly")
]


@settings(max_examples=60, deadline=None)
@given(
    claimed=st.lists(st.sampled_from(ALL_CLAIMS), min_size=1, max_size=12, unique=True),
    desil=st.integers(1, 10),
    max_components=st.integers(1, 6),
    max_desil=st.integers(1, 10),
)
def test_counting_invariants(claimed: list, desil: int, max_components: int, max_desil: int) -> None:
    rule_set = rules(max_components=max_components, max_desil=max_desil)
    case = case_file(household=HOUSEHOLD, application=application_doc(claimed))
    plan = plan_queries(case, rule_set)
    v = evaluate(case, plan, agreeing_facts(case, plan, desil=desil), rule_set)
    again = evaluate(case, plan, agreeing_facts(case, plan, desil=desil), rule_set)
    assert v.fingerprint() == again.fingerprint()

    counted = [c for c in v.components if c.counted]
    assert len(counted) <= max_components
    assert len({c.member_nik for c in counted}) == len(counted)  # one component per person
    for component, rule in rule_set.components.items():
        if rule.max_count is not None:
            assert sum(c.component == component for c in counted) <= rule.max_count

    # what is dropped for the maximum (not for a cap, nor for a person already counted) is never worth more than
    # what is kept
    def capped(component: str) -> bool:
        cap = rule_set.components[component].max_count  # type: ignore[index]
        return cap is not None and sum(k.component == component for k in counted) >= cap

    people = {k.member_nik for k in counted}
    dropped = [c for c in v.components if not c.counted and c.member_nik not in people and not capped(c.component)]
    if dropped and counted and len(counted) == max_components:
        assert max(d.yearly_amount for d in dropped) <= min(k.yearly_amount for k in counted)
    assert v.yearly_benefit == sum(c.yearly_amount for c in counted)

    if desil > max_desil:
        assert v.status in (Status.not_eligible, Status.needs_field_verification)
    if v.status is Status.eligible:
        assert counted and desil <= max_desil
        assert "bukan janji pembayaran" in v.explanation
    assert (v.task is not None) is (v.status is Status.needs_field_verification)
