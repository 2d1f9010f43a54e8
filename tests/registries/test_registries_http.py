"""The HTTP adapters' edge: tokens, retries, the circuit breaker, translation of every transport failure."""

from __future__ import annotations

import json
import random
import socket
from collections import Counter
from collections.abc import Callable

import httpx
import pytest
from pydantic import SecretStr

from registries.config import RegistriesSettings
from registries.errors import (
    CircuitOpen,
    InvalidQuery,
    SourceAuthError,
    SourceUnavailable,
)
from registries.http import HttpPopulationRegistry
from registries.models import IdentityQuery, LifeStatus
from registries.resilience import BreakerState, backoff_delay
from registries.simulator.app import SimulatorState, create_app
from registries.sources import http_sources
from simpul.db import make_async_engine
from tests.registries.registries_testkit import ReferenceStore

pytestmark = pytest.mark.anyio

NIK = "3510011805700001"
STATUS_BODY = {
    "nik": NIK,
    "status": "alive",
    "since": None,
    "source": "Dukcapil Kemendagri",
    "as_of": "2025-10-01",
}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


class FakeService:
    """A token endpoint and an API whose answers the test scripts; counts what it receives."""

    def __init__(self, api: Callable[[httpx.Request], httpx.Response], token_ttl: int = 300) -> None:
        self.api = api
        self.token_ttl = token_ttl
        self.calls: Counter[str] = Counter()
        self.issued = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth2/token"):
            self.calls["token"] += 1
            self.issued += 1
            assert request.headers["authorization"].startswith("Basic ")
            return httpx.Response(200, json={"access_token": f"t{self.issued}", "expires_in": self.token_ttl})
        self.calls["api"] += 1
        return self.api(request)


def adapter(
    service: Callable[[httpx.Request], httpx.Response],
    *,
    clock: FakeClock | None = None,
    sleeps: Sleeps | None = None,
    **overrides: float,
) -> HttpPopulationRegistry:
    settings = RegistriesSettings(
        **{
            "max_retries": 2,
            "backoff_base_s": 0.1,
            "breaker_failure_threshold": 3,
            "breaker_reset_s": 30,
            **overrides,
        }
    )
    return HttpPopulationRegistry(
        "dukcapil",
        "http://dukcapil.test/api",
        "client",
        settings.dukcapil_client_secret,
        settings,
        transport=httpx.MockTransport(service),
        clock=clock or FakeClock(),
        sleep=sleeps or Sleeps(),
        rng=random.Random(0),
    )


async def test_retries_transient_failures_with_growing_backoff() -> None:
    answers = iter([httpx.Response(503), httpx.Response(502), httpx.Response(200, json=STATUS_BODY)])
    service = FakeService(lambda _r: next(answers))
    sleeps = Sleeps()
    async with adapter(service, sleeps=sleeps) as population:
        status = await population.status(NIK)
    assert status.status is LifeStatus.alive
    assert service.calls["api"] == 3
    assert len(sleeps.delays) == 2
    assert 0.05 <= sleeps.delays[0] <= 0.1 and 0.1 <= sleeps.delays[1] <= 0.2


async def test_gives_up_with_source_unavailable_after_the_retries() -> None:
    service = FakeService(lambda _r: httpx.Response(503, headers={"Retry-After": "7"}))
    async with adapter(service) as population:
        with pytest.raises(SourceUnavailable) as raised:
            await population.status(NIK)
    assert service.calls["api"] == 3
    assert raised.value.retry_after_s == 7.0 and type(raised.value) is SourceUnavailable


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("garbled"),
    ],
)
async def test_transport_errors_are_translated_and_chained(failure: httpx.HTTPError) -> None:
    def fail(_request: httpx.Request) -> httpx.Response:
        raise failure

    async with adapter(FakeService(fail)) as population:
        with pytest.raises(SourceUnavailable) as raised:
            await population.status(NIK)
    assert raised.value.__cause__ is failure
    assert not isinstance(raised.value, httpx.HTTPError)


async def test_a_malformed_answer_is_unavailable_not_a_crash() -> None:
    service = FakeService(lambda _r: httpx.Response(200, content=b"<html>maintenance</html>"))
    async with adapter(service, max_retries=0) as population:
        with pytest.raises(SourceUnavailable, match="malformed"):
            await population.status(NIK)


async def test_invalid_query_is_not_retried_and_does_not_open_the_circuit() -> None:
    body = {"error": "invalid_query", "detail": "nik must be 16 digits"}
    service = FakeService(lambda _r: httpx.Response(422, json=body))
    async with adapter(service, breaker_failure_threshold=1) as population:
        for _ in range(3):
            with pytest.raises(InvalidQuery, match="16 digits"):
                await population.status("123")
        assert population.breaker.state is BreakerState.closed
    assert service.calls["api"] == 3


async def test_circuit_opens_refuses_locally_then_recovers() -> None:
    healthy = False

    def api(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=STATUS_BODY) if healthy else httpx.Response(500)

    service = FakeService(api)
    clock = FakeClock()
    async with adapter(service, clock=clock, max_retries=0, breaker_failure_threshold=2) as population:
        for _ in range(2):
            with pytest.raises(SourceUnavailable):
                await population.status(NIK)
        assert population.breaker.state is BreakerState.open
        with pytest.raises(CircuitOpen) as raised:
            await population.status(NIK)
        assert service.calls["api"] == 2  # refused without touching the network
        assert raised.value.retry_after_s == 30
        clock.now += 31
        assert population.breaker.state is BreakerState.half_open
        with pytest.raises(SourceUnavailable):  # the trial fails: open again at once
            await population.status(NIK)
        assert population.breaker.state is BreakerState.open
        clock.now += 31
        healthy = True
        assert (await population.status(NIK)).status is LifeStatus.alive
        assert population.breaker.state is BreakerState.closed


async def test_token_is_fetched_once_and_renewed_before_expiry() -> None:
    seen_tokens: list[str] = []

    def api(request: httpx.Request) -> httpx.Response:
        seen_tokens.append(request.headers["authorization"])
        return httpx.Response(200, json=STATUS_BODY)

    service = FakeService(api, token_ttl=300)
    clock = FakeClock()
    async with adapter(service, clock=clock, token_expiry_margin_s=30) as population:
        for _ in range(5):
            await population.status(NIK)
        assert service.calls["token"] == 1
        clock.now += 269
        await population.status(NIK)
        assert service.calls["token"] == 1
        clock.now += 2  # within the margin of expiry
        await population.status(NIK)
        assert service.calls["token"] == 2
    assert seen_tokens == ["Bearer t1"] * 6 + ["Bearer t2"]


async def test_a_refused_token_is_renewed_once() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        if request.headers["authorization"] == "Bearer t1":
            return httpx.Response(401)
        return httpx.Response(200, json=STATUS_BODY)

    service = FakeService(api)
    async with adapter(service) as population:
        assert (await population.status(NIK)).status is LifeStatus.alive
    assert service.calls["token"] == 2


async def test_credentials_refused_is_an_auth_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "invalid_client"})

    async with adapter(refuse) as population:
        with pytest.raises(SourceAuthError):
            await population.status(NIK)

    service = FakeService(lambda _r: httpx.Response(401))
    async with adapter(service) as population:
        with pytest.raises(SourceAuthError):
            await population.status(NIK)
    assert service.calls["token"] == 2  # one renewal, then give up


async def test_nothing_listening_is_source_unavailable() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and has nothing behind it
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = RegistriesSettings(
        dukcapil_url=f"http://127.0.0.1:{port}/dukcapil", max_retries=1, backoff_base_s=0, connect_timeout_s=2
    )
    async with http_sources(settings) as sources:
        with pytest.raises(SourceUnavailable) as raised:
            await sources.population.verify(IdentityQuery(nik=NIK))
    assert isinstance(raised.value.__cause__, httpx.ConnectError)


async def test_simulator_tokens_are_cached_per_source(reference_store: ReferenceStore) -> None:
    engine = make_async_engine(reference_store.url)
    app = create_app(reference_store.settings, engine=engine)
    registries = reference_store.settings.registries.model_copy(
        update={
            "dukcapil_url": "http://sim/dukcapil",
            "dtsen_url": "http://sim/dtsen",
            "splp_url": "http://sim/splp",
        }
    )
    try:
        async with app.router.lifespan_context(app):
            async with http_sources(registries, transport=httpx.ASGITransport(app)) as sources:
                for _ in range(4):
                    await sources.population.status(NIK)
                    await sources.dtsen.households_by_nik(NIK)
                    await sources.ministries.bpjs(NIK)
            state: SimulatorState = app.state.simulator
            assert state.tokens_issued == Counter({"dukcapil": 1, "dtsen": 1, "splp": 1})
            wrong = registries.model_copy(update={"dtsen_client_secret": SecretStr("nope")})
            async with http_sources(wrong, transport=httpx.ASGITransport(app)) as sources:
                with pytest.raises(SourceAuthError):
                    await sources.dtsen.household_by_kk("3" * 16)
    finally:
        await engine.dispose()


async def test_simulator_refuses_a_token_of_another_source(reference_store: ReferenceStore) -> None:
    engine = make_async_engine(reference_store.url)
    app = create_app(reference_store.settings, engine=engine)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://sim") as client,
        ):
            token = (
                await client.post(
                    "/dtsen/oauth2/token",
                    data={
                        "grant_type": "client_credentials",
                        "client_id": "simpul-dev",
                        "client_secret": "simpul-dev-secret",
                    },
                )
            ).json()["access_token"]
            answer = await client.post(
                "/dukcapil/v1/status",
                content=json.dumps({"nik": NIK}),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            assert answer.status_code == 401 and answer.json()["error"] == "invalid_token"
            missing = await client.post("/splp/v1/bpjs", json={"nik": NIK})
            assert missing.status_code == 401
    finally:
        await engine.dispose()


def test_backoff_is_bounded() -> None:
    rng = random.Random(1)
    for attempt in range(1, 12):
        delay = backoff_delay(attempt, 0.2, 5.0, rng)
        step = min(5.0, 0.2 * 2 ** (attempt - 1))
        assert step / 2 <= delay <= step
