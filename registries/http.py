"""HTTP adapters for the real services (and the simulator, which speaks the same contract).

Each adapter owns an ``httpx.AsyncClient`` configured from ``RegistriesSettings``: OAuth2 client-credentials
tokens fetched and cached until shortly before expiry, timeouts, retries with exponential back-off on
transient failures only (transport errors, 429, 5xx), and a circuit breaker per source. Every httpx error is
translated here, chained ``from exc``: callers see ``SourceUnavailable`` (defer), ``InvalidQuery``
(the question was wrong), never an httpx exception.

Personal data travels in POST bodies, never in URLs, so NIKs do not end up in access logs.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from registries.config import RegistriesSettings
from registries.errors import InvalidCursor, InvalidQuery, RegistryError, SourceAuthError, SourceUnavailable
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
from registries.resilience import CircuitBreaker, backoff_delay

AnswerT = TypeVar("AnswerT", bound=BaseModel)
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

_TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class ClientCredentials:
    """OAuth2 client-credentials grant with a cached token (one fetch at a time, however many wait)."""

    def __init__(
        self,
        source: str,
        token_path: str,
        client_id: str,
        client_secret: SecretStr,
        *,
        expiry_margin_s: float,
        clock: Clock = time.monotonic,
    ) -> None:
        self._source = source
        self._path = token_path
        self._client_id = client_id
        self._secret = client_secret
        self._margin = expiry_margin_s
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.fetches = 0

    def invalidate(self) -> None:
        self._token = None

    async def token(self, client: httpx.AsyncClient) -> str:
        if self._token is not None and self._clock() < self._expires_at:
            return self._token
        async with self._lock:
            if self._token is not None and self._clock() < self._expires_at:
                return self._token
            return await self._fetch(client)

    async def _fetch(self, client: httpx.AsyncClient) -> str:
        self.fetches += 1
        started = self._clock()
        try:
            response = await client.post(
                self._path,
                data={"grant_type": "client_credentials"},
                auth=(self._client_id, self._secret.get_secret_value()),
            )
        except httpx.HTTPError as exc:
            raise SourceUnavailable(self._source, f"token endpoint unreachable ({type(exc).__name__})") from exc
        if response.status_code in (400, 401, 403):
            raise SourceAuthError(self._source, f"token request refused ({response.status_code})")
        if response.status_code != 200:
            raise SourceUnavailable(self._source, f"token endpoint answered {response.status_code}")
        try:
            body = response.json()
            token = str(body["access_token"])
            expires_in = float(body.get("expires_in", 300))
        except (ValueError, KeyError, TypeError) as exc:
            raise SourceUnavailable(self._source, "malformed token answer") from exc
        self._token = token
        self._expires_at = started + max(0.0, expires_in - self._margin)
        return token


class HttpSource:
    """The shared machinery of the three adapters: auth, retries, breaker, translation of errors."""

    def __init__(
        self,
        source: str,
        base_url: str,
        client_id: str,
        client_secret: SecretStr,
        settings: RegistriesSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.source = source
        self._settings = settings
        self._client = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(settings.read_timeout_s, connect=settings.connect_timeout_s),
            transport=transport,
        )
        self.auth = ClientCredentials(
            source,
            settings.token_path,
            client_id,
            client_secret,
            expiry_margin_s=settings.token_expiry_margin_s,
            clock=clock,
        )
        self.breaker = CircuitBreaker(source, settings.breaker_failure_threshold, settings.breaker_reset_s, clock=clock)
        self._sleep = sleep
        self._rng = rng or random.Random()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _call(
        self,
        answer: type[AnswerT],
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, str | int] | None = None,
    ) -> AnswerT:
        self.breaker.before_call()
        try:
            result = await self._with_retries(answer, method, path, json=json, params=params)
        except SourceUnavailable:
            self.breaker.record_failure()
            raise
        except BaseException:
            # The source answered (the question was wrong) or we were cancelled: not a failure of the source.
            self.breaker.record_success()
            raise
        self.breaker.record_success()
        return result

    async def _with_retries(
        self,
        answer: type[AnswerT],
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None,
        params: Mapping[str, str | int] | None,
    ) -> AnswerT:
        attempts = self._settings.max_retries + 1
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._once(answer, method, path, json=json, params=params)
            except _Unauthorized as exc:
                if refreshed:
                    raise SourceAuthError(self.source, "credentials refused by the service") from exc
                # An expired or revoked token: fetch a new one and retry at once (not counted as an attempt).
                refreshed = True
                self.auth.invalidate()
                attempt -= 1
            except SourceAuthError:
                raise
            except SourceUnavailable:
                if attempt >= attempts:
                    raise
                await self._sleep(
                    backoff_delay(attempt, self._settings.backoff_base_s, self._settings.backoff_max_s, self._rng)
                )

    async def _once(
        self,
        answer: type[AnswerT],
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None,
        params: Mapping[str, str | int] | None,
    ) -> AnswerT:
        token = await self.auth.token(self._client)
        try:
            response = await self._client.request(
                method, path, json=json, params=params, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.HTTPError as exc:
            raise SourceUnavailable(self.source, f"transport failure ({type(exc).__name__})") from exc
        status = response.status_code
        if status == 401:
            raise _Unauthorized(self.source, "token refused")
        if status in _TRANSIENT_STATUSES or status >= 500:
            retry_after = response.headers.get("retry-after")
            raise SourceUnavailable(
                self.source,
                f"service answered {status}",
                retry_after_s=float(retry_after) if retry_after and retry_after.isdigit() else None,
            )
        if 400 <= status < 500:
            raise self._client_error(response)
        try:
            return answer.model_validate_json(response.content)
        except ValidationError as exc:
            raise SourceUnavailable(self.source, "malformed answer") from exc

    def _client_error(self, response: httpx.Response) -> RegistryError:
        try:
            body = response.json()
            code, detail = body.get("error"), str(body.get("detail", ""))
        except (ValueError, AttributeError):
            code, detail = None, response.text[:200]
        if code == InvalidCursor.code:
            return InvalidCursor(self.source, detail or "unknown cursor")
        return InvalidQuery(self.source, detail or f"service answered {response.status_code}")

    async def _changes(self, cursor: str | None, limit: int) -> ChangePage:
        params: dict[str, str | int] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        return await self._call(ChangePage, "GET", "/v1/changes", params=params)


class _Unauthorized(RegistryError):
    code = "unauthorized"


class HttpPopulationRegistry(HttpSource):
    async def verify(self, query: IdentityQuery) -> IdentityVerification:
        return await self._call(IdentityVerification, "POST", "/v1/verify", json=query.model_dump(mode="json"))

    async def status(self, nik: str) -> PersonStatus:
        return await self._call(PersonStatus, "POST", "/v1/status", json={"nik": nik})

    async def nik_on_kk(self, nik: str, kk_number: str) -> KKMembership:
        return await self._call(KKMembership, "POST", "/v1/kk-membership", json={"nik": nik, "kk_number": kk_number})

    async def changes(self, cursor: str | None = None, limit: int = 100) -> ChangePage:
        return await self._changes(cursor, limit)


class HttpDtsen(HttpSource):
    async def household_by_kk(self, kk_number: str) -> DtsenAnswer:
        return await self._call(DtsenAnswer, "POST", "/v1/households", json={"kk_number": kk_number})

    async def households_by_nik(self, nik: str) -> DtsenAnswer:
        return await self._call(DtsenAnswer, "POST", "/v1/households", json={"nik": nik})

    async def changes(self, cursor: str | None = None, limit: int = 100) -> ChangePage:
        return await self._changes(cursor, limit)


class HttpMinistriesData(HttpSource):
    async def employment(self, nik: str) -> EmploymentAnswer:
        return await self._call(EmploymentAnswer, "POST", "/v1/employment", json={"nik": nik})

    async def bpjs(self, nik: str) -> BpjsAnswer:
        return await self._call(BpjsAnswer, "POST", "/v1/bpjs", json={"nik": nik})

    async def assets(self, nik: str) -> AssetsAnswer:
        return await self._call(AssetsAnswer, "POST", "/v1/assets", json={"nik": nik})

    async def changes(self, cursor: str | None = None, limit: int = 100) -> ChangePage:
        return await self._changes(cursor, limit)
