"""What validation reports: problems (errors refuse a document, warnings are recorded with it) and the
verdict.

A :class:`Problem` names the field by its path in the document (``members[2].nik``,
``_attachments.depan.jpg``; empty for the document as a whole), a stable rule code (``nik.month``) that a
device app can map to its own screen, and a message in Bahasa Indonesia for the pendamping.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Problem:
    field: str
    code: str
    message: str

    def sentence(self) -> str:
        """One sentence naming the field and the rule, e.g. ``members[2].nik: NIK harus 16 digit angka
        (nik.format).``"""
        where = f"{self.field}: " if self.field else ""
        return f"{where}{self.message} ({self.code})."

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}

    def under(self, prefix: str) -> Problem:
        """The same problem, its path placed under ``prefix`` (``members[2]`` + ``nik`` →
        ``members[2].nik``)."""
        return Problem(join_path(prefix, self.field), self.code, self.message)


def join_path(prefix: str, path: str) -> str:
    if not prefix:
        return path
    if not path:
        return prefix
    if path.startswith("["):
        return f"{prefix}{path}"
    return f"{prefix}.{path}"


def format_loc(loc: Sequence[str | int]) -> str:
    """``("members", 2, "nik")`` → ``members[2].nik``."""
    out = ""
    for part in loc:
        out = f"{out}[{part}]" if isinstance(part, int) else join_path(out, part)
    return out


@dataclass(slots=True)
class Verdict:
    """The outcome of :func:`agent_forms.validate_document` for one written document.

    ``ok`` is false as soon as there is one error. Warnings never refuse a document: the gateway stores them
    with it (or next to it) for the pipeline and the supervisor. ``metadata`` holds what was learnt on the
    way, e.g. ``{"form": {"type": "evidence", "version": 1}, "attachments": {"depan.jpg": {"format": "JPEG",
    ..., "exif_captured_at": "2025-09-14T09:12:03", "gps": {"lat": -8.2, "lon": 114.37}}}}``.
    """

    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def reason(self) -> str:
        """A short Bahasa Indonesia sentence for CouchDB's ``{"error": "forbidden", "reason": ...}``.

        The first error, with its field and rule code, and how many more there are (all of them are in
        :attr:`errors`, for the ``sync_issue`` document). Empty when the document is accepted.
        """
        if not self.errors:
            return ""
        first = self.errors[0].sentence()
        rest = len(self.errors) - 1
        return f"{first} Ada {rest} masalah lain." if rest else first

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, e.g. for the body of a ``sync_issue`` document."""
        return {
            "ok": self.ok,
            "reason": self.reason,
            "errors": [p.as_dict() for p in self.errors],
            "warnings": [p.as_dict() for p in self.warnings],
        }

    def extend(self, *, errors: Iterable[Problem] = (), warnings: Iterable[Problem] = ()) -> None:
        self.errors.extend(errors)
        self.warnings.extend(warnings)
