"""The local CouchDB-compatible server for development and tests: pouchdb-server from the project's npm packages.

Started on loopback with its data under a folder of ours (kept across runs). ``LocalCouchServer.supervise()``
restarts it when it dies and logs the event, so a developer's ``make run`` survives a crash of the dev server.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import orjson

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def pouchdb_server_bin(root: Path = PROJECT_ROOT) -> Path:
    path = root / "node_modules" / ".bin" / "pouchdb-server"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `npm ci` in {root} (make does it on first use)")
    return path


class LocalCouchServer:
    def __init__(self, data_dir: Path, port: int, host: str = "127.0.0.1") -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.host = host
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 60.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if _port_in_use(self.host, self.port) and not self._stop_orphan():
            raise RuntimeError(
                f"port {self.port} on {self.host} is already taken (another local server left running?); "
                "stop it or set SIMPUL_LOCAL_COUCHDB_PORT"
            )
        node = shutil.which("node")
        if node is None:
            raise FileNotFoundError("node is not on PATH: install Node.js 20")
        quiet_request_log(self.data_dir / "config.json")
        log_file = (self.data_dir / "pouchdb-server.out").open("ab")
        # cwd = data dir: pouchdb-server writes config.json and log.txt into its working directory.
        self.process = subprocess.Popen(
            [
                node,
                str(pouchdb_server_bin()),
                "--host",
                self.host,
                "--port",
                str(self.port),
                "--dir",
                str(self.data_dir),
                "--config",
                str(self.data_dir / "config.json"),
                "--no-stdout-logs",  # its log goes to log.txt once, not also to pouchdb-server.out
            ],
            cwd=self.data_dir,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "NODE_ENV": "production"},
        )
        log_file.close()
        # The owner's pid too: a server whose owner is gone was orphaned (see _stop_orphan).
        self.pid_file.write_text(f"{self.process.pid} {os.getpid()}")
        self._wait_ready(timeout_s)
        log.info("local CouchDB-compatible server listening on %s (pid %s)", self.url, self.process.pid)

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"pouchdb-server exited with {self.process.returncode}; see {self.data_dir}/pouchdb-server.out"
                )
            try:
                if httpx.get(self.url + "/", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"pouchdb-server did not answer on {self.url} within {timeout_s:.0f}s")

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "pouchdb-server.pid"

    def _stop_orphan(self) -> bool:
        """Stop the server an earlier run started on this data folder and left behind when it was killed (SIGKILL,
        a crash: it runs in its own session, so it outlives its owner). True when one was stopped and the port is
        free. A server whose owner still runs (another ``simpul run`` on this folder) or that is not ours is left
        alone."""
        try:
            pid, owner = (int(part) for part in self.pid_file.read_text().split())
        except (OSError, ValueError):
            return False
        command = _cmdline(pid)
        if process_alive(owner) or not process_alive(pid):
            return False
        if b"pouchdb-server" not in command or str(self.data_dir).encode() not in command:
            return False  # the pid was reused by something else
        log.warning("stopping the local CouchDB-compatible server an earlier run left behind (pid %s)", pid)
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while process_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if process_alive(pid):
            os.kill(pid, signal.SIGKILL)
        while _port_in_use(self.host, self.port) and time.monotonic() < deadline + 5:
            time.sleep(0.1)
        return not _port_in_use(self.host, self.port)

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        self.pid_file.unlink(missing_ok=True)

    async def supervise(self, interval_s: float = 1.0, max_backoff_s: float = 60.0) -> None:
        """Restart the server whenever it dies, until cancelled; back off while restarts keep failing."""
        backoff = interval_s
        while True:
            await asyncio.sleep(backoff)
            if self.process is None or self.process.poll() is None:
                backoff = interval_s
                continue
            self.restarts += 1
            log.error(
                "local CouchDB-compatible server died (exit %s); restarting (restart #%d)",
                self.process.returncode,
                self.restarts,
            )
            try:
                await asyncio.to_thread(self.start)
                backoff = interval_s
            except (RuntimeError, TimeoutError) as exc:
                log.error("restart failed: %s; next try in %.0fs", exc, backoff)
                backoff = min(backoff * 2, max_backoff_s)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) is not a server.
    return b"\nState:\tZ" not in _read(f"/proc/{pid}/status")


def _cmdline(pid: int) -> bytes:
    return _read(f"/proc/{pid}/cmdline")


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError:
        return b""


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex((host, port)) == 0


def quiet_request_log(config_path: Path) -> None:
    """Start pouchdb-server at log level ``warning`` unless its config file says otherwise.

    At its default ``info`` it logs every request, and the worker's long-polls alone make that about 60 kB a minute
    with nobody syncing, never rotated. Warnings and errors are still logged; set ``log.level`` to ``info`` in the
    config file (``SIMPUL_DATA_DIR/couchdb/config.json``) to see requests.
    """
    config = orjson.loads(config_path.read_bytes()) if config_path.exists() else {}
    if "level" not in config.setdefault("log", {}):
        config["log"]["level"] = "warning"
        config_path.write_bytes(orjson.dumps(config, option=orjson.OPT_INDENT_2))
