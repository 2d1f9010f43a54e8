"""The Python side of the real PouchDB device (``device.js``): a subprocess spoken to in JSON lines."""

from __future__ import annotations

import contextlib
import itertools
import json
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("device.js")


class DeviceError(RuntimeError):
    pass


class PouchDevice:
    """One device: its own node process and its own local databases under ``data_dir``."""

    def __init__(self, data_dir: Path) -> None:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not installed")
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [node, str(SCRIPT)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self._ids = itertools.count(1)
        self._write_lock = threading.Lock()
        self._pending: dict[int, tuple[threading.Event, list[dict[str, Any]]]] = {}
        self._reader = threading.Thread(target=self._read_answers, daemon=True)
        self._reader.start()

    def _read_answers(self) -> None:
        # Commands run concurrently in the device (a replication may be under way while a test looks at its
        # request log), so answers are matched to calls by id.
        assert self._process.stdout
        for line in self._process.stdout:
            answer = json.loads(line)
            waiting = self._pending.pop(answer["id"], None)
            if waiting:
                waiting[1].append(answer)
                waiting[0].set()
        for event, _ in list(self._pending.values()):
            event.set()

    def call(self, cmd: str, **args: Any) -> Any:
        event, box = threading.Event(), list[dict[str, Any]]()
        with self._write_lock:
            message_id = next(self._ids)
            self._pending[message_id] = (event, box)
            assert self._process.stdin
            self._process.stdin.write(json.dumps({"id": message_id, "cmd": cmd, "args": args}) + "\n")
            self._process.stdin.flush()
        event.wait()
        if not box:
            raise DeviceError(f"device process ended (exit {self._process.poll()})")
        answer = box[0]
        if not answer["ok"]:
            raise DeviceError(answer["error"])
        return answer["result"]

    def open(self, name: str) -> None:
        self.call("open", name=name, dir=str(self.data_dir))

    def set_token(self, token: str | None) -> None:
        self.call("setToken", token=token)

    def replicate(self, db: str, url: str, direction: str, **options: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.call("replicate", db=db, url=url, direction=direction, **options)
        return result

    def requests(self, *, clear: bool = False) -> list[dict[str, str]]:
        result: list[dict[str, str]] = self.call("requests", clear=clear)
        return result

    def close(self) -> None:
        if self._process.poll() is None:
            with contextlib.suppress(DeviceError):
                self.call("close")
            assert self._process.stdin
            self._process.stdin.close()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
