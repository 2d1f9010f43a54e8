from __future__ import annotations

from pydantic import BaseModel


class FormPublic(BaseModel):
    type: str
    version: int
    title: str
    description: str
    latest: bool
    schema_path: str


class FormsPublic(BaseModel):
    forms: list[FormPublic]
