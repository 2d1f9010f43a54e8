"""The forms catalogue, straight from :mod:`agent_forms` (pure, cached there)."""

from __future__ import annotations

from typing import Any

from agent_forms import form_schema, list_forms
from server.core.errors import NotFound
from server.forms.schemas import FormPublic


def catalogue() -> list[FormPublic]:
    return [FormPublic(**info.as_dict()) for info in list_forms()]


def schema(form_type: str, version: int) -> dict[str, Any]:
    found = form_schema(form_type, version)
    if found is None:
        raise NotFound(f"no form {form_type!r} version {version}")
    return found
