"""``multipart/related`` document writes, as CouchDB's replicator sends them (``PUT /{db}/{id}?new_edits=false``).

The first part is the JSON document whose ``_attachments`` entries say ``follows: true``; the following parts are
those attachments' bytes, in the same order. Only parsed to be validated; the body is forwarded as received.
"""

from __future__ import annotations

import json
from typing import Any

from server.core.errors import BadRequest


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("a key appears twice in one object")
    return dict(pairs)


def boundary_of(content_type: str) -> str:
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "boundary" and value:
            return value.strip('"')
    raise BadRequest("multipart/related without a boundary")


def parse_related(body: bytes, content_type: str) -> tuple[dict[str, Any], dict[str, bytes]]:
    delimiter = b"--" + boundary_of(content_type).encode("latin-1")
    parts: list[bytes] = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break  # closing delimiter
        headers_end = chunk.find(b"\r\n\r\n")
        if headers_end < 0:
            raise BadRequest("malformed multipart part")
        content = chunk[headers_end + 4 :]
        parts.append(content[:-2] if content.endswith(b"\r\n") else content)
    if not parts:
        raise BadRequest("empty multipart body")
    try:
        # The body is forwarded as sent, so a key given twice must be refused: CouchDB might read the other one.
        doc = json.loads(parts[0], object_pairs_hook=_refuse_duplicate_keys)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the first multipart part is not a JSON document: {exc}") from exc
    if not isinstance(doc, dict):
        raise BadRequest("the first multipart part is not a JSON object")
    stubs = doc.get("_attachments") or {}
    if not isinstance(stubs, dict) or not all(isinstance(stub, dict) for stub in stubs.values()):
        raise BadRequest("_attachments must be an object of attachment stubs")
    following = [name for name, stub in stubs.items() if stub.get("follows")]
    if len(following) != len(parts) - 1:
        raise BadRequest("multipart attachment count does not match the document's _attachments")
    return doc, dict(zip(following, parts[1:], strict=True))
