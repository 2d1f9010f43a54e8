"""A supervisor clicks through a review in a real headless Chromium (Debian's ``chromium``, driven by Playwright;
no browser is downloaded): log in, filter the queue, open a case, look at its photos, approve the evidence, decide
the case, log out. What the pendamping will pull is then checked in the desa database."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from simpul.scenarios import LATENG, ScenarioKind
from tests.devices.pouch import PouchDevice
from tests.fixtures.gateway import LATENG_DB, PASSWORD, GatewayProcess, ServerEnv, login
from tests.fixtures.pipeline import PipelineEnv, WorkerProcess, wait_for
from tests.server.review.seed import get_doc, seed_case

pytestmark = [pytest.mark.live, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
#: No background traffic: the browser talks to the test server only.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture
def page(tmp_path: Path) -> Iterator[object]:
    if not CHROMIUM.exists():
        message = "Debian's chromium is missing: `make test` installs it (apt-get install -y chromium) as root"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID")
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def test_a_supervisor_reviews_a_case_in_the_browser(
    page: object, gateway: GatewayProcess, server_env: ServerEnv, tmp_path: Path
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    case = seed_case(server_env, age_days=400, kinds=("evidence", "objection"), objection=True)

    page.goto(gateway.url + "/web/antrian")
    expect(page).to_have_url(f"{gateway.url}/web/masuk?lanjut=%2Fweb%2Fantrian&pesan=sesi-habis")
    expect(page.get_by_role("status")).to_contain_text("Sesi Anda berakhir")
    page.get_by_label("Nama pengguna").fill("spv.banyuwangi")
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_role("button", name="Masuk").click()
    expect(page).to_have_url(gateway.url + "/web/antrian")
    expect(page.get_by_role("heading", name="Antrian tinjauan")).to_be_visible()

    page.get_by_label("Desa/kelurahan").select_option(case.desa)
    page.get_by_label("Menunggu minimal (hari)").fill("300")
    page.get_by_role("button", name="Tampilkan").click()
    row = page.locator("table.queue tbody tr").filter(has=page.locator(f'a[href="/web/kasus/{case.application_id}"]'))
    expect(row).to_contain_text("Bukti lapangan")
    expect(row).to_contain_text("Keberatan")
    expect(row).to_contain_text("400")
    row.get_by_role("link", name="Lateng").click()

    expect(page.get_by_role("heading", name="Kasus di Lateng")).to_be_visible()
    photos = page.locator(".evidence img")
    expect(photos).to_have_count(2)
    for index in range(2):
        photos.nth(index).scroll_into_view_if_needed()
        expect(photos.nth(index)).to_have_js_property("complete", True)
        assert photos.nth(index).evaluate("img => img.naturalWidth") == 320 or index == 1
    assert photos.nth(1).evaluate("img => img.naturalHeight") == 320  # the portrait KK photo
    expect(page.locator("table.checklist")).to_contain_text("Jenis dinding terluas")
    expect(page.locator("table.trace")).to_contain_text("review.field_visit")
    expect(page.locator(".objection")).to_contain_text("Pemohon")
    page.screenshot(path=str(tmp_path / "kasus.png"), full_page=True)

    evidence = page.locator(".evidence")
    evidence.get_by_label("Setujui bukti").check()
    evidence.get_by_label("Alasan").fill("Foto rumah dan KK jelas, sesuai daftar periksa.")
    evidence.get_by_role("button", name="Simpan tinjauan bukti").click()
    expect(page.get_by_role("status")).to_contain_text("Bukti disetujui")
    expect(page.locator(".evidence .reviewed")).to_contain_text("Disetujui oleh spv.banyuwangi")

    decision = page.locator("#keputusan")
    decision.get_by_label("Layak", exact=True).check()
    decision.get_by_label("Alasan").fill("Keberatan diterima: suami bukan perangkat desa.")
    decision.get_by_role("button", name="Simpan keputusan").click()
    expect(page.get_by_role("status")).to_contain_text("Keputusan disimpan")
    expect(page.locator("#keputusan .reviewed")).to_contain_text("Layak oleh spv.banyuwangi")

    page.get_by_role("button", name="Keluar").click()
    expect(page.get_by_role("status")).to_contain_text("Anda sudah keluar")
    page.goto(f"{gateway.url}/web/kasus/{case.application_id}")
    expect(page).to_have_url(
        f"{gateway.url}/web/masuk?lanjut=%2Fweb%2Fkasus%2F{case.application_id.replace(':', '%3A')}&pesan=sesi-habis"
    )

    evidence_review = get_doc(server_env, case.db, f"review:{case.evidence_id}")
    case_review = get_doc(server_env, case.db, f"review:{case.application_id}")
    assert evidence_review is not None and evidence_review["decision"] == "approved"
    assert case_review is not None and (case_review["decision"], case_review["reviewer"]) == (
        "eligible",
        "spv.banyuwangi",
    )


def test_a_review_in_the_browser_reaches_the_pendamping_device(
    page: object,
    pipeline_env: PipelineEnv,
    pipeline_gateway: GatewayProcess,
    worker_factory: Callable[..., WorkerProcess],
    device_factory: Callable[[str], PouchDevice],
) -> None:
    """The whole loop: a device syncs a case the checks send to a supervisor, the supervisor decides it in the
    browser, the worker re-evaluates, and the pendamping's live-syncing device receives the review and the new
    result."""
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    worker_factory()
    scenario = pipeline_env.scenario(
        ScenarioKind.needs_review, desa=LATENG, strict=True, agent_id="agent.lateng", device_id="hp-review"
    )
    device = device_factory("review")
    device.set_token(login(pipeline_gateway.url, "agent.lateng", device_id="hp-review")["access_token"])
    device.open(LATENG_DB)
    url = f"{pipeline_gateway.url}/sync/{LATENG_DB}"
    live = device.call("liveStart", db=LATENG_DB, url=url, direction="pull")

    def on_device(doc_id: str, **fields: str) -> dict[str, Any] | None:
        doc: dict[str, Any] | None = device.call("get", db=LATENG_DB, id=doc_id)
        return doc if doc and all(doc.get(key) == value for key, value in fields.items()) else None

    try:
        device.call("bulk", db=LATENG_DB, docs=[d for case in scenario.related for d in case.documents()])
        assert device.replicate(LATENG_DB, url, "push")["ok"]
        wait_for(lambda: pipeline_env.case_processed(scenario.related[0].household["_id"]), what="related household")
        device.call("bulk", db=LATENG_DB, docs=scenario.case.documents())
        assert device.replicate(LATENG_DB, url, "push")["ok"]
        wait_for(lambda: on_device(scenario.result_id, status="needs_review"), timeout=60, what="needs_review")

        page.goto(f"{pipeline_gateway.url}/web/masuk")
        page.get_by_label("Nama pengguna").fill("spv.banyuwangi")
        page.get_by_label("Kata sandi").fill(PASSWORD)
        page.get_by_role("button", name="Masuk").click()
        expect(page).to_have_url(pipeline_gateway.url + "/web/antrian")
        page.goto(f"{pipeline_gateway.url}/web/kasus/{scenario.application_id}")
        expect(page.locator("table.trace")).to_contain_text("identity.duplicate")
        decision = page.locator("#keputusan")
        decision.get_by_label("Layak", exact=True).check()
        decision.get_by_label("Alasan").fill("NIK ganda karena salah catat di KK lama; sudah dicek di kantor desa.")
        decision.get_by_role("button", name="Simpan keputusan").click()
        expect(page.get_by_role("status")).to_contain_text("Keputusan disimpan")

        review = wait_for(lambda: on_device(f"review:{scenario.application_id}"), timeout=60, what="review")
        assert (review["decision"], review["reviewer"]) == ("eligible", "spv.banyuwangi")
        result = wait_for(lambda: on_device(scenario.result_id, status="eligible"), timeout=60, what="new result")
        assert any(rule["rule"] == "review.supervisor" for rule in result["rules"])
        assert "Supervisor" in result["explanation"]
        assert not device.call("liveState", handle=live)["errors"]
    finally:
        device.call("liveStop", handle=live)
