"""The sync gateway: CouchDB's replication protocol, scoped per desa, validated per document.

Reads are relayed as streams (never buffered whole); writes are parsed, each document judged on its own, and only
the accepted ones forwarded. Seqs are opaque: ``since`` is passed through untouched and only ever echoed back.
Requests that could crash or mislead the backend (unknown parameters, filters it cannot serve, administrative
endpoints) are refused here with a JSON error.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from agent_forms.problems import Problem
from replication.errors import CouchError, CouchUnavailable
from server.core.errors import BadRequest, Forbidden, PayloadTooLarge, RequestTimeout, ServiceUnavailable
from server.core.metrics import Metrics
from server.gateway import paths
from server.gateway.access import Principal, SyncAccess
from server.gateway.issues import ISSUE_PREFIX, SyncIssues, issue_id
from server.gateway.multipart import build_related, parse_related
from server.gateway.paths import SyncPath, Target
from server.gateway.restore import ServerDocuments
from server.gateway.upstream import Upstream, UpstreamResponse
from server.gateway.validation import DocumentValidator, IncomingDoc, Outcome, Refusal, WriteContext, refuse

log = logging.getLogger(__name__)

#: What a device is told when CouchDB does not answer (a pendamping may read it).
UNREACHABLE = "Server basis data tidak dapat dihubungi; coba lagi nanti"

# Query parameters a replicator sends, per endpoint. Anything else is refused rather than passed to a backend
# that may misread it.
_DOC_READ_PARAMS = frozenset(
    {"rev", "revs", "revs_info", "open_revs", "latest", "attachments", "att_encoding_info", "atts_since",
     "conflicts", "deleted_conflicts", "local_seq", "meta"}
)  # fmt: skip
_ALLOWED_PARAMS: dict[str, frozenset[str]] = {
    "_changes": frozenset(
        {
            "since",
            "limit",
            "feed",
            "heartbeat",
            "timeout",
            "style",
            "include_docs",
            "descending",
            "conflicts",
            "attachments",
            "att_encoding_info",
            "filter",
            "doc_ids",
            "seq_interval",
            "return_docs",
        }
    ),
    "_all_docs": frozenset(
        {
            "include_docs",
            "conflicts",
            "attachments",
            "keys",
            "key",
            "startkey",
            "endkey",
            "start_key",
            "end_key",
            "limit",
            "skip",
            "descending",
            "inclusive_end",
            "update_seq",
        }
    ),
    "_bulk_get": frozenset({"revs", "latest", "attachments", "att_encoding_info"}),
    "_bulk_docs": frozenset(),
    "_revs_diff": frozenset(),
    "_ensure_full_commit": frozenset(),
}
_DOC_WRITE_PARAMS = frozenset({"new_edits", "rev", "batch"})
_FEEDS = frozenset({"normal", "longpoll", "continuous"})
_RELAY_WHOLE_BYTES = 1024 * 1024
#: Sync issues of one desa read in one range before a write falls back to looking its own up by key.
ISSUE_SCAN_LIMIT = 500
_MIN_HEARTBEAT_MS = 1000  # a heartbeat every millisecond is a busy loop on the backend
# Response headers a client needs; hop-by-hop and server-identity headers are dropped.
_RELAYED_HEADERS = ("content-type", "etag", "cache-control", "content-md5", "x-couch-request-id", "location")


@dataclass(frozen=True)
class Query:
    raw: str
    items: list[tuple[str, str]]

    def get(self, name: str) -> str | None:
        for key, value in self.items:
            if key == name:
                return value
        return None

    def repeated(self) -> set[str]:
        names = [key for key, _ in self.items]
        return {name for name in names if names.count(name) > 1}

    def with_value(self, name: str, value: str) -> Query:
        items = [(key, value if key == name else v) for key, v in self.items]
        return Query(urlencode(items), items)


def _json_response(status: int, body: Any) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


class Gateway:
    def __init__(
        self,
        upstream: Upstream,
        access: SyncAccess,
        validator: DocumentValidator,
        metrics: Metrics,
        *,
        max_batch_bytes: int,
        longpoll_max_s: float,
        max_batch_docs: int,
        body_idle_timeout_s: float,
    ) -> None:
        self.upstream = upstream
        self.access = access
        self.validator = validator
        self.metrics = metrics
        self.max_batch_bytes = max_batch_bytes
        self.longpoll_max_s = longpoll_max_s
        self.max_batch_docs = max_batch_docs
        self.body_idle_timeout_s = body_idle_timeout_s
        self.issues = SyncIssues(upstream)
        self.server_documents = ServerDocuments(upstream)
        self._root_uuid: str | None = None

    # --- entry --------------------------------------------------------------------------------------------

    async def handle(self, request: Request) -> Response:
        target = paths.parse(request.scope["raw_path"].split(b"?", 1)[0])
        query = Query(
            request.scope["query_string"].decode("latin-1"),
            parse_qsl(request.scope["query_string"].decode("latin-1"), keep_blank_values=True),
        )
        method = request.method
        authorization = request.headers.get("authorization")
        if target.target is Target.root:
            return _json_response(200, await self.root_info())
        if target.target is Target.server_endpoint:
            if target.endpoint == "_all_dbs" and method == "GET":
                return _json_response(200, await self.access.databases(authorization))
            raise BadRequest(f"{target.endpoint} is not served by the sync gateway")

        principal, desa_code = await self.access.database(authorization, target.db)
        if target.target is Target.database:
            return await self._database(request, target)
        if target.target is Target.db_endpoint:
            return await self._endpoint(request, target, query, principal, desa_code)
        if target.target is Target.document:
            return await self._document(request, target, query, principal, desa_code)
        return await self._attachment(request, target, query)

    async def root_info(self) -> dict[str, Any]:
        """The gateway's identity. The uuid is derived from the backend's, so it never changes for one backend
        (a device's replication id stays put across restarts and logins) and differs between backends."""
        if self._root_uuid is None:
            try:
                backend = await self.upstream.server_info()
            except CouchError as exc:
                raise ServiceUnavailable(UNREACHABLE) from exc
            backend_id = str(backend.get("uuid") or self.upstream.base_url)
            self._root_uuid = uuid.uuid5(uuid.NAMESPACE_URL, f"simpul-gateway:{backend_id}").hex
        return {
            "couchdb": "Welcome",
            "version": "3.3.3",
            "vendor": {"name": "Simpul sync gateway"},
            "uuid": self._root_uuid,
        }

    # --- the database -------------------------------------------------------------------------------------

    async def _database(self, request: Request, target: SyncPath) -> Response:
        if request.method in ("GET", "HEAD"):
            response = await self._relay(request, target.upstream_path(), "")
            if response.status_code == 404:
                # Assigned but not provisioned: tell the device to come back later, never "not found".
                raise ServiceUnavailable(f"{target.db} is not provisioned yet")
            return response
        if request.method == "PUT":
            try:
                exists = await self.upstream.database_exists(target.db)
            except CouchUnavailable as exc:
                raise ServiceUnavailable(UNREACHABLE) from exc
            if exists:
                return _json_response(412, {"error": "file_exists", "reason": "The database already exists."})
            raise Forbidden("devices cannot create databases")
        if request.method == "POST":
            # A server-made id is not how devices write: their ids are their own, so a retry cannot duplicate.
            raise BadRequest("write documents with PUT /{db}/{id} or _bulk_docs, with the device's own id")
        raise Forbidden(f"{request.method} on a database is not allowed through the gateway")

    # --- _changes, _bulk_docs, ... ------------------------------------------------------------------------

    async def _endpoint(
        self, request: Request, target: SyncPath, query: Query, principal: Principal, desa_code: str
    ) -> Response:
        endpoint = target.endpoint
        allowed = _ALLOWED_PARAMS.get(endpoint)
        if allowed is None:
            raise BadRequest(f"{endpoint} is not served by the sync gateway")
        _check_params(query, allowed, endpoint)
        method = request.method
        if endpoint == "_changes" and method in ("GET", "POST"):
            return await self._changes(request, target, query)
        if endpoint == "_all_docs" and method in ("GET", "POST"):
            return await self._relay(request, target.upstream_path(), query.raw)
        if endpoint == "_bulk_docs" and method == "POST":
            return await self._bulk_docs(request, target, principal, desa_code)
        if endpoint == "_bulk_get" and method == "POST":
            body = await self._read_body(request)
            wanted = self._parse_json_object(body).get("docs")
            if not isinstance(wanted, list) or not all(
                isinstance(d, dict) and isinstance(d.get("id"), str) for d in wanted
            ):
                raise BadRequest("_bulk_get needs a docs array of objects with an id")
            return await self._relay(request, target.upstream_path(), query.raw, body=body)
        if endpoint == "_revs_diff" and method == "POST":
            body = await self._read_body(request)
            asked = self._parse_json_object(body)
            if not all(isinstance(revs, list) and all(isinstance(r, str) for r in revs) for revs in asked.values()):
                raise BadRequest("_revs_diff needs an object of document ids to lists of revisions")
            return await self._relay(request, target.upstream_path(), query.raw, body=body)
        if endpoint == "_ensure_full_commit" and method == "POST":
            return await self._relay(request, target.upstream_path(), query.raw)
        raise BadRequest(f"{method} {endpoint} is not served by the sync gateway")

    async def _changes(self, request: Request, target: SyncPath, query: Query) -> Response:
        if query.repeated():
            # Backends disagree on which of two values wins (`filter=_doc_ids&filter=_selector`): refuse.
            raise BadRequest(f"repeated parameter(s): {', '.join(sorted(query.repeated()))}")
        feed = query.get("feed") or "normal"
        if feed not in _FEEDS:
            raise BadRequest(f"feed={feed} is not supported (normal, longpoll or continuous)")
        body = await self._read_body(request) if request.method == "POST" else b""
        filter_name = query.get("filter")
        if filter_name is not None and filter_name != "_doc_ids":
            # pouchdb-server crashes on _selector, and design-document filters run arbitrary code on the backend.
            raise BadRequest(f"filter={filter_name} is not supported through the gateway; use filter=_doc_ids")
        if request.method == "POST":
            parsed = self._parse_json_object(body) if body.strip() else {}
            ids = parsed.get("doc_ids", [] if filter_name is None else None)
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise BadRequest("doc_ids must be a list of document ids (with filter=_doc_ids)")
        heartbeat = _int_param(query, "heartbeat")
        if heartbeat is not None and heartbeat < _MIN_HEARTBEAT_MS:
            raise BadRequest(f"heartbeat must be at least {_MIN_HEARTBEAT_MS} ms")
        read_timeout: float | None = 60.0
        if feed in ("longpoll", "continuous"):
            read_timeout = heartbeat / 1000 * 3 + 5 if heartbeat else None
        deadline = self.longpoll_max_s if feed == "longpoll" else None
        if query.get("since") == "now" and feed == "longpoll":
            # Resolved to CouchDB's own current seq up front, so a long-poll that times out can answer a real
            # last_seq (the gateway never mints one).
            info = await self._backend("GET", f"/{target.db}/", what="database info")
            query = query.with_value("since", str(info["update_seq"]))
        return await self._relay(
            request,
            target.upstream_path(),
            query.raw,
            body=body,
            read_timeout_s=read_timeout,
            longpoll_deadline_s=deadline,
            since=query.get("since"),
        )

    async def _bulk_docs(self, request: Request, target: SyncPath, principal: Principal, desa_code: str) -> Response:
        body = await self._read_body(request)
        payload = self._parse_json_object(body)
        docs = payload.get("docs")
        if not isinstance(docs, list):
            raise BadRequest("_bulk_docs needs a docs array")
        if len(docs) > self.max_batch_docs:
            # No device sends this (PouchDB's batches are 100): refusing it whole is safer than writing thousands
            # of sync issues that every device of the desa would then pull.
            raise BadRequest(f"at most {self.max_batch_docs} documents per _bulk_docs")
        new_edits = payload.get("new_edits", True)
        if not isinstance(new_edits, bool):
            raise BadRequest("new_edits must be true or false")
        incoming = [
            IncomingDoc(doc, len(orjson.dumps(doc))) if isinstance(doc, dict) else IncomingDoc({}, 0) for doc in docs
        ]
        # The look-up of what is already stored runs while the documents are validated (CPU, in a thread); the
        # few documents whose id turns out to exist are judged again with their stored revision.
        lookup = asyncio.create_task(
            self._context(target.db, desa_code, principal, [d.body for d in incoming], new_edits=new_edits)
        )
        blind = WriteContext(target.db, desa_code, principal.username, principal.device_id, {}, new_edits=new_edits)
        try:
            outcomes = await asyncio.to_thread(lambda: [self.validator(doc, blind) for doc in incoming])
        finally:
            ctx, issues = await lookup
        existing = [n for n, doc in enumerate(incoming) if doc.body.get("_id") in ctx.existing_revs]
        if existing:
            again = await asyncio.to_thread(lambda: [self.validator(incoming[n], ctx) for n in existing])
            for n, outcome in zip(existing, again, strict=True):
                outcomes[n] = outcome
        if not new_edits:
            _refuse_second_versions(incoming, outcomes, ctx.existing_revs)
        verdicts = [o if isinstance(o, Refusal) else None for o in outcomes]
        accepted = [doc.body for doc, refusal in zip(incoming, verdicts, strict=True) if refusal is None]
        refused = [(doc.body, refusal) for doc, refusal in zip(incoming, verdicts, strict=True) if refusal]
        # The refusal reaches the device as a document before it is told "forbidden": if writing it fails the
        # device retries the whole batch, so no refusal is ever lost.
        await self.issues.record_refusals(target.db, desa_code, principal, refused)
        if not new_edits:  # a replicator's push: its refused edits of the server's documents stay on the device
            await self.server_documents.restore(target.db, [doc for doc, _ in refused])
        upstream: list[dict[str, Any]] = []
        if accepted:
            try:
                upstream = await self.upstream.bulk_docs(target.db, accepted, new_edits=new_edits)
            except CouchUnavailable as exc:
                raise ServiceUnavailable(UNREACHABLE) from exc
        failed = {r.get("id") for r in upstream if r.get("error")}
        stored = [
            (doc.body, outcome)
            for doc, outcome in zip(incoming, outcomes, strict=True)
            if not isinstance(outcome, Refusal) and doc.body.get("_id") not in failed
        ]
        # A correction may come in the same batch as the document it corrects, whose issue was just written.
        issues |= {issue_id(i) for doc, _ in refused if isinstance(i := doc.get("_id"), str) and i}
        await self.issues.settle(target.db, desa_code, principal, stored, issues)
        self.metrics.documents(desa_code, accepted=len(accepted), refused=len(refused))
        return _json_response(201, _merge_bulk_results(docs, verdicts, upstream, new_edits))

    # --- documents and attachments ------------------------------------------------------------------------

    async def _document(
        self, request: Request, target: SyncPath, query: Query, principal: Principal, desa_code: str
    ) -> Response:
        method = request.method
        if method in ("GET", "HEAD"):
            _check_params(query, _DOC_READ_PARAMS, "a document read")
            _check_open_revs(query.get("open_revs"))
            return await self._relay(request, target.upstream_path(), query.raw)
        if target.is_local:
            # Replication checkpoints: stored exactly as sent; CouchDB enforces _rev (409 on mismatch).
            if method in ("PUT", "DELETE"):
                _check_params(query, frozenset({"rev"}), "a checkpoint write")
                body = b""
                if method == "PUT":
                    # Stored as sent, but as JSON of this id only: pouchdb-server would store a body's own _id
                    # over the path's, which once let any document in through a checkpoint.
                    checkpoint = self._parse_json_object(await self._read_body(request))
                    if checkpoint.setdefault("_id", target.doc_id) != target.doc_id:
                        raise BadRequest("the checkpoint's _id differs from the id in the path")
                    body = orjson.dumps(checkpoint)
                return await self._relay(
                    request, target.upstream_path(), query.raw, body=body, content_type="application/json"
                )
            raise BadRequest(f"{method} is not allowed on a checkpoint")
        if method not in ("PUT", "DELETE"):
            raise BadRequest(f"{method} is not allowed on a document")
        _check_params(query, _DOC_WRITE_PARAMS, "a document write")
        attachments: dict[str, bytes] | None = None
        if method == "DELETE":
            rev = query.get("rev") or request.headers.get("if-match", "").strip('"')
            doc: dict[str, Any] = {"_id": target.doc_id, "_rev": rev, "_deleted": True}
            body = b""
        else:
            body = await self._read_body(request)
            sent_as = request.headers.get("content-type", "")
            if sent_as.startswith("multipart/related"):
                doc, attachments = parse_related(body, sent_as)
            else:
                doc = self._parse_json_object(body)
            if doc.setdefault("_id", target.doc_id) != target.doc_id:
                raise BadRequest("the document's _id differs from the id in the path")
        ctx, issues = await self._context(
            target.db, desa_code, principal, [doc], new_edits=query.get("new_edits") != "false"
        )
        incoming = IncomingDoc(doc, len(body), attachments)
        outcome = await asyncio.to_thread(self.validator, incoming, ctx)
        if isinstance(outcome, Refusal):
            await self.issues.record_refusals(target.db, desa_code, principal, [(doc, outcome)])
            self.metrics.documents(desa_code, accepted=0, refused=1)
            return _json_response(403, {"error": "forbidden", "reason": outcome.reason})
        # CouchDB gets what was validated, never the bytes as sent: a key given twice, or a multipart body another
        # parser splits differently, could otherwise be read one way here and another way there.
        content_type = None
        if method == "PUT" and attachments is None:
            body, content_type = orjson.dumps(doc), "application/json"
        elif method == "PUT" and attachments is not None:
            body, content_type = build_related(doc, attachments)
        response = await self._relay(request, target.upstream_path(), query.raw, body=body, content_type=content_type)
        if response.status_code < 300:
            await self.issues.settle(target.db, desa_code, principal, [(doc, outcome)], issues)
            self.metrics.documents(desa_code, accepted=1, refused=0)
        return response

    async def _attachment(self, request: Request, target: SyncPath, query: Query) -> Response:
        if request.method in ("GET", "HEAD"):
            _check_params(query, frozenset({"rev"}), "an attachment read")
            return await self._relay(request, target.upstream_path(), query.raw)
        raise Forbidden("attachments are written inline with their document, not on their own")

    # --- helpers ------------------------------------------------------------------------------------------

    async def _context(
        self, db: str, desa_code: str, principal: Principal, docs: Sequence[Mapping[str, Any]], *, new_edits: bool
    ) -> tuple[WriteContext, frozenset[str]]:
        """The write's context, and which ``sync_issue`` documents the write may settle already exist (those of
        the written ids and of the ids they supersede), looked up beside the written ids.

        Every written id is looked up, first revisions too: with ``new_edits=false`` a ``1-…`` revision of an id
        that exists would become a conflicting leaf and could win, which is an edit of a synced submission."""
        ids = {i for d in docs if isinstance(i := d.get("_id"), str) and not i.startswith(("_design/", "_local/"))}
        issue_ids = {issue_id(i) for i in ids} | {
            issue_id(s) for d in docs if isinstance(s := d.get("supersedes"), str) and s
        }
        try:
            # The sync issues of a desa are few: one range read of them all costs the backend less than a key
            # look-up each (pouchdb-server answers `keys` with one query per key); past the bound, keys it is.
            current, issues = await asyncio.gather(
                self.upstream.current_revs(db, sorted(ids)),
                self.upstream.ids_with_prefix(db, ISSUE_PREFIX, at_most=ISSUE_SCAN_LIMIT) if issue_ids else _none(),
            )
            if issues is None and issue_ids:
                issues = set(await self.upstream.current_revs(db, sorted(issue_ids)))
        except CouchUnavailable as exc:
            raise ServiceUnavailable(UNREACHABLE) from exc
        ctx = WriteContext(db, desa_code, principal.username, principal.device_id, current, new_edits=new_edits)
        return ctx, frozenset(issue_ids & (issues or set()))

    async def _backend(self, method: str, path: str, *, what: str) -> Any:
        try:
            return await self.upstream.request(method, path, what=what)
        except CouchUnavailable as exc:
            raise ServiceUnavailable(UNREACHABLE) from exc

    def _too_large(self) -> str:
        return f"Kiriman lebih dari {self.max_batch_bytes} byte; kirim dalam beberapa bagian"

    async def _read_body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_batch_bytes:
            raise PayloadTooLarge(self._too_large())
        chunks = []
        size = 0
        stream = request.stream()
        while True:
            try:
                # A body that trickles in (or never completes) must not hold a connection forever.
                chunk = await asyncio.wait_for(anext(stream), self.body_idle_timeout_s)
            except StopAsyncIteration:
                break
            except TimeoutError as exc:
                raise RequestTimeout(
                    f"Tidak ada data masuk selama {self.body_idle_timeout_s:.0f} detik; sambungan terputus, coba lagi"
                ) from exc
            size += len(chunk)
            if size > self.max_batch_bytes:
                raise PayloadTooLarge(self._too_large())
            chunks.append(chunk)
        return b"".join(chunks)

    @staticmethod
    def _parse_json_object(body: bytes) -> dict[str, Any]:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"body is not valid JSON: {exc}") from exc
        if not isinstance(parsed, dict):
            raise BadRequest("body must be a JSON object")
        return parsed

    async def _relay(
        self,
        request: Request,
        upstream_path: str,
        raw_query: str,
        *,
        body: bytes | None = None,
        read_timeout_s: float | None = 60.0,
        longpoll_deadline_s: float | None = None,
        since: str | None = None,
        content_type: str | None = None,
    ) -> Response:
        """Forward to CouchDB and stream the answer back as it comes."""
        headers = {"Accept-Encoding": "identity"}
        for name in ("accept", "content-type", "if-none-match", "if-match"):
            value = request.headers.get(name)
            if value:
                headers[name] = value
        if content_type:
            headers["content-type"] = content_type
        url = upstream_path + (f"?{raw_query}" if raw_query else "")
        _stays_inside(upstream_path, self.upstream)
        if body is None and request.method in ("POST", "PUT"):
            body = await self._read_body(request)
        deadline = time.monotonic() + longpoll_deadline_s if longpoll_deadline_s is not None else None
        stack = AsyncExitStack()
        opening = stack.enter_async_context(
            self.upstream.stream(request.method, url, headers=headers, content=body, read_timeout_s=read_timeout_s)
        )
        try:
            # Some backends send no headers until the first change or heartbeat: the deadline covers that wait too.
            upstream = await asyncio.wait_for(opening, deadline - time.monotonic() if deadline else None)
        except TimeoutError:
            await stack.aclose()
            return _json_response(200, _caught_up(since))
        except CouchUnavailable as exc:
            await stack.aclose()
            raise ServiceUnavailable(UNREACHABLE) from exc
        if upstream.status_code in (401, 403):
            await stack.aclose()
            log.error("CouchDB refused the gateway's own credentials (%s) on %s", upstream.status_code, request.method)
            raise ServiceUnavailable("the database server refused the gateway; an operator must check its credentials")
        relayed = {k: v for k in _RELAYED_HEADERS if (v := upstream.headers.get(k))}
        if upstream.status_code >= 400 and request.method != "HEAD":
            body_bytes = await _read_whole(upstream, stack)
            return _json_response(upstream.status_code, _couch_error_body(body_bytes, upstream.status_code))
        if request.method == "HEAD":
            await stack.aclose()
            return Response(status_code=upstream.status_code, headers=relayed)
        declared = upstream.headers.get("content-length", "")
        if deadline is None and declared.isdigit() and int(declared) <= _RELAY_WHOLE_BYTES:
            # A small body of known length (a checkpoint, db info, a _revs_diff answer) is cheaper to relay in one
            # piece than as a stream; anything larger, of unknown length or a feed is streamed.
            content = await _read_whole(upstream, stack)
            return Response(content, status_code=upstream.status_code, headers=relayed)
        return StreamingResponse(
            _stream_body(upstream, stack, deadline if upstream.status_code == 200 else None, since),
            status_code=upstream.status_code,
            headers=relayed,
        )


def _stays_inside(upstream_path: str, upstream: Upstream) -> None:
    """Defence in depth for the scope check: the path CouchDB will see must still be the database the request was
    authorised for, and hold no dot segment that a server or proxy on the way could resolve out of it."""
    db = upstream_path.split("/", 2)[1]
    seen = upstream.url(upstream_path).raw_path
    base = upstream.url("").raw_path.rstrip("/")
    if not (seen == f"{base}/{db}" or seen.startswith(f"{base}/{db}/")):
        raise Forbidden("the path leaves the database")
    if any(segment in (".", "..") for segment in seen[len(base) :].split("/")):
        raise Forbidden("the path leaves the database")


async def _read_whole(upstream: UpstreamResponse, stack: AsyncExitStack) -> bytes:
    try:
        return await upstream.read()
    except CouchUnavailable as exc:
        raise ServiceUnavailable(UNREACHABLE) from exc
    finally:
        await stack.aclose()


async def _stream_body(
    upstream: UpstreamResponse, stack: AsyncExitStack, deadline: float | None, since: str | None
) -> AsyncIterator[bytes]:
    """Relay the upstream body. A long-poll is ended at ``deadline`` if no change has come by then (neither
    pouchdb-server nor CouchDB with a heartbeat ends it on their own): whatever has been relayed so far is at
    most the opening ``{"results":[`` and heartbeat newlines, so the gateway closes the array with the client's own
    ``since`` as ``last_seq``, as CouchDB ends a timed-out long-poll."""
    chunks = upstream.chunks()
    opening = b""  # non-whitespace relayed so far, while it may still be only the opening of the results array
    try:
        while True:
            waiting = deadline is not None and opening in (b"", _RESULTS_OPENING)
            try:
                if waiting:
                    assert deadline is not None
                    chunk = await asyncio.wait_for(anext(chunks), max(0.0, deadline - time.monotonic()))
                else:
                    chunk = await anext(chunks)
            except StopAsyncIteration:
                return
            except TimeoutError:
                closing = _caught_up(since)
                if opening:
                    yield b'],\n"last_seq":' + orjson.dumps(closing["last_seq"]) + b"}\n"
                else:
                    yield orjson.dumps(closing) + b"\n"
                return
            if waiting:
                opening += bytes(chunk.translate(None, b" \t\r\n"))
            yield chunk
    except CouchUnavailable as exc:
        # The backend died mid-response: end the client's response with an error (the connection is aborted),
        # never leave the socket open — PouchDB has no client-side timeout.
        raise ConnectionAbortedError("upstream connection lost") from exc
    finally:
        await stack.aclose()


_RESULTS_OPENING = b'{"results":['


def _caught_up(since: str | None) -> dict[str, Any]:
    """A timed-out long-poll: no results, and ``last_seq`` = the client's own ``since``, echoed (never minted) in
    the JSON type it had: an integer on pouchdb-server, an opaque string on CouchDB 3."""
    last_seq: Any = 0 if since is None else int(since) if since.isdigit() else since
    return {"results": [], "last_seq": last_seq}


def _couch_error_body(body: bytes, status: int) -> dict[str, Any]:
    """Upstream errors always reach the client as JSON ``{"error","reason"}`` (pouchdb-server labels some of its
    error bodies text/plain, and a proxy in between may answer HTML)."""
    try:
        parsed = orjson.loads(body)
        if isinstance(parsed, dict) and "error" in parsed:
            return {"error": str(parsed["error"]), "reason": str(parsed.get("reason", ""))}
    except orjson.JSONDecodeError:
        pass
    return {"error": "unknown_error" if status < 500 else "service_unavailable", "reason": f"upstream status {status}"}


def _check_open_revs(value: str | None) -> None:
    if value is None or value == "all":
        return
    try:
        revs = orjson.loads(value)
    except orjson.JSONDecodeError:
        revs = None
    if not isinstance(revs, list) or not all(isinstance(r, str) for r in revs):
        raise BadRequest('open_revs must be "all" or a JSON array of revision ids')


def _int_param(query: Query, name: str) -> int | None:
    value = query.get(name)
    if value is None or value in ("", "true"):
        return None
    if not value.isdigit():
        raise BadRequest(f"{name} must be a whole number of milliseconds")
    return int(value)


def _check_params(query: Query, allowed: frozenset[str], what: str) -> None:
    unknown = sorted({key for key, _ in query.items if key not in allowed})
    if unknown:
        raise BadRequest(f"unsupported parameter(s) for {what}: {', '.join(unknown)}")


def _merge_bulk_results(
    docs: Sequence[Any], verdicts: Sequence[Refusal | None], upstream: Sequence[dict[str, Any]], new_edits: bool
) -> list[dict[str, Any]]:
    """One entry per refused document (``forbidden``) beside CouchDB's own entries. With ``new_edits`` a client
    maps results to its documents by position, so the order is kept; without, CouchDB lists only errors."""
    refusals = [
        {"id": doc.get("_id") if isinstance(doc, dict) else None, "error": "forbidden", "reason": refusal.reason}
        for doc, refusal in zip(docs, verdicts, strict=True)
        if refusal is not None
    ]
    accepted_count = sum(1 for v in verdicts if v is None)
    if not new_edits or len(upstream) != accepted_count:
        return [*upstream, *refusals]
    merged: list[dict[str, Any]] = []
    upstream_iter, refusal_iter = iter(upstream), iter(refusals)
    for verdict in verdicts:
        merged.append(next(refusal_iter) if verdict is not None else next(upstream_iter))
    return merged


async def _none() -> None:
    return None


def _refuse_second_versions(
    incoming: Sequence[IncomingDoc], outcomes: list[Outcome], existing: Mapping[str, str]
) -> None:
    """With ``new_edits=false``, two revisions of one new id in a batch would both be stored, as conflicting versions
    of one submission, the pipeline deciding on whichever CouchDB makes the winner. A device's own history of a
    document is linear (conflicts come from the server, which already holds the id), so the first is kept and the
    others refused. Revisions of a stored id are judged against it by the validator."""
    seen: set[str] = set()
    for n, doc in enumerate(incoming):
        doc_id = doc.body.get("_id")
        if not isinstance(doc_id, str) or isinstance(outcomes[n], Refusal) or doc_id in existing:
            continue
        if doc_id in seen:
            outcomes[n] = refuse(
                Problem(
                    "_rev",
                    "revision.second_version",
                    "Dokumen baru ini dikirim dalam dua versi sekaligus; hanya versi pertama yang disimpan",
                )
            )
        seen.add(doc_id)
