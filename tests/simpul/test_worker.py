"""The verification pipeline end to end: ``simpul worker`` as its own process beside ``simpul serve``, both on the
pipeline's own relational store and CouchDB (``tests/fixtures/pipeline.py``), with a real PouchDB device syncing
through the gateway, a registry going down and coming back, a poison document, SIGKILLs and SIGTERM.

Scenarios come from ``simpul.scenarios`` on the session's generated reference data, each on a family no other test
of the session uses (the case projection remembers every household).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from simpul.scenarios import BULK_KINDS, LATENG, Scenario, ScenarioKind
from tests.devices.pouch import PouchDevice
from tests.fixtures.gateway import LATENG_DB, GatewayProcess, login
from tests.fixtures.pipeline import PipelineEnv, WorkerProcess, query, wait_for, worker_report

pytestmark = pytest.mark.live

AGENT = "agent.lateng"
DEVICE_ID = "hp-lateng-1"


def _device_doc(
    device: PouchDevice, doc_id: str, *, status: str | None = None, timeout: float = 60.0
) -> dict[str, Any]:
    """Wait until the device's local database holds ``doc_id`` (with ``status`` when given; decided otherwise)."""

    def ready() -> dict[str, Any] | None:
        doc: dict[str, Any] | None = device.call("get", db=LATENG_DB, id=doc_id)
        if doc is None:
            return None
        if status is not None:
            return doc if doc.get("status") == status else None
        return doc if doc.get("decision") or doc.get("type") == "task" else None

    return wait_for(ready, timeout=timeout, what=f"{doc_id} on the device")


def _decisions(pipeline_env: PipelineEnv, scenario: Scenario) -> list[str]:
    """The statuses recorded in ``case_decisions`` for the scenario's application, in order."""
    rows = query(
        pipeline_env.database,
        "SELECT status FROM case_decisions WHERE application_id = ? ORDER BY id",
        scenario.application_id,
    )
    return [row["status"] for row in rows]


def _assert_result_explains_itself(result: dict[str, Any], scenario: Scenario) -> None:
    assert result["type"] == "result"
    assert result["application_id"] == scenario.application_id
    assert result["status"] == result["decision"] == scenario.expected
    assert result["rule_set_version"] == "pkh-2026.1"
    assert result["explanation"] and result["explanation"].endswith(".")
    rules = result["rules"]
    assert rules and all(r["rule"] and r["outcome"] and r["reason"] for r in rules)
    assert {"gather.application", "identity.registry", "eligibility.components"} <= {r["rule"] for r in rules}
    # Every datum says where it came from and as of when the source knew it.
    registry = [d for r in rules if r["rule"] == "identity.registry" for d in r["data"]]
    assert registry and all(d["source"] == "Dukcapil Kemendagri" and d["as_of"] for d in registry)


def test_a_device_syncs_a_case_of_each_decision_and_gets_its_result_back(
    pipeline_env: PipelineEnv,
    pipeline_gateway: GatewayProcess,
    worker_factory: Callable[..., WorkerProcess],
    device_factory: Callable[[str], PouchDevice],
):
    worker_factory()
    kinds = (
        ScenarioKind.eligible,
        ScenarioKind.not_eligible,
        ScenarioKind.needs_field_verification,
        ScenarioKind.needs_review,
    )
    scenarios = {
        kind: pipeline_env.scenario(kind, desa=LATENG, strict=True, agent_id=AGENT, device_id=DEVICE_ID)
        for kind in kinds
    }
    device = device_factory("lateng")
    device.set_token(login(pipeline_gateway.url, AGENT, device_id=DEVICE_ID)["access_token"])
    device.open(LATENG_DB)
    url = f"{pipeline_gateway.url}/sync/{LATENG_DB}"
    live = device.call("liveStart", db=LATENG_DB, url=url, direction="pull")
    try:
        # The household that shares a member with the needs_review family syncs (and is processed) first.
        review = scenarios[ScenarioKind.needs_review]
        device.call("bulk", db=LATENG_DB, docs=[d for case in review.related for d in case.documents()])
        pushed = device.replicate(LATENG_DB, url, "push")
        assert pushed["ok"] and not pushed["denied"], pushed
        wait_for(lambda: pipeline_env.case_processed(review.related[0].household["_id"]), what="related household")

        device.call("bulk", db=LATENG_DB, docs=[d for s in scenarios.values() for d in s.case.documents()])
        pushed = device.replicate(LATENG_DB, url, "push")
        assert pushed["ok"] and not pushed["denied"], pushed

        for kind, scenario in scenarios.items():
            result = _device_doc(device, scenario.result_id, status=scenario.expected)
            _assert_result_explains_itself(result, scenario)
            if kind is ScenarioKind.eligible:
                assert result["components"] and result["yearly_benefit"] > 0
                assert "memenuhi syarat PKH" in result["explanation"]
            if kind is ScenarioKind.not_eligible:
                assert any(r["rule"] == "eligibility.desil" and r["outcome"] == "failed" for r in result["rules"])
            if kind is ScenarioKind.needs_review:
                assert any(r["rule"] == "identity.duplicate" for r in result["rules"])
                assert "supervisor" in result["explanation"]

        visit = scenarios[ScenarioKind.needs_field_verification]
        result = _device_doc(device, visit.result_id)
        assert result["task"] and "kunjungan lapangan" in result["explanation"]
        task = _device_doc(device, visit.task_id)
        assert task["type"] == "task" and task["status"] == "open"
        assert task["application_id"] == visit.application_id and task["desa"] == LATENG
        # Addressed to the pendamping assigned to Lateng (agent.lateng and agent.moving in the test users).
        assert task["assignees"] == ["agent.lateng", "agent.moving"]
        assert task["reasons"] and "field_visit" in task["capture"]
        for kind, scenario in scenarios.items():
            if kind is not ScenarioKind.needs_field_verification:
                assert device.call("get", db=LATENG_DB, id=scenario.task_id) is None
        state = device.call("liveState", handle=live)
        assert not state["errors"], state
    finally:
        device.call("liveStop", handle=live)


def test_a_consent_that_syncs_after_its_application_makes_the_case_wait_then_decide(
    pipeline_env: PipelineEnv, worker_factory: Callable[..., WorkerProcess]
):
    worker_factory()
    scenario = pipeline_env.scenario("eligible", desa="35.10.15.2004", agent_id="agent.kemiren")
    case = scenario.case
    assert case.consent is not None and case.application is not None
    pipeline_env.bulk_docs(scenario.db_name, [case.household, case.application])

    waiting = pipeline_env.wait_result(scenario, status="waiting")
    assert waiting["decision"] is None and waiting["retry"] is True
    assert "persetujuan pemohon" in waiting["explanation"]
    assert any(r["rule"] == "gather.consent" and r["outcome"] == "unresolved" for r in waiting["rules"])
    # Waiting for a document is not a field task (not before the configured wait has passed).
    assert pipeline_env.get(scenario.db_name, scenario.task_id) is None

    pipeline_env.bulk_docs(scenario.db_name, [case.consent])
    decided = pipeline_env.wait_result(scenario, status="eligible")
    assert any(r["rule"] == "gather.consent" and r["outcome"] == "passed" for r in decided["rules"])
    # The projection commits right after the documents are written.
    wait_for(lambda: _decisions(pipeline_env, scenario) == ["waiting", "eligible"], what="the decisions recorded")


def test_a_withdrawal_stops_the_processing_and_the_result_says_so(
    pipeline_env: PipelineEnv, worker_factory: Callable[..., WorkerProcess]
):
    worker_factory()
    scenario = pipeline_env.scenario("eligible", desa="35.10.15.2004", agent_id="agent.kemiren")
    pipeline_env.write(scenario)
    pipeline_env.wait_result(scenario, status="eligible")

    pipeline_env.bulk_docs(scenario.db_name, [scenario.withdrawal()])
    stopped = pipeline_env.wait_result(scenario, status="stopped")
    assert stopped["decision"] is None and stopped["components"] == [] and stopped["yearly_benefit"] == 0
    assert "menarik persetujuan" in stopped["explanation"] and "dihentikan" in stopped["explanation"]
    rules = {r["rule"] for r in stopped["rules"]}
    assert "consent.applicant_withdrawn" in rules
    # No source was consulted for the stopped case.
    assert not rules & {"identity.registry", "eligibility.dtsen", "eligibility.exclusion", "eligibility.assets"}
    wait_for(lambda: _decisions(pipeline_env, scenario) == ["eligible", "stopped"], what="the stop recorded")


def _serve_simulator(pipeline_env: PipelineEnv, port: int) -> subprocess.Popen[bytes]:
    log = (pipeline_env.server.data_dir / f"simulator-{port}.log").open("ab")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simpul.cli",
            "registries",
            "serve-simulator",
            "--port",
            str(port),
            "--database-url",
            pipeline_env.server.database_url,
        ],
        env=pipeline_env.environ(),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    log.close()
    wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1).status_code == 200, what="simulator")
    return process


def _registries_at(port: int) -> dict[str, str]:
    base = f"http://127.0.0.1:{port}"
    return {
        "SIMPUL_REGISTRIES__SOURCE": "http",
        "SIMPUL_REGISTRIES__DUKCAPIL_URL": f"{base}/dukcapil",
        "SIMPUL_REGISTRIES__DTSEN_URL": f"{base}/dtsen",
        "SIMPUL_REGISTRIES__SPLP_URL": f"{base}/splp",
    }


def test_a_registry_that_is_down_makes_the_case_wait_until_it_is_back(
    pipeline_env: PipelineEnv, worker_factory: Callable[..., WorkerProcess]
):
    from tests.fixtures.couch import free_port

    closed = free_port()  # nothing listens there
    worker = worker_factory(**_registries_at(closed))
    scenario = pipeline_env.scenario("eligible", desa="35.10.15.2004", agent_id="agent.kemiren")
    pipeline_env.write(scenario)

    waiting = pipeline_env.wait_result(scenario, status="waiting")
    assert waiting["retry"] is True and "menunggu" in waiting["explanation"].lower()
    assert any(r["rule"].startswith("source.") and r["outcome"] == "skipped" for r in waiting["rules"])
    assert pipeline_env.get(scenario.db_name, scenario.task_id) is None
    assert worker.terminate() == 0

    port = free_port()
    simulator = _serve_simulator(pipeline_env, port)
    try:
        worker_factory(**_registries_at(port))
        decided = pipeline_env.wait_result(scenario, status="eligible")
        registry = [d for r in decided["rules"] if r["rule"] == "identity.registry" for d in r["data"]]
        assert registry and all(d["source"] == "Dukcapil Kemendagri" for d in registry)
    finally:
        simulator.terminate()
        simulator.wait(timeout=30)
    # The projection commits right after the documents are written.
    wait_for(lambda: _decisions(pipeline_env, scenario) == ["waiting", "eligible"], what="the decisions recorded")


def _admin(gateway: GatewayProcess) -> httpx.Client:
    token = login(gateway.url, "admin.kabupaten", device_id="admin-web")["access_token"]
    return httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _cli(pipeline_env: PipelineEnv, *args: str) -> subprocess.CompletedProcess[str]:
    # A wide console, so the table's columns (document ids) are printed whole.
    env = {**pipeline_env.environ(), "COLUMNS": "400"}
    return subprocess.run(
        [sys.executable, "-m", "simpul.cli", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_a_poison_document_is_parked_while_the_rest_flow_and_can_be_requeued(
    pipeline_env: PipelineEnv, pipeline_gateway: GatewayProcess, worker_factory: Callable[..., WorkerProcess]
):
    worker_factory()
    poisoned = pipeline_env.scenario("eligible", desa="35.10.15.2004", agent_id="agent.kemiren")
    healthy = pipeline_env.scenario("not_eligible", desa="35.10.15.2004", agent_id="agent.kemiren")
    application, consent = poisoned.case.application, poisoned.case.consent
    assert application is not None and consent is not None
    # Written with the server's credentials, past the gateway: a body no model can read.
    broken = {**application, "components": "semua anak", "form_version": 1}
    pipeline_env.bulk_docs(poisoned.db_name, [poisoned.case.household, consent, broken])
    pipeline_env.write(healthy)

    pipeline_env.wait_result(healthy, status="not_eligible")

    def parked() -> list[Any]:
        return query(
            pipeline_env.database,
            "SELECT * FROM dead_letters WHERE doc_id = ? AND handler = 'verification'",
            poisoned.application_id,
        )

    [letter] = wait_for(parked, what="the poison document parked")
    assert letter["attempts"] >= 3 and letter["requeued_at"] is None
    assert pipeline_env.result(poisoned) is None

    listed = _cli(pipeline_env, "dead-letters", "list", "--db", poisoned.db_name)
    assert listed.returncode == 0, listed.stderr
    assert poisoned.application_id in listed.stdout and "parked" in listed.stdout

    with _admin(pipeline_gateway) as admin:
        letters = admin.get("/api/v1/admin/dead-letters", params={"db": poisoned.db_name}).json()["dead_letters"]
        [api_letter] = [d for d in letters if d["doc_id"] == poisoned.application_id]
        assert api_letter["id"] == letter["id"] and api_letter["handler"] == "verification"
        assert api_letter["error"]

        # Re-queued while still broken: the worker tries it once more, it stays parked, the request is cleared.
        answer = admin.post(f"/api/v1/admin/dead-letters/{letter['id']}/requeue")
        assert answer.status_code == 202, answer.text

        def tried_again() -> dict[str, Any] | None:
            rows = admin.get("/api/v1/admin/dead-letters", params={"include_requeued": True}).json()["dead_letters"]
            row = next(d for d in rows if d["id"] == letter["id"])
            return row if row["requeue_requested_at"] is None else None

        again = wait_for(tried_again, what="the re-queue request handled")
        assert again["requeued_at"] is None and again["attempts"] == letter["attempts"] + 1

    # The operator repairs the document; its change flows, and a re-queue from the CLI now delivers.
    current = pipeline_env.get(poisoned.db_name, poisoned.application_id)
    assert current is not None
    pipeline_env.put(poisoned.db_name, {**application, "_rev": current["_rev"]})
    pipeline_env.wait_result(poisoned, status="eligible")
    requeued = _cli(pipeline_env, "dead-letters", "requeue", str(letter["id"]))
    assert requeued.returncode == 0, requeued.stderr
    wait_for(lambda: parked()[0]["requeued_at"] is not None, what="the dead letter delivered")
    assert poisoned.application_id not in _cli(pipeline_env, "dead-letters", "list").stdout
    assert "re-queued" in _cli(pipeline_env, "dead-letters", "list", "--all", "--db", poisoned.db_name).stdout


def test_healthz_shows_the_worker_and_sigterm_saves_its_checkpoints(
    pipeline_env: PipelineEnv, pipeline_gateway: GatewayProcess, worker_factory: Callable[..., WorkerProcess]
):
    worker = worker_factory()
    health = httpx.get(pipeline_gateway.url + "/healthz", timeout=10).json()
    assert health["worker"]["ok"] is True and health["worker"]["databases"] == 217
    assert set(health["worker"]["lag_per_database"][LATENG_DB]) >= {"lag", "caught_up", "in_flight", "parked"}

    scenario = pipeline_env.scenario("not_eligible", desa=LATENG, agent_id=AGENT)
    pipeline_env.write(scenario)
    pipeline_env.wait_result(scenario, status="not_eligible")

    def caught_up() -> bool:
        line = httpx.get(pipeline_gateway.url + "/healthz", timeout=10).json()["worker"]["lag_per_database"][LATENG_DB]
        return line["caught_up"] and line["lag"] == 0

    wait_for(caught_up, what="Lateng caught up in /healthz")
    update_seq = pipeline_env.couch.get(f"/{LATENG_DB}").json()["update_seq"]
    result_rev = pipeline_env.result(scenario)["_rev"]  # type: ignore[index]

    assert worker.terminate() == 0
    [checkpoint] = query(
        pipeline_env.database,
        "SELECT seq FROM feed_checkpoints WHERE follower = 'verification' AND db_name = ?",
        LATENG_DB,
    )
    assert checkpoint["seq"] == str(update_seq)
    report = worker_report(pipeline_env.database)
    assert report is not None and not report["running"]
    stopped = httpx.get(pipeline_gateway.url + "/healthz", timeout=10).json()["worker"]
    assert stopped["ok"] is False and stopped["error"] == "stopped"

    # A new worker resumes from the checkpoint: nothing is decided or written again.
    assert _decisions(pipeline_env, scenario) == ["not_eligible"]
    worker_factory()
    time.sleep(2)
    assert pipeline_env.result(scenario)["_rev"] == result_rev  # type: ignore[index]
    assert _decisions(pipeline_env, scenario) == ["not_eligible"]


#: Applications written while the worker is killed and restarted (with their households and consents): the 2,000 the
#: issue asks for. The pipeline decides about 10 applications a second on a quiet 2-core machine (docs/benchmarks.md,
#: "Pipeline"), so the test takes about four minutes. ``SIMPUL_TEST_FLOWING_APPLICATIONS=300`` for a quicker run.
FLOWING_APPLICATIONS = int(os.environ.get("SIMPUL_TEST_FLOWING_APPLICATIONS", "2000"))
#: Kills, at random moments while applications are being written and decided.
KILLS = 6
#: Scenarios written per ``_bulk_docs`` request (three documents each).
BATCH = 20


def _write_in_batches(pipeline_env: PipelineEnv, scenarios: list[Scenario], pause: float, errors: list[BaseException]):
    """Write the scenarios' documents as devices' replications would, a batch per request, in a shuffled order."""
    try:
        by_db: dict[str, list[Scenario]] = {}
        for scenario in scenarios:
            by_db.setdefault(scenario.db_name, []).append(scenario)
        batches = [(db, group[i : i + BATCH]) for db, group in by_db.items() for i in range(0, len(group), BATCH)]
        random.Random(7).shuffle(batches)
        for db, group in batches:
            pipeline_env.bulk_docs(db, [doc for scenario in group for doc in scenario.case.documents()])
            time.sleep(pause)
    except BaseException as exc:  # reported by the test once the thread is joined
        errors.append(exc)


def _undecided(pipeline_env: PipelineEnv, scenarios: list[Scenario]) -> list[Scenario]:
    """The scenarios whose result does not exist yet or holds no decision yet."""
    by_db: dict[str, list[Scenario]] = {}
    for scenario in scenarios:
        by_db.setdefault(scenario.db_name, []).append(scenario)
    late: list[Scenario] = []
    for db, group in by_db.items():
        rows = pipeline_env.couch.post(
            f"/{db}/_all_docs", params={"include_docs": "true"}, json={"keys": [s.result_id for s in group]}
        ).json()["rows"]
        done = {row["key"] for row in rows if row.get("doc") and row["doc"].get("decision")}
        late += [s for s in group if s.result_id not in done]
    return late


@pytest.mark.timeout(1800 + FLOWING_APPLICATIONS)
def test_killed_at_random_points_while_applications_flow_every_one_gets_exactly_one_result(
    pipeline_env: PipelineEnv, worker_factory: Callable[..., WorkerProcess]
):
    scenarios = pipeline_env.bulk(FLOWING_APPLICATIONS, seed=2026, kinds=BULK_KINDS)
    rng = random.Random(20261203)
    worker = worker_factory()
    errors: list[BaseException] = []
    writer = threading.Thread(target=_write_in_batches, args=(pipeline_env, scenarios, 0.5, errors), daemon=True)
    writer.start()
    # Killed while documents arrive, then while the backlog is worked off: at any step of a case.
    kills = 0
    while kills < KILLS and (writer.is_alive() or _undecided(pipeline_env, scenarios)):
        time.sleep(rng.uniform(3.0, 15.0))
        worker.kill()
        kills += 1
        worker = worker_factory()
    writer.join()
    assert errors == []
    wait_for(
        lambda: not _undecided(pipeline_env, scenarios),
        timeout=120 + len(scenarios) * 0.5,  # a safety net well past the ~4 applications/s of a loaded machine
        interval=2,
        what=f"a decided result for each of {len(scenarios)} applications",
    )

    # Exactly one result per application (one id each, so: present, never deleted), each with the status expected.
    statuses: dict[str, str] = {}
    conflicted: list[str] = []
    for db in sorted({s.db_name for s in scenarios}):
        rows = pipeline_env.couch.get(f"/{db}/_all_docs", params={"include_docs": "true", "conflicts": "true"}).json()
        for row in rows["rows"]:
            doc = row["doc"]
            if "_conflicts" in doc:
                conflicted.append(doc["_id"])
            if doc.get("type") == "result":
                statuses[doc["application_id"]] = doc["status"]
    assert conflicted == []
    wrong = [
        (s.kind.value, s.expected, statuses.get(s.application_id))
        for s in scenarios
        if statuses.get(s.application_id) != s.expected
    ]
    assert wrong == []

    # The projection: one case per application, and no decision recorded twice for an unchanged verdict.
    ids = {s.application_id for s in scenarios}
    rows = query(pipeline_env.database, "SELECT application_id, fingerprint FROM case_decisions")
    ours = [(row["application_id"], row["fingerprint"]) for row in rows if row["application_id"] in ids]
    assert len(ours) == len(set(ours))
    assert {application_id for application_id, _ in ours} == ids
    parked = {row["doc_id"] for row in query(pipeline_env.database, "SELECT doc_id FROM dead_letters")}
    assert not parked & {doc["_id"] for s in scenarios for doc in s.case.documents()}
