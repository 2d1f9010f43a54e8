"""The CouchDB client layer: one pooled ``httpx.AsyncClient`` and a small typed API over it.

Works against Apache CouchDB 3 and pouchdb-server alike: seqs are never parsed, credentials come from the URL,
nothing relies on admin-party behaviour.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import orjson

from replication.errors import (
    CouchConflict,
    CouchError,
    CouchNotFound,
    CouchUnauthorized,
    CouchUnavailable,
)

JSON = dict[str, Any]


def split_credentials(url: str) -> tuple[str, httpx.BasicAuth | None]:
    """``http://admin:pw@host:5984/`` → (``http://host:5984``, BasicAuth); keeps secrets out of logged URLs."""
    parts = urlsplit(url)
    auth = None
    if parts.username:
        from urllib.parse import unquote

        auth = httpx.BasicAuth(unquote(parts.username), unquote(parts.password or ""))
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", "")), auth


def doc_path(db: str, doc_id: str) -> str:
    """Path of a document; ``_design/`` and ``_local/`` keep their slash, everything else is encoded."""
    for prefix in ("_design/", "_local/"):
        if doc_id.startswith(prefix):
            return f"/{db}/{prefix}{quote(doc_id[len(prefix) :], safe='')}"
    return f"/{db}/{quote(doc_id, safe='')}"


def _raise_for(response: httpx.Response, what: str) -> None:
    if response.is_success:
        return
    raise error_for(response.status_code, response.content, what)


def error_for(status: int, content: bytes, what: str) -> CouchError:
    """The error of a CouchDB answer with ``status`` >= 300 (shared with the gateway's own client)."""
    try:
        body = orjson.loads(content)
        error, reason = str(body.get("error", "")), str(body.get("reason", ""))
    except (ValueError, AttributeError):
        error, reason = "", content[:200].decode("utf-8", "replace")
    message = f"{what}: {status} {error} {reason}".strip()
    kind: type[CouchError]
    if status == 404:
        kind = CouchNotFound
    elif status in (409, 412):
        kind = CouchConflict
    elif status in (401, 403):
        kind = CouchUnauthorized
    elif status >= 500 or status == 429:
        kind = CouchUnavailable
    else:
        kind = CouchError
    return kind(message, status=status, error=error, reason=reason)


class CouchClient:
    """A CouchDB server. ``http`` is the one pooled client; the gateway streams through it too."""

    def __init__(self, url: str, *, max_connections: int = 100, timeout_s: float = 30.0) -> None:
        self.base_url, auth = split_credentials(url)
        self.http = httpx.AsyncClient(
            base_url=self.base_url,
            auth=auth,
            timeout=httpx.Timeout(timeout_s, connect=5.0),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            headers={"Accept": "application/json"},
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        content = orjson.dumps(json) if json is not None else None
        headers = {"Content-Type": "application/json"} if content is not None else None
        try:
            response = await self.http.request(method, path, content=content, params=params, headers=headers)
        except httpx.TransportError as exc:
            raise CouchUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc
        _raise_for(response, what)
        return orjson.loads(response.content) if response.content else None

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | AsyncIterator[bytes] | None = None,
        read_timeout_s: float | None = 30.0,
    ) -> AsyncIterator[httpx.Response]:
        """A raw streamed exchange for the gateway: the response is not checked, only transport is translated."""
        timeout = httpx.Timeout(30.0, connect=5.0, read=read_timeout_s)
        request = self.http.build_request(method, path, headers=headers, content=content, timeout=timeout)
        try:
            response = await self.http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise CouchUnavailable(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        try:
            yield response
        finally:
            await response.aclose()

    # --- typed helpers ------------------------------------------------------------------------------------

    async def server_info(self) -> JSON:
        result: JSON = await self.request("GET", "/", what="server info")
        return result

    async def database_exists(self, db: str) -> bool:
        try:
            await self.request("GET", f"/{db}", what=f"database {db}")
        except CouchNotFound:
            return False
        return True

    async def create_database(self, db: str) -> bool:
        """Create ``db``; False when it already existed."""
        try:
            await self.request("PUT", f"/{db}", what=f"create {db}")
        except CouchConflict:
            return False
        return True

    async def get_security(self, db: str) -> JSON:
        result: JSON = await self.request("GET", f"/{db}/_security", what=f"security of {db}")
        return result or {}

    async def put_security(self, db: str, security: Mapping[str, Any]) -> None:
        await self.request("PUT", f"/{db}/_security", json=security, what=f"security of {db}")

    async def get_doc(self, db: str, doc_id: str) -> JSON | None:
        try:
            result: JSON = await self.request("GET", doc_path(db, doc_id), what=f"get {doc_id}")
        except CouchNotFound:
            return None
        return result

    async def put_doc(self, db: str, doc: Mapping[str, Any]) -> str:
        """Write ``doc`` (with its ``_rev`` when updating); returns the new rev."""
        result = await self.request("PUT", doc_path(db, str(doc["_id"])), json=doc, what=f"put {doc['_id']}")
        return str(result["rev"])

    async def bulk_docs(self, db: str, docs: Sequence[Mapping[str, Any]], *, new_edits: bool = True) -> list[JSON]:
        body: JSON = {"docs": list(docs)}
        if not new_edits:
            body["new_edits"] = False
        result: list[JSON] = await self.request("POST", f"/{db}/_bulk_docs", json=body, what=f"bulk_docs {db}")
        return result
