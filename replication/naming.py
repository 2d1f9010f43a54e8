"""Database naming: one CouchDB database per desa, ``desa_<10 digits of the Kemendagri code>``."""

from __future__ import annotations

import re

from agent_forms import wilayah

_DESA_DB = re.compile(r"desa_([0-9]{10})")


def desa_db_name(desa_code: str) -> str:
    """``35.10.16.1014`` or ``3510161014`` → ``desa_3510161014``."""
    digits = desa_code.replace(".", "")
    if not re.fullmatch(r"[0-9]{10}", digits):
        raise ValueError(f"not a desa code: {desa_code!r}")
    return f"desa_{digits}"


def desa_code_of_db(db_name: str) -> str | None:
    """The dotted desa code a database name stands for, or None when it is not a known desa database."""
    match = _DESA_DB.fullmatch(db_name)  # not `$`: it would accept a trailing newline
    if not match:
        return None
    region = wilayah.find(match.group(1))
    return region.code if region and region.level == "desa" else None
