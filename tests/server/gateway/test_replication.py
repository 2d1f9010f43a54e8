"""A real PouchDB device replicating through the gateway to the real local CouchDB-compatible server."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from typing import Any

import httpx
import pytest

from replication.localserver import LocalCouchServer
from tests.fixtures.forms import form_doc
from tests.fixtures.gateway import KEMIREN, KEMIREN_DB, LATENG_DB, GatewayProcess, login

pytestmark = pytest.mark.live


def _prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


def _households(prefix: str) -> str:
    """Devices write form documents only: generated documents are valid households under ``household:<prefix>``."""
    return f"household:{prefix}"


def _upstream_docs(couch: LocalCouchServer, db: str, prefix: str) -> dict[str, Any]:
    rows = httpx.get(
        f"{couch.url}/{db}/_all_docs",
        params={"startkey": f'"{prefix}"', "endkey": f'"{prefix}\ufff0"', "include_docs": "true", "conflicts": "true"},
        timeout=60,
    ).json()["rows"]
    return {row["id"]: row["doc"] for row in rows}


def _device_docs(device: Any, db: str, prefix: str) -> dict[str, Any]:
    rows = device.call("allDocs", db=db, include_docs=True, startkey=prefix, endkey=prefix + "\ufff0")["rows"]
    return {row["id"]: row["doc"] for row in rows}


def test_push_then_pull_1000_documents_with_photos_identical(gateway: GatewayProcess, couch_server, device_factory):
    token = login(gateway.url, "agent.lateng")["access_token"]
    prefix = _prefix()
    sender = device_factory("sender")
    sender.open(LATENG_DB)
    sender.set_token(token)
    # 900 households and 100 evidence documents, each with two real JPEG photos.
    sender.call("generate", db=LATENG_DB, count=900, prefix=f"household:{prefix}", template=form_doc("household"))
    sender.call("generate", db=LATENG_DB, count=100, prefix=f"evidence:{prefix}", template=form_doc("evidence"))

    pushed = sender.replicate(LATENG_DB, f"{gateway.url}/sync/{LATENG_DB}", "push")
    assert pushed["ok"], pushed
    assert pushed["docs_written"] == 1000 and pushed["denied"] == []

    stored = {
        **_upstream_docs(couch_server, LATENG_DB, f"household:{prefix}"),
        **_upstream_docs(couch_server, LATENG_DB, f"evidence:{prefix}"),
    }
    assert len(stored) == 1000

    receiver = device_factory("receiver")
    receiver.open(LATENG_DB)
    receiver.set_token(token)
    pulled = receiver.replicate(LATENG_DB, f"{gateway.url}/sync/{LATENG_DB}", "pull")
    assert pulled["ok"], pulled

    for kind in ("household", "evidence"):
        sent_docs = _device_docs(sender, LATENG_DB, f"{kind}:{prefix}")
        received_docs = _device_docs(receiver, LATENG_DB, f"{kind}:{prefix}")
        assert received_docs == sent_docs
    for doc_id, doc in sent_docs.items():
        assert set(doc["_attachments"]) == {"depan.jpg", "kk.jpg"}
        for name in doc["_attachments"]:
            original = sender.call("attachment", db=LATENG_DB, id=doc_id, name=name)
            copy = receiver.call("attachment", db=LATENG_DB, id=doc_id, name=name)
            assert base64.b64decode(copy) == base64.b64decode(original)
            assert base64.b64decode(copy).startswith(b"\xff\xd8\xff")


def test_tombstones_and_conflict_leaves_written_by_the_server_reach_the_device(
    gateway: GatewayProcess, couch_server, device_factory
):
    prefix = _prefix()
    db_url = f"{couch_server.url}/{LATENG_DB}"
    # A document the server deletes, and one with two conflicting branches (as after a multi-master merge).
    created = httpx.put(f"{db_url}/{prefix}-gone", json={"v": 1}).json()
    httpx.delete(f"{db_url}/{prefix}-gone", params={"rev": created["rev"]}).raise_for_status()
    httpx.post(
        f"{db_url}/_bulk_docs",
        json={
            "new_edits": False,
            "docs": [
                {"_id": f"{prefix}-split", "_rev": "1-aaaa", "side": "a"},
                {"_id": f"{prefix}-split", "_rev": "1-bbbb", "side": "b"},
            ],
        },
    ).raise_for_status()

    device = device_factory()
    device.open(LATENG_DB)
    device.set_token(login(gateway.url, "agent.lateng")["access_token"])
    # The device had the document before it was deleted.
    device.call("bulk", db=LATENG_DB, docs=[{"_id": f"{prefix}-gone", "_rev": created["rev"], "v": 1}], new_edits=False)
    result = device.replicate(LATENG_DB, f"{gateway.url}/sync/{LATENG_DB}", "pull")
    assert result["ok"], result

    assert device.call("get", db=LATENG_DB, id=f"{prefix}-gone") is None
    split = device.call("get", db=LATENG_DB, id=f"{prefix}-split", conflicts=True)
    assert split["_rev"] == "1-bbbb" and split["_conflicts"] == ["1-aaaa"]


def test_live_sync_receives_a_server_write_through_the_long_poll(gateway: GatewayProcess, couch_server, device_factory):
    device = device_factory()
    device.open(LATENG_DB)
    device.set_token(login(gateway.url, "agent.lateng")["access_token"])
    handle = device.call(
        "liveStart", db=LATENG_DB, url=f"{gateway.url}/sync/{LATENG_DB}", direction="pull", heartbeat=1000
    )
    try:
        # Let it catch up and sit in a long-poll (the test gateway ends long-polls after 3 s; one is re-opened).
        time.sleep(4)
        doc_id = f"result:{_prefix()}"
        httpx.put(f"{couch_server.url}/{LATENG_DB}/{doc_id}", json={"status": "eligible"}).raise_for_status()
        arrived = device.call("waitFor", db=LATENG_DB, id=doc_id, timeout_ms=30_000)
        assert arrived is not None and arrived["status"] == "eligible"
        assert device.call("liveState", handle=handle)["errors"] == []
    finally:
        device.call("liveStop", handle=handle)


def test_push_cut_by_a_gateway_crash_resumes_from_the_checkpoint(
    gateway_factory, couch_server: LocalCouchServer, device_factory
):
    own = gateway_factory()
    prefix = _households(_prefix())
    total = 3000
    device = device_factory()
    device.open(LATENG_DB)
    device.set_token(login(own.url, "agent.lateng")["access_token"])
    device.call("generate", db=LATENG_DB, count=total, prefix=prefix, template=form_doc("household"))

    def crash_when_half_arrived() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if len(_upstream_docs(couch_server, LATENG_DB, prefix)) >= total // 3:
                own.kill()
                return
            time.sleep(0.05)

    killer = threading.Thread(target=crash_when_half_arrived)
    killer.start()
    first = device.replicate(LATENG_DB, f"{own.url}/sync/{LATENG_DB}", "push", batch_size=100)
    killer.join()
    assert not first["ok"], "the push should have been cut"
    arrived_before = len(_upstream_docs(couch_server, LATENG_DB, prefix))
    assert 0 < arrived_before < total

    own.start()  # same port, same settings: a restart
    second = device.replicate(LATENG_DB, f"{own.url}/sync/{LATENG_DB}", "push", batch_size=100)
    assert second["ok"], second
    # Resumed: the second run read only what the checkpoint had not covered, not all documents from 0.
    assert second["docs_read"] < total
    stored = _upstream_docs(couch_server, LATENG_DB, prefix)
    assert len(stored) == total
    assert all(doc["_rev"].startswith("1-") and "_conflicts" not in doc for doc in stored.values())


def test_pull_cut_by_a_gateway_crash_resumes_without_since_zero(gateway_factory, couch_server, device_factory):
    own = gateway_factory()
    prefix = _households(_prefix())
    seeder = device_factory("seeder")
    seeder.open(KEMIREN_DB)
    seeder.set_token(login(own.url, "agent.kemiren")["access_token"])
    template = form_doc("household", agent="agent.kemiren", desa=KEMIREN)
    seeder.call("generate", db=KEMIREN_DB, count=2000, prefix=prefix, template=template)
    assert seeder.replicate(KEMIREN_DB, f"{own.url}/sync/{KEMIREN_DB}", "push")["ok"]

    device = device_factory()
    device.open(KEMIREN_DB)
    device.set_token(login(own.url, "agent.kemiren", device_id="puller")["access_token"])

    def crash_when_some_arrived() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            changes = [r for r in device.requests() if "_bulk_get" in r["url"]]
            if len(changes) >= 3:
                own.kill()
                return
            time.sleep(0.02)

    killer = threading.Thread(target=crash_when_some_arrived)
    killer.start()
    first = device.replicate(KEMIREN_DB, f"{own.url}/sync/{KEMIREN_DB}", "pull", batch_size=100, batches_limit=1)
    killer.join()
    assert not first["ok"]
    own.start()
    device.requests(clear=True)
    second = device.replicate(KEMIREN_DB, f"{own.url}/sync/{KEMIREN_DB}", "pull", batch_size=100)
    assert second["ok"], second
    first_changes = next(r["url"] for r in device.requests() if "/_changes" in r["url"])
    assert "since=0" not in first_changes
    assert len(_device_docs(device, KEMIREN_DB, prefix)) == 2000


def test_a_new_login_does_not_restart_replication_from_zero(gateway: GatewayProcess, device_factory):
    device = device_factory()
    device.open(LATENG_DB)
    device.set_token(login(gateway.url, "agent.lateng")["access_token"])
    assert device.replicate(LATENG_DB, f"{gateway.url}/sync/{LATENG_DB}", "pull")["ok"]
    root_before = httpx.get(gateway.url + "/sync/").json()["uuid"]

    device.requests(clear=True)
    device.set_token(login(gateway.url, "agent.lateng", device_id="device-1")["access_token"])  # log out, log in
    assert device.replicate(LATENG_DB, f"{gateway.url}/sync/{LATENG_DB}", "pull")["ok"]
    changes = [r["url"] for r in device.requests() if "/_changes" in r["url"]]
    assert changes and all("since=0" not in url for url in changes)
    assert httpx.get(gateway.url + "/sync/").json()["uuid"] == root_before


def test_design_document_in_a_batch_is_refused_alone_and_the_device_learns_why(
    gateway: GatewayProcess, couch_server, device_factory
):
    prefix = _prefix()
    households = _households(prefix)
    device = device_factory()
    device.open(LATENG_DB)
    device.set_token(login(gateway.url, "agent.lateng")["access_token"])
    device.call(
        "bulk",
        db=LATENG_DB,
        docs=[
            form_doc("household", key=f"{prefix}-a"),
            {"_id": f"_design/{prefix}", "views": {}},
            form_doc("household", key=f"{prefix}-b"),
        ],
    )
    pushed = device.replicate(LATENG_DB, f"{gateway.url}/sync/{LATENG_DB}", "push")
    assert pushed["ok"], pushed
    assert [d["id"] for d in pushed["denied"]] == [f"_design/{prefix}"]
    assert "_design/" in pushed["denied"][0]["reason"]
    assert set(_upstream_docs(couch_server, LATENG_DB, households)) == {f"{households}-a", f"{households}-b"}

    assert device.replicate(LATENG_DB, f"{gateway.url}/sync/{LATENG_DB}", "pull")["ok"]
    issue = device.call("get", db=LATENG_DB, id=f"sync_issue:_design/{prefix}")
    assert issue["type"] == "sync_issue" and issue["status"] == "open"
    assert "tidak boleh" in issue["reason"]


def test_oversize_document_is_refused_alone(gateway: GatewayProcess, couch_server, device_factory):
    prefix = _prefix()
    device = device_factory()
    device.open(LATENG_DB)
    device.set_token(login(gateway.url, "agent.lateng")["access_token"])
    big = base64.b64encode(b"\xff\xd8\xff\xe0" + bytes(1_500_000)).decode()  # over the test gateway's 1 MiB
    oversize = form_doc("evidence", key=f"{prefix}-big")
    oversize["_attachments"]["depan.jpg"] = {"content_type": "image/jpeg", "data": big}
    device.call("bulk", db=LATENG_DB, docs=[form_doc("evidence", key=f"{prefix}-small"), oversize])
    pushed = device.replicate(LATENG_DB, f"{gateway.url}/sync/{LATENG_DB}", "push")
    assert pushed["ok"], pushed
    assert [d["id"] for d in pushed["denied"]] == [f"evidence:{prefix}-big"]
    assert "terlalu besar" in pushed["denied"][0]["reason"]
    assert set(_upstream_docs(couch_server, LATENG_DB, f"evidence:{prefix}")) == {f"evidence:{prefix}-small"}


@pytest.mark.parametrize("suffix", ["a/b", "..", ".", "x=y+z", "ünïcødé/ü", "sp ace", "per%cent", "q?x#y", "_under"])
def test_odd_document_ids_round_trip(gateway: GatewayProcess, couch_server, device_factory, suffix: str):
    """No form id has these characters, but server-owned ids derive from device ids (``sync_issue:<id>``): a
    refusal of an odd id must name it exactly, and odd ids with odd attachment names must pull intact."""
    prefix = _prefix()
    doc_id = f"{prefix}:{suffix}"
    token = login(gateway.url, "agent.lateng")["access_token"]
    text = {"content_type": "text/plain", "data": base64.b64encode(b"hi").decode()}
    # Written by the server (straight into CouchDB), read by a device through the gateway.
    httpx.post(
        f"{couch_server.url}/{LATENG_DB}/_bulk_docs",
        json={"docs": [{"_id": doc_id, "v": suffix, "_attachments": {"dir/n a.txt": text}}]},
    ).raise_for_status()
    # Written by a device: refused (not a form), under its exact id.
    sent_id = f"{doc_id}-dev"
    sender = device_factory("sender")
    sender.open(LATENG_DB)
    sender.set_token(token)
    sender.call("bulk", db=LATENG_DB, docs=[{"_id": sent_id, "v": suffix, "_attachments": {"dir/n a.txt": text}}])
    pushed = sender.replicate(LATENG_DB, f"{gateway.url}/sync/{LATENG_DB}", "push")
    assert pushed["ok"], pushed
    assert [d["id"] for d in pushed["denied"]] == [sent_id]
    assert set(_upstream_docs(couch_server, LATENG_DB, prefix)) == {doc_id}

    receiver = device_factory("receiver")
    receiver.open(LATENG_DB)
    receiver.set_token(token)
    assert receiver.replicate(LATENG_DB, f"{gateway.url}/sync/{LATENG_DB}", "pull")["ok"]
    assert receiver.call("get", db=LATENG_DB, id=doc_id)["v"] == suffix
    attachment = receiver.call("attachment", db=LATENG_DB, id=doc_id, name="dir/n a.txt")
    assert base64.b64decode(attachment) == b"hi"
    assert receiver.call("get", db=LATENG_DB, id=f"sync_issue:{sent_id}")["doc_id"] == sent_id


def test_a_device_cannot_replicate_a_foreign_desa(gateway: GatewayProcess, device_factory):
    device = device_factory()
    device.open(KEMIREN_DB)
    device.set_token(login(gateway.url, "agent.lateng")["access_token"])
    result = device.replicate(KEMIREN_DB, f"{gateway.url}/sync/{KEMIREN_DB}", "pull")
    assert not result["ok"]
    assert result["status"] == 403
    # No request ever tried to create the database.
    assert not [r for r in device.requests() if r["method"] == "PUT" and r["url"].rstrip("/").endswith(KEMIREN_DB)]
