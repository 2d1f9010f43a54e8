"""`simpul users ...`: an operator adds, lists, reassigns, disables and enables accounts on the relational store."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession
from typer.testing import CliRunner

from server.auth import service
from server.auth.tokens import KeyRing
from server.core.errors import Unauthorized
from simpul.cli import app
from simpul.db import make_async_engine
from simpul.settings import Settings

PASSWORD = "a-long-password"
T = TypeVar("T")


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    # A data folder that does not exist yet: the commands create it, as on a fresh clone before `make run`.
    monkeypatch.setenv("SIMPUL_DATA_DIR", str(tmp_path / "var"))
    return CliRunner()


def _add(cli: CliRunner, username: str, *assignment: str, role: str = "pendamping") -> None:
    args = ["users", "add", "--username", username, "--role", role, *assignment, "--password-stdin"]
    result = cli.invoke(app, args, input=f"{PASSWORD}\n")
    assert result.exit_code == 0, result.output


KEYS = KeyRing({"k": "k" * 48}, "k", audience="simpul", issuer="simpul", ttl_s=60)


async def _in_store(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    engine = make_async_engine(Settings().resolved_database_url)
    try:
        async with AsyncSession(engine) as session:
            result = await work(session)
            await session.commit()
            return result
    finally:
        await engine.dispose()


def _login(device_id: str) -> service.TokenPair:
    return asyncio.run(
        _in_store(
            lambda session: service.login(
                session, KEYS, username="siti", password=PASSWORD, device_id=device_id, refresh_ttl_s=600
            )
        )
    )


def _refresh(pair: service.TokenPair, device_id: str) -> service.TokenPair:
    return asyncio.run(
        _in_store(
            lambda session: service.refresh(
                session, KEYS, refresh_token=pair.refresh_token, device_id=device_id, refresh_ttl_s=600
            )
        )
    )


def test_add_reads_the_password_from_stdin(cli: CliRunner):
    args = ["users", "add", "--username", "siti", "--role", "pendamping", "--desa", "35.10.16.1014", "--password-stdin"]
    assert cli.invoke(app, args, input=f"{PASSWORD}\n").exit_code == 0
    again = cli.invoke(app, args, input=f"{PASSWORD}\n")
    assert again.exit_code == 1 and "already exists" in again.output
    wrong = cli.invoke(
        app,
        ["users", "add", "--username", "x", "--role", "pendamping", "--desa", "99.99", "--password-stdin"],
        input=f"{PASSWORD}\n",
    )
    assert wrong.exit_code == 1 and "not a desa code" in wrong.output
    no_stdin = cli.invoke(app, ["users", "add", "--username", "y", "--role", "admin"])
    assert no_stdin.exit_code == 2


def test_list_shows_roles_and_assignments(cli: CliRunner):
    assert "no users" in cli.invoke(app, ["users", "list"]).output
    _add(cli, "siti", "--desa", "35.10.16.1014", "--desa", "35.10.15.2004")
    _add(cli, "budi", "--kecamatan", "35.10.16", role="supervisor")
    listed = cli.invoke(app, ["users", "list"])
    assert listed.exit_code == 0, listed.output
    siti = next(line for line in listed.output.splitlines() if "siti" in line)
    assert "pendamping" in siti and "35.10.15.2004 35.10.16.1014" in siti
    assert "35.10.16" in next(line for line in listed.output.splitlines() if "budi" in line)


def test_assign_replaces_the_assignments_and_checks_them_against_the_role(cli: CliRunner):
    _add(cli, "siti", "--desa", "35.10.16.1014")
    moved = cli.invoke(app, ["users", "assign", "--username", "siti", "--desa", "35.10.15.2004"])
    assert moved.exit_code == 0 and "35.10.15.2004" in moved.output
    listed = cli.invoke(app, ["users", "list"]).output
    assert "35.10.15.2004" in listed and "35.10.16.1014" not in listed
    wrong_level = cli.invoke(app, ["users", "assign", "--username", "siti", "--kecamatan", "35.10.16"])
    assert wrong_level.exit_code == 1 and "pendamping" in wrong_level.output
    nobody = cli.invoke(app, ["users", "assign", "--username", "nobody", "--desa", "35.10.16.1014"])
    assert nobody.exit_code == 1 and "no user 'nobody'" in nobody.output


def test_disable_refuses_logins_and_revokes_every_device_until_enabled(cli: CliRunner):
    _add(cli, "siti", "--desa", "35.10.16.1014")
    _login("tablet-1")
    second = _login("tablet-2")
    disabled = cli.invoke(app, ["users", "disable", "--username", "siti"])
    assert disabled.exit_code == 0 and "2 device token(s) revoked" in disabled.output
    assert " no " in next(line for line in cli.invoke(app, ["users", "list"]).output.splitlines() if "siti" in line)
    with pytest.raises(Unauthorized):
        _login("tablet-3")

    assert cli.invoke(app, ["users", "enable", "--username", "siti"]).exit_code == 0
    with pytest.raises(Unauthorized, match="dicabut"):  # enabling does not bring the old devices back
        _refresh(second, "tablet-2")
    assert _refresh(_login("tablet-1"), "tablet-1").access_token
