"""What a document written straight to CouchDB may hold, through the review API: ids with ``/``, ``?``, ``#``, ``%``
or unicode (each one encoded segment of a URL, routed from the raw path), photos that are not what their type
says, and integers past what the relational store holds."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from tests.agent_forms import forms_testkit as kit
from tests.fixtures.gateway import GatewayProcess, ServerEnv, login
from tests.server.review.seed import HTML, UNUSUAL_IDS, evidence_of, get_doc, seed_case, unique

pytestmark = pytest.mark.live

REASON = "Foto rumah sesuai dengan daftar periksa dan temuan pendamping."
#: Old enough that ``min_age_days`` finds only this module's cases in the queue.
AGE_DAYS = 3600


def bearer(gateway: GatewayProcess, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {login(gateway.url, username, device_id='review-ids')['access_token']}"}


@pytest.mark.parametrize("application_id", UNUSUAL_IDS)
def test_a_case_with_any_id_can_be_read_and_decided(gateway: GatewayProcess, server_env: ServerEnv, application_id):
    application_id = unique(application_id)
    evidence_id = evidence_of(application_id)
    case = seed_case(server_env, application_id=application_id, evidence_id=evidence_id, age_days=AGE_DAYS)
    spv = bearer(gateway, "spv.banyuwangi")
    encoded = quote(application_id, safe=":")
    case_url = f"/api/v1/cases/{encoded}"

    queue = httpx.get(gateway.url + "/api/v1/review/queue", headers=spv, params={"min_age_days": AGE_DAYS - 1})
    [item] = [item for item in queue.json()["items"] if item["application_id"] == application_id]
    assert item["links"]["case"] == case_url

    response = httpx.get(gateway.url + case_url, headers=spv)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["application_id"] == application_id and body["can_decide"]
    [evidence] = body["evidence"]
    assert evidence["id"] == evidence_id
    photo = evidence["photos"][0]
    evidence_url = f"{case_url}/evidence/{quote(evidence_id, safe=':')}"
    assert photo["thumbnail_url"] == f"{evidence_url}/photos/depan.jpg?size=thumbnail"
    thumbnail = httpx.get(gateway.url + photo["thumbnail_url"], headers=spv)
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"
    original = httpx.get(gateway.url + photo["original_url"], headers=spv)
    assert original.status_code == 200 and original.content == case.photos["depan.jpg"]

    reviewed = httpx.post(
        f"{gateway.url}{evidence_url}/review",
        headers=spv,
        json={"decision": "approved", "reason": REASON},
    )
    assert reviewed.status_code == 200, reviewed.text
    review = get_doc(server_env, case.db, f"review:{evidence_id}")
    assert review is not None and (review["evidence_id"], review["application_id"]) == (evidence_id, application_id)

    decided = httpx.post(
        f"{gateway.url}{case_url}/decision", headers=spv, json={"decision": "eligible", "reason": REASON}
    )
    assert decided.status_code == 200, decided.text
    decision = get_doc(server_env, case.db, f"review:{application_id}")
    assert decision is not None and decision["application_id"] == application_id


def test_an_id_is_one_segment(gateway: GatewayProcess, server_env: ServerEnv):
    """A ``/`` left unencoded is a path separator: the id is ``application:a``, or no route at all."""
    case = seed_case(server_env, application_id=unique("application:a/b"), evidence_id=unique("evidence:c/d"))
    spv = bearer(gateway, "spv.banyuwangi")
    assert httpx.get(f"{gateway.url}/api/v1/cases/{case.application_id}", headers=spv).status_code == 404
    assert httpx.get(gateway.url + "/api/v1/cases/application:nope%2F..%2F..", headers=spv).status_code == 404
    # Not UTF-8 once decoded: no document can have that id.
    assert httpx.get(gateway.url + "/api/v1/cases/application:%FF", headers=spv).status_code == 404


def test_a_photo_is_served_only_as_the_image_it_is(gateway: GatewayProcess, server_env: ServerEnv):
    case = seed_case(
        server_env,
        attachments={"depan.jpg": (HTML, "text/html"), "kk.jpg": (b"GIF89a, or anything but a JPEG", "image/jpeg")},
    )
    spv = bearer(gateway, "spv.banyuwangi")
    base = f"{gateway.url}/api/v1/cases/{case.application_id}/evidence/{case.evidence_id}/photos"
    for name in ("depan.jpg", "kk.jpg"):
        for size in ("original", "thumbnail"):
            refused = httpx.get(f"{base}/{name}", headers=spv, params={"size": size})
            assert refused.status_code == 409, (name, size, refused.text)
            assert refused.headers["content-type"] == "application/json", (name, size)
            assert refused.json()["error"] == "conflict" and "script" not in refused.text

    png = seed_case(
        server_env, attachments={"depan.jpg": (kit.png_bytes(), "image/jpeg"), "kk.jpg": (b"", "image/png")}
    )
    base = f"{gateway.url}/api/v1/cases/{png.application_id}/evidence/{png.evidence_id}/photos"
    mislabelled = httpx.get(f"{base}/depan.jpg", headers=spv, params={"size": "original"})
    assert mislabelled.status_code == 409, "a PNG stored as image/jpeg is not served as either"
    # A thumbnail is made by decoding and is always a new JPEG: the label does not matter to it.
    assert httpx.get(f"{base}/depan.jpg", headers=spv).headers["content-type"] == "image/jpeg"
    assert httpx.get(f"{base}/kk.jpg", headers=spv, params={"size": "original"}).status_code == 409


def test_every_photo_says_what_it_is_and_runs_nothing(gateway: GatewayProcess, server_env: ServerEnv):
    case = seed_case(server_env)
    spv = bearer(gateway, "spv.banyuwangi")
    base = f"{gateway.url}/api/v1/cases/{case.application_id}/evidence/{case.evidence_id}/photos"
    for size in ("thumbnail", "original"):
        response = httpx.get(f"{base}/depan.jpg", headers=spv, params={"size": size})
        assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
        assert response.headers["x-content-type-options"] == "nosniff"
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "sandbox" in policy
        assert response.headers["content-disposition"] == 'inline; filename="depan.jpg"'


def test_queue_offsets_are_bounded(gateway: GatewayProcess):
    spv = bearer(gateway, "spv.banyuwangi")
    url = gateway.url + "/api/v1/review/queue"
    assert httpx.get(url, headers=spv, params={"offset": 1_000_000}).status_code == 200
    for bad in ("99999999999999999999", "1000001", "-1"):
        refused = httpx.get(url, headers=spv, params={"offset": bad})
        assert refused.status_code == 422 and refused.json()["error"] == "invalid_request", (bad, refused.text)
    for name in ("limit", "min_age_days"):
        assert httpx.get(url, headers=spv, params={name: "9" * 20}).status_code == 422, name
