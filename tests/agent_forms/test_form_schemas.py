"""``GET /api/forms`` and ``GET /api/forms/{type}/{version}``: what a device app renders offline."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from agent_forms import FORMS, form_schema, list_forms
from tests.agent_forms.forms_testkit import BUILDERS, fresh


def test_every_form_is_listed() -> None:
    forms = list_forms()
    assert {(f.type, f.version) for f in forms} == set(FORMS)
    assert {f.type for f in forms} == set(BUILDERS)
    household = next(f for f in forms if f.type == "household")
    assert household.as_dict() | {"description": ""} == {
        "type": "household",
        "version": 1,
        "title": "Keluarga",
        "description": "",
        "latest": True,
        "schema_path": "/api/forms/household/1",
    }


def test_unknown_form() -> None:
    assert form_schema("household", 99) is None
    assert form_schema("result", 1) is None


def _walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every property schema, with its path."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        for name, prop in (node.get("properties") or {}).items():
            found.append((f"{path}.{name}", prop))
        for key, value in node.items():
            found.extend(_walk(value, f"{path}/{key}"))
    elif isinstance(node, list):
        for item in node:
            found.extend(_walk(item, path))
    return found


@pytest.mark.parametrize(("form_type", "version"), sorted(FORMS))
def test_schema_is_labelled_and_self_contained(form_type: str, version: int) -> None:
    schema = form_schema(form_type, version)
    assert schema is not None
    json.dumps(schema)  # JSON-ready
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["additionalProperties"] is False
    assert schema["properties"]["type"]["const"] == form_type
    assert schema["properties"]["form_version"]["const"] == version
    # the CouchDB fields a stored document carries are allowed, and the id prefix is pinned
    id_pattern = schema["patternProperties"]["^_id$"]["pattern"]
    assert re.match(id_pattern, f"{form_type}:9b2c6c1e-1f0a-4a52")
    assert not re.match(id_pattern, "other:9b2c")
    # every field has a label, and every $ref resolves
    unlabeled = [path for path, prop in _walk(schema) if "title" not in prop and "$ref" not in prop]
    assert unlabeled == []
    text = json.dumps(schema)
    for ref in re.findall(r'"\$ref": "#/\$defs/([^"]+)"', text):
        assert ref in schema["$defs"]
    # the schema lists every field of the example document
    example = {k for k in fresh(form_type) if not k.startswith("_")}
    assert example <= set(schema["properties"])
    assert set(schema["required"]) <= example


def test_choices_carry_indonesian_labels() -> None:
    schema = form_schema("household", 1)
    assert schema is not None
    disability = schema["$defs"]["Disability"]
    assert {
        "const": "severe",
        "title": "Berat (memerlukan bantuan orang lain sepanjang waktu)",
    } in disability["oneOf"]
    member = schema["$defs"]["Member"]
    assert member["properties"]["nik"]["title"] == "NIK"
    assert member["properties"]["nik"]["pattern"] == "^[0-9]{16}$"
    assert schema["properties"]["kk_number"]["description"] == "16 digit, tertera di Kartu Keluarga"


def test_served_copy_is_private() -> None:
    first = form_schema("consent", 1)
    assert first is not None
    first["title"] = "changed"
    assert form_schema("consent", 1)["title"] == "Persetujuan pemrosesan data"  # type: ignore[index]
