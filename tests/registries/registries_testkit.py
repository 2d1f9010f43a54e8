"""Helpers shared by the registries tests (imported by name: the test folders are not packages)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlmodel import SQLModel

from registries import tables as t
from simpul.db import make_sync_engine
from simpul.settings import Settings


@dataclass(frozen=True)
class ReferenceStore:
    url: str
    settings: Settings

    def engine(self) -> Engine:
        return make_sync_engine(self.url)

    def edge_cases(self, label: str) -> list[t.RegEdgeCase]:
        engine = self.engine()
        try:
            with engine.connect() as conn:
                table = t.table_of(t.RegEdgeCase)
                rows = conn.execute(select(table).where(table.c.label == label).order_by(table.c.id)).all()
                return [t.RegEdgeCase(**row._mapping) for row in rows]
        finally:
            engine.dispose()

    def person(self, nik: str) -> t.RegPerson:
        engine = self.engine()
        try:
            with engine.connect() as conn:
                table = t.table_of(t.RegPerson)
                row = conn.execute(select(table).where(table.c.nik == nik)).one()
                return t.RegPerson(**row._mapping)
        finally:
            engine.dispose()

    def first(self, model: type[SQLModel], *conditions: object) -> dict[str, object]:
        engine = self.engine()
        try:
            with engine.connect() as conn:
                table = t.table_of(model)
                row = conn.execute(
                    select(table).where(*conditions).order_by(*table.primary_key.columns).limit(1)  # type: ignore[arg-type]
                ).one()
                return dict(row._mapping)
        finally:
            engine.dispose()
