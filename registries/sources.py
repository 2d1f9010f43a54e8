"""Wiring: the three sources as one bundle, either from the local store or over HTTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Self

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from registries.config import RegistriesSettings
from registries.http import HttpDtsen, HttpMinistriesData, HttpPopulationRegistry
from registries.local import LocalDtsen, LocalMinistriesData, LocalPopulationRegistry
from registries.protocols import Dtsen, MinistriesData, PopulationRegistry


@dataclass
class Sources:
    population: PopulationRegistry
    dtsen: Dtsen
    ministries: MinistriesData
    _closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list, repr=False)

    async def aclose(self) -> None:
        for close in self._closers:
            await close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def local_sources(engine: AsyncEngine, settings: RegistriesSettings | None = None) -> Sources:
    settings = settings or RegistriesSettings()
    return Sources(
        population=LocalPopulationRegistry(engine, name_match_threshold=settings.name_match_threshold),
        dtsen=LocalDtsen(engine),
        ministries=LocalMinistriesData(engine),
    )


def http_sources(settings: RegistriesSettings, *, transport: httpx.AsyncBaseTransport | None = None) -> Sources:
    s = settings
    population = HttpPopulationRegistry(
        "dukcapil", s.dukcapil_url, s.dukcapil_client_id, s.dukcapil_client_secret, s, transport=transport
    )
    dtsen = HttpDtsen("dtsen", s.dtsen_url, s.dtsen_client_id, s.dtsen_client_secret, s, transport=transport)
    ministries = HttpMinistriesData("splp", s.splp_url, s.splp_client_id, s.splp_client_secret, s, transport=transport)
    return Sources(population, dtsen, ministries, [population.aclose, dtsen.aclose, ministries.aclose])
