"""Run the simulator on a real loopback socket in a background thread (tests, benchmark)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine

from registries.simulator.app import create_app
from simpul.settings import Settings


@contextmanager
def simulator_in_thread(
    settings: Settings, *, host: str = "127.0.0.1", port: int = 0, engine: AsyncEngine | None = None
) -> Iterator[str]:
    """Serve the simulator until the block ends; yields its base URL (``http://host:port``).

    ``port=0`` binds an ephemeral port. ``engine`` must not be shared with another event loop.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings, engine=engine), log_level="warning", ws="none", lifespan="on", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="registries-sim")
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the registries simulator did not start")
            time.sleep(0.01)
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def settings_for(base: Settings, base_url: str) -> Settings:
    """``base`` with the three sources pointed at a simulator at ``base_url``."""
    registries = base.registries.model_copy(
        update={
            "dukcapil_url": f"{base_url}/dukcapil",
            "dtsen_url": f"{base_url}/dtsen",
            "splp_url": f"{base_url}/splp",
        }
    )
    return base.model_copy(update={"registries": registries})
