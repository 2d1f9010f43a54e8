"""A relational store that cannot be used now is the API's clean 503, never an internal error: the real app with its
store opened read-only (what a full disk, a read-only remount or a locked file look like to the driver)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import exc as sa_exc
from sqlmodel.ext.asyncio.session import AsyncSession

from server.app import create_app
from server.auth import service
from server.auth.models import Role
from server.core import handlers
from simpul.db import make_async_engine
from simpul.schema import create_tables
from simpul.settings import Settings

USERNAME = "siti.pendamping"
PASSWORD = "rahasia-uji-123"


async def _create_store(path: Path) -> None:
    engine = make_async_engine(f"sqlite:///{path}")
    try:
        await create_tables(engine)
        async with AsyncSession(engine) as session:
            await service.create_user(
                session, username=USERNAME, password=PASSWORD, role=Role.pendamping, desa=["35.10.16.1014"]
            )
            await session.commit()
    finally:
        await engine.dispose()


async def _call(app: FastAPI, method: str, path: str, **kwargs: object) -> httpx.Response:
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://s") as client:
        return await client.request(method, path, **kwargs)  # type: ignore[arg-type]


def test_a_login_on_a_read_only_store_is_503_and_names_nobody(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = tmp_path / "simpul.db"
    asyncio.run(_create_store(store))
    form = {"username": USERNAME, "password": PASSWORD, "device_id": "hp-1"}

    # The same store writable: the login works (it writes the device's refresh token).
    writable = create_app(Settings(data_dir=tmp_path, database_url=f"sqlite:///{store}"))
    assert asyncio.run(_call(writable, "POST", "/api/auth/token", data=form)).status_code == 200

    read_only = create_app(Settings(data_dir=tmp_path, database_url=f"sqlite:///file:{store}?mode=ro&uri=true"))
    with caplog.at_level(logging.WARNING):
        response = asyncio.run(_call(read_only, "POST", "/api/auth/token", data=form))
    assert response.status_code == 503
    assert response.json() == {"error": "service_unavailable", "detail": handlers.STORE_UNAVAILABLE_MESSAGE}
    assert response.headers["retry-after"].isdigit()
    assert USERNAME not in caplog.text and PASSWORD not in caplog.text
    assert "Traceback" not in caplog.text


def _app_raising(error: Exception) -> FastAPI:
    application = FastAPI()
    handlers.install(application)

    @application.get("/api/v1/things")
    async def things() -> None:
        raise error

    return application


def _orig(message: str) -> Exception:
    import sqlite3

    return sqlite3.OperationalError(message)


@pytest.mark.parametrize(
    "error",
    [
        sa_exc.OperationalError("INSERT INTO t VALUES (?)", ("3510164107850002",), _orig("database is locked")),
        sa_exc.OperationalError("SELECT 1", None, _orig("unable to open database file")),
        sa_exc.InterfaceError("SELECT 1", None, _orig("connection already closed")),
        sa_exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"),
    ],
    ids=["locked", "unable-to-open", "interface", "pool-timeout"],
)
def test_every_kind_of_unavailable_store_is_503(error: Exception) -> None:
    response = asyncio.run(_call(_app_raising(error), "GET", "/api/v1/things"))
    assert response.status_code == 503
    assert response.json()["error"] == "service_unavailable"
    assert "3510164107850002" not in response.text and "INSERT" not in response.text


def test_a_statement_the_store_refuses_is_still_an_internal_error() -> None:
    error = sa_exc.IntegrityError("INSERT INTO t VALUES (?)", ("x",), _orig("UNIQUE constraint failed: t.x"))
    response = asyncio.run(_call(_app_raising(error), "GET", "/api/v1/things"))
    assert response.status_code == 500
    assert response.json() == {"error": "internal_error", "detail": "internal error"}
