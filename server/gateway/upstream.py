"""The gateway's own connection pool to CouchDB, on aiohttp.

Every request of a device becomes one or more requests to CouchDB, and pouchdb-server answers one in a few
milliseconds, so the client's own cost per request weighs as much as the backend's. httpx's async client costs
about 1.1 ms of CPU per request on the 2-core development machine, aiohttp's about 0.3 ms (same loop, same server,
``GET /{db}/``), and where the gateway and CouchDB share the cores, every millisecond of CPU is one CouchDB waits
for. The rest of the project keeps :class:`replication.couch.CouchClient` (httpx), whose
typed API this mirrors for what the gateway needs.

Paths are sent exactly as given (``yarl.URL(..., encoded=True)``): no re-quoting, no removal of dot segments; the
gateway encodes every id itself (:mod:`server.gateway.paths`). Errors are translated here, as in ``CouchClient``:
transport failures, timeouts and a response cut short become :class:`CouchUnavailable`, statuses the errors of
:mod:`replication.errors`; no aiohttp exception reaches the gateway.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

import aiohttp
import orjson
from multidict import CIMultiDictProxy
from yarl import URL

from replication.couch import error_for, split_credentials
from replication.errors import CouchNotFound, CouchUnavailable

# What the gateway needs from its pool: a replication request never waits long for a connection, and CouchDB must
# answer within the read timeout (feeds set their own).
_CONNECT_S = 5.0
_POOL_WAIT_S = 30.0
_IDLE_S = 4.0
_TRANSPORT_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)


class UpstreamResponse:
    """A response of CouchDB being received: status and headers now, the body read whole or as it comes."""

    def __init__(self, response: aiohttp.ClientResponse, what: str) -> None:
        self._response = response
        self._what = what
        self.status_code: int = response.status
        self.headers: CIMultiDictProxy[str] = response.headers
        self.complete = False

    async def read(self) -> bytes:
        try:
            body = await self._response.read()
        except _TRANSPORT_ERRORS as exc:
            raise CouchUnavailable(f"{self._what}: {type(exc).__name__}: {exc}") from exc
        self.complete = True
        return body

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives (a long-poll's heartbeat newlines included), never held back to fill a buffer.
        A backend that dies or goes silent past the read timeout ends it with :class:`CouchUnavailable`."""
        content = self._response.content
        while True:
            try:
                chunk = await content.readany()
            except _TRANSPORT_ERRORS as exc:
                raise CouchUnavailable(f"{self._what}: {type(exc).__name__}: {exc}") from exc
            if not chunk:
                self.complete = True
                return
            yield chunk


class Upstream:
    """CouchDB as the gateway sees it: one pooled aiohttp session. Made on the running loop (the app's lifespan)."""

    def __init__(self, url: str, *, max_connections: int = 100, timeout_s: float = 30.0) -> None:
        self.base_url, _ = split_credentials(url)
        parts = urlsplit(url)
        headers = {"Accept": "application/json"}
        if parts.username:
            # As httpx sends it (UTF-8): the same credentials work for CouchClient and the gateway.
            userpass = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(userpass).decode("ascii")
        self.timeout_s = timeout_s
        self.session = aiohttp.ClientSession(
            # Idle connections are let go before Node's 5 s keep-alive (pouchdb-server) closes them on its side:
            # a request must never be written into a connection the server is closing at that moment.
            connector=aiohttp.TCPConnector(
                limit=max_connections, limit_per_host=0, ttl_dns_cache=300, keepalive_timeout=_IDLE_S
            ),
            # A body is labelled as the device labelled it, or not at all (never application/octet-stream).
            skip_auto_headers=("Content-Type",),
            timeout=self._timeout(timeout_s),
            headers=headers,
            # A body CouchDB compresses anyway is handed on decoded: the gateway relays no Content-Encoding.
            auto_decompress=True,
            # Set-Cookie of the backend is not the device's business, and no cookie is ever sent back.
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def aclose(self) -> None:
        await self.session.close()

    @staticmethod
    def _timeout(read_timeout_s: float | None) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(
            total=None, connect=_POOL_WAIT_S + _CONNECT_S, sock_connect=_CONNECT_S, sock_read=read_timeout_s
        )

    def url(self, path: str) -> URL:
        """The URL CouchDB is asked for, as it goes on the wire (nothing re-encoded or normalised)."""
        return URL(self.base_url + path, encoded=True)

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        read_timeout_s: float | None = 30.0,
    ) -> AsyncIterator[UpstreamResponse]:
        """A raw exchange for the relay: the status is not checked, only transport failures are translated. The
        connection goes back to the pool when the body was read to its end, and is closed otherwise."""
        what = f"{method} {_without_ids(path)}"
        if content is None and method in ("POST", "PUT"):
            content = b""
        try:
            response = await self.session.request(
                method, self.url(path), headers=headers, data=content, timeout=self._timeout(read_timeout_s)
            )
        except _TRANSPORT_ERRORS as exc:
            raise CouchUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc
        relayed = UpstreamResponse(response, what)
        try:
            yield relayed
        finally:
            if relayed.complete or method == "HEAD":
                response.release()
            else:
                response.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """A JSON request of the gateway's own; errors as :class:`replication.couch.CouchClient` raises them."""
        body = orjson.dumps(json) if json is not None else None
        headers = {"Content-Type": "application/json"} if body is not None else None
        if params:
            path = f"{path}?{urlencode(params)}"
        async with self.stream(method, path, headers=headers, content=body, read_timeout_s=self.timeout_s) as answer:
            try:
                data = await answer.read()
            except CouchUnavailable as exc:
                raise CouchUnavailable(f"{what}: {exc}") from exc
        if answer.status_code >= 300:
            raise error_for(answer.status_code, data, what)
        return orjson.loads(data) if data else None

    # --- what the gateway asks for itself ---------------------------------------------------------------------

    async def server_info(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("GET", "/", what="server info")
        return result

    async def database_exists(self, db: str) -> bool:
        try:
            await self.request("GET", f"/{db}", what=f"database {db}")
        except CouchNotFound:
            return False
        return True

    async def bulk_docs(
        self, db: str, docs: Sequence[Mapping[str, Any]], *, new_edits: bool = True
    ) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"docs": list(docs)}
        if not new_edits:
            body["new_edits"] = False
        result: list[dict[str, Any]] = await self.request(
            "POST", f"/{db}/_bulk_docs", json=body, what=f"bulk_docs {db}"
        )
        return result

    async def ids_with_prefix(self, db: str, prefix: str, *, at_most: int) -> set[str] | None:
        """The ids of the documents (not deleted) whose id starts with ``prefix``, or None when there are more than
        ``at_most``. One range read of ``_all_docs``, which both backends answer from their id index in order:
        CouchDB 3 compares ids as raw UTF-8 bytes, pouchdb-server as UTF-16 code units; every id that starts with
        ``prefix`` lies below ``prefix`` with its last character incremented under both orders."""
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        params = {
            "startkey": orjson.dumps(prefix).decode(),
            "endkey": orjson.dumps(upper).decode(),
            "inclusive_end": "false",
            "limit": str(at_most + 1),
        }
        result = await self.request("GET", f"/{db}/_all_docs", params=params, what=f"ids {db}")
        rows = result.get("rows", [])
        if len(rows) > at_most:
            return None
        return {str(row["id"]) for row in rows}

    async def current_revs(self, db: str, doc_ids: Sequence[str]) -> dict[str, str]:
        """The winning rev of each of ``doc_ids`` that exists and is not deleted."""
        if not doc_ids:
            return {}
        result = await self.request("POST", f"/{db}/_all_docs", json={"keys": list(doc_ids)}, what=f"revs {db}")
        revs: dict[str, str] = {}
        for row in result.get("rows", []):
            value = row.get("value")
            if value and not value.get("deleted"):
                revs[row["key"]] = value["rev"]
        return revs


def _without_ids(path: str) -> str:
    """The path for an error message, which may be logged: the database and endpoints, never a document id (a
    natural-key id may hold a NIK)."""
    segments = path.split("?", 1)[0].split("/")
    return "/".join(s if n < 2 or not s or s.startswith("_") else "…" for n, s in enumerate(segments))
