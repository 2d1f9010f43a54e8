"""Scenarios built from the reference data: valid device documents, deterministic, and each one reaching the status
it states through the verification steps (consent gate, registry look-ups on the local store, decision)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from agent_forms import validate_document
from agent_forms.attachments import Limits
from agent_forms.models import Application, Consent, ConsentSource, Household
from registries.generator import ReferenceDataGenerator, load
from registries.sources import local_sources
from replication.localserver import LocalCouchServer
from simpul import scenarios
from simpul.db import make_async_engine, make_sync_engine
from simpul.scenarios import KEMIREN, LATENG, NoFamilyFits, Scenario, ScenarioKind, build_scenario, bulk_scenarios
from sync.cases.facts import fetch_facts
from sync.cases.tables import CaseRecord
from sync.verification.case import CaseFile, Doc, OtherClaim
from sync.verification.decide import evaluate
from sync.verification.gate import plan_queries
from sync.verification.ruleset import RuleSettings, load_rule_set
from sync.verification.verdict import Verdict
from tests.fixtures.pipeline import REFERENCE_HOUSEHOLDS, REFERENCE_SEED

RULES = load_rule_set(RuleSettings())


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, str]]:
    """The same reference data as the pipeline tests' session (same seed and size), in a file of its own."""
    url = f"sqlite:///{tmp_path_factory.mktemp('scenarios') / 'reference.db'}"
    engine = make_sync_engine(url)
    load(engine, ReferenceDataGenerator(REFERENCE_SEED, REFERENCE_HOUSEHOLDS))
    yield engine, url
    engine.dispose()


def _body(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if not k.startswith("_")}


def _verdict(scenario: Scenario, url: str) -> Verdict:
    """What the pipeline decides for the scenario's case, with the related households as the projection would show
    them (the same NIK elsewhere in the kabupaten)."""
    case_docs = scenario.case
    assert case_docs.consent is not None and case_docs.application is not None
    ours = {m["nik"] for m in case_docs.household["members"]}
    elsewhere = tuple(
        OtherClaim(m["nik"], None, related.household["_id"], related.household["desa"])
        for related in scenario.related
        for m in related.household["members"]
        if m["nik"] in ours
    )
    case = CaseFile(
        application=Doc(case_docs.application["_id"], Application.model_validate(_body(case_docs.application))),
        household=Doc(case_docs.household["_id"], Household.model_validate(_body(case_docs.household))),
        consent=Doc(case_docs.consent["_id"], Consent.model_validate(_body(case_docs.consent))),
        elsewhere=elsewhere,
    )

    async def decide() -> Verdict:
        engine = make_async_engine(url)
        try:
            plan = plan_queries(case, RULES)
            facts = await fetch_facts(case, plan, local_sources(engine))
            return evaluate(case, plan, facts, RULES)
        finally:
            await engine.dispose()

    return asyncio.run(decide())


@pytest.mark.parametrize("desa", [LATENG, KEMIREN])
@pytest.mark.parametrize("kind", list(ScenarioKind))
def test_every_kind_gives_valid_documents_that_reach_the_expected_status(
    reference: tuple[Engine, str], kind: ScenarioKind, desa: str
):
    engine, url = reference
    scenario = build_scenario(engine, kind, desa=desa, agent_id="agent.uji", device_id="hp-uji")

    assert scenario.kind is kind
    assert scenario.moved == (scenario.desa != desa)
    if kind in scenarios.DECISION_KINDS:
        assert scenario.expected == kind.value
        assert not scenario.moved, "Lateng and Kemiren have a family for each decision"
    for case in (*scenario.related, scenario.case):
        for doc in case.documents():
            # The gateway's own check, in the database the document belongs to, under the agent's name.
            checked = validate_document(
                doc,
                desa_code=case.db_name.removeprefix("desa_"),
                agent_id="agent.uji",
                attachments=None,
                limits=Limits(),
            )
            assert checked.errors == [], (doc["_id"], checked.errors)
            assert doc["_id"].startswith(f"{doc['type']}:")
            assert doc["agent_id"] == "agent.uji" and doc["device_id"] == "hp-uji"
    consent = scenario.case.consent
    application = scenario.case.application
    assert consent is not None and application is not None
    assert consent["method"]["kind"] == "witnessed_verbal" and "_attachments" not in consent
    assert {p["source"] for p in consent["purposes"] if p["granted"]} == {s.value for s in ConsentSource}
    assert application["consent_id"] == consent["_id"]
    assert application["household_id"] == scenario.case.household["_id"] == consent["household_id"]
    assert application["applicant_nik"] == consent["subject_nik"]
    members = {m["nik"] for m in scenario.case.household["members"]}
    assert {c["member_nik"] for c in application["components"]} <= members
    assert scenario.result_id == f"result:{application['_id']}"
    assert scenario.families[0] and len(set(scenario.families)) == len(scenario.families) == 1 + len(scenario.related)

    verdict = _verdict(scenario, url)
    assert verdict.status.value == scenario.expected, [
        (r.rule, r.outcome.value, r.reason) for r in verdict.rules if r.outcome.value not in ("passed", "info")
    ]


def test_variants_and_what_the_edge_cases_show(reference: tuple[Engine, str]):
    engine, url = reference
    mismatch = build_scenario(engine, "needs_field_verification", desa=LATENG)
    # Lateng has no family missing from DTSEN in this data: the applicant is declared under another name.
    assert mismatch.variant == "name_mismatch"
    reasons = {r.rule: r for r in _verdict(mismatch, url).rules if r.outcome.value == "unresolved"}
    assert "identity.registry" in reasons

    review = build_scenario(engine, "needs_review", desa=LATENG)
    assert review.variant in ("duplicate_household", "shared_member") and len(review.related) == 1
    shared = {m["nik"] for m in review.related[0].household["members"]} & {
        m["nik"] for m in review.case.household["members"]
    }
    assert len(shared) == 1
    assert any(r.rule == "identity.duplicate" for r in _verdict(review, url).rules)

    deceased = build_scenario(engine, "deceased_member", desa=LATENG)
    rules = _verdict(deceased, url).rules
    assert any(r.rule == "identity.life_status" and "meninggal" in r.reason for r in rules)

    missing = build_scenario(engine, "missing_from_dtsen", desa=LATENG)
    assert any(r.rule == "eligibility.dtsen" and r.outcome.value == "unresolved" for r in _verdict(missing, url).rules)

    twin = build_scenario(engine, "duplicate_household", desa=KEMIREN)
    assert twin.related and twin.expected == "needs_review"


def test_deterministic_for_a_seed(reference: tuple[Engine, str]):
    engine, _ = reference
    for kind in ScenarioKind:
        first = build_scenario(engine, kind, desa=KEMIREN, seed=5)
        again = build_scenario(engine, kind, desa=KEMIREN, seed=5)
        assert first == again
        assert json.dumps(first.documents(), sort_keys=True) == json.dumps(again.documents(), sort_keys=True)
    other = build_scenario(engine, "eligible", desa=KEMIREN, seed=6)
    assert other.application_id != build_scenario(engine, "eligible", desa=KEMIREN, seed=5).application_id


def test_strict_refuses_to_move_and_the_default_says_where_it_went(reference: tuple[Engine, str]):
    engine, _ = reference
    # The generator gives every label to its first households, which are in the first kecamatan, not in Lateng.
    with pytest.raises(NoFamilyFits, match=r"35\.10\.16\.1014"):
        build_scenario(engine, "duplicate_household", desa=LATENG, strict=True)
    moved = build_scenario(engine, "duplicate_household", desa=LATENG)
    assert moved.moved and moved.desa != LATENG
    assert moved.db_name == f"desa_{moved.desa.replace('.', '')}" == moved.case.db_name
    with pytest.raises(ValueError, match="not a desa code"):
        build_scenario(engine, "eligible", desa="35.10.16")


def test_exclude_gives_other_families_until_none_is_left(reference: tuple[Engine, str]):
    engine, _ = reference
    used: set[str] = set()
    applicants: set[str] = set()
    while True:
        try:
            scenario = build_scenario(engine, "not_eligible", desa=KEMIREN, strict=True, exclude=used)
        except NoFamilyFits:
            break
        assert not used & set(scenario.families)
        used.update(scenario.families)
        assert scenario.case.application is not None
        applicants.add(scenario.case.application["applicant_nik"])
    assert len(applicants) == len(used) >= 1


def test_bulk_families_are_distinct_and_each_in_its_own_desa(reference: tuple[Engine, str]):
    engine, url = reference
    kinds = [ScenarioKind.eligible, ScenarioKind.not_eligible, ScenarioKind.missing_from_dtsen]
    batch = bulk_scenarios(engine, 300, seed=3, kinds=kinds)
    assert len(batch) == 300
    assert len({s.families[0] for s in batch}) == 300
    assert {s.kind for s in batch} == set(kinds)
    assert all(s.case.household["desa"] == s.desa and not s.moved for s in batch)
    niks = [m["nik"] for s in batch for m in s.case.household["members"]]
    assert len(niks) == len(set(niks)), "no person in two of the families"
    assert batch == bulk_scenarios(engine, 300, seed=3, kinds=kinds)
    for scenario in batch[:40]:
        assert _verdict(scenario, url).status.value == scenario.expected

    only_lateng = bulk_scenarios(engine, 5, desa=[LATENG], exclude=batch[0].families)
    assert {s.desa for s in only_lateng} == {LATENG}
    with pytest.raises(ValueError, match="one at a time"):
        bulk_scenarios(engine, 1, kinds=["needs_review"])
    with pytest.raises(NoFamilyFits):
        bulk_scenarios(engine, 10_000)


def test_module_prints_the_documents_of_a_scenario(
    reference: tuple[Engine, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    _, url = reference
    monkeypatch.setenv("SIMPUL_DATABASE_URL", url)
    monkeypatch.setenv("SIMPUL_DATA_DIR", str(tmp_path))
    scenarios.main(["needs_review", "--desa", KEMIREN, "--agent", "pendamping.kemiren"])
    printed = capsys.readouterr()
    assert printed.err.startswith("# needs_review: expect needs_review in desa_3510152004")
    assert "not written (add --write)" in printed.err
    docs = [json.loads(line) for line in printed.out.splitlines()]  # stdout is only the documents, for jq
    assert [d["type"] for d in docs] == ["household", "household", "consent", "application"]
    assert {d["agent_id"] for d in docs} == {"pendamping.kemiren"}


def test_module_skips_the_families_of_cases_the_store_has_seen(
    reference: tuple[Engine, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    engine, url = reference
    monkeypatch.setenv("SIMPUL_DATABASE_URL", url)
    monkeypatch.setenv("SIMPUL_DATA_DIR", str(tmp_path))

    def household() -> dict[str, Any]:
        scenarios.main(["eligible", "--desa", LATENG])
        docs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        return next(d for d in docs if d["type"] == "household")

    first = household()
    CaseRecord.__table__.create(engine)  # type: ignore[attr-defined]
    try:
        with Session(engine) as session:
            session.add(
                CaseRecord(
                    application_id="application:x",
                    desa=LATENG,
                    db_name="desa_3510161014",
                    applicant_nik="1" * 16,
                    status="eligible",
                    kk_number=first["kk_number"],
                )
            )
            session.commit()
        second = household()  # the same seed, another family: writing it again would be a duplicate
        assert second["kk_number"] != first["kk_number"] and second["_id"] != first["_id"]
    finally:
        CaseRecord.__table__.drop(engine)  # type: ignore[attr-defined]


def test_a_withdrawal_of_the_applicant_is_a_valid_document(reference: tuple[Engine, str]):
    engine, _ = reference
    scenario = build_scenario(engine, "eligible", desa=KEMIREN, agent_id="agent.kemiren")
    withdrawal = scenario.withdrawal()
    assert withdrawal == scenario.withdrawal()
    verdict = validate_document(
        withdrawal, desa_code="3510152004", agent_id="agent.kemiren", attachments=None, limits=Limits()
    )
    assert verdict.errors == []
    assert withdrawal["scope"] == "all" and withdrawal["consent_id"] == scenario.case.consent["_id"]  # type: ignore[index]
    partial = scenario.withdrawal(sources=[ConsentSource.BKN])
    assert partial["scope"] == "sources" and partial["sources"] == ["bkn"]


@pytest.mark.live
def test_module_writes_the_documents_for_a_running_worker(
    reference: tuple[Engine, str],
    couch_server: LocalCouchServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
):
    _, url = reference
    monkeypatch.setenv("SIMPUL_DATABASE_URL", url)
    monkeypatch.setenv("SIMPUL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SIMPUL_COUCHDB_URL", couch_server.url)
    args = ["not_eligible", "--desa", "35.10.25.2001", "--agent", "pendamping.uji", "--strict", "--write"]
    scenarios.main(args)
    printed = capsys.readouterr()
    docs = [json.loads(line) for line in printed.out.splitlines()]
    assert "# written; the worker writes result:application:" in printed.err
    for doc in docs:
        stored = httpx.get(f"{couch_server.url}/desa_3510252001/{doc['_id']}").json()
        assert stored["type"] == doc["type"] and stored["agent_id"] == "pendamping.uji"
    with pytest.raises(SystemExit, match="not yet decided by the worker"):  # written twice before it is seen
        scenarios.main(args)
