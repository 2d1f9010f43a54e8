"""``GET /api/forms`` and ``GET /api/forms/{type}/{version}``: public, served by the running server."""

from __future__ import annotations

import httpx
import pytest

from agent_forms import FORMS, form_schema
from tests.fixtures.gateway import GatewayProcess

pytestmark = pytest.mark.live


def test_the_catalogue_lists_every_type_and_version_without_login(gateway: GatewayProcess):
    response = httpx.get(gateway.url + "/api/forms", timeout=30)
    assert response.status_code == 200
    forms = response.json()["forms"]
    assert {(f["type"], f["version"]) for f in forms} == set(FORMS)
    household = next(f for f in forms if f["type"] == "household")
    assert household["schema_path"] == f"/api/forms/household/{household['version']}"
    assert household["title"] and household["latest"] is True


def test_every_listed_schema_is_served(gateway: GatewayProcess):
    forms = httpx.get(gateway.url + "/api/forms", timeout=30).json()["forms"]
    for form in forms:
        response = httpx.get(gateway.url + form["schema_path"], timeout=30)
        assert response.status_code == 200, form
        schema = response.json()
        assert schema == form_schema(form["type"], form["version"])
        assert schema["$schema"].startswith("https://json-schema.org/") and schema["$id"] == form["schema_path"]


def test_an_unknown_form_is_404_in_the_api_error_shape(gateway: GatewayProcess):
    for path in ("/api/forms/household/99", "/api/forms/result/1", "/api/forms/nothing/1"):
        response = httpx.get(gateway.url + path, timeout=30)
        assert response.status_code == 404, path
        body = response.json()
        assert body["error"] == "not_found" and body["detail"], path


def test_the_forms_are_in_the_openapi_document(gateway: GatewayProcess):
    paths = httpx.get(gateway.url + "/openapi.json", timeout=30).json()["paths"]
    assert "/api/forms" in paths and "/api/forms/{form_type}/{version}" in paths
