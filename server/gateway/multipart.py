"""``multipart/related`` document writes, as CouchDB's replicator sends them (``PUT /{db}/{id}?new_edits=false``).

The first part is the JSON document whose ``_attachments`` entries say ``follows: true``; the following parts are
those attachments' bytes, in the same order. The gateway parses it strictly, validates what it parsed, and sends
CouchDB a body it builds itself from that (:func:`build_related`): never the bytes as received, which another
multipart parser might read differently (a quoted boundary containing ``;`` once smuggled a second document).
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

import orjson

from server.core.errors import BadRequest


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("a key appears twice in one object")
    return dict(pairs)


# RFC 2046 "bchars": anything else in a boundary is refused rather than guessed at.
_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{1,70}")


_MEDIA_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]{1,64}/[A-Za-z0-9!#$&^_.+-]{1,64}")


def boundary_of(content_type: str) -> str:
    boundaries = []
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "boundary":
            boundaries.append(value.strip().removeprefix('"').removesuffix('"'))
    if len(boundaries) != 1 or not _BOUNDARY.fullmatch(boundaries[0]) or boundaries[0].endswith(" "):
        raise BadRequest("multipart/related needs exactly one plain boundary")
    return boundaries[0]


def build_related(doc: dict[str, Any], attachments: dict[str, bytes]) -> tuple[bytes, str]:
    """The body CouchDB receives: the validated document, then its attachments in the stubs' order."""
    boundary = secrets.token_hex(16)
    parts = [b"--" + boundary.encode() + b"\r\nContent-Type: application/json\r\n\r\n" + orjson.dumps(doc)]
    for name, data in attachments.items():
        content_type = doc["_attachments"][name].get("content_type") or "application/octet-stream"
        if not isinstance(content_type, str) or not _MEDIA_TYPE.fullmatch(content_type):
            raise BadRequest(f"attachment {name!r} has an unusable content_type")
        header = f"--{boundary}\r\nContent-Disposition: attachment; filename={json.dumps(name)}\r\n"
        header += f"Content-Type: {content_type}\r\n\r\n"
        parts.append(header.encode() + data)
    body = b"\r\n".join(parts) + f"\r\n--{boundary}--".encode()
    return body, f'multipart/related; boundary="{boundary}"'


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
