"""The rules stay pure: no I/O library, no clock, no logging in sync/verification (the rule set file is the one
read, in ``load_rule_set``, at start-up)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[3] / "sync" / "verification"
ALLOWED_ROOTS = {
    "__future__",
    "collections",
    "dataclasses",
    "datetime",
    "enum",
    "hashlib",
    "importlib",
    "json",
    "pathlib",
    "typing",
    "pydantic",
    "orjson",
    "agent_forms",
    "registries",
    "sync",
}
CLOCK = {"now", "today", "utcnow", "time", "monotonic"}


def modules() -> list[Path]:
    return sorted(PACKAGE.glob("*.py"))


@pytest.mark.parametrize("path", modules(), ids=lambda p: p.name)
def test_imports_and_calls_stay_pure(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            names = []
        for name in names:
            root = name.split(".")[0]
            assert root in ALLOWED_ROOTS, f"{path.name} imports {name}"
            if root == "registries":
                assert name == "registries.models", f"{path.name} imports {name}: only the answers' shapes"
            if root == "sync":
                assert name.startswith("sync.verification"), f"{path.name} imports {name}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            assert node.func.attr not in CLOCK, f"{path.name} reads the clock ({node.func.attr})"
