"""Case files and registry answers for the verification tests: valid documents (through the agent_forms models, from
the forms test kit's examples) and answers that agree with them, so each test changes only what it is about."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from agent_forms.models import (
    Application,
    Consent,
    ConsentSource,
    ConsentWithdrawal,
    Evidence,
    FieldVisit,
    Household,
    Objection,
)
from registries.models import (
    AssetsAnswer,
    BpjsAnswer,
    DtsenAnswer,
    DtsenHousehold,
    DtsenMember,
    EmploymentAnswer,
    HousingIndicators,
    IdentityVerification,
    LifeStatus,
    Match,
    PersonStatus,
)
from sync.verification.case import CaseFile, Doc, OtherClaim, Query, QueryPlan, RegistryFacts, Review, ReviewSubject
from sync.verification.gate import plan_queries
from sync.verification.ruleset import RuleSet, RuleSettings, load_rule_set
from tests.agent_forms import forms_testkit as kit

KEY = "9b2c6c1e-1f0a-4a52-9b53-6f1d8e2f7a10"
APPLICATION_ID = f"application:{KEY}"
HOUSEHOLD_ID = f"household:{KEY}"
CONSENT_ID = f"consent:{KEY}"
KK = kit.KK
CAPTURED = kit.CAPTURED  # 2025-09-14T09:12:03+07:00
REFERENCE = dt.date(2025, 9, 14)
AS_OF = dt.date(2025, 9, 1)

HEAD, SPOUSE, CHILD, PUPIL = kit.HEAD_NIK, kit.SPOUSE_NIK, kit.CHILD_NIK, kit.PUPIL_NIK
APPLICANT = SPOUSE
#: Names in the example household: must never appear in an explanation.
NAMES = ("Slamet Riyadi", "Siti Aminah", "Dewi Lestari", "Bagus Santoso")

ALL_SOURCES = tuple(ConsentSource)
make_nik = kit.make_nik


def rules(**overrides: Any) -> RuleSet:
    return load_rule_set(RuleSettings(**overrides))


def _strip(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if not k.startswith("_")}


def at(day: int, hour: int = 10) -> str:
    """A capture time in September 2025, Banyuwangi time."""
    return f"2025-09-{day:02d}T{hour:02d}:00:00+07:00"


# --- Documents ----------------------------------------------------------------------------------------------


def member(
    nik: str,
    born: str,
    *,
    sex: str = "male",
    relationship: str = "child",
    name: str = "Anggota Keluarga",
    **fields: Any,
) -> dict[str, Any]:
    """A household member as a device writes it; ``fields`` set disability, maternal status, school, …"""
    body: dict[str, Any] = {
        "nik": nik,
        "name": name,
        "birth_date": born,
        "sex": sex,
        "relationship": relationship,
        "school_level": "none",
        "school_status": "never",
        "occupation": "not_working",
    }
    body.update(fields)
    return body


def household_doc(
    *, members: Sequence[dict[str, Any]] | None = None, extra: Iterable[dict[str, Any]] = (), **changes: Any
) -> Doc[Household]:
    body = _strip(kit.household())
    if members is not None:
        body["members"] = list(members)
    body["members"] = [*body["members"], *extra]
    body.update(changes)
    return Doc(HOUSEHOLD_ID, Household.model_validate(body))


def consent_doc(
    subject: str = APPLICANT,
    *,
    granted: Iterable[ConsentSource] = ALL_SOURCES,
    refused: Iterable[ConsentSource] = (),
    captured: str = CAPTURED,
    key: str = KEY,
    born: str = "1984-02-03",
    guardian: dict[str, Any] | None = None,
) -> Doc[Consent]:
    body = _strip(kit.verbal_consent())
    refused = list(refused)
    granted = [s for s in dict.fromkeys(granted) if s not in refused]
    body.update(
        subject_nik=subject,
        subject_birth_date=born,
        captured_at=captured,
        purposes=[{"source": s.value, "granted": True} for s in granted]
        + [{"source": s.value, "granted": False} for s in refused],
        guardian=guardian,
    )
    return Doc(f"consent:{key}", Consent.model_validate(body))


def withdrawal_doc(
    subject: str = APPLICANT,
    *,
    sources: Iterable[ConsentSource] | None = None,
    captured: str = at(20),
    key: str = "w1",
    born: str = "1984-02-03",
    guardian: dict[str, Any] | None = None,
    name: str | None = None,
    desa: str | None = None,
) -> Doc[ConsentWithdrawal]:
    """A withdrawal by ``subject``, named as the household names them unless ``name`` says otherwise."""
    body = _strip(kit.consent_withdrawal())
    chosen = list(sources or ())
    listed = {m["nik"]: m["name"] for m in kit.household()["members"]}
    body.update(
        subject_nik=subject,
        subject_name=name or listed.get(subject, body["subject_name"]),
        subject_birth_date=born,
        captured_at=captured,
        desa=desa or body["desa"],
        scope="all" if sources is None else "sources",
        sources=[s.value for s in chosen],
        guardian=guardian,
    )
    return Doc(f"consent_withdrawal:{key}", ConsentWithdrawal.model_validate(body))


GUARDIAN = {"nik": SPOUSE, "name": "Siti Aminah", "relationship": "mother"}


def application_doc(components: Sequence[tuple[str, str]] | None = None, **changes: Any) -> Doc[Application]:
    body = _strip(kit.application())
    if components is not None:
        body["components"] = [{"component": c, "member_nik": n} for c, n in components]
    body.update(changes)
    return Doc(APPLICATION_ID, Application.model_validate(body))


def objection_doc(key: str = "o1", captured: str = at(25)) -> Doc[Objection]:
    body = _strip(kit.objection())
    body["captured_at"] = captured
    return Doc(f"objection:{key}", Objection.model_validate(body))


def field_visit_doc(key: str = "v1", recommendation: str = "eligible") -> Doc[FieldVisit]:
    body = _strip(kit.field_visit())
    body["task_id"] = f"task:{APPLICATION_ID}"
    body["recommendation"] = recommendation
    return Doc(f"field_visit:{key}", FieldVisit.model_validate(body))


def evidence_doc(
    key: str = "e1", *, field_visit_id: str | None = "field_visit:v1", captured: str | None = None
) -> Doc[Evidence]:
    """Photos for a field visit, or attached to the application itself when ``field_visit_id`` is None."""
    body = _strip(kit.evidence())
    if field_visit_id is None:
        body.update(field_visit_id=None, application_id=APPLICATION_ID)
    else:
        body["field_visit_id"] = field_visit_id
    if captured is not None:
        body["captured_at"] = captured
    return Doc(f"evidence:{key}", Evidence.model_validate(body))


def application_evidence(key: str = "a1", *, day: int = 20) -> Doc[Evidence]:
    """Photos attached to the application itself (no field visit), captured on ``day`` of September 2025."""
    return evidence_doc(key, field_visit_id=None, captured=at(day))


def review_doc(
    decision: str,
    *,
    evidence_id: str | None = "evidence:e1",
    day: int = 26,
    reason: str = "",
    reviewed_at: str | None = None,
    field_visit_id: str | None = "field_visit:v1",
) -> Doc[Review]:
    """A supervisor's review: of one evidence document (approved | rejected), or of the case (eligible |
    not_eligible) when ``evidence_id`` is None. ``reviewed_at`` (ISO 8601) overrides ``day``."""
    subject = ReviewSubject.evidence if evidence_id else ReviewSubject.case
    review = Review(
        subject=subject,
        decision=decision,
        reason=reason or "Sesuai hasil pemeriksaan",
        reviewer="spv.banyuwangi",
        reviewed_at=dt.datetime.fromisoformat(reviewed_at or at(day)),
        application_id=APPLICATION_ID,
        evidence_id=evidence_id,
        field_visit_id=field_visit_id if evidence_id else None,
    )
    return Doc(f"review:{evidence_id or APPLICATION_ID}", review)


def application_evidence_review(decision: str, key: str = "a1", *, day: int = 22, reason: str = "") -> Doc[Review]:
    """A supervisor's review of :func:`application_evidence`."""
    return review_doc(decision, evidence_id=f"evidence:{key}", day=day, reason=reason, field_visit_id=None)


def elsewhere(nik: str = HEAD, *, application_id: str | None = None) -> OtherClaim:
    return OtherClaim(nik=nik, application_id=application_id, household_id="household:other", desa="35.10.16.1014")


_DEFAULT: Any = object()


def case_file(
    *,
    application: Doc[Application] | None = None,
    household: Doc[Household] | None = _DEFAULT,
    consent: Doc[Consent] | None = _DEFAULT,
    **rest: Any,
) -> CaseFile:
    """The example family's case: the applicant (the wife, pregnant) claims the pregnancy, the young child and the
    pupil's severe disability; every source consented to."""
    return CaseFile(
        application=application if application is not None else application_doc(),
        household=household_doc() if household is _DEFAULT else household,
        consent=consent_doc() if consent is _DEFAULT else consent,
        **rest,
    )


# --- Registry answers ---------------------------------------------------------------------------------------

_RELATIONSHIPS = {
    "head": "kepala",
    "spouse": "istri_suami",
    "child": "anak",
    "child_in_law": "menantu",
    "grandchild": "cucu",
    "parent": "orang_tua",
}
_ENROLLED_YEARS = {"sd": 3, "smp": 7, "sma": 10}
_FINISHED_YEARS = {"none": 0, "paud": 0, "sd": 6, "smp": 9, "sma": 12, "higher": 16}


def dtsen_member(m: Any) -> DtsenMember:
    """What DTSEN would hold for a declared member when the two agree."""
    enrolled = m.school_status.value == "enrolled" and m.school_level.value in _ENROLLED_YEARS
    return DtsenMember(
        nik=m.nik,
        name=m.name,
        sex="P" if m.sex.value == "female" else "L",
        birth_date=m.birth_date,
        relationship=_RELATIONSHIPS.get(m.relationship.value, "famili_lain"),
        education=m.school_level.value if m.school_level.value in ("sd", "smp", "sma") else "tidak_sekolah",
        school_level=m.school_level.value if enrolled else None,
        years_of_schooling=_ENROLLED_YEARS[m.school_level.value] if enrolled else _FINISHED_YEARS[m.school_level.value],
        occupation=m.occupation.value,
        disability={"none": "tidak", "mild": "ringan", "severe": "berat"}[m.disability.value],
        chronic_illness=False,
        pregnant=m.maternal_status.value == "pregnant",
    )


HOUSING = HousingIndicators(
    house_ownership="milik_sendiri",
    floor_area_m2=36,
    floor="semen",
    wall="bambu",
    roof="genteng",
    drinking_water="sumur",
    lighting="pln_meteran",
    electricity_va=450,
    cooking_fuel="lpg_3kg",
    toilet="bersama",
    owns_land=False,
    livestock=True,
    motorcycles=1,
    cars=0,
)


def agreeing_facts(case: CaseFile, plan: QueryPlan, *, desil: int = 3) -> RegistryFacts:
    """Answers to every planned question that agree with the declared household: the case is eligible."""
    identity: dict[str, IdentityVerification] = {}
    life: dict[str, PersonStatus] = {}
    dtsen: dict[str, DtsenAnswer] = {}
    employment: dict[str, EmploymentAnswer] = {}
    bpjs: dict[str, BpjsAnswer] = {}
    assets: dict[str, AssetsAnswer] = {}
    hh = case.household.body if case.household else None
    for query, key in sorted(plan.queries):
        if query is Query.identity:
            identity[key] = IdentityVerification(
                nik_found=True,
                name=Match.match,
                birth_date=Match.match,
                kk_number=Match.match,
                source="Dukcapil Kemendagri",
                as_of=AS_OF,
            )
        elif query is Query.life_status:
            life[key] = PersonStatus(nik=key, status=LifeStatus.alive, source="Dukcapil Kemendagri", as_of=AS_OF)
        elif query is Query.dtsen_household:
            assert hh is not None
            dtsen[key] = DtsenAnswer(
                households=[
                    DtsenHousehold(
                        dtsen_id="DTSEN-0001",
                        kk_number=key,
                        desa_code="3510161014",
                        address="Jl. Kapten Ilyas",
                        desil=desil,
                        ranking_date=dt.date(2025, 7, 1),
                        housing=HOUSING,
                        members=[dtsen_member(m) for m in hh.members],
                    )
                ],
                source="DTSEN (BPS)",
                as_of=AS_OF,
            )
        elif query is Query.employment:
            employment[key] = EmploymentAnswer(nik=key, records=[], source="SPLP (Komdigi)", as_of=AS_OF)
        elif query is Query.bpjs:
            bpjs[key] = BpjsAnswer(
                nik=key, kesehatan_segment="pbi", ketenagakerjaan_active=False, source="BPJS", as_of=AS_OF
            )
        elif query is Query.assets:
            assets[key] = AssetsAnswer(
                nik=key, vehicles=[], electricity=[], land=[], source="SPLP (Komdigi)", as_of=AS_OF
            )
    return RegistryFacts(
        identity=identity, life_status=life, dtsen=dtsen, employment=employment, bpjs=bpjs, assets=assets
    )


def patch(facts: RegistryFacts, kind: str, key: str, **changes: Any) -> RegistryFacts:
    """``facts`` with the answer ``kind[key]`` (a field of RegistryFacts) changed."""
    answers = dict(getattr(facts, kind))
    answers[key] = answers[key].model_copy(update=changes)
    changed: dict[str, Any] = {kind: answers}
    return dataclasses.replace(facts, **changed)


def patch_dtsen_member(facts: RegistryFacts, nik: str, **changes: Any) -> RegistryFacts:
    answer = facts.dtsen[KK]
    hh = answer.households[0]
    members = [m.model_copy(update=changes) if m.nik == nik else m for m in hh.members]
    return patch(facts, "dtsen", KK, households=[hh.model_copy(update={"members": members})])


def plan_and_facts(
    case: CaseFile, rule_set: RuleSet | None = None, *, desil: int = 3
) -> tuple[QueryPlan, RegistryFacts]:
    plan = plan_queries(case, rule_set or rules())
    return plan, agreeing_facts(case, plan, desil=desil)
