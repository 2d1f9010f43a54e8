"""The gateway's answers at the HTTP level, as CouchDB's replicators rely on them (PROTOCOL.md)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid

import httpx
import jwt
import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.auth import service
from server.auth.models import Role, User
from server.auth.tokens import KeyRing
from simpul.db import make_async_engine
from tests.agent_forms.forms_testkit import jpeg_bytes
from tests.fixtures.forms import form_doc
from tests.fixtures.gateway import KEMIREN_DB, LATENG, LATENG_DB, GatewayProcess, ServerEnv, login

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def lateng_client(gateway: GatewayProcess):
    token = login(gateway.url, "agent.lateng")["access_token"]
    with httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        yield client


def _assert_couch_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] == error and body["reason"]


def test_root_has_a_stable_uuid_without_login(gateway: GatewayProcess):
    first = httpx.get(gateway.url + "/sync/").json()
    assert first["uuid"] == httpx.get(gateway.url + "/sync").json()["uuid"]
    assert len(first["uuid"]) == 32


@pytest.mark.parametrize(
    "path",
    [
        f"/sync/{KEMIREN_DB}/",
        f"/sync/{KEMIREN_DB}/_changes?since=0",
        f"/sync/{KEMIREN_DB}/_local/abc",
        f"/sync/{KEMIREN_DB}/some-doc",
        "/sync/desa_9999999999/",
        "/sync/not_a_desa/",
        "/sync/_users/",
    ],
)
def test_foreign_or_unknown_databases_are_403_never_404(lateng_client: httpx.Client, path: str):
    response = lateng_client.get(path)
    if path == "/sync/_users/":
        _assert_couch_error(response, 400, "bad_request")
    else:
        _assert_couch_error(response, 403, "forbidden")


def test_creating_or_deleting_a_database_is_refused(lateng_client: httpx.Client):
    _assert_couch_error(lateng_client.put(f"/sync/{KEMIREN_DB}/"), 403, "forbidden")
    assert lateng_client.put(f"/sync/{LATENG_DB}/").status_code == 412  # exists: what PouchDB expects
    _assert_couch_error(lateng_client.delete(f"/sync/{LATENG_DB}/"), 403, "forbidden")


def _forged_tokens(env: ServerEnv) -> dict[str, str]:
    keys = KeyRing.from_settings(env.settings())
    good = keys.issue(user_id=1, username="agent.lateng", device_id="d")
    header, payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    secret = json.loads((env.data_dir / "jwt_keys.json").read_text())["keys"][keys.active_kid]
    now = int(time.time())
    expired = jwt.encode(
        {**claims, "iat": now - 7200, "exp": now - 3600}, secret, "HS256", headers={"kid": keys.active_kid}
    )
    wrong_key = jwt.encode(claims, "x" * 48, "HS256", headers={"kid": keys.active_kid})
    wrong_audience = jwt.encode({**claims, "aud": "someone-else"}, secret, "HS256", headers={"kid": keys.active_kid})
    unknown_kid = jwt.encode(claims, secret, "HS256", headers={"kid": "retired"})
    none_alg = jwt.encode(claims, None, "none")
    # Another user's identity or role pasted into a genuine token: the signature no longer matches.
    other = base64.urlsafe_b64encode(json.dumps({**claims, "sub": "2", "role": "admin"}).encode()).decode().rstrip("=")
    return {
        "expired": expired,
        "wrong key": wrong_key,
        "wrong audience": wrong_audience,
        "unknown kid": unknown_kid,
        "alg none": none_alg,
        "claims edited": f"{header}.{other}.{signature}",
        "garbage": "not-a-jwt",
    }


def test_missing_expired_and_forged_tokens_are_401_json(gateway: GatewayProcess, server_env: ServerEnv):
    url = f"{gateway.url}/sync/{LATENG_DB}/"
    _assert_couch_error(httpx.get(url), 401, "unauthorized")
    _assert_couch_error(httpx.get(url, headers={"Authorization": "Basic YTpi"}), 401, "unauthorized")
    for name, token in _forged_tokens(server_env).items():
        response = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, name
        _assert_couch_error(response, 401, "unauthorized")
        api = httpx.get(gateway.url + "/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert api.status_code == 401 and api.json()["error"] == "unauthorized" and api.json()["detail"], name


def test_roles_without_desa_databases_are_forbidden(gateway: GatewayProcess):
    for username in ("spv.banyuwangi", "verifier"):
        token = login(gateway.url, username)["access_token"]
        response = httpx.get(f"{gateway.url}/sync/{LATENG_DB}/", headers={"Authorization": f"Bearer {token}"})
        _assert_couch_error(response, 403, "forbidden")


def test_removing_an_assignment_takes_effect_on_the_next_request(gateway: GatewayProcess, server_env: ServerEnv):
    token = login(gateway.url, "agent.moving")["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{gateway.url}/sync/{LATENG_DB}/", headers=headers).status_code == 200

    async def unassign() -> None:
        engine = make_async_engine(server_env.database_url)
        async with AsyncSession(engine) as session:
            user = (await session.exec(select(User).where(User.username == "agent.moving"))).one()
            await service.set_assignments(session, user, [])
            await session.commit()
        await engine.dispose()

    asyncio.run(unassign())
    _assert_couch_error(httpx.get(f"{gateway.url}/sync/{LATENG_DB}/", headers=headers), 403, "forbidden")


def test_refresh_rotates_and_a_replayed_refresh_token_revokes_the_device(gateway: GatewayProcess):
    first = login(gateway.url, "agent.kemiren", device_id="tablet-7")
    second = httpx.post(
        gateway.url + "/api/auth/refresh",
        data={"refresh_token": first["refresh_token"], "device_id": "tablet-7"},
    )
    assert second.status_code == 200
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"] and rotated["token_type"] == "bearer"
    # The old one again (a stolen copy): refused, and the device's current token is revoked with it.
    replay = httpx.post(gateway.url + "/api/auth/refresh", data={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    after = httpx.post(gateway.url + "/api/auth/refresh", data={"refresh_token": rotated["refresh_token"]})
    assert after.status_code == 401
    # The access token issued with the rotated pair dies with it, on the API as on /sync.
    me = httpx.get(gateway.url + "/api/auth/me", headers={"Authorization": f"Bearer {rotated['access_token']}"})
    assert me.status_code == 401 and "dicabut" in me.json()["detail"]


def test_refresh_token_is_bound_to_its_device(gateway: GatewayProcess):
    tokens = login(gateway.url, "agent.kemiren", device_id="tablet-8")
    response = httpx.post(
        gateway.url + "/api/auth/refresh",
        data={"refresh_token": tokens["refresh_token"], "device_id": "another"},
    )
    assert response.status_code == 401


def test_wrong_password_is_401_with_the_api_error_shape(gateway: GatewayProcess):
    response = httpx.post(gateway.url + "/api/auth/token", data={"username": "agent.lateng", "password": "nope"})
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized", "detail": "Nama pengguna atau kata sandi salah"}


def test_checkpoints_are_stored_as_sent_and_honour_rev(lateng_client: httpx.Client):
    path = f"/sync/{LATENG_DB}/_local/{uuid.uuid4().hex}"
    assert lateng_client.get(path).status_code == 404
    body = {
        "session_id": "s1",
        "last_seq": "17-opaque",
        "history": [{"last_seq": 17}],
        "replicator": "pouchdb",
    }
    created = lateng_client.put(path, json=body)
    assert created.status_code == 201
    stored = lateng_client.get(path).json()
    assert {k: v for k, v in stored.items() if k not in ("_id", "_rev")} == body
    conflict = lateng_client.put(path, json={**body, "_rev": "0-999"})
    _assert_couch_error(conflict, 409, "conflict")


def test_unsupported_filters_and_parameters_are_refused_and_the_backend_survives(
    lateng_client: httpx.Client, couch_server
):
    selector = lateng_client.post(f"/sync/{LATENG_DB}/_changes?filter=_selector", json={"selector": {"a": 1}})
    _assert_couch_error(selector, 400, "bad_request")
    assert "_selector" in selector.json()["reason"]
    _assert_couch_error(lateng_client.get(f"/sync/{LATENG_DB}/_changes?filter=app/mine"), 400, "bad_request")
    _assert_couch_error(lateng_client.get(f"/sync/{LATENG_DB}/_changes?feed=eventsource"), 400, "bad_request")
    _assert_couch_error(lateng_client.get(f"/sync/{LATENG_DB}/_changes?evil=1"), 400, "bad_request")
    for path in ("_security", "_compact", "_find", "_design/x/_view/y", "_purge"):
        response = lateng_client.post(f"/sync/{LATENG_DB}/{path}", json={})
        assert response.status_code in (400, 403), path
    assert httpx.get(couch_server.url + "/").status_code == 200  # still alive


def test_doc_ids_filter_is_served(lateng_client: httpx.Client):
    key = f"ids-{uuid.uuid4().hex}"
    doc_id = f"household:{key}"
    docs = [form_doc("household", key=key), form_doc("household", key=key + "-x")]
    lateng_client.post(f"/sync/{LATENG_DB}/_bulk_docs", json={"docs": docs})
    response = lateng_client.post(f"/sync/{LATENG_DB}/_changes?filter=_doc_ids&since=0", json={"doc_ids": [doc_id]})
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [doc_id]


def test_a_long_poll_with_no_change_ends_with_the_clients_since(lateng_client: httpx.Client):
    since = lateng_client.get(f"/sync/{LATENG_DB}/").json()["update_seq"]
    response = lateng_client.get(
        f"/sync/{LATENG_DB}/_changes",
        params={"feed": "longpoll", "since": str(since), "heartbeat": "1000"},
        timeout=30,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["results"] == [] and body["last_seq"] == since


def test_bulk_docs_with_new_edits_keeps_one_result_per_document_in_order(lateng_client: httpx.Client):
    base = uuid.uuid4().hex
    docs = [form_doc("household", key=f"{base}-1"), {"_id": "_design/nope"}, form_doc("household", key=f"{base}-2")]
    response = lateng_client.post(f"/sync/{LATENG_DB}/_bulk_docs", json={"docs": docs})
    assert response.status_code == 201
    results = response.json()
    assert [r["id"] for r in results] == [f"household:{base}-1", "_design/nope", f"household:{base}-2"]
    assert results[0]["ok"] and results[1]["error"] == "forbidden" and results[2]["ok"]


def test_couchdb_replicator_endpoints(lateng_client: httpx.Client):
    doc_id = f"evidence:mp-{uuid.uuid4().hex}"
    boundary = "abc123"
    photo, document_photo = jpeg_bytes(exif_time="2025:09:14 08:45:10"), jpeg_bytes((80, 60))
    doc = {
        **form_doc("evidence"),
        "_id": doc_id,
        "_rev": "1-abcdef",
        "_revisions": {"start": 1, "ids": ["abcdef"]},
        "_attachments": {
            name: {"content_type": "image/jpeg", "length": len(data), "follows": True}
            for name, data in (("depan.jpg", photo), ("kk.jpg", document_photo))
        },
    }
    body = (
        (
            f"--{boundary}\r\nContent-Type: application/json\r\n\r\n{json.dumps(doc)}\r\n"
            f'--{boundary}\r\nContent-Disposition: attachment; filename="depan.jpg"\r\n\r\n'
        ).encode()
        + photo
        + f'\r\n--{boundary}\r\nContent-Disposition: attachment; filename="kk.jpg"\r\n\r\n'.encode()
        + document_photo
        + f"\r\n--{boundary}--".encode()
    )
    response = lateng_client.put(
        f"/sync/{LATENG_DB}/{doc_id}?new_edits=false",
        content=body,
        headers={"Content-Type": f'multipart/related; boundary="{boundary}"'},
    )
    assert response.status_code == 201, response.text
    assert lateng_client.get(f"/sync/{LATENG_DB}/{doc_id}/depan.jpg").content == photo
    assert lateng_client.get(f"/sync/{LATENG_DB}/{doc_id}/kk.jpg").headers["content-type"] == "image/jpeg"
    ensure = lateng_client.post(f"/sync/{LATENG_DB}/_ensure_full_commit", json={})
    assert ensure.status_code == 201
    normal = lateng_client.get(f"/sync/{LATENG_DB}/_changes", params={"feed": "normal", "style": "all_docs"})
    assert doc_id in {r["id"] for r in normal.json()["results"]}
    with lateng_client.stream(
        "GET", f"/sync/{LATENG_DB}/_changes", params={"feed": "continuous", "since": "0", "heartbeat": "1000"}
    ) as continuous:
        assert continuous.status_code == 200
        first = json.loads(next(line for line in continuous.iter_lines() if line.strip()))
        assert "seq" in first and "id" in first
    revs = lateng_client.post(f"/sync/{LATENG_DB}/_revs_diff", json={doc_id: ["1-abcdef", "2-zzz"]}).json()
    assert revs == {doc_id: {"missing": ["2-zzz"]}}
    open_revs = lateng_client.get(
        f"/sync/{LATENG_DB}/{doc_id}",
        params={"revs": "true", "latest": "true", "open_revs": '["1-abcdef"]'},
        headers={"Accept": "application/json"},
    )
    assert open_revs.status_code == 200 and open_revs.json()[0]["ok"]["_id"] == doc_id


def test_a_design_document_in_a_multipart_write_is_refused(lateng_client: httpx.Client):
    response = lateng_client.put(f"/sync/{LATENG_DB}/_design/evil", json={"views": {}})
    _assert_couch_error(response, 403, "forbidden")


def test_standalone_attachment_writes_are_refused(lateng_client: httpx.Client):
    response = lateng_client.put(f"/sync/{LATENG_DB}/x/att.txt", content=b"hi", headers={"Content-Type": "text/plain"})
    _assert_couch_error(response, 403, "forbidden")


def test_all_dbs_lists_only_the_users_desa(lateng_client: httpx.Client):
    assert lateng_client.get("/sync/_all_dbs").json() == [LATENG_DB]


def test_a_dead_backend_is_503_json_and_health_says_so(gateway_factory):
    from tests.fixtures.couch import free_port

    orphan = gateway_factory(SIMPUL_COUCHDB_URL=f"http://127.0.0.1:{free_port()}")
    token = login(orphan.url, "agent.lateng")["access_token"]
    response = httpx.get(f"{orphan.url}/sync/{LATENG_DB}/", headers={"Authorization": f"Bearer {token}"})
    _assert_couch_error(response, 503, "service_unavailable")
    health = httpx.get(orphan.url + "/healthz")
    assert health.status_code == 503 and health.json()["couchdb"]["ok"] is False
    assert health.json()["database"]["ok"] is True


def test_health_and_metrics(gateway: GatewayProcess, lateng_client: httpx.Client):
    assert httpx.get(gateway.url + "/healthz").json()["status"] == "ok"
    lateng_client.post(f"/sync/{LATENG_DB}/_bulk_docs", json={"docs": [form_doc("household")]})
    text = httpx.get(gateway.url + "/metrics").text
    assert f'simpul_sync_documents_total{{desa="{LATENG}",outcome="accepted"}}' in text
    assert 'simpul_http_requests_total{method="POST",route="/sync/{path:path}",status="201"}' in text


# --- what an attacker tried (each was a real hole or a 500 once) -------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        f"/sync/{LATENG_DB}/../{KEMIREN_DB}/_all_docs",
        f"/sync/{LATENG_DB}/x/..%2F..%2F..%2F{KEMIREN_DB}%2F_all_docs",
        f"/sync/{LATENG_DB}/x/%2E%2E/%2E%2E/_all_dbs",
        f"/sync/{LATENG_DB}/x/..%2F..%2F..%2F_config",
        f"/sync/{LATENG_DB}/_local/%2E%2E",
        f"/sync/{LATENG_DB}/_design/..%2F..%2F_users",
    ],
)
def test_dot_segments_never_leave_the_database(lateng_client: httpx.Client, path: str):
    response = lateng_client.get(path)
    assert response.status_code in (400, 403, 404), response.text
    assert response.headers["content-type"].startswith("application/json")
    if response.status_code == 404:
        assert response.json()["error"] == "not_found"  # a document of this database, looked up as a literal id


def test_a_checkpoint_named_dot_dot_cannot_delete_or_recreate_the_database(lateng_client: httpx.Client):
    before = lateng_client.get(f"/sync/{LATENG_DB}/").json()["doc_count"]
    lateng_client.delete(f"/sync/{LATENG_DB}/_local/%2E%2E")
    lateng_client.put(f"/sync/{LATENG_DB}/_local/%2E%2E", json={"x": 1})
    after = lateng_client.get(f"/sync/{LATENG_DB}/")
    assert after.status_code == 200 and after.json()["doc_count"] >= before


def test_a_truthy_deleted_that_is_not_true_is_refused(lateng_client: httpx.Client):
    doc = {**form_doc("household"), "_deleted": 1}
    result = lateng_client.post(f"/sync/{LATENG_DB}/_bulk_docs", json={"docs": [doc]}).json()
    assert result[0]["error"] == "forbidden" and "_deleted" in result[0]["reason"]


@pytest.mark.parametrize("attachments", ["[1, 2]", '"x"', '{"a": 1}'])
def test_malformed_multipart_is_a_bad_request(lateng_client: httpx.Client, attachments: str):
    body = (
        f'--abc\r\nContent-Type: application/json\r\n\r\n{{"_id": "consent:mp1", "_attachments": {attachments}}}'
        "\r\n--abc--"
    ).encode()
    response = lateng_client.put(
        f"/sync/{LATENG_DB}/consent%3Amp1?new_edits=false",
        content=body,
        headers={"Content-Type": "multipart/related; boundary=abc"},
    )
    _assert_couch_error(response, 400, "bad_request")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"/sync/{LATENG_DB}%0A/", None),
        ("PUT", f"/sync/{LATENG_DB}%0A", None),
        ("GET", f"/sync/{LATENG_DB}/some-doc?open_revs=junk", None),
        ("POST", f"/sync/{LATENG_DB}/_bulk_get", {"docs": "x"}),
    ],
)
def test_junk_gets_a_json_4xx_never_a_500(lateng_client: httpx.Client, method: str, path: str, body: object):
    response = lateng_client.request(method, path, json=body)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]


def test_a_batch_far_larger_than_any_device_sends_is_refused_whole(lateng_client: httpx.Client):
    docs = [{"_id": f"consent:t{i}"} for i in range(1001)]
    _assert_couch_error(lateng_client.post(f"/sync/{LATENG_DB}/_bulk_docs", json={"docs": docs}), 400, "bad_request")


def test_logout_is_stored_before_it_is_answered(gateway: GatewayProcess):
    for attempt in range(10):
        device = f"race-{attempt}"
        tokens = login(gateway.url, "agent.kemiren", device_id=device)
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert (
            httpx.post(gateway.url + "/api/auth/logout", data={"device_id": device}, headers=headers).status_code == 204
        )
        again = httpx.post(gateway.url + "/api/auth/refresh", data={"refresh_token": tokens["refresh_token"]})
        assert again.status_code == 401
        assert httpx.get(gateway.url + "/api/auth/me", headers=headers).status_code == 401


def test_a_logged_out_admin_token_reads_no_more_personal_data(gateway: GatewayProcess):
    tokens = login(gateway.url, "admin.kabupaten", device_id="laptop-1")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    other = login(gateway.url, "admin.kabupaten", device_id="laptop-2")
    assert httpx.get(gateway.url + "/api/v1/admin/audit", headers=headers).status_code == 200
    assert (
        httpx.post(gateway.url + "/api/auth/logout", data={"device_id": "laptop-1"}, headers=headers).status_code == 204
    )
    refused = httpx.get(gateway.url + "/api/v1/admin/audit", headers=headers)
    assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"
    # The same user's other device is not affected.
    still = {"Authorization": f"Bearer {other['access_token']}"}
    assert httpx.get(gateway.url + "/api/v1/admin/audit", headers=still).status_code == 200


def test_a_stalled_upload_is_abandoned(gateway_factory):
    import socket

    own = gateway_factory(SIMPUL_BODY_IDLE_TIMEOUT_S="1")
    token = login(own.url, "agent.lateng")["access_token"]
    with socket.create_connection(("127.0.0.1", own.port), timeout=30) as sock:
        sock.sendall(
            (
                f"POST /sync/{LATENG_DB}/_bulk_docs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                "Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{"
            ).encode()
        )
        answer = b""
        while b"request_timeout" not in answer and (chunk := sock.recv(4096)):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408") and b"request_timeout" in answer


def test_a_logged_out_device_stops_syncing_at_once(gateway: GatewayProcess):
    tokens = login(gateway.url, "agent.kemiren", device_id="lost-phone")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert httpx.get(f"{gateway.url}/sync/{KEMIREN_DB}/", headers=headers).status_code == 200
    httpx.post(gateway.url + "/api/auth/logout", data={"device_id": "lost-phone"}, headers=headers)
    _assert_couch_error(httpx.get(f"{gateway.url}/sync/{KEMIREN_DB}/", headers=headers), 401, "unauthorized")


def test_repeated_changes_parameters_are_refused(lateng_client: httpx.Client):
    response = lateng_client.get(f"/sync/{LATENG_DB}/_changes?filter=_doc_ids&filter=_selector")
    _assert_couch_error(response, 400, "bad_request")


def test_a_long_poll_from_now_that_times_out_answers_a_real_seq(lateng_client: httpx.Client):
    current = lateng_client.get(f"/sync/{LATENG_DB}/").json()["update_seq"]
    response = lateng_client.get(
        f"/sync/{LATENG_DB}/_changes", params={"feed": "longpoll", "since": "now", "heartbeat": "1000"}, timeout=30
    )
    body = response.json()
    assert body["results"] == [] and body["last_seq"] == current


def test_an_admin_lists_every_desa_database(gateway: GatewayProcess, server_env: ServerEnv):
    async def add_admin() -> None:
        engine = make_async_engine(server_env.database_url)
        async with AsyncSession(engine) as session:
            await service.create_user(session, username="root", password="rahasia-uji-123", role=Role.admin)
            await session.commit()
        await engine.dispose()

    asyncio.run(add_admin())
    token = login(gateway.url, "root", password="rahasia-uji-123")["access_token"]
    names = httpx.get(gateway.url + "/sync/_all_dbs", headers={"Authorization": f"Bearer {token}"}).json()
    assert len(names) == 217 and LATENG_DB in names


def test_a_first_revision_of_an_existing_id_cannot_replace_a_synced_submission(lateng_client: httpx.Client):
    doc = form_doc("household")
    stored = {**doc, "_rev": "1-aaaa", "_revisions": {"start": 1, "ids": ["aaaa"]}}
    assert lateng_client.post(f"/sync/{LATENG_DB}/_bulk_docs", json={"docs": [stored], "new_edits": False}).json() == []
    # A higher hash of the same generation would win the conflict: an edit in disguise.
    rival = {**doc, "_rev": "1-ffff", "_revisions": {"start": 1, "ids": ["ffff"]}, "kk_number": "3510161203150099"}
    result = lateng_client.post(f"/sync/{LATENG_DB}/_bulk_docs", json={"docs": [rival], "new_edits": False}).json()
    assert result[0]["error"] == "forbidden"
    assert lateng_client.get(f"/sync/{LATENG_DB}/{doc['_id']}").json()["_rev"] == "1-aaaa"


def test_revisions_must_agree_with_rev(lateng_client: httpx.Client):
    doc = {**form_doc("household"), "_rev": "1-abcd", "_revisions": {"start": 5, "ids": ["abcd"]}}
    result = lateng_client.post(f"/sync/{LATENG_DB}/_bulk_docs", json={"docs": [doc], "new_edits": False}).json()
    assert result[0]["error"] == "forbidden" and "_revisions" in result[0]["reason"]


def test_a_key_given_twice_is_never_read_two_ways(lateng_client: httpx.Client, couch_server):
    doc = form_doc("household")
    raw = json.dumps(doc)[:-1] + ', "agent_id": "agent.kemiren"}'
    raw = raw.replace('"agent_id": "agent.lateng"', '"agent_id": "agent.lateng"', 1)
    # JSON PUT: what CouchDB stores is what was validated (the last agent_id, refused here).
    response = lateng_client.put(
        f"/sync/{LATENG_DB}/{doc['_id']}", content=raw.encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 403
    # The other order: validated and stored with one and the same agent_id.
    raw = json.dumps({**doc, "agent_id": "agent.kemiren"})[:-1] + ', "agent_id": "agent.lateng"}'
    response = lateng_client.put(
        f"/sync/{LATENG_DB}/{doc['_id']}", content=raw.encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text
    assert httpx.get(f"{couch_server.url}/{LATENG_DB}/{doc['_id']}").json()["agent_id"] == "agent.lateng"


def test_a_checkpoint_write_cannot_carry_another_document(lateng_client: httpx.Client, couch_server):
    smuggled = {"_id": "_design/evil", "views": {"v": {"map": "function(d){emit(1)}"}}}
    response = lateng_client.put(f"/sync/{LATENG_DB}/_local/ck-{uuid.uuid4().hex}", json=smuggled)
    _assert_couch_error(response, 400, "bad_request")
    assert httpx.get(f"{couch_server.url}/{LATENG_DB}/_design/evil").status_code == 404


def test_a_multipart_body_is_read_once_and_sent_as_validated(lateng_client: httpx.Client, couch_server):
    doc = form_doc("household")
    evil = json.dumps({"_id": "_design/evil2", "views": {}})
    smuggling = (
        f"--a\r\nContent-Type: application/json\r\n\r\n{json.dumps(doc)}\r\n--a--\r\n"
        f"--a;b\r\nContent-Type: application/json\r\n\r\n{evil}\r\n--a;b--\r\n"
    ).encode()
    for content_type in ('multipart/related; boundary="a;b"', "multipart/related; boundary=a; boundary=a;b"):
        response = lateng_client.put(
            f"/sync/{LATENG_DB}/{doc['_id']}?new_edits=false",
            content=smuggling,
            headers={"Content-Type": content_type},
        )
        _assert_couch_error(response, 400, "bad_request")
    assert httpx.get(f"{couch_server.url}/{LATENG_DB}/_design/evil2").status_code == 404


def test_doc_ids_heartbeat_and_revs_diff_bodies_are_checked(lateng_client: httpx.Client):
    for body in ({"doc_ids": {"a": 1}}, {"doc_ids": "x"}):
        _assert_couch_error(lateng_client.post(f"/sync/{LATENG_DB}/_changes", json=body), 400, "bad_request")
    _assert_couch_error(
        lateng_client.get(f"/sync/{LATENG_DB}/_changes?feed=continuous&heartbeat=1"), 400, "bad_request"
    )
    response = lateng_client.post(f"/sync/{LATENG_DB}/_revs_diff", json={"x": "notalist"})
    _assert_couch_error(response, 400, "bad_request")
