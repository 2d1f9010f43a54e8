"""The supervisors' pages with what a document written straight to CouchDB may hold: ids with ``/``, ``?``, ``#``,
``%`` or unicode (every link encodes them, every route takes them back), photos that are not what their type says
(refused with a page in Bahasa Indonesia), and query numbers that are not plain digits."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest

from tests.fixtures.gateway import PASSWORD, GatewayProcess, ServerEnv
from tests.server.review.seed import HTML, UNUSUAL_IDS, evidence_of, get_doc, seed_case, unique
from tests.server.web.test_pages import form_token, logged_in

pytestmark = pytest.mark.live

AGE_DAYS = 3600
REASON = "Foto rumah sesuai dengan daftar periksa dan temuan pendamping."


def links(page: str, attribute: str) -> list[str]:
    return [html.unescape(value) for value in re.findall(rf'{attribute}="([^"]*)"', page)]


@pytest.mark.parametrize("application_id", UNUSUAL_IDS)
def test_every_link_of_a_case_with_any_id_leads_to_it(gateway: GatewayProcess, server_env: ServerEnv, application_id):
    application_id = unique(application_id)
    evidence_id = evidence_of(application_id)
    case = seed_case(server_env, application_id=application_id, evidence_id=evidence_id, age_days=AGE_DAYS)
    base = f"/web/kasus/{quote(application_id, safe=':')}"
    evidence_segment = quote(evidence_id, safe=":")
    client = logged_in(gateway)

    queue = client.get("/web/antrian", params={"umur": AGE_DAYS - 1})
    assert queue.status_code == 200
    assert base in links(queue.text, "href"), "the queue links the case with its id encoded"

    page = client.get(base)
    assert page.status_code == 200, page.text
    assert html.escape(application_id) in page.text
    sources = links(page.text, "src")
    assert f"{base}/foto/{evidence_segment}/depan.jpg" in sources
    thumbnail = client.get(f"{base}/foto/{evidence_segment}/depan.jpg")
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"
    original_link = f"{base}/foto/{evidence_segment}/kk.jpg?ukuran=asli"
    assert original_link in links(page.text, "href")
    assert client.get(original_link).content == case.photos["kk.jpg"]

    action = f"{base}/bukti/{evidence_segment}"
    reviewed = client.post(
        action, data={"keputusan": "approved", "alasan": REASON, "csrf": form_token(page.text, action)}
    )
    assert reviewed.status_code == 303, reviewed.text
    target = urlsplit(reviewed.headers["location"])
    assert target.path == base and target.query == "pesan=bukti-disetujui"
    assert f'id="bukti-{target.fragment.removeprefix("bukti-")}"' in page.text, "the fragment names the evidence"
    review = get_doc(server_env, case.db, f"review:{evidence_id}")
    assert review is not None and review["application_id"] == application_id

    shown = client.get(reviewed.headers["location"])
    assert shown.status_code == 200 and "Bukti disetujui" in shown.text
    decision = f"{base}/keputusan"
    decided = client.post(
        decision, data={"keputusan": "eligible", "alasan": REASON, "csrf": form_token(shown.text, decision)}
    )
    assert decided.status_code == 303 and urlsplit(decided.headers["location"]).path == base
    stored = get_doc(server_env, case.db, f"review:{application_id}")
    assert stored is not None and stored["decision"] == "eligible"
    client.close()

    with httpx.Client(base_url=gateway.url, timeout=30) as browser:
        bounced = browser.get(base)
        assert bounced.status_code == 303
        [lanjut] = parse_qs(urlsplit(bounced.headers["location"]).query)["lanjut"]
        assert lanjut == base, "after log-in the browser comes back to the same case"
        form = browser.get("/web/masuk", params={"lanjut": lanjut})
        back = browser.post(
            "/web/masuk",
            data={
                "username": "spv.banyuwangi",
                "password": PASSWORD,
                "csrf": form_token(form.text, "/web/masuk"),
                "lanjut": lanjut,
            },
        )
        assert back.status_code == 303 and back.headers["location"] == base
        assert browser.get(back.headers["location"]).status_code == 200


def test_a_photo_that_is_not_its_image_is_refused_with_a_page(gateway: GatewayProcess, server_env: ServerEnv):
    case = seed_case(
        server_env, attachments={"depan.jpg": (HTML, "text/html"), "kk.jpg": (b"bukan gambar", "image/jpeg")}
    )
    client = logged_in(gateway)
    base = f"/web/kasus/{case.application_id}/foto/{case.evidence_id}"
    for name in ("depan.jpg", "kk.jpg"):
        for params in ({"ukuran": "asli"}, {}):
            refused = client.get(f"{base}/{name}", params=params)
            assert refused.status_code == 409, (name, params)
            assert refused.headers["content-type"].startswith("text/html") and 'lang="id"' in refused.text
            assert "default-src 'none'" in refused.headers["content-security-policy"]
            assert "<script>" not in refused.text and "fetch(" not in refused.text
    assert "tidak tersimpan sebagai gambar" in client.get(f"{base}/depan.jpg", params={"ukuran": "asli"}).text
    assert "rusak" in client.get(f"{base}/kk.jpg", params={"ukuran": "asli"}).text

    good = seed_case(server_env)
    for params in ({"ukuran": "asli"}, {}):
        photo = client.get(f"/web/kasus/{good.application_id}/foto/{good.evidence_id}/depan.jpg", params=params)
        assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
        assert photo.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in photo.headers["content-security-policy"]
        assert photo.headers["content-disposition"] == 'inline; filename="depan.jpg"'
    client.close()


def test_queue_numbers_are_plain_digits(gateway: GatewayProcess):
    client = logged_in(gateway)
    for name in ("umur", "halaman"):
        for bad in ("²", "\u0661\u0662", "99999999999999999999", "-1", "1e3"):
            refused = client.get("/web/antrian", params={name: bad})
            assert refused.status_code == 400 and 'lang="id"' in refused.text, (name, bad)
    assert client.get("/web/antrian", params={"halaman": "9999", "umur": "9999"}).status_code == 200
    client.close()
