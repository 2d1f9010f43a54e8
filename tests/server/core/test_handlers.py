"""The one error handler logs an unexpected error by the route's template, never by the raw path: the admin's
person routes carry a NIK in theirs."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from fastapi import FastAPI
from starlette.requests import Request

from server.core import handlers

NIK = "3510164107850002"


def app() -> FastAPI:
    application = FastAPI()
    handlers.install(application)

    @application.get("/api/v1/admin/people/{nik}/export")
    async def boom(nik: str) -> None:
        raise RuntimeError("something broke")

    return application


def test_an_unhandled_error_is_logged_by_its_route_template(caplog: pytest.LogCaptureFixture) -> None:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app(), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://simpul") as client:
            return await client.get(f"/api/v1/admin/people/{NIK}/export")

    with caplog.at_level(logging.ERROR, logger=handlers.__name__):
        response = asyncio.run(call())
    assert response.status_code == 500
    assert response.json() == {"error": "internal_error", "detail": "internal error"}
    [record] = [r for r in caplog.records if r.name == handlers.__name__]
    assert record.getMessage() == "unhandled error on GET /api/v1/admin/people/{nik}/export"
    assert NIK not in caplog.text


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        (f"/api/v1/admin/people/{NIK}/export", "/api/v1/admin/people/{…}/export"),
        ("/api/v1/cases/application:9b2c6c1e/evidence", "/api/v1/cases/{…}/evidence"),
        ("/healthz", "/healthz"),
        ("/", "/"),
    ],
)
def test_a_path_no_route_matched_is_redacted(path: str, logged: str) -> None:
    request = Request({"type": "http", "method": "GET", "path": path, "query_string": b"", "headers": []})
    assert handlers.loggable_path(request) == logged
