"""The simulator: the three sources under ``/dukcapil``, ``/dtsen`` and ``/splp``, each with its own OAuth2
client-credentials token endpoint (``{prefix}/oauth2/token``), answering from the local store.

It accepts the client credentials configured in ``RegistriesSettings`` for each source and issues opaque
bearer tokens kept in memory. Errors follow the registries' hierarchy: ``{"error": code, "detail": message}``,
422 for an invalid query, 503 for anything else.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Form, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, model_validator
from sqlalchemy.ext.asyncio import AsyncEngine

from registries.config import RegistriesSettings
from registries.errors import InvalidQuery, RegistryError
from registries.local import LocalDtsen, LocalMinistriesData, LocalPopulationRegistry
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
from simpul.db import make_async_engine
from simpul.settings import Settings

SourceKey = Literal["dukcapil", "dtsen", "splp"]


@dataclass
class SimulatorState:
    population: LocalPopulationRegistry
    dtsen: LocalDtsen
    ministries: LocalMinistriesData
    credentials: dict[str, tuple[str, str]]
    token_ttl_s: int
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)  # token -> (source, expires at)
    tokens_issued: Counter[str] = field(default_factory=Counter)


def _state(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.simulator
    return state


StateDep = Annotated[SimulatorState, Depends(_state)]


class TokenAnswer(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class NikBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    nik: str


class KKMembershipBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    nik: str
    kk_number: str


class HouseholdBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kk_number: str | None = None
    nik: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> HouseholdBody:
        if (self.kk_number is None) == (self.nik is None):
            raise ValueError("give exactly one of kk_number and nik")
        return self


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        client_id, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return client_id, secret


def _token_router(source: SourceKey) -> APIRouter:
    router = APIRouter()

    @router.post("/oauth2/token", response_model=TokenAnswer)
    async def token(
        state: StateDep,
        grant_type: Annotated[str, Form()],
        authorization: Annotated[str | None, Header()] = None,
        client_id: Annotated[str | None, Form()] = None,
        client_secret: Annotated[str | None, Form()] = None,
    ) -> TokenAnswer | JSONResponse:
        if grant_type != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        given = _basic_credentials(authorization) or (client_id or "", client_secret or "")
        expected = state.credentials[source]
        if not (secrets.compare_digest(given[0], expected[0]) and secrets.compare_digest(given[1], expected[1])):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        value = secrets.token_urlsafe(24)
        state.tokens[value] = (source, time.monotonic() + state.token_ttl_s)
        state.tokens_issued[source] += 1
        return TokenAnswer(access_token=value, expires_in=state.token_ttl_s)

    return router


def _bearer(source: SourceKey) -> Callable[[SimulatorState, str | None], Awaitable[None]]:
    async def check(state: StateDep, authorization: Annotated[str | None, Header()] = None) -> None:
        token = authorization[7:] if authorization and authorization.lower().startswith("bearer ") else ""
        held = state.tokens.get(token)
        if held is None or held[0] != source or held[1] < time.monotonic():
            raise _Unauthorized(source, "missing, unknown or expired token")

    return check


class _Unauthorized(RegistryError):
    code = "invalid_token"


def _population_router() -> APIRouter:
    router = APIRouter(dependencies=[Depends(_bearer("dukcapil"))])

    @router.post("/v1/verify", response_model=IdentityVerification)
    async def verify(state: StateDep, query: IdentityQuery) -> IdentityVerification:
        return await state.population.verify(query)

    @router.post("/v1/status", response_model=PersonStatus)
    async def status(state: StateDep, body: NikBody) -> PersonStatus:
        return await state.population.status(body.nik)

    @router.post("/v1/kk-membership", response_model=KKMembership)
    async def kk_membership(state: StateDep, body: KKMembershipBody) -> KKMembership:
        return await state.population.nik_on_kk(body.nik, body.kk_number)

    @router.get("/v1/changes", response_model=ChangePage)
    async def changes(state: StateDep, cursor: str | None = None, limit: int = 100) -> ChangePage:
        return await state.population.changes(cursor, limit)

    return router


def _dtsen_router() -> APIRouter:
    router = APIRouter(dependencies=[Depends(_bearer("dtsen"))])

    @router.post("/v1/households", response_model=DtsenAnswer)
    async def households(state: StateDep, body: HouseholdBody) -> DtsenAnswer:
        if body.kk_number is not None:
            return await state.dtsen.household_by_kk(body.kk_number)
        assert body.nik is not None
        return await state.dtsen.households_by_nik(body.nik)

    @router.get("/v1/changes", response_model=ChangePage)
    async def changes(state: StateDep, cursor: str | None = None, limit: int = 100) -> ChangePage:
        return await state.dtsen.changes(cursor, limit)

    return router


def _splp_router() -> APIRouter:
    router = APIRouter(dependencies=[Depends(_bearer("splp"))])

    @router.post("/v1/employment", response_model=EmploymentAnswer)
    async def employment(state: StateDep, body: NikBody) -> EmploymentAnswer:
        return await state.ministries.employment(body.nik)

    @router.post("/v1/bpjs", response_model=BpjsAnswer)
    async def bpjs(state: StateDep, body: NikBody) -> BpjsAnswer:
        return await state.ministries.bpjs(body.nik)

    @router.post("/v1/assets", response_model=AssetsAnswer)
    async def assets(state: StateDep, body: NikBody) -> AssetsAnswer:
        return await state.ministries.assets(body.nik)

    @router.get("/v1/changes", response_model=ChangePage)
    async def changes(state: StateDep, cursor: str | None = None, limit: int = 100) -> ChangePage:
        return await state.ministries.changes(cursor, limit)

    return router


async def _registry_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RegistryError)
    status = 401 if isinstance(exc, _Unauthorized) else 422 if isinstance(exc, InvalidQuery) else 503
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": exc.code, "detail": exc.message}, status_code=status, headers=headers)


def create_app(settings: Settings | None = None, *, engine: AsyncEngine | None = None) -> FastAPI:
    """Build the simulator. With no arguments (``uvicorn --factory``) settings come from the environment and
    the engine from ``SIMPUL_DATABASE_URL``; tests pass their own."""
    resolved = settings or Settings()
    reg: RegistriesSettings = resolved.registries

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_engine = engine is None
        store = engine or make_async_engine(resolved.resolved_database_url)
        app.state.simulator = SimulatorState(
            population=LocalPopulationRegistry(store, name_match_threshold=reg.name_match_threshold),
            dtsen=LocalDtsen(store),
            ministries=LocalMinistriesData(store),
            credentials={
                "dukcapil": (reg.dukcapil_client_id, reg.dukcapil_client_secret.get_secret_value()),
                "dtsen": (reg.dtsen_client_id, reg.dtsen_client_secret.get_secret_value()),
                "splp": (reg.splp_client_id, reg.splp_client_secret.get_secret_value()),
            },
            token_ttl_s=reg.simulator_token_ttl_s,
        )
        try:
            yield
        finally:
            if own_engine:
                await store.dispose()

    app = FastAPI(title="Simpul registries simulator", version="1", lifespan=lifespan)
    app.add_exception_handler(RegistryError, _registry_error)
    for prefix, router in (
        ("/dukcapil", _population_router()),
        ("/dtsen", _dtsen_router()),
        ("/splp", _splp_router()),
    ):
        app.include_router(_token_router(prefix[1:]), prefix=prefix)  # type: ignore[arg-type]
        app.include_router(router, prefix=prefix)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "time": dt.datetime.now(dt.UTC).isoformat()}

    return app
