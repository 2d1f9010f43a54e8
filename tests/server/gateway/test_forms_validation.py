"""Every document a real PouchDB device writes goes through the form rules (agent_forms) at the gateway: refused
ones come back as ``denied`` with a reason naming the field and the rule, and as ``sync_issue`` documents the
device pulls; the rest of the batch is stored."""

from __future__ import annotations

import io
import uuid
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.agent_forms.forms_testkit import HEAD_NIK, bilevel_png, inline, jpeg_bytes
from tests.fixtures.forms import form_doc
from tests.fixtures.gateway import KEMIREN, LATENG_DB, GatewayProcess, login

pytestmark = pytest.mark.live

BAD_MONTH_NIK = HEAD_NIK[:8] + "13" + HEAD_NIK[10:]  # 3510161713800001: month 13


def _key() -> str:
    return str(uuid.uuid4())


def _upstream(couch, ids: list[str]) -> dict[str, Any]:
    rows = httpx.post(
        f"{couch.url}/{LATENG_DB}/_all_docs", json={"keys": ids}, params={"include_docs": "true"}, timeout=60
    ).json()["rows"]
    return {row["id"]: row["doc"] for row in rows if row.get("doc")}


def _device(device_factory, gateway: GatewayProcess, name: str = "device"):
    device = device_factory(name)
    device.open(LATENG_DB)
    device.set_token(login(gateway.url, "agent.lateng")["access_token"])
    return device


def _push(device, gateway: GatewayProcess) -> dict[str, Any]:
    pushed: dict[str, Any] = device.replicate(LATENG_DB, f"{gateway.url}/sync/{LATENG_DB}", "push")
    assert pushed["ok"], pushed
    return pushed


def _pull(device, gateway: GatewayProcess) -> None:
    pulled = device.replicate(LATENG_DB, f"{gateway.url}/sync/{LATENG_DB}", "pull")
    assert pulled["ok"], pulled


def _denied(pushed: dict[str, Any]) -> dict[str, str]:
    return {d["id"]: d["reason"] for d in pushed["denied"]}


def _household_with_bad_nik(key: str | None = None) -> dict[str, Any]:
    doc = form_doc("household", key=key or _key())
    doc["members"][0]["nik"] = BAD_MONTH_NIK
    return doc


def test_a_mixed_batch_stores_the_valid_and_the_device_pulls_why_the_rest_were_refused(
    gateway: GatewayProcess, couch_server, device_factory
):
    valid = [form_doc(kind) for kind in ("household", "consent", "application", "field_visit", "evidence")]
    bad_nik = _household_with_bad_nik()
    not_a_form: dict[str, Any] = {"_id": f"bench:{_key()}", "type": "bench", "n": 1}
    other_agent = form_doc("household", agent="agent.kemiren")
    other_desa = form_doc("household", desa=KEMIREN)
    wrong_prefix = {**form_doc("consent"), "_id": f"household:{_key()}"}
    server_owned = {"_id": f"result:application:{_key()}", "type": "result", "status": "eligible"}
    own_issue = {"_id": f"sync_issue:household:{_key()}", "type": "sync_issue", "status": "resolved"}
    old_version = {**form_doc("objection"), "form_version": 99}
    invalid = [bad_nik, not_a_form, other_agent, other_desa, wrong_prefix, server_owned, own_issue, old_version]
    device = _device(device_factory, gateway)
    device.call("bulk", db=LATENG_DB, docs=[*valid[:3], *invalid, *valid[3:]])

    pushed = _push(device, gateway)

    denied = _denied(pushed)
    assert set(denied) == {doc["_id"] for doc in invalid}
    # field: message (rule).
    assert denied[bad_nik["_id"]].startswith("members[0].nik: ") and "(nik.month)" in denied[bad_nik["_id"]]
    assert "bulan" in denied[bad_nik["_id"]].lower()
    assert denied[not_a_form["_id"]].startswith("type: ") and "(form.type_unknown)" in denied[not_a_form["_id"]]
    assert "(agent.mismatch)" in denied[other_agent["_id"]] and "petugas lain" in denied[other_agent["_id"]]
    assert denied[other_desa["_id"]].startswith("desa: ") and "(desa.mismatch)" in denied[other_desa["_id"]]
    assert "(id.prefix)" in denied[wrong_prefix["_id"]]
    assert (
        "(type.server_owned)" in denied[server_owned["_id"]]
        and "hanya ditulis oleh server" in denied[server_owned["_id"]]
    )
    assert "(type.server_owned)" in denied[own_issue["_id"]]  # a device cannot resolve its own issue
    assert "(form.version_unknown)" in denied[old_version["_id"]]
    stored = _upstream(couch_server, [doc["_id"] for doc in [*valid, *invalid]])
    assert set(stored) == {doc["_id"] for doc in valid}

    _pull(device, gateway)
    for doc in invalid:
        issue = device.call("get", db=LATENG_DB, id=f"sync_issue:{doc['_id']}")
        assert issue is not None, doc["_id"]
        assert issue["type"] == "sync_issue" and issue["status"] == "open"
        assert issue["doc_id"] == doc["_id"] and issue["agent_id"] == "agent.lateng"
        assert issue["reason"] == denied[doc["_id"]]
        assert issue["problems"] and {"field", "code", "message"} <= set(issue["problems"][0])
    issue = device.call("get", db=LATENG_DB, id=f"sync_issue:{bad_nik['_id']}")
    assert issue["status"] == "open"
    assert issue["problems"][0]["field"] == "members[0].nik" and issue["problems"][0]["code"] == "nik.month"
    for doc in valid:
        assert device.call("get", db=LATENG_DB, id=f"sync_issue:{doc['_id']}") is None


def _noisy_jpeg(size: tuple[int, int] = (256, 256)) -> bytes:
    out = io.BytesIO()
    Image.effect_noise(size, 64).convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


def _evidence_with(photo: bytes, content_type: str = "image/jpeg") -> dict[str, Any]:
    doc = form_doc("evidence")
    doc["_attachments"]["depan.jpg"] = inline(photo, content_type)
    return doc


@pytest.fixture(scope="module")
def roomy_gateway(gateway_factory) -> GatewayProcess:
    """A gateway whose per-document limit lets a 30 MB photo reach the image checks."""
    return gateway_factory(SIMPUL_MAX_DOCUMENT_BYTES=str(64 * 1024 * 1024))


def test_hostile_attachments_are_each_refused_alone_and_the_gateway_stays_healthy(
    roomy_gateway: GatewayProcess, couch_server, device_factory
):
    truncated = _noisy_jpeg()
    hostile = {
        "truncated": (_evidence_with(truncated[: len(truncated) // 2]), "image.corrupt", "rusak atau terpotong"),
        "text": (_evidence_with(b"Ini bukan foto, hanya teks.\n"), "image.format", "bukan gambar"),
        "huge": (_evidence_with(bilevel_png(20_000, 20_000), "image/png"), "image.bomb", "bom dekompresi"),
        "30mb": (_evidence_with(b"\xff\xd8\xff\xe0" + bytes(30 * 1024 * 1024)), "image.too_large", "30,0 MB"),
        "bomb": (_evidence_with(bilevel_png(10_000, 10_000), "image/png"), "image.bomb", "bom dekompresi"),
    }
    fine = [_evidence_with(jpeg_bytes(exif_time="2025:09:14 08:45:10")), form_doc("household")]
    device = _device(device_factory, roomy_gateway)
    docs = [doc for doc, _, _ in hostile.values()]
    device.call("bulk", db=LATENG_DB, docs=[fine[0], *docs, fine[1]])

    pushed = _push(device, roomy_gateway)

    denied = _denied(pushed)
    assert set(denied) == {doc["_id"] for doc in docs}
    for name, (doc, code, words) in hostile.items():
        reason = denied[doc["_id"]]
        assert reason.startswith("_attachments.depan.jpg: "), (name, reason)
        assert f"({code})" in reason and words in reason, (name, reason)
    assert set(_upstream(couch_server, [d["_id"] for d in [*fine, *docs]])) == {d["_id"] for d in fine}
    health = httpx.get(roomy_gateway.url + "/healthz", timeout=30)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    # and it still serves the next write
    later = form_doc("household")
    device.call("bulk", db=LATENG_DB, docs=[later])
    assert _push(device, roomy_gateway)["denied"] == []
    assert set(_upstream(couch_server, [later["_id"]])) == {later["_id"]}


def test_an_application_is_accepted_before_its_household_and_consent_sync(
    gateway: GatewayProcess, couch_server, device_factory
):
    household, consent = form_doc("household"), form_doc("consent")
    application = form_doc("application", household_id=household["_id"], consent_id=consent["_id"])
    device = _device(device_factory, gateway)
    device.call("bulk", db=LATENG_DB, docs=[application])
    assert _push(device, gateway)["denied"] == []
    device.call("bulk", db=LATENG_DB, docs=[consent, household])
    assert _push(device, gateway)["denied"] == []
    assert set(_upstream(couch_server, [household["_id"], consent["_id"], application["_id"]])) == {
        household["_id"],
        consent["_id"],
        application["_id"],
    }


def test_a_correction_that_supersedes_a_refused_document_resolves_its_issue(
    gateway: GatewayProcess, couch_server, device_factory
):
    device = _device(device_factory, gateway)
    refused = _household_with_bad_nik()
    device.call("bulk", db=LATENG_DB, docs=[refused])
    assert set(_denied(_push(device, gateway))) == {refused["_id"]}
    _pull(device, gateway)
    issue_id = f"sync_issue:{refused['_id']}"
    assert device.call("get", db=LATENG_DB, id=issue_id)["status"] == "open"

    correction = form_doc("household", supersedes=refused["_id"])
    device.call("bulk", db=LATENG_DB, docs=[correction])
    assert _push(device, gateway)["denied"] == []

    issue = _upstream(couch_server, [issue_id])[issue_id]
    assert issue["status"] == "resolved" and issue["resolved_by"] == correction["_id"]
    assert issue["problems"][0]["code"] == "nik.month"  # the history stays
    _pull(device, gateway)
    assert device.call("get", db=LATENG_DB, id=issue_id)["status"] == "resolved"
    # The correction sent again (a replicator retrying a batch): nothing changes.
    stored = _upstream(couch_server, [correction["_id"]])[correction["_id"]]
    token = login(gateway.url, "agent.lateng")["access_token"]
    again = httpx.post(
        f"{gateway.url}/sync/{LATENG_DB}/_bulk_docs",
        json={"docs": [stored], "new_edits": False},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert again.status_code == 201 and again.json() == []
    assert _upstream(couch_server, [issue_id])[issue_id]["_rev"] == issue["_rev"]


def test_a_refused_document_fixed_in_place_on_the_device_resolves_its_issue(
    gateway: GatewayProcess, couch_server, device_factory
):
    device = _device(device_factory, gateway)
    refused = _household_with_bad_nik()
    device.call("bulk", db=LATENG_DB, docs=[refused])
    assert set(_denied(_push(device, gateway))) == {refused["_id"]}
    issue_id = f"sync_issue:{refused['_id']}"
    assert _upstream(couch_server, [issue_id])[issue_id]["status"] == "open"

    # The pendamping fixes the NIK before the household ever synced: a second revision of the same id.
    fixed = device.call("get", db=LATENG_DB, id=refused["_id"])
    fixed["members"][0]["nik"] = HEAD_NIK
    device.call("bulk", db=LATENG_DB, docs=[fixed])
    assert _push(device, gateway)["denied"] == []

    stored = _upstream(couch_server, [refused["_id"], issue_id])
    assert stored[refused["_id"]]["_rev"].startswith("2-")
    assert stored[issue_id]["status"] == "resolved" and stored[issue_id]["resolved_by"] == refused["_id"]


def test_a_batch_with_a_refused_document_and_its_correction_ends_resolved(
    gateway: GatewayProcess, couch_server, device_factory
):
    refused = _household_with_bad_nik()
    correction = form_doc("household", supersedes=refused["_id"])
    device = _device(device_factory, gateway)
    device.call("bulk", db=LATENG_DB, docs=[refused, correction])
    assert set(_denied(_push(device, gateway))) == {refused["_id"]}
    issue = _upstream(couch_server, [f"sync_issue:{refused['_id']}"])[f"sync_issue:{refused['_id']}"]
    assert issue["status"] == "resolved" and issue["resolved_by"] == correction["_id"]


def test_warnings_are_recorded_beside_the_document_never_inside_it(
    gateway: GatewayProcess, couch_server, device_factory
):
    doc = form_doc("household")
    doc["members"][0]["sex"] = "female"  # the NIK says male: a soft check, never a refusal
    device = _device(device_factory, gateway)
    device.call("bulk", db=LATENG_DB, docs=[doc])
    assert _push(device, gateway)["denied"] == []

    issue_id = f"sync_issue:{doc['_id']}"
    upstream = _upstream(couch_server, [doc["_id"], issue_id])
    sent = device.call("get", db=LATENG_DB, id=doc["_id"])
    assert upstream[doc["_id"]] == sent  # the device's revision, as it sent it
    issue = upstream[issue_id]
    assert issue["status"] == "warning" and issue["problems"] == []
    assert "nik.sex_mismatch" in {w["code"] for w in issue["warnings"]}
    assert issue["reason"].startswith("Diterima dengan catatan: ")

    correction = form_doc("household", supersedes=doc["_id"])
    device.call("bulk", db=LATENG_DB, docs=[correction])
    assert _push(device, gateway)["denied"] == []
    assert _upstream(couch_server, [issue_id])[issue_id]["status"] == "resolved"


def test_a_new_revision_of_a_synced_submission_is_refused(gateway: GatewayProcess, couch_server, device_factory):
    device = _device(device_factory, gateway)
    doc = form_doc("household")
    device.call("bulk", db=LATENG_DB, docs=[doc])
    assert _push(device, gateway)["denied"] == []
    first_rev = _upstream(couch_server, [doc["_id"]])[doc["_id"]]["_rev"]

    edited = device.call("get", db=LATENG_DB, id=doc["_id"])
    edited["address"]["rt"] = "009"
    device.call("bulk", db=LATENG_DB, docs=[edited])
    denied = _denied(_push(device, gateway))
    assert set(denied) == {doc["_id"]}
    assert denied[doc["_id"]].startswith("_rev: ") and "(submission.immutable)" in denied[doc["_id"]]
    assert "supersedes" in denied[doc["_id"]]
    assert _upstream(couch_server, [doc["_id"]])[doc["_id"]]["_rev"] == first_rev

    # A plain PUT (new_edits) of the same id is a new revision too.
    token = login(gateway.url, "agent.lateng")["access_token"]
    put = httpx.put(
        f"{gateway.url}/sync/{LATENG_DB}/{doc['_id']}",
        json={**{k: v for k, v in edited.items() if k != "_rev"}, "_rev": first_rev},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert put.status_code == 403 and put.json()["error"] == "forbidden"
    assert "submission.immutable" in put.json()["reason"]


def test_deleting_a_submission_is_refused(gateway: GatewayProcess, couch_server, device_factory):
    device = _device(device_factory, gateway)
    doc = form_doc("consent")
    device.call("bulk", db=LATENG_DB, docs=[doc])
    assert _push(device, gateway)["denied"] == []
    stored = device.call("get", db=LATENG_DB, id=doc["_id"])

    device.call("bulk", db=LATENG_DB, docs=[{"_id": doc["_id"], "_rev": stored["_rev"], "_deleted": True}])
    denied = _denied(_push(device, gateway))
    assert set(denied) == {doc["_id"]} and "(submission.delete)" in denied[doc["_id"]]
    assert doc["_id"] in _upstream(couch_server, [doc["_id"]])

    token = login(gateway.url, "agent.lateng")["access_token"]
    delete = httpx.delete(
        f"{gateway.url}/sync/{LATENG_DB}/{doc['_id']}",
        params={"rev": stored["_rev"]},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert delete.status_code == 403 and "submission.delete" in delete.json()["reason"]
    assert doc["_id"] in _upstream(couch_server, [doc["_id"]])


def test_two_versions_of_one_new_document_in_a_batch_store_only_the_first(gateway: GatewayProcess, couch_server):
    """With new_edits=false both would be stored as conflicting versions of one submission."""
    token = login(gateway.url, "agent.lateng")["access_token"]
    first, second = form_doc("household"), form_doc("household")
    second["_id"] = first["_id"]
    second["address"]["rt"] = "009"
    first |= {"_rev": "1-aaaa", "_revisions": {"start": 1, "ids": ["aaaa"]}}
    second |= {"_rev": "1-ffff", "_revisions": {"start": 1, "ids": ["ffff"]}}
    answer = httpx.post(
        f"{gateway.url}/sync/{LATENG_DB}/_bulk_docs",
        json={"docs": [first, second], "new_edits": False},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert answer.status_code == 201
    [refusal] = answer.json()
    assert refusal["id"] == first["_id"] and refusal["error"] == "forbidden"
    assert "dua versi" in refusal["reason"]
    stored = httpx.get(f"{couch_server.url}/{LATENG_DB}/{first['_id']}", params={"conflicts": "true"}).json()
    assert stored["_rev"] == "1-aaaa" and "_conflicts" not in stored


def test_a_device_that_edits_or_deletes_a_servers_document_gets_the_servers_version_back(
    gateway: GatewayProcess, couch_server, device_factory
):
    """Refused, the device's own revision would stay on it for good (it descends from the server's, which is then
    never sent again): the server writes its version as the next revision of the device's branch."""
    key = _key()
    result_id, task_id = f"result:application:{key}", f"task:application:{key}"
    for doc_id, body in ((result_id, {"status": "eligible"}), (task_id, {"status": "open"})):
        put = httpx.put(f"{couch_server.url}/{LATENG_DB}/{doc_id}", json={**body, "type": doc_id.split(":")[0]})
        assert put.status_code == 201
    device = _device(device_factory, gateway)
    _pull(device, gateway)
    forged = device.call("get", db=LATENG_DB, id=result_id) | {"status": "not_eligible", "explanation": "PALSU"}
    deleted = device.call("get", db=LATENG_DB, id=task_id) | {"_deleted": True}
    device.call("bulk", db=LATENG_DB, docs=[forged, deleted])

    assert set(_denied(_push(device, gateway))) == {result_id, task_id}
    _pull(device, gateway)
    result = device.call("get", db=LATENG_DB, id=result_id, conflicts=True)
    assert result["status"] == "eligible" and "explanation" not in result and "_conflicts" not in result
    task = device.call("get", db=LATENG_DB, id=task_id, conflicts=True)
    assert task["status"] == "open" and "_conflicts" not in task
    # On the server one branch, ending in its own content; pushing again changes nothing.
    stored = httpx.get(f"{couch_server.url}/{LATENG_DB}/{result_id}", params={"conflicts": "true"}).json()
    assert stored["status"] == "eligible" and stored["_rev"] == result["_rev"] and "_conflicts" not in stored
    assert _push(device, gateway)["denied"] == []
