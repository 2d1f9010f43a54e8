"""Giving a device back the server's version of a document only the server writes.

A device that edits or deletes a ``result:``, ``task:``, ``review:`` or ``sync_issue:`` document (a bug in its app,
a tampered device) is refused, but PouchDB keeps its own revision: it descends from the server's, so as far as
replication goes the device is ahead and the server's version is never sent to it again. The family would be told
what the device made up. So after such a refusal the server's current version is written once more, as a child of
the device's revision (``new_edits=false`` with the device's revision history under it): on its next pull the
device's branch ends in the server's content again, a plain fast-forward, no conflict on either side.

Only when the device's revision descends from the server's current one (its ``_revisions`` name it): otherwise
the new revision would start a second branch on the server. The new revision's id is a digest of the two it joins,
so a batch sent again writes nothing new.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from agent_forms import SERVER_OWNED_TYPES
from replication.errors import CouchError
from server.gateway.upstream import Upstream
from sync.locks import KeyedLocks

log = logging.getLogger(__name__)


def server_owned(doc_id: object) -> bool:
    return isinstance(doc_id, str) and doc_id.partition(":")[0] in SERVER_OWNED_TYPES


def history(doc: Mapping[str, Any]) -> list[str]:
    """The revisions ``doc`` names, its own first (from ``_revisions``); empty when it names none."""
    revisions = doc.get("_revisions")
    if not isinstance(revisions, Mapping):
        return []
    start, ids = revisions.get("start"), revisions.get("ids")
    if not isinstance(start, int) or not isinstance(ids, list):
        return []
    return [f"{start - n}-{rev_id}" for n, rev_id in enumerate(ids) if isinstance(rev_id, str)]


def restoring_revision(device_doc: Mapping[str, Any], server_doc: Mapping[str, Any]) -> dict[str, Any] | None:
    """The server's document as the next revision after the device's, or None when it cannot be (see the module)."""
    revs = history(device_doc)
    if len(revs) < 2 or server_doc.get("_rev") not in revs[1:] or "_attachments" in server_doc:
        return None
    start = int(revs[0].split("-", 1)[0])
    rev_id = hashlib.md5(f"{revs[0]}>{server_doc['_rev']}".encode(), usedforsecurity=False).hexdigest()
    ids = [rev_id, *(rev.split("-", 1)[1] for rev in revs)]
    body = {k: v for k, v in server_doc.items() if not k.startswith("_")}
    return {
        **body,
        "_id": device_doc["_id"],
        "_rev": f"{start + 1}-{rev_id}",
        "_revisions": {"start": start + 1, "ids": ids},
    }


class ServerDocuments:
    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        # Two restores of one database at once could each see the same current revision and write two leaves: one
        # at a time per database in this process. (Across replicas the worker deletes such leaves when it next
        # writes the document: sync.cases.writer.)
        self._locks: KeyedLocks[str] = KeyedLocks()

    async def restore(self, db: str, refused: Sequence[Mapping[str, Any]]) -> int:
        """Write the server's version over the device's for every refused server-owned document that allows it;
        how many were written. Best effort: the refusal stands either way, and a failure is only logged."""
        wanted = {doc["_id"]: doc for doc in refused if server_owned(doc.get("_id")) and len(history(doc)) >= 2}
        if not wanted:
            return 0
        async with self._locks.hold(db):
            return await self._restore(db, wanted)

    async def _restore(self, db: str, wanted: Mapping[str, Mapping[str, Any]]) -> int:
        try:
            rows = await self.upstream.request(
                "POST",
                f"/{db}/_all_docs",
                json={"keys": sorted(wanted)},
                params={"include_docs": "true"},
                what=f"server documents of {db}",
            )
            current = {row["id"]: row["doc"] for row in rows.get("rows", []) if row.get("doc")}
            writes = [
                revision
                for doc_id, doc in wanted.items()
                if doc_id in current and (revision := restoring_revision(doc, current[doc_id])) is not None
            ]
            if writes:
                await self.upstream.bulk_docs(db, writes, new_edits=False)
        except CouchError as exc:
            log.warning("server documents of %s not restored on the device's branch: %s", db, exc)
            return 0
        return len(writes)
