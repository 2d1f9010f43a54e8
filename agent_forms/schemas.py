"""The JSON Schema of every form type and version, for ``GET /api/forms`` and ``GET
/api/forms/{type}/{version}``.

A device app renders its forms from these schemas offline and pre-validates what it saves: labels (``title``)
and help texts (``description``) are in Bahasa Indonesia, choices carry their labels (``oneOf`` of
``const``/``title``), and ``patternProperties`` lets the CouchDB fields (``_id`` with the right prefix,
``_rev``, ``_attachments`` …) through. Rules across fields and the soft checks are not expressible in JSON
Schema; the server enforces them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic.json_schema import GenerateJsonSchema

from agent_forms.models.registry import FORMS, versions_of

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


@dataclass(frozen=True, slots=True)
class FormInfo:
    type: str
    version: int
    title: str
    description: str
    latest: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "version": self.version,
            "title": self.title,
            "description": self.description,
            "latest": self.latest,
            "schema_path": f"/api/forms/{self.type}/{self.version}",
        }


def list_forms() -> list[FormInfo]:
    """Every (type, version) a device may write, in a stable order (type, then version)."""
    out: list[FormInfo] = []
    for form_type, version in sorted(FORMS):
        schema = _schema(form_type, version)
        out.append(
            FormInfo(
                type=form_type,
                version=version,
                title=str(schema.get("title", form_type)),
                description=str(schema.get("description", "")),
                latest=version == versions_of(form_type)[-1],
            )
        )
    return out


def form_schema(form_type: str, version: int) -> dict[str, Any] | None:
    """The JSON Schema of one form version (a fresh copy the caller may change), or ``None`` if unknown."""
    if (form_type, version) not in FORMS:
        return None
    return copy.deepcopy(_schema(form_type, version))


@cache
def _schema(form_type: str, version: int) -> dict[str, Any]:
    model = FORMS[(form_type, version)]
    schema = model.model_json_schema(mode="validation", schema_generator=GenerateJsonSchema)
    for node in (schema, *schema.get("$defs", {}).values()):
        if "description" in node:  # from docstrings wrapped in the source: one line for a form renderer
            node["description"] = " ".join(node["description"].split())
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"/api/forms/{form_type}/{version}",
        **schema,
    }
