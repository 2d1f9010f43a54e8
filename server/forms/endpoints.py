"""Public: the schemas hold no personal data, and a device app fetches them before its pendamping logs in."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from server.forms import service
from server.forms.schemas import FormsPublic

router = APIRouter(prefix="/api/forms", tags=["forms"])


@router.get("", response_model=FormsPublic)
async def forms() -> FormsPublic:
    """Every form type and version a device may write; ``latest`` marks the version to capture new documents with
    (older versions stay valid for documents captured with them)."""
    return FormsPublic(forms=service.catalogue())


@router.get("/{form_type}/{version}", response_model=dict[str, Any])
async def form(form_type: str, version: Annotated[int, Path(ge=1, le=9999)]) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one form version, labels and help texts in Bahasa Indonesia."""
    return service.schema(form_type, version)
