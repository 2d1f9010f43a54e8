"""One interface per reference source, shaped like the real service.

The local store (``registries.local``) and the HTTP adapters (``registries.http``) both satisfy them, and one
contract test suite runs against both. Every method may raise ``registries.errors.SourceUnavailable``; nothing
else but ``registries.errors.RegistryError`` subclasses.
"""

from __future__ import annotations

from typing import Protocol

from registries.models import (
    AssetsAnswer,
    BpjsAnswer,
    ChangePage,
    DtsenAnswer,
    EmploymentAnswer,
    IdentityQuery,
    IdentityVerification,
    KKMembership,
    PersonStatus,
)


class ChangeSource(Protocol):
    async def changes(self, cursor: str | None = None, limit: int = 100) -> ChangePage:
        """Changes after ``cursor`` (None: from the beginning), oldest first, at most ``limit``."""
        ...


class PopulationRegistry(ChangeSource, Protocol):
    """Dukcapil's verification service: per-field match / no-match, never the record."""

    async def verify(self, query: IdentityQuery) -> IdentityVerification: ...

    async def status(self, nik: str) -> PersonStatus: ...

    async def nik_on_kk(self, nik: str, kk_number: str) -> KKMembership: ...


class Dtsen(ChangeSource, Protocol):
    """BPS's DTSEN: a household with its desil, ranking date, housing indicators and members."""

    async def household_by_kk(self, kk_number: str) -> DtsenAnswer: ...

    async def households_by_nik(self, nik: str) -> DtsenAnswer: ...


class MinistriesData(ChangeSource, Protocol):
    """Ministries' data exchanged over SPLP: employment, BPJS, assets; each datum with its own source."""

    async def employment(self, nik: str) -> EmploymentAnswer: ...

    async def bpjs(self, nik: str) -> BpjsAnswer: ...

    async def assets(self, nik: str) -> AssetsAnswer: ...
