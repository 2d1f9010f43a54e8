"""``simpul registries ...`` commands, driven as an operator would (no prompt)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from registries import tables as t
from registries.cli import app
from simpul.db import make_sync_engine

runner = CliRunner()


def test_generate_with_changes_then_emit_more(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    result = runner.invoke(
        app, ["generate", "--households", "40", "--seed", "3", "--database-url", url, "--changes", "6"]
    )
    assert result.exit_code == 0, result.output
    assert "40 households" in result.output and "6 changes emitted" in result.output
    result = runner.invoke(app, ["emit-changes", "--count", "4", "--database-url", url])
    assert result.exit_code == 0, result.output
    engine = make_sync_engine(url)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(t.table_of(t.RegFamily))) == 40
        assert conn.scalar(select(func.count()).select_from(t.table_of(t.RegChange))) == 10
    engine.dispose()


def test_bench_at_a_tiny_scale(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    result = runner.invoke(
        app,
        [
            "bench",
            "--households",
            "30",
            "--database-url",
            url,
            "--lookups",
            "5",
            "--http-lookups",
            "5",
            "--markdown",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "| dtsen | household_by_kk | http | 5 |" in result.output
