"""The one per-document validation step of every write through the gateway.

A device's write is judged document by document: a refused document gets a ``forbidden`` entry (and a
``sync_issue`` document) while the rest of its batch is stored. Rules here must not depend on the order in which
documents arrive: an application may sync before its consent.

A validator answers one of three things for a document: :class:`Refusal` (not stored), :class:`Accepted` (stored,
with warnings or metadata worth keeping), or ``None`` (stored, nothing to say). Problems are
:class:`agent_forms.Problem` everywhere — one type from the form rules to the ``sync_issue`` document.

Warnings (the soft checks of :mod:`agent_forms`: a NIK whose region prefix is unknown, a sex or birth date that
disagrees with the NIK, a house photo without EXIF time …) never refuse a document, and the gateway never changes
a device's document to note them: with ``new_edits=false`` the device and the server must hold the same content
under the same revision. They are recorded next to it, in the server-owned ``sync_issue:<doc id>`` document with
``status: "warning"`` (see :func:`server.gateway.issues.warning_issue_doc`), which reaches the device on its next
pull and the pipeline through the changes feed. The image metadata learnt while validating (format, size, EXIF
capture time and GPS) is kept in that document when one is written; otherwise it is not stored, as the pipeline can
derive it again from the stored attachments (:func:`agent_forms.attachments.inspect_image` is pure).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from agent_forms import Limits, Problem, validate_document
from simpul.settings import Settings

__all__ = [
    "Accepted",
    "DocumentValidator",
    "FormsValidator",
    "GatewayRules",
    "IncomingDoc",
    "Outcome",
    "Problem",
    "Refusal",
    "ValidatorChain",
    "WriteContext",
]


@dataclass(frozen=True)
class Refusal:
    reason: str  # one sentence in Bahasa Indonesia naming the field and the rule
    problems: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class Accepted:
    """Stored, with something to record beside it (never inside it)."""

    warnings: tuple[Problem, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)


Outcome = Refusal | Accepted | None


@dataclass(frozen=True)
class WriteContext:
    db: str
    desa_code: str  # dotted
    username: str
    device_id: str | None
    # Winning revisions already on the server for the ids being written (for immutability rules).
    existing_revs: Mapping[str, str] = field(default_factory=dict)
    # False for replication (``_bulk_docs`` with ``"new_edits": false``, ``PUT ?new_edits=false``): ``_rev`` is
    # the revision being stored. True for a plain write, which makes a new revision of whatever exists.
    new_edits: bool = True


@dataclass(frozen=True)
class IncomingDoc:
    body: Mapping[str, Any]
    size_bytes: int  # as sent, attachments inline
    attachments: Mapping[str, bytes] | None = None  # decoded bytes, when the write carried them separately


class DocumentValidator(Protocol):
    def __call__(self, doc: IncomingDoc, ctx: WriteContext) -> Outcome: ...


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB".replace(".", ",")


class GatewayRules:
    """What no device may ever write, whatever its form: design documents, checkpoints inside a batch and
    oversize documents. Cheap, and first: an oversize document is refused before anything decodes it."""

    def __init__(self, max_document_bytes: int) -> None:
        self.max_document_bytes = max_document_bytes

    def __call__(self, doc: IncomingDoc, ctx: WriteContext) -> Outcome:
        doc_id = doc.body.get("_id")
        if not isinstance(doc_id, str) or not doc_id:
            return refuse(Problem("_id", "id.missing", "Dokumen harus mempunyai _id berupa teks"))
        if doc_id.startswith("_design/"):
            return refuse(Problem("_id", "id.design", "Dokumen _design/ tidak boleh dikirim dari perangkat"))
        if doc_id.startswith("_local/"):
            return refuse(Problem("_id", "id.local", "Dokumen _local/ tidak boleh dikirim dalam batch"))
        revisions = doc.body.get("_revisions")
        if revisions is not None and not _revisions_match(revisions, doc.body.get("_rev")):
            # With new_edits=false CouchDB builds the revision tree from _revisions: it must say what _rev says.
            return refuse(Problem("_revisions", "revisions.mismatch", "_revisions tidak sesuai dengan _rev"))
        if "_deleted" in doc.body and not isinstance(doc.body["_deleted"], bool):
            # CouchDB takes any truthy value as a deletion; the form rules judge deletions by `_deleted: true`.
            return refuse(Problem("_deleted", "deleted.not_boolean", "_deleted harus true atau false"))
        if doc.size_bytes > self.max_document_bytes:
            return refuse(
                Problem(
                    "_id",
                    "document.too_large",
                    f"Dokumen terlalu besar ({_mb(doc.size_bytes)}); batas {_mb(self.max_document_bytes)} "
                    "per dokumen. Kurangi ukuran atau jumlah foto",
                )
            )
        return None


class FormsValidator:
    """Every form rule of :func:`agent_forms.validate_document`: the schema of the type and version, the id
    prefix, ``desa`` and ``agent_id`` against the database and the token, immutability of what already synced, no
    deletions, no server-owned types, and the attachments (decoded with Pillow: CPU-heavy, which is why the
    gateway calls validators in a worker thread)."""

    def __init__(self, limits: Limits, *, clock: Callable[[], datetime] | None = None) -> None:
        self.limits = limits
        self._clock = clock or (lambda: datetime.now(UTC))  # only for a warning about captured_at in the future

    @classmethod
    def from_settings(cls, settings: Settings) -> FormsValidator:
        # The gateway's per-document limit bounds the attachments' total too: one number for the operator.
        return cls(
            Limits(
                max_image_bytes=settings.max_image_bytes,
                max_image_pixels=settings.max_image_pixels,
                max_document_bytes=settings.max_document_bytes,
            )
        )

    def __call__(self, doc: IncomingDoc, ctx: WriteContext) -> Outcome:
        doc_id = doc.body.get("_id")
        verdict = validate_document(
            doc.body,
            desa_code=ctx.desa_code,
            agent_id=ctx.username,
            attachments=doc.attachments,
            limits=self.limits,
            existing_rev=ctx.existing_revs.get(doc_id) if isinstance(doc_id, str) else None,
            new_edits=ctx.new_edits,
            now=self._clock(),
        )
        if not verdict.ok:
            return Refusal(verdict.reason, tuple(verdict.errors), tuple(verdict.warnings))
        attachments = verdict.metadata.get("attachments")
        if verdict.warnings:
            return Accepted(tuple(verdict.warnings), {"attachments": attachments} if attachments else {})
        return None


class ValidatorChain:
    """Runs validators in order; the first refusal wins. Warnings and metadata of the others are merged."""

    def __init__(self, validators: Sequence[DocumentValidator]) -> None:
        self.validators = list(validators)

    def __call__(self, doc: IncomingDoc, ctx: WriteContext) -> Outcome:
        warnings: list[Problem] = []
        metadata: dict[str, Any] = {}
        for validator in self.validators:
            outcome = validator(doc, ctx)
            if isinstance(outcome, Refusal):
                return outcome
            if isinstance(outcome, Accepted):
                warnings.extend(outcome.warnings)
                metadata.update(outcome.metadata)
        return Accepted(tuple(warnings), metadata) if warnings or metadata else None


def _revisions_match(revisions: object, rev: object) -> bool:
    if not isinstance(revisions, dict) or not isinstance(rev, str):
        return False
    start, ids = revisions.get("start"), revisions.get("ids")
    if not isinstance(start, int) or isinstance(start, bool) or start < 1:
        return False
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids) or len(ids) > start:
        return False
    return rev == f"{start}-{ids[0]}"


def refuse(problem: Problem, *more: Problem) -> Refusal:
    """A refusal whose reason is the first problem as one sentence (``field: message (rule).``)."""
    reason = problem.sentence()
    if more:
        reason = f"{reason} Ada {len(more)} masalah lain."
    return Refusal(reason=reason, problems=(problem, *more))
