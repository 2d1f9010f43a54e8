"""The one per-document validation step of every write through the gateway.

A device's write is judged document by document: a refused document gets a ``forbidden`` entry (and a
``sync_issue`` document) while the rest of its batch is stored. Rules here must not depend on the order in which
documents arrive: an application may sync before its consent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Problem:
    field: str
    rule: str
    message: str  # Bahasa Indonesia: a pendamping reads it

    def as_json(self) -> dict[str, str]:
        return {"field": self.field, "rule": self.rule, "message": self.message}


@dataclass(frozen=True)
class Refusal:
    reason: str  # one sentence in Bahasa Indonesia naming the field and the rule
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class WriteContext:
    db: str
    desa_code: str  # dotted
    username: str
    device_id: str | None
    # Winning revisions already on the server for the ids being written (for immutability rules).
    existing_revs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class IncomingDoc:
    body: Mapping[str, Any]
    size_bytes: int  # as sent, attachments inline
    attachments: Mapping[str, bytes] | None = None  # decoded bytes, when the write carried them separately


class DocumentValidator(Protocol):
    def __call__(self, doc: IncomingDoc, ctx: WriteContext) -> Refusal | None: ...


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


class GatewayRules:
    """What no device may ever write, whatever its form: design documents and oversize documents."""

    def __init__(self, max_document_bytes: int) -> None:
        self.max_document_bytes = max_document_bytes

    def __call__(self, doc: IncomingDoc, ctx: WriteContext) -> Refusal | None:
        doc_id = doc.body.get("_id")
        if not isinstance(doc_id, str) or not doc_id:
            return _refuse("_id", "id_required", "Dokumen harus memiliki _id berupa teks.")
        if doc_id.startswith("_design/"):
            return _refuse("_id", "design_doc", "Dokumen _design/ tidak boleh dikirim dari perangkat.")
        if doc_id.startswith("_local/"):
            return _refuse("_id", "local_doc", "Dokumen _local/ tidak boleh dikirim dalam batch.")
        if doc.size_bytes > self.max_document_bytes:
            return _refuse(
                "_id",
                "document_too_large",
                f"Dokumen terlalu besar ({_mb(doc.size_bytes)}); batas {_mb(self.max_document_bytes)} per dokumen. "
                "Kurangi ukuran atau jumlah foto.",
            )
        return None


class ValidatorChain:
    """Runs validators in order; the first refusal wins."""

    def __init__(self, validators: Sequence[DocumentValidator]) -> None:
        self.validators = list(validators)

    def __call__(self, doc: IncomingDoc, ctx: WriteContext) -> Refusal | None:
        for validator in self.validators:
            refusal = validator(doc, ctx)
            if refusal is not None:
                return refusal
        return None


def _refuse(field_name: str, rule: str, message: str) -> Refusal:
    return Refusal(reason=f"{field_name}: {message}", problems=(Problem(field_name, rule, message),))
