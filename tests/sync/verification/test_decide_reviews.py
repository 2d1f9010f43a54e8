"""What a supervisor's word does to a case over time: a decision on a ``needs_review`` case against registry facts
that came after it, and evidence attached to the application itself (no field visit), approved or rejected."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

from registries.models import EmploymentKind, EmploymentRecord, LifeStatus, Match
from sync.verification.case import RegistryFacts
from sync.verification.decide import evaluate
from sync.verification.gate import plan_queries
from sync.verification.verdict import Outcome, Status, Verdict
from tests.sync.verification.casekit import (
    APPLICANT,
    AS_OF,
    HEAD,
    KK,
    PUPIL,
    agreeing_facts,
    application_doc,
    application_evidence,
    application_evidence_review,
    at,
    case_file,
    evidence_doc,
    field_visit_doc,
    objection_doc,
    patch,
    review_doc,
    rules,
)

Facts = Callable[[RegistryFacts], RegistryFacts]


def same(facts: RegistryFacts) -> RegistryFacts:
    return facts


def verdict(facts: Facts = same, *, desil: int = 3, **case: Any) -> Verdict:
    """The example family's verdict with ``case`` changes and the agreeing answers changed by ``facts``."""
    c = case_file(**case)
    plan = plan_queries(c, rules())
    v = evaluate(c, plan, facts(agreeing_facts(c, plan, desil=desil)), rules())
    again = evaluate(c, plan, facts(agreeing_facts(c, plan, desil=desil)), rules())
    assert again.canonical_json() == v.canonical_json()
    return v


def rules_of(v: Verdict) -> set[tuple[str, Outcome]]:
    return {(r.rule, r.outcome) for r in v.rules}


def rule(v: Verdict, code: str) -> Any:
    return next(r for r in v.rules if r.rule == code)


# --- a supervisor's decision and the registry facts that came after it --------------------------------------


def decided(decision: str = "eligible", *, day: int = 26, reviewed_at: str | None = None) -> dict[str, Any]:
    """The family objected on the 25th and a supervisor decided the case (on the 26th unless told otherwise)."""
    return {
        "objections": (objection_doc(),),
        "reviews": (review_doc(decision, evidence_id=None, day=day, reviewed_at=reviewed_at),),
    }


def dies(nik: str, on: dt.date | None) -> Facts:
    return lambda f: patch(f, "life_status", nik, status=LifeStatus.deceased, since=on)


def appointed(nik: str, on: dt.date, kind: EmploymentKind = EmploymentKind.asn) -> Facts:
    record = EmploymentRecord(
        kind=kind,
        employer="Pemerintah Kabupaten Banyuwangi",
        active=True,
        retired=False,
        since=on,
        source="BKN (SIASN)",
        as_of=on,
    )
    return lambda f: patch(f, "employment", nik, records=[record])


def reranked(desil: int, on: dt.date) -> Facts:
    def change(f: RegistryFacts) -> RegistryFacts:
        household = f.dtsen[KK].households[0].model_copy(update={"desil": desil, "ranking_date": on})
        return patch(f, "dtsen", KK, households=[household])

    return change


def later_snapshot(f: RegistryFacts) -> RegistryFacts:
    """The same facts from a later registry snapshot: every answer's as-of moved on, nothing else."""
    later = dt.date(2025, 10, 15)
    moved: dict[str, Any] = {}
    for kind in ("identity", "life_status", "dtsen", "employment", "bpjs", "assets"):
        moved[kind] = {k: a.model_copy(update={"as_of": later}) for k, a in getattr(f, kind).items()}
    return dataclasses.replace(f, **moved)


def test_the_same_facts_keep_the_supervisors_decision_exactly() -> None:
    v = verdict(**decided("eligible"))
    assert v.status is Status.eligible
    assert ("review.supervisor", Outcome.passed) in rules_of(v)
    assert "review.facts_changed" not in {r.rule for r in v.rules}
    # A later snapshot of the same facts is not a change: only the date of an event is compared, never the as-of.
    assert verdict(later_snapshot, **decided("eligible")).status is Status.eligible
    assert verdict(**decided("not_eligible")).status is Status.not_eligible


def test_the_applicant_dying_after_the_decision_sends_the_case_back_to_the_supervisor() -> None:
    v = verdict(dies(APPLICANT, dt.date(2025, 9, 30)), **decided("eligible"))
    assert v.status is Status.needs_review
    changed = rule(v, "review.facts_changed")
    assert changed.outcome is Outcome.review
    assert "istri tercatat meninggal dunia" in changed.reason
    data = {(d.name, d.value, d.source) for d in changed.data}
    assert ("decision", "eligible", "supervisor") in data
    assert ("since", dt.date(2025, 9, 30), "Dukcapil Kemendagri") in data
    # The explanation leads with what changed, and the decision is not overturned: a supervisor decides again.
    assert "ada data baru: istri tercatat meninggal dunia" in v.explanation
    assert "memutuskan ulang" in v.explanation
    assert "review.supervisor" not in {r.rule for r in v.rules}


def test_a_member_dying_after_the_decision_sends_the_case_back() -> None:
    v = verdict(dies(PUPIL, dt.date(2025, 10, 2)), **decided("eligible"))
    assert v.status is Status.needs_review
    assert "anak ke-1 tercatat meninggal dunia" in rule(v, "review.facts_changed").reason


def test_a_death_dated_before_the_decision_was_known_to_the_supervisor() -> None:
    v = verdict(dies(HEAD, dt.date(2025, 9, 20)), **decided("eligible"))
    assert v.status is Status.eligible
    assert ("review.supervisor", Outcome.passed) in rules_of(v)


def test_an_undated_death_cannot_be_placed_after_the_decision() -> None:
    assert verdict(dies(HEAD, None), **decided("eligible")).status is Status.eligible


def test_an_asn_appointment_after_the_decision_sends_the_case_back() -> None:
    v = verdict(appointed(HEAD, dt.date(2025, 10, 1)), **decided("eligible"))
    assert v.status is Status.needs_review
    changed = rule(v, "review.facts_changed")
    assert "kepala keluarga tercatat sebagai ASN (PNS/PPPK) yang masih aktif" in changed.reason
    assert ("employment_kind", "asn") in {(d.name, d.value) for d in changed.data}


def test_another_exclusion_after_the_decision_sends_the_case_back() -> None:
    v = verdict(appointed(APPLICANT, dt.date(2025, 10, 1), EmploymentKind.village_official), **decided("eligible"))
    assert v.status is Status.needs_review
    assert "perangkat desa" in rule(v, "review.facts_changed").reason


def test_an_exclusion_dated_before_the_decision_leaves_it_standing() -> None:
    assert verdict(appointed(HEAD, dt.date(2010, 1, 1)), **decided("eligible")).status is Status.eligible


def test_a_ranking_above_the_maximum_after_the_decision_sends_the_case_back() -> None:
    v = verdict(reranked(6, dt.date(2025, 10, 1)), **decided("eligible"))
    assert v.status is Status.needs_review
    changed = rule(v, "review.facts_changed")
    assert "desil keluarga di DTSEN kini 6, di atas batas desil 4" in changed.reason
    assert ("ranking_date", dt.date(2025, 10, 1)) in {(d.name, d.value) for d in changed.data}


def test_a_ranking_within_the_maximum_after_the_decision_leaves_eligible_standing() -> None:
    assert verdict(reranked(2, dt.date(2025, 10, 1)), **decided("eligible")).status is Status.eligible


def test_a_ranking_within_the_maximum_after_a_refusal_sends_the_case_back() -> None:
    """The one fact that can weigh against a refusal: the household is now within the maximum desil."""
    refused = verdict(desil=6, **decided("not_eligible"))
    assert refused.status is Status.not_eligible
    v = verdict(reranked(3, dt.date(2025, 10, 1)), **decided("not_eligible"))
    assert v.status is Status.needs_review
    assert "dalam batas desil 4" in rule(v, "review.facts_changed").reason


def test_facts_against_a_refusal_only_confirm_it() -> None:
    v = verdict(appointed(HEAD, dt.date(2025, 10, 1)), **decided("not_eligible"))
    assert v.status is Status.not_eligible


def test_a_second_decision_after_the_new_fact_stands() -> None:
    v = verdict(dies(HEAD, dt.date(2025, 9, 28)), **decided("eligible", day=30))
    assert v.status is Status.eligible
    assert ("review.supervisor", Outcome.passed) in rules_of(v)


def test_the_day_of_the_decision_is_read_in_wib() -> None:
    """20:00 UTC on 30 September is already 1 October in Banyuwangi: a death that day was known to the supervisor,
    one the day after was not."""
    late = decided("eligible", reviewed_at="2025-09-30T20:00:00+00:00")
    assert verdict(dies(HEAD, dt.date(2025, 10, 1)), **late).status is Status.eligible
    assert verdict(dies(HEAD, dt.date(2025, 10, 2)), **late).status is Status.needs_review


# --- evidence attached to the application (no field visit) -----------------------------------------------------


def not_in_dtsen(f: RegistryFacts) -> RegistryFacts:
    return patch(f, "dtsen", KK, households=[])


def test_approved_application_evidence_counts_like_approved_visit_evidence() -> None:
    by_visit = verdict(
        not_in_dtsen,
        field_visits=(field_visit_doc(),),
        evidence=(evidence_doc(),),
        reviews=(review_doc("approved"),),
    )
    attached = verdict(
        not_in_dtsen, evidence=(application_evidence(),), reviews=(application_evidence_review("approved"),)
    )
    assert by_visit.status is attached.status is Status.eligible
    assert ("review.evidence_approved", Outcome.passed) in rules_of(attached)
    assert attached.components == by_visit.components
    assert attached.task is None


def test_application_evidence_not_yet_reviewed_waits_for_the_supervisor() -> None:
    v = verdict(not_in_dtsen, evidence=(application_evidence(),))
    assert v.status is Status.needs_review
    assert "menunggu persetujuan supervisor" in v.explanation


def test_rejected_application_evidence_asks_for_a_new_field_visit() -> None:
    reason = "Foto dokumen tidak terbaca"
    v = verdict(evidence=(application_evidence(),), reviews=(application_evidence_review("rejected", reason=reason),))
    assert v.status is Status.needs_field_verification
    rejected = rule(v, "review.evidence_rejected")
    assert rejected.outcome is Outcome.unresolved and reason in rejected.reason
    assert v.task is not None and v.task.capture == ("field_visit", "evidence")
    assert rejected.reason in v.task.reasons
    # Also when the case was already waiting for a visit: the rejection is one more thing the task names.
    open_case = verdict(
        not_in_dtsen, evidence=(application_evidence(),), reviews=(application_evidence_review("rejected"),)
    )
    assert open_case.status is Status.needs_field_verification
    assert open_case.task is not None and len(open_case.task.reasons) == 2


def test_application_evidence_on_a_case_waiting_for_nothing_is_information() -> None:
    """Photos taken at registration never stall a clean case, reviewed or not."""
    pending = verdict(evidence=(application_evidence(),))
    approved = verdict(evidence=(application_evidence(),), reviews=(application_evidence_review("approved"),))
    assert pending.status is approved.status is Status.eligible
    assert ("review.evidence", Outcome.info) in rules_of(pending)
    assert "disetujui supervisor" in rule(approved, "review.evidence").reason


def test_approved_application_evidence_does_not_lift_a_failed_rule() -> None:
    """Evidence carries no recommendation: it settles the open data (a name that did not match), and the desil
    above the maximum still refuses."""
    v = verdict(
        lambda f: patch(f, "identity", HEAD, name=Match.no_match),
        desil=6,
        evidence=(application_evidence(),),
        reviews=(application_evidence_review("approved"),),
    )
    assert v.status is Status.not_eligible
    assert ("review.evidence_approved", Outcome.passed) in rules_of(v)


def test_approved_application_evidence_settles_a_contradicted_claim_which_then_counts() -> None:
    v = verdict(
        application=application_doc([("sma", PUPIL)]),
        evidence=(application_evidence(),),
        reviews=(application_evidence_review("approved"),),
    )
    assert v.status is Status.eligible
    assert [(c.component, c.counted) for c in v.components] == [("sma", True)]
    assert "anak sekolah SMA (anak ke-1)" in v.explanation
    assert v.yearly_benefit == 2_000_000


def test_application_evidence_from_before_the_latest_visit_is_superseded_by_it() -> None:
    early = evidence_doc("a1", field_visit_id=None, captured=at(14, 8))
    v = verdict(
        not_in_dtsen,
        field_visits=(field_visit_doc(),),
        evidence=(early,),
        reviews=(application_evidence_review("approved"),),
    )
    assert v.status is Status.needs_review  # the visit's own evidence awaits the supervisor
    assert ("review.field_visit", Outcome.review) in rules_of(v)
    assert "sebelumnya sudah ditinjau" in rule(v, "review.evidence").reason


def test_application_evidence_after_a_rejected_visit_answers_the_case() -> None:
    v = verdict(
        not_in_dtsen,
        field_visits=(field_visit_doc(),),
        evidence=(evidence_doc(), application_evidence()),
        reviews=(review_doc("rejected", day=16), application_evidence_review("approved", day=24)),
    )
    assert {("review.evidence_rejected", Outcome.unresolved), ("review.evidence_approved", Outcome.passed)} <= (
        rules_of(v)
    )
    assert v.status is Status.eligible


def test_application_evidence_rejected_after_an_approved_visit_asks_for_a_new_visit() -> None:
    v = verdict(
        not_in_dtsen,
        field_visits=(field_visit_doc(),),
        evidence=(evidence_doc(), application_evidence()),
        reviews=(review_doc("approved", day=16), application_evidence_review("rejected", day=24)),
    )
    assert ("review.field_visit_approved", Outcome.passed) in rules_of(v)
    assert v.status is Status.needs_field_verification


def test_application_evidence_after_the_supervisors_decision_is_new_input() -> None:
    before = verdict(not_in_dtsen, evidence=(application_evidence(day=20),), **decided("eligible"))
    assert before.status is Status.eligible  # the supervisor saw it when deciding
    after = verdict(not_in_dtsen, evidence=(application_evidence(day=28),), **decided("eligible"))
    assert after.status is Status.needs_review
    assert ("review.evidence", Outcome.review) in rules_of(after)


def test_every_datum_of_the_new_rules_names_its_source() -> None:
    v = verdict(dies(APPLICANT, dt.date(2025, 9, 30)), **decided("eligible"))
    for datum in rule(v, "review.facts_changed").data:
        assert datum.source
        if datum.source not in ("supervisor",) and not datum.source.startswith("aturan/"):
            assert datum.as_of == AS_OF
