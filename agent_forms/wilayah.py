"""Kemendagri region codes of the deployment (Kabupaten Banyuwangi), from the packaged region file.

Source and licence of the data: ``agent_forms/data/SOURCES.md``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

Level = Literal["kabupaten", "kecamatan", "desa"]


@dataclass(frozen=True, slots=True)
class Region:
    code: str  # dotted, e.g. "35.10.16.1014"
    level: Level
    name: str
    parent_code: str

    @property
    def digits(self) -> str:
        return self.code.replace(".", "")

    @property
    def is_kelurahan(self) -> bool:
        return self.level == "desa" and self.code.rsplit(".", 1)[-1].startswith("1")


@cache
def regions() -> dict[str, Region]:
    """Every region in the file, by dotted code."""
    text = resources.files(__package__).joinpath("data/banyuwangi_wilayah.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(text.splitlines())
    return {
        row["code"]: Region(row["code"], row["level"], row["name"], row["parent_code"])  # type: ignore[arg-type]
        for row in rows
    }


def desa_list() -> list[Region]:
    return [r for r in regions().values() if r.level == "desa"]


def kecamatan_list() -> list[Region]:
    return [r for r in regions().values() if r.level == "kecamatan"]


def normalise_code(code: str) -> str:
    """Accept ``35.10.16.1014`` or ``3510161014`` and return the dotted form (no validation)."""
    if "." in code:
        return code
    parts = [code[0:2], code[2:4], code[4:6], code[6:10]]
    return ".".join(p for p in parts if p)


def find(code: str) -> Region | None:
    return regions().get(normalise_code(code.strip()))
