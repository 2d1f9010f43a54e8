"""The gateway's own client to CouchDB, against a raw socket server: what goes on the wire, and that every
transport failure comes back as ``CouchUnavailable`` (never an aiohttp error, never a bare ``TimeoutError``, which
the long-poll relay would take for its own deadline)."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest

from replication.errors import CouchConflict, CouchError, CouchNotFound, CouchUnavailable
from server.gateway.upstream import Upstream
from tests.fixtures.couch import free_port

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _head(reader: asyncio.StreamReader) -> list[str]:
    """The request line and headers (the request bodies of these tests are read by nobody)."""
    return (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")[:-2]


def _run(handler: Handler, client: Callable[[Upstream], Awaitable[Any]], *, userinfo: str = "") -> Any:
    async def main() -> Any:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        upstream = Upstream(f"http://{userinfo}127.0.0.1:{port}")
        try:
            return await client(upstream)
        finally:
            await upstream.aclose()
            server.close()

    return asyncio.run(main())


def _answer(status: str, body: bytes, content_type: str = "application/json") -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await _head(reader))
        writer.write(
            f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
        )
        await writer.drain()
        writer.close()

    seen: list[list[str]] = []
    handler.seen = seen  # type: ignore[attr-defined]
    return handler


def test_paths_go_on_the_wire_exactly_as_given_with_credentials_in_a_header_and_no_invented_type() -> None:
    handler = _answer("200 OK", b'{"ok":true}')

    async def client(upstream: Upstream) -> Any:
        assert "secret" not in upstream.base_url
        async with upstream.stream("POST", "/desa_1/_local/%2E%2E/a%2Fb", content=b"{}") as response:
            return orjson.loads(await response.read())

    assert _run(handler, client, userinfo="admin:s%40cret@") == {"ok": True}
    request_line, *headers = handler.seen[0]  # type: ignore[attr-defined]
    assert request_line == "POST /desa_1/_local/%2E%2E/a%2Fb HTTP/1.1"
    assert not any(h.lower().startswith("content-type") for h in headers)
    expected = "Basic " + base64.b64encode(b"admin:s@cret").decode()
    assert f"authorization: {expected}" in [
        f"{name.lower()}: {value}" for name, _, value in (h.partition(": ") for h in headers)
    ]


@pytest.mark.parametrize(
    ("status", "kind"),
    [("404 Not Found", CouchNotFound), ("409 Conflict", CouchConflict), ("503 Service Unavailable", CouchUnavailable)],
)
def test_statuses_become_the_couch_errors(status: str, kind: type[CouchError]) -> None:
    handler = _answer(status, b'{"error":"x","reason":"y"}')
    with pytest.raises(kind) as raised:
        _run(handler, lambda upstream: upstream.request("GET", "/db/doc", what="get doc"))
    assert raised.value.error == "x" and raised.value.reason == "y"


def test_a_text_error_body_is_still_an_error() -> None:
    handler = _answer("500 Internal Server Error", b"boom", content_type="text/plain")
    with pytest.raises(CouchUnavailable, match="boom"):
        _run(handler, lambda upstream: upstream.request("GET", "/db/doc", what="get doc"))


def test_an_unreachable_server_is_unavailable_and_the_message_names_no_document() -> None:
    async def client(upstream: Upstream) -> Any:
        dead = Upstream(f"http://127.0.0.1:{free_port()}")
        try:
            async with dead.stream("GET", "/desa_1/household%3A3510161705800001?revs=true") as response:
                return response.status_code
        finally:
            await dead.aclose()

    with pytest.raises(CouchUnavailable) as raised:
        _run(_answer("200 OK", b"{}"), client)
    assert "3510161705800001" not in str(raised.value) and "GET /desa_1/…" in str(raised.value)


def test_a_response_cut_short_is_unavailable_whole_or_streamed() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b'{"results":[')
        await writer.drain()
        writer.close()

    async def whole(upstream: Upstream) -> Any:
        async with upstream.stream("GET", "/db/_changes") as response:
            return await response.read()

    async def streamed(upstream: Upstream) -> Any:
        async with upstream.stream("GET", "/db/_changes") as response:
            return [chunk async for chunk in response.chunks()]

    for client in (whole, streamed):
        with pytest.raises(CouchUnavailable):
            _run(handler, client)


def test_a_silent_server_past_the_read_timeout_is_unavailable_not_a_bare_timeout() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n\n\n\r\n")
        await writer.drain()
        await asyncio.sleep(5)
        writer.close()

    async def client(upstream: Upstream) -> Any:
        got: list[bytes] = []
        async with upstream.stream("GET", "/db/_changes?feed=longpoll", read_timeout_s=0.3) as response:
            try:
                async for chunk in response.chunks():
                    got.append(chunk)  # the heartbeat arrives as it was sent, before the timeout
            except CouchUnavailable:
                return got
        raise AssertionError("the stream ended without an error")

    assert _run(handler, client) == [b"\n\n"]


@pytest.mark.live
def test_ids_with_a_prefix_are_read_as_one_range_unicode_included(couch_server: Any) -> None:
    db = f"prefix-{uuid.uuid4().hex}"
    inside = ["sync_issue:a", "sync_issue:a/b", "sync_issue:ünï", "sync_issue:😀", "sync_issue:\uffff"]
    outside = ["sync_issu", "sync_issue", "sync_issue;", "sync_issuf:x", "household:sync_issue:a"]

    async def main() -> tuple[set[str] | None, set[str] | None]:
        upstream = Upstream(couch_server.url)
        try:
            await upstream.request("PUT", f"/{db}", what="create")
            docs = [{"_id": doc_id} for doc_id in inside + outside] + [{"_id": "sync_issue:gone", "_deleted": True}]
            await upstream.bulk_docs(db, docs)
            found = await upstream.ids_with_prefix(db, "sync_issue:", at_most=10)
            over = await upstream.ids_with_prefix(db, "sync_issue:", at_most=4)
            return found, over
        finally:
            await upstream.request("DELETE", f"/{db}", what="drop")
            await upstream.aclose()

    found, over = asyncio.run(main())
    assert found == set(inside)
    assert over is None  # more than asked for: the caller looks its own ids up by key instead
