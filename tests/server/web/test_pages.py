"""The supervisors' web pages over plain HTTP: log-in, the session cookie, CSRF, scope, errors as pages."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.fixtures.gateway import KEMIREN, PASSWORD, GatewayProcess, ServerEnv
from tests.server.review.seed import get_doc, seed_case

pytestmark = pytest.mark.live


def form_token(page: str, action: str) -> str:
    """The CSRF token of the form posting to ``action`` on ``page``."""
    start = page.index(f'action="{html.escape(action)}"')
    match = re.search(r'name="csrf" value="([^"]*)"', page[start:])
    assert match, f"no csrf field in the form of {action}"
    return match.group(1)


def logged_in(gateway: GatewayProcess, username: str = "spv.banyuwangi") -> httpx.Client:
    client = httpx.Client(base_url=gateway.url, timeout=30)
    page = client.get("/web/masuk")
    token = form_token(page.text, "/web/masuk")
    response = client.post(
        "/web/masuk", data={"username": username, "password": PASSWORD, "csrf": token, "lanjut": "/web/antrian"}
    )
    assert response.status_code == 303, response.text
    return client


def test_pages_need_a_session_and_come_back_after_log_in(gateway: GatewayProcess):
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        bounced = client.get("/web/antrian")
        assert bounced.status_code == 303
        target = urlsplit(bounced.headers["location"])
        assert target.path == "/web/masuk" and parse_qs(target.query)["lanjut"] == ["/web/antrian"]

        page = client.get("/web/masuk", params={"lanjut": "https://elsewhere.example/x"})
        assert page.status_code == 200 and 'lang="id"' in page.text and "Kata sandi" in page.text
        assert "script-src" not in page.headers["content-security-policy"]
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert page.headers["cache-control"] == "no-store"
        assert 'value="/web/antrian"' in page.text, "a foreign 'lanjut' is never kept"
        token = form_token(page.text, "/web/masuk")

        without = client.post("/web/masuk", data={"username": "spv.banyuwangi", "password": PASSWORD})
        assert without.status_code == 400 and "kedaluwarsa" in without.text
        token = form_token(without.text, "/web/masuk")  # each form shown comes with a fresh token
        wrong = client.post(
            "/web/masuk", data={"username": "spv.banyuwangi", "password": "salah-sekali", "csrf": token}
        )
        assert wrong.status_code == 401 and "salah" in wrong.text
        token = form_token(wrong.text, "/web/masuk")
        agent = client.post("/web/masuk", data={"username": "agent.lateng", "password": PASSWORD, "csrf": token})
        assert agent.status_code == 403 and "Pendamping" in agent.text
        token = form_token(agent.text, "/web/masuk")
        ok = client.post(
            "/web/masuk",
            data={"username": "spv.banyuwangi", "password": PASSWORD, "csrf": token, "lanjut": "//elsewhere.example"},
        )
        assert ok.status_code == 303 and ok.headers["location"] == "/web/antrian"
        cookie = next(h for h in ok.headers.get_list("set-cookie") if h.startswith("simpul_sesi="))
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "samesite=strict", "path=/web"} <= flags
        assert "secure" not in flags, "plain HTTP on loopback (development) cannot keep a Secure cookie"
        assert client.get("/web/antrian").status_code == 200


def test_the_cookie_is_secure_off_loopback(gateway: GatewayProcess):
    with httpx.Client(base_url=gateway.url, timeout=30, headers={"Host": "simpul.banyuwangi.example"}) as client:
        page = client.get("/web/masuk")
        cookie = page.headers["set-cookie"].lower()
        assert "secure" in cookie and "samesite=strict" in cookie and "httponly" in cookie


def test_actions_need_the_forms_token_and_keep_what_was_typed(gateway: GatewayProcess, server_env: ServerEnv):
    case = seed_case(server_env)
    client = logged_in(gateway)
    base = f"/web/kasus/{case.application_id}"
    page = client.get(base)
    assert page.status_code == 200, page.text
    assert f'src="{base}/foto/{case.evidence_id}/depan.jpg"' in page.text
    action = f"{base}/bukti/{case.evidence_id}"
    token = form_token(page.text, action)

    forged = client.post(action, data={"keputusan": "approved", "alasan": "Foto sesuai keadaan rumah."})
    assert forged.status_code == 403 and "kedaluwarsa" in forged.text
    other_form = form_token(page.text, f"{base}/keputusan")
    assert (
        client.post(action, data={"keputusan": "approved", "alasan": "x" * 20, "csrf": other_form}).status_code == 403
    )
    assert get_doc(server_env, case.db, f"review:{case.evidence_id}") is None

    short = client.post(action, data={"keputusan": "rejected", "alasan": "buram", "csrf": token})
    assert short.status_code == 400 and "paling sedikit" in short.text and ">buram</textarea>" in short.text
    done = client.post(action, data={"keputusan": "rejected", "alasan": "Foto KK buram, mohon ulang.", "csrf": token})
    assert done.status_code == 303 and done.headers["location"].startswith(f"{base}?pesan=bukti-ditolak")
    review = get_doc(server_env, case.db, f"review:{case.evidence_id}")
    assert review is not None and (review["decision"], review["reviewer"]) == ("rejected", "spv.banyuwangi")
    shown = client.get(done.headers["location"])
    assert "Bukti ditolak" in shown.text and "Foto KK buram, mohon ulang." in shown.text

    thumb = client.get(f"{base}/foto/{case.evidence_id}/depan.jpg")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    original = client.get(f"{base}/foto/{case.evidence_id}/kk.jpg", params={"ukuran": "asli"})
    assert original.content == case.photos["kk.jpg"]
    client.close()


def test_out_of_scope_and_missing_cases_are_pages_not_json(gateway: GatewayProcess, server_env: ServerEnv):
    foreign = seed_case(server_env, desa=KEMIREN)
    client = logged_in(gateway)
    denied = client.get(f"/web/kasus/{foreign.application_id}")
    assert denied.status_code == 403 and denied.headers["content-type"].startswith("text/html")
    assert "di luar wilayah" in denied.text
    assert client.get("/web/kasus/application:tidak-ada").status_code == 404
    assert client.get("/web/antrian", params={"desa": KEMIREN}).status_code == 403
    assert client.get("/web/antrian", params={"umur": "banyak"}).status_code == 400
    client.close()


def test_log_out_ends_the_session_on_the_server(gateway: GatewayProcess):
    client = logged_in(gateway)
    cookie = client.cookies.get("simpul_sesi")
    queue = client.get("/web/antrian")
    out = client.post("/web/keluar", data={"csrf": form_token(queue.text, "/web/keluar")})
    assert out.status_code == 303 and out.headers["location"] == "/web/masuk?pesan=keluar"
    client.close()
    with httpx.Client(base_url=gateway.url, timeout=30, cookies={"simpul_sesi": cookie or ""}) as replay:
        assert replay.get("/web/antrian").status_code == 303


def test_the_stylesheet_is_small(gateway: GatewayProcess):
    css = httpx.get(gateway.url + "/web/static/simpul.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert len(css.content) < 8 * 1024
