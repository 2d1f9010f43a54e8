"""The supervisors' review over the API, against the real server process and the local CouchDB-compatible server:
the queue, a case in full, photos, the two actions, their ``review:`` documents and their audit rows."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.fixtures.gateway import KEMIREN, LATENG, GatewayProcess, ServerEnv, login
from tests.server.review.seed import get_doc, seed_case

pytestmark = pytest.mark.live

REASON = "Foto rumah sesuai dengan daftar periksa dan temuan pendamping."


def bearer(gateway: GatewayProcess, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {login(gateway.url, username, device_id='review-tests')['access_token']}"}


def audit_of(gateway: GatewayProcess, **params: str) -> list[dict[str, Any]]:
    response = httpx.get(
        gateway.url + "/api/v1/admin/audit",
        headers=bearer(gateway, "admin.kabupaten"),
        params={**params, "limit": 1000},
    )
    response.raise_for_status()
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def test_the_queue_is_scoped_filtered_and_oldest_first(gateway: GatewayProcess, server_env: ServerEnv):
    old = seed_case(server_env, age_days=9, kinds=("evidence", "objection"), objection=True)
    new = seed_case(server_env, age_days=1)
    foreign = seed_case(server_env, desa=KEMIREN, age_days=5)
    settled = seed_case(server_env, status="eligible", age_days=4)
    spv = bearer(gateway, "spv.banyuwangi")
    url = gateway.url + "/api/v1/review/queue"

    queue = httpx.get(url, headers=spv, params={"limit": 200}).json()
    ids = [item["application_id"] for item in queue["items"]]
    assert old.application_id in ids and new.application_id in ids
    assert foreign.application_id not in ids and settled.application_id not in ids
    assert ids.index(old.application_id) < ids.index(new.application_id)
    [item] = [item for item in queue["items"] if item["application_id"] == old.application_id]
    assert item["kinds"] == ["evidence", "objection"]
    assert (item["desa_name"], item["age_days"]) == ("Lateng", 9)
    assert item["links"]["case"] == f"/api/v1/cases/{old.application_id}"

    aged = httpx.get(url, headers=spv, params={"min_age_days": 5, "limit": 200}).json()
    assert old.application_id in [i["application_id"] for i in aged["items"]]
    assert new.application_id not in [i["application_id"] for i in aged["items"]]
    eligible = httpx.get(url, headers=spv, params={"status": "eligible", "desa": LATENG, "limit": 200}).json()
    assert settled.application_id in [i["application_id"] for i in eligible["items"]]

    assert httpx.get(url, headers=spv, params={"desa": KEMIREN}).status_code == 403
    assert httpx.get(url, headers=spv, params={"desa": "99.99.99.9999"}).status_code == 400
    assert httpx.get(url, headers=spv, params={"status": "nonsense"}).status_code == 422

    admin = httpx.get(url, headers=bearer(gateway, "admin.kabupaten"), params={"limit": 200}).json()
    assert foreign.application_id in [i["application_id"] for i in admin["items"]]
    assert any(e["resource"] == "review_queue" for e in audit_of(gateway, actor="spv.banyuwangi"))


def test_a_case_in_full_and_every_read_audited(gateway: GatewayProcess, server_env: ServerEnv):
    case = seed_case(server_env, kinds=("evidence", "objection"), objection=True)
    spv = bearer(gateway, "spv.banyuwangi")
    response = httpx.get(f"{gateway.url}/api/v1/cases/{case.application_id}", headers=spv)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "needs_review" and body["kinds"] == ["evidence", "objection"] and body["can_decide"]
    assert [r["rule"] for r in body["result"]["rules"]][-2:] == ["review.field_visit", "review.objection"]
    assert body["household"]["id"] == case.household_id and len(body["household"]["members"]) == 4
    assert "bank_account" not in body["application"]
    assert [v["id"] for v in body["field_visits"]] == [case.field_visit_id]
    [evidence] = body["evidence"]
    assert evidence["id"] == case.evidence_id and evidence["review"] is None
    assert [p["attachment"] for p in evidence["photos"]] == ["depan.jpg", "kk.jpg"]
    assert evidence["photos"][1]["document_type_label"] == "Kartu Keluarga"
    assert evidence["photos"][0]["thumbnail_url"].endswith("/photos/depan.jpg?size=thumbnail")
    assert [o["id"] for o in body["objections"]] == [case.objection_id]

    [entry] = audit_of(gateway, case_id=case.application_id)
    assert (entry["actor"], entry["action"], entry["resource"]) == ("spv.banyuwangi", "read", "case")
    assert entry["detail"]["evidence"] == [case.evidence_id]

    foreign = seed_case(server_env, desa=KEMIREN)
    assert httpx.get(f"{gateway.url}/api/v1/cases/{foreign.application_id}", headers=spv).status_code == 403
    assert httpx.get(f"{gateway.url}/api/v1/cases/application:nope", headers=spv).status_code == 404
    verifier = bearer(gateway, "verifier")
    assert httpx.get(f"{gateway.url}/api/v1/cases/{case.application_id}", headers=verifier).status_code == 403
    final = seed_case(server_env, status="eligible")
    assert httpx.get(f"{gateway.url}/api/v1/cases/{final.application_id}", headers=verifier).status_code == 200


def test_photos_thumbnail_made_once_and_original_on_request(gateway: GatewayProcess, server_env: ServerEnv):
    case = seed_case(server_env)
    spv = bearer(gateway, "spv.banyuwangi")
    base = f"{gateway.url}/api/v1/cases/{case.application_id}/evidence/{case.evidence_id}/photos"

    first = httpx.get(f"{base}/depan.jpg", headers=spv)
    assert first.status_code == 200 and first.headers["content-type"] == "image/jpeg"
    assert "max-age" in first.headers["cache-control"]
    image = Image.open(io.BytesIO(first.content))
    assert max(image.size) == 320 and image.size == (320, 240)
    assert not image.getexif(), "a thumbnail carries no EXIF (no GPS, no time)"
    again = httpx.get(f"{base}/depan.jpg", headers=spv, params={"size": "thumbnail"})
    assert again.content == first.content
    assert len(first.content) < len(case.photos["depan.jpg"])

    original = httpx.get(f"{base}/kk.jpg", headers=spv, params={"size": "original"})
    assert original.status_code == 200 and original.content == case.photos["kk.jpg"]
    assert original.headers["cache-control"] == "private, no-store"

    assert httpx.get(f"{base}/nope.jpg", headers=spv).status_code == 404
    other = seed_case(server_env)
    wrong = f"{gateway.url}/api/v1/cases/{case.application_id}/evidence/{other.evidence_id}/photos/depan.jpg"
    assert httpx.get(wrong, headers=spv).status_code == 404

    resources = [e["resource"] for e in audit_of(gateway, case_id=case.application_id)]
    assert resources.count("evidence_thumbnail") == 2 and resources.count("evidence_photo") == 1


def test_reviewing_evidence_writes_a_review_document_with_history(gateway: GatewayProcess, server_env: ServerEnv):
    case = seed_case(server_env)
    spv = bearer(gateway, "spv.banyuwangi")
    url = f"{gateway.url}/api/v1/cases/{case.application_id}/evidence/{case.evidence_id}/review"

    approved = httpx.post(url, headers=spv, json={"decision": "approved", "reason": REASON})
    assert approved.status_code == 200, approved.text
    doc = get_doc(server_env, case.db, f"review:{case.evidence_id}")
    assert doc is not None
    assert {k: doc[k] for k in ("type", "subject", "desa", "evidence_id", "application_id", "field_visit_id")} == {
        "type": "review",
        "subject": "evidence",
        "desa": LATENG,
        "evidence_id": case.evidence_id,
        "application_id": case.application_id,
        "field_visit_id": case.field_visit_id,
    }
    assert (doc["decision"], doc["reason"], doc["reviewer"], doc["history"]) == (
        "approved",
        REASON,
        "spv.banyuwangi",
        [],
    )

    admin = bearer(gateway, "admin.kabupaten")
    rejected = httpx.post(
        url, headers=admin, json={"decision": "rejected", "reason": "  Foto dokumen KK buram, mohon foto ulang.  "}
    )
    assert rejected.status_code == 200
    doc = get_doc(server_env, case.db, f"review:{case.evidence_id}")
    assert doc is not None
    assert (doc["decision"], doc["reviewer"], doc["reason"]) == (
        "rejected",
        "admin.kabupaten",
        "Foto dokumen KK buram, mohon foto ulang.",
    )
    assert [(h["decision"], h["reviewer"]) for h in doc["history"]] == [("approved", "spv.banyuwangi")]
    assert rejected.json()["history"][0]["reason"] == REASON

    assert httpx.post(url, headers=spv, json={"decision": "approved", "reason": "ok"}).status_code == 422
    assert httpx.post(url, headers=spv, json={"decision": "approved", "reason": " " * 12}).status_code == 400
    invalid = httpx.post(url, headers=spv, json={"decision": "maybe", "reason": REASON})
    assert invalid.status_code == 422 and invalid.json()["error"] == "invalid_request"
    assert "decision" in invalid.json()["detail"]
    other = seed_case(server_env)
    stranger = f"{gateway.url}/api/v1/cases/{case.application_id}/evidence/{other.evidence_id}/review"
    assert httpx.post(stranger, headers=spv, json={"decision": "approved", "reason": REASON}).status_code == 404

    actions = [(e["actor"], e["action"]) for e in audit_of(gateway, case_id=case.application_id)]
    assert actions == [("spv.banyuwangi", "review"), ("admin.kabupaten", "review")]


def test_deciding_a_case_needs_it_to_await_review(gateway: GatewayProcess, server_env: ServerEnv):
    case = seed_case(server_env, kinds=("objection",), objection=True)
    spv = bearer(gateway, "spv.banyuwangi")
    url = f"{gateway.url}/api/v1/cases/{case.application_id}/decision"
    decided = httpx.post(
        url, headers=spv, json={"decision": "eligible", "reason": "Keberatan diterima: suami bukan perangkat desa."}
    )
    assert decided.status_code == 200, decided.text
    doc = get_doc(server_env, case.db, f"review:{case.application_id}")
    assert doc is not None
    assert (doc["subject"], doc["decision"], doc["application_id"], doc["desa"]) == (
        "case",
        "eligible",
        case.application_id,
        LATENG,
    )
    [entry] = audit_of(gateway, case_id=case.application_id, action="decide")
    assert entry["detail"]["decision"] == "eligible"

    settled = seed_case(server_env, status="not_eligible")
    refused = httpx.post(
        f"{gateway.url}/api/v1/cases/{settled.application_id}/decision",
        headers=spv,
        json={"decision": "eligible", "reason": "Saya kira keluarga ini layak."},
    )
    assert refused.status_code == 409 and refused.json()["error"] == "conflict"
    stopped = seed_case(server_env, status="stopped")
    evidence = f"{gateway.url}/api/v1/cases/{stopped.application_id}/evidence/{stopped.evidence_id}/review"
    assert httpx.post(evidence, headers=spv, json={"decision": "approved", "reason": REASON}).status_code == 409
    verifier = bearer(gateway, "verifier")
    assert httpx.post(url, headers=verifier, json={"decision": "eligible", "reason": REASON}).status_code == 403
