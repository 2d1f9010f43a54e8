"""The main job as a newcomer runs it: local server, provisioning, demo users, the server; Ctrl-C stops it all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from simpul.settings import Settings
from tests.fixtures.couch import free_port

pytestmark = pytest.mark.live


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise TimeoutError(log.read_text()[-3000:])


def _listening(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
    except httpx.TransportError:
        return False
    return True


def test_run_starts_everything_restarts_a_dead_local_server_and_stops_cleanly(tmp_path: Path):
    http_port, couch_port = free_port(), free_port()
    env = {
        **os.environ,
        "SIMPUL_DATA_DIR": str(tmp_path / "var"),
        "SIMPUL_HTTP_PORT": str(http_port),
        "SIMPUL_LOCAL_COUCHDB_PORT": str(couch_port),
    }
    env.pop("SIMPUL_COUCHDB_URL", None)
    env.pop("SIMPUL_DATABASE_URL", None)
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "simpul.cli", "run"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{http_port}"
    try:
        _wait_healthy(url, process, log)
        output = log.read_text()
        assert "pendamping.lateng" in output and "simpul-demo" in output
        tokens = httpx.post(
            url + "/api/auth/token", data={"username": "pendamping.lateng", "password": "simpul-demo"}
        ).json()
        info = httpx.get(url + "/sync/desa_3510161014/", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert info.status_code == 200 and info.json()["db_name"] == "desa_3510161014"

        # The local server dies: it is restarted and the event logged.
        pid = int((tmp_path / "var" / "couchdb" / "pouchdb-server.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while "restarting" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "restarting" in log.read_text()
        _wait_healthy(url, process, log)
        assert (
            httpx.get(
                url + "/sync/desa_3510161014/", headers={"Authorization": f"Bearer {tokens['access_token']}"}
            ).status_code
            == 200
        )
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    assert not _listening(couch_port), "the local server must stop with the main job"
    # A second start finds everything provisioned and says so.
    with log.open("wb") as out:
        again = subprocess.Popen(
            [sys.executable, "-m", "simpul.cli", "run"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_healthy(url, again, log)
        assert "nothing to do" in log.read_text()
        # An operator's `simpul provision` meanwhile uses the running local server rather than failing on its port.
        provisioned = subprocess.run(
            [sys.executable, "-m", "simpul.cli", "provision"], env=env, capture_output=True, text=True, timeout=120
        )
        assert provisioned.returncode == 0, provisioned.stdout + provisioned.stderr
        assert "already running" in provisioned.stdout and "nothing to do" in provisioned.stdout
        # Ctrl-C stops it quietly: no feed that lost its server, no traceback.
        again.send_signal(signal.SIGINT)
        again.wait(timeout=30)
        stopped = log.read_text()
        assert "checkpoints saved" in stopped and "Traceback" not in stopped and "changes feed of" not in stopped
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(timeout=30)
    assert not _listening(couch_port)


def test_production_refuses_development_defaults(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SIMPUL_ENVIRONMENT", "production")
    with pytest.raises(ValueError, match="SIMPUL_COUCHDB_URL"):
        Settings()
    monkeypatch.setenv("SIMPUL_COUCHDB_URL", "http://a:b@couch:5984")
    monkeypatch.setenv("SIMPUL_DATABASE_URL", "postgresql://x@db/simpul")
    monkeypatch.setenv("SIMPUL_JWT_KEYS", '{"k1": "short"}')
    monkeypatch.setenv("SIMPUL_JWT_ACTIVE_KID", "k1")
    with pytest.raises(ValueError, match="shorter than 32"):
        Settings()
