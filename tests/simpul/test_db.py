"""The relational store's engines: errors never quote a statement's parameters (they reach the logs)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from simpul.db import make_async_engine, make_sync_engine

NIK = "3510164101900001"


def test_a_failing_statement_does_not_quote_its_parameters(tmp_path: Path) -> None:
    engine = make_sync_engine(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        with engine.begin() as conn, pytest.raises(SQLAlchemyError) as failed:
            conn.execute(text("INSERT INTO no_such_table (nik) VALUES (:nik)"), {"nik": NIK})
    finally:
        engine.dispose()
    assert NIK not in str(failed.value)

    async def main() -> str:
        engine = make_async_engine(f"sqlite:///{tmp_path / 'store.db'}")
        try:
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO no_such_table (nik) VALUES (:nik)"), {"nik": NIK})
        except SQLAlchemyError as exc:
            return str(exc)
        finally:
            await engine.dispose()
        return ""

    message = asyncio.run(main())
    assert message and NIK not in message
