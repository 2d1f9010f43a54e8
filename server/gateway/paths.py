"""Routing of ``/sync/...`` from the raw, still percent-encoded path.

Doc ids arrive encoded (``a/b`` as ``a%2Fb``); ``_design/`` and ``_local/`` keep a literal slash. Routing on the
decoded path would split such ids, so every decision here is made on the raw segments and ids are decoded once,
never normalised (``.``, ``..``, ``=``, ``+`` and unicode survive as sent).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote, unquote

from server.core.errors import BadRequest

PREFIX = "/sync"


class Target(StrEnum):
    root = "root"  # /sync/
    server_endpoint = "server_endpoint"  # /sync/_all_dbs and the like
    database = "database"  # /sync/{db}/
    db_endpoint = "db_endpoint"  # /sync/{db}/_changes, _bulk_docs, ...
    document = "document"  # /sync/{db}/{id}, _local/{id}, _design/{id}
    attachment = "attachment"  # /sync/{db}/{id}/{name...}


@dataclass(frozen=True)
class SyncPath:
    target: Target
    db: str = ""
    endpoint: str = ""  # "_changes", "_bulk_docs", ... (db_endpoint, server_endpoint)
    doc_id: str = ""
    attachment: str = ""

    @property
    def is_local(self) -> bool:
        return self.doc_id.startswith("_local/")

    @property
    def is_design(self) -> bool:
        return self.doc_id.startswith("_design/")

    def upstream_path(self) -> str:
        """The path to ask CouchDB for, re-encoded the canonical way."""
        if self.target is Target.database:
            return f"/{self.db}/"
        if self.target is Target.db_endpoint:
            return f"/{self.db}/{self.endpoint}"
        path = f"/{self.db}/{encode_doc_id(self.doc_id)}"
        if self.target is Target.attachment:
            path += "/" + "/".join(encode_segment(part) for part in self.attachment.split("/"))
        return path


def encode_segment(segment: str) -> str:
    """One path segment, fully encoded. Dots too: an HTTP client normalises a literal ``.`` or ``..`` segment
    away (``/db/_local/..`` would become ``/db/``), while ``%2E%2E`` reaches CouchDB as the id ``..``."""
    return quote(segment, safe="").replace(".", "%2E")


def encode_doc_id(doc_id: str) -> str:
    for prefix in ("_design/", "_local/"):
        if doc_id.startswith(prefix):
            return prefix + encode_segment(doc_id[len(prefix) :])
    return encode_segment(doc_id)


def parse(raw_path: bytes) -> SyncPath:
    """Parse the raw request path (bytes as received, query excluded)."""
    path = raw_path.decode("latin-1")
    if path in (PREFIX, PREFIX + "/"):
        return SyncPath(Target.root)
    if not path.startswith(PREFIX + "/"):
        raise BadRequest("not a sync path")
    segments = path[len(PREFIX) + 1 :].split("/")
    db = _decode(segments[0])
    rest = segments[1:]
    if rest and rest[-1] == "" and len(rest) == 1:
        rest = []  # "/sync/db/"
    if db.startswith("_"):
        return SyncPath(Target.server_endpoint, endpoint=db)
    if not rest:
        return SyncPath(Target.database, db=db)
    first = _decode(rest[0])
    if first in ("_design", "_local"):
        if len(rest) < 2 or rest[1] == "":
            raise BadRequest(f"{first}/ needs a document id")
        doc_id = f"{first}/{_decode(rest[1])}"
        return _doc_or_attachment(db, doc_id, rest[2:])
    if first.startswith("_"):
        if len(rest) > 1:
            raise BadRequest(f"unsupported path under {first}")
        return SyncPath(Target.db_endpoint, db=db, endpoint=first)
    return _doc_or_attachment(db, first, rest[1:])


def _doc_or_attachment(db: str, doc_id: str, rest: list[str]) -> SyncPath:
    if not rest or rest == [""]:
        return SyncPath(Target.document, db=db, doc_id=doc_id)
    return SyncPath(Target.attachment, db=db, doc_id=doc_id, attachment="/".join(_decode(p) for p in rest))


def _decode(segment: str) -> str:
    try:
        return unquote(segment, encoding="utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise BadRequest("path is not valid percent-encoded UTF-8") from exc
