"""The local CouchDB-compatible server's configuration file: requests are not logged unless an operator asks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest

from replication.localserver import PROJECT_ROOT, LocalCouchServer, process_alive, quiet_request_log
from tests.fixtures.couch import free_port


def test_a_new_config_logs_warnings_only(tmp_path: Path):
    config = tmp_path / "config.json"
    quiet_request_log(config)
    assert orjson.loads(config.read_bytes()) == {"log": {"level": "warning"}}


def test_an_existing_config_keeps_its_settings_and_an_operators_level(tmp_path: Path):
    config = tmp_path / "config.json"
    config.write_bytes(orjson.dumps({"couchdb": {"uuid": "u1"}}))
    quiet_request_log(config)
    assert orjson.loads(config.read_bytes()) == {"couchdb": {"uuid": "u1"}, "log": {"level": "warning"}}
    config.write_bytes(orjson.dumps({"log": {"level": "info", "file": "x.txt"}}))
    quiet_request_log(config)
    assert orjson.loads(config.read_bytes()) == {"log": {"level": "info", "file": "x.txt"}}


@pytest.mark.live
def test_a_server_orphaned_by_a_killed_run_is_stopped_by_the_next_start(tmp_path: Path):
    """``simpul run`` killed with SIGKILL leaves its pouchdb-server running (its own session); the next start stops
    that one instead of failing on the port. A server whose owner still runs is left alone."""
    port = free_port()
    owner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from replication.localserver import LocalCouchServer; "
            f"LocalCouchServer(Path({str(tmp_path)!r}), {port}).start(); print('up', flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        cwd=PROJECT_ROOT,
    )
    try:
        assert owner.stdout is not None and owner.stdout.readline().strip() == b"up"
        orphan = int((tmp_path / "pouchdb-server.pid").read_text().split()[0])
        with pytest.raises(RuntimeError, match="already taken"):  # its owner is alive: not ours to stop
            LocalCouchServer(tmp_path, port).start()
        owner.kill()
        owner.wait()
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200  # still serving, orphaned

        server = LocalCouchServer(tmp_path, port)
        server.start()
        try:
            assert server.process is not None and server.process.pid != orphan
            assert httpx.get(server.url + "/").status_code == 200
            assert not process_alive(orphan)
        finally:
            server.stop()
    finally:
        owner.kill()
        owner.wait()
