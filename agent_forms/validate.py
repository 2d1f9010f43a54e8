"""The one entry point of the sync gateway: is this written document acceptable? Pure, no I/O.

:func:`validate_document` checks one document on its own, whatever else has or has not synced (an application
whose consent has not arrived yet is accepted; the pipeline waits for it). In order:

1. what no device may write: ``_design/`` and ``_local/`` ids, the server's own types (``result``, ``task``,
   ``review``, ``sync_issue``), a deletion, a new revision of a submission that already synced (the gateway
   looks up the existing revision and passes it as ``existing_rev``);
2. the id: ``<type>:<key>`` with the document's own type;
3. the scope: ``desa`` is the database's desa, ``agent_id`` the token's user;
4. the form: the model of its (type, ``form_version``), every rule across fields, then the soft checks
   (warnings);
5. the attachments: only those the form declares, each a real, bounded image (:mod:`agent_forms.attachments`).

CouchDB's own fields (``_id``, ``_rev``, ``_revisions``, ``_attachments``, ``_deleted``, ``_conflicts``, …)
are taken out before the form is validated; any other top-level field starting with ``_`` is refused, as
CouchDB itself would.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from agent_forms import wilayah
from agent_forms.attachments import Limits, check_attachments
from agent_forms.errors import problems_from
from agent_forms.models.base import Submission, id_key_ok
from agent_forms.models.registry import (
    FORMS,
    SERVER_OWNED_TYPES,
    SUBMISSION_TYPES,
    submission_adapter,
    versions_of,
)
from agent_forms.problems import Problem, Verdict

#: Top-level fields CouchDB defines; every other ``_`` field is refused.
COUCHDB_FIELDS: frozenset[str] = frozenset(
    {
        "_id",
        "_rev",
        "_revisions",
        "_attachments",
        "_deleted",
        "_conflicts",
        "_deleted_conflicts",
        "_revs_info",
        "_local_seq",
    }
)

#: How far in the future (by the server's clock) a ``captured_at`` may be before it earns a warning.
_CLOCK_SKEW = timedelta(hours=1)
#: ... and before it is refused: capture times order what is in force (a later consent supersedes a withdrawal, the
#: latest correction of a document stands), so a document dated years ahead would outrank everything after it.
_FUTURE_LIMIT = timedelta(days=1)


class InvalidSubmission(ValueError):
    """Raised by :func:`load_submission`; ``problems`` holds every error."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.sentence() for p in problems))
        self.problems = problems


def strip_couchdb_fields(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The document body the forms describe: every top-level field not starting with ``_``."""
    return {k: v for k, v in doc.items() if not (isinstance(k, str) and k.startswith("_"))}


def is_new_revision_of_existing(doc: Mapping[str, Any], existing_rev: str | None, *, new_edits: bool = False) -> bool:
    """Would storing ``doc`` change a document that already exists at ``existing_rev``?

    With ``new_edits=false`` (replication) ``_rev`` is the revision being stored: re-sending the existing
    revision is harmless (CouchDB keeps it as is), any other revision is an edit or a conflicting branch. With
    ``new_edits=true`` (a plain ``PUT``/``POST``) every write to an existing document makes a new revision. A
    device may edit its document before the first sync (its ``_rev`` may start at ``2-``): only the server's
    copy counts.
    """
    if existing_rev is None:
        return False
    if new_edits:
        return True
    return doc.get("_rev") != existing_rev


def _show(value: Any, limit: int = 60) -> str:
    """A value quoted for a message, cut short: a reason must stay one short sentence."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def _digits(code: str) -> str:
    return wilayah.normalise_code(code.strip()).replace(".", "")


def validate_document(
    doc: Mapping[str, Any],
    *,
    desa_code: str,
    agent_id: str,
    attachments: Mapping[str, bytes] | None,
    limits: Limits,
    existing_rev: str | None = None,
    new_edits: bool = False,
    now: datetime | None = None,
) -> Verdict:
    """Validate one document a device writes into the database of ``desa_code`` with the token of
    ``agent_id``.

    ``attachments``: the bytes of attachments received out of band (multipart), by name; ``None`` when they
    are inline base64 in ``_attachments``. ``existing_rev``: the winning revision the database already holds
    for this id, or ``None`` if it holds none. ``now``: the server's clock, only for a warning about a
    ``captured_at`` in the future; the verdict is otherwise a function of its arguments.
    """
    verdict = Verdict()
    if not isinstance(doc, Mapping):
        verdict.errors.append(Problem("", "doc.format", "Dokumen harus berupa objek JSON"))
        return verdict

    doc_id = doc.get("_id")
    if not isinstance(doc_id, str) or not doc_id:
        verdict.errors.append(Problem("_id", "id.missing", "Dokumen harus mempunyai _id"))
        return verdict
    if doc_id.startswith("_design/"):
        verdict.errors.append(Problem("_id", "id.design", "Perangkat tidak boleh menulis dokumen desain (_design/)"))
        return verdict
    if doc_id.startswith("_"):
        verdict.errors.append(Problem("_id", "id.reserved", "Id dokumen tidak boleh diawali garis bawah"))
        return verdict

    id_type, _, id_key = doc_id.partition(":")
    raw_type = doc.get("type")
    doc_type = raw_type if isinstance(raw_type, str) else None
    if id_type in SERVER_OWNED_TYPES or doc_type in SERVER_OWNED_TYPES:
        owned = id_type if id_type in SERVER_OWNED_TYPES else doc_type
        verdict.errors.append(
            Problem("type", "type.server_owned", f"Dokumen jenis '{owned}' hanya ditulis oleh server")
        )
        return verdict
    if doc.get("_deleted") is True:
        verdict.errors.append(
            Problem(
                "_deleted",
                "submission.delete",
                "Kiriman tidak boleh dihapus; untuk mengoreksi, kirim dokumen baru dengan 'supersedes'",
            )
        )
        return verdict
    if is_new_revision_of_existing(doc, existing_rev, new_edits=new_edits):
        verdict.errors.append(
            Problem(
                "_rev",
                "submission.immutable",
                "Kiriman yang sudah tersinkron tidak boleh diubah; buat dokumen baru dengan 'supersedes'",
            )
        )
        return verdict

    if doc_type is None or doc_type not in SUBMISSION_TYPES:
        known = ", ".join(sorted(SUBMISSION_TYPES))
        what = "tidak diisi" if raw_type is None else f"{_show(raw_type)} tidak dikenal"
        verdict.errors.append(
            Problem("type", "form.type_unknown", f"Jenis dokumen {what}; harus salah satu dari: {known}")
        )
        return verdict
    if id_type != doc_type or not id_key_ok(id_key):
        verdict.errors.append(
            Problem(
                "_id",
                "id.prefix",
                f"Id dokumen harus berbentuk '{doc_type}:<uuid atau kunci>', bukan {_show(doc_id)}",
            )
        )

    version = doc.get("form_version")
    model: type[Submission] | None = None
    if isinstance(version, int) and not isinstance(version, bool):
        model = FORMS.get((doc_type, version))
    if model is None:
        known_versions = ", ".join(str(v) for v in versions_of(doc_type))
        verdict.errors.append(
            Problem(
                "form_version",
                "form.version_unknown",
                f"Versi formulir {_show(version)} untuk '{doc_type}' tidak dikenal; versi yang ada: {known_versions}",
            )
        )
    verdict.metadata["form"] = {"type": doc_type, "version": version if model is not None else None}

    desa = doc.get("desa")
    region = wilayah.find(desa) if isinstance(desa, str) else None
    if region is not None and region.level == "desa" and region.digits != _digits(desa_code):
        verdict.errors.append(
            Problem("desa", "desa.mismatch", f"Desa dokumen ({desa}) bukan desa basis data ini ({desa_code})")
        )
    doc_agent = doc.get("agent_id")
    if isinstance(doc_agent, str) and doc_agent != agent_id:
        verdict.errors.append(
            Problem("agent_id", "agent.mismatch", "Dokumen tidak boleh dicatat atas nama petugas lain")
        )
    if doc.get("supersedes") == doc_id:
        verdict.errors.append(
            Problem("supersedes", "supersedes.self", "Dokumen tidak dapat menggantikan dirinya sendiri")
        )
    for key in doc:
        if isinstance(key, str) and key.startswith("_") and key not in COUCHDB_FIELDS:
            verdict.errors.append(Problem(key, "couchdb.reserved", "Kolom berawalan garis bawah tidak dikenal CouchDB"))

    if model is None:
        return verdict
    submission, errors = _validate_body(doc, model)
    verdict.errors.extend(errors)
    if submission is None:
        return verdict
    verdict.warnings.extend(submission.soft_checks())
    if now is not None and submission.captured_at > now + _FUTURE_LIMIT:
        verdict.errors.append(
            Problem(
                "captured_at",
                "captured_at.future",
                "Waktu pencatatan lebih dari sehari di masa depan; perbaiki jam perangkat lalu simpan ulang dokumen",
            )
        )
    elif now is not None and submission.captured_at > now + _CLOCK_SKEW:
        verdict.warnings.append(
            Problem("captured_at", "captured_at.future", "Waktu pencatatan di masa depan; periksa jam perangkat")
        )

    if verdict.errors:
        return verdict  # refused already: do not spend time decoding images
    report = check_attachments(
        doc.get("_attachments"),
        attachments,
        submission.declared_attachments(),
        limits,
        captured_at=submission.captured_at,
    )
    verdict.extend(errors=report.errors, warnings=report.warnings)
    if report.metadata:
        verdict.metadata["attachments"] = report.metadata
    return verdict


def _validate_body(
    doc: Mapping[str, Any], model: type[Submission] | None = None
) -> tuple[Submission | None, list[Problem]]:
    """Validate the body with ``model``, or with the union of every form when ``None``."""
    body = strip_couchdb_fields(doc)
    context = {"defer_rules": True}
    try:
        if model is None:
            submission = submission_adapter.validate_python(body, context=context)
        else:
            submission = model.model_validate(body, context=context)
    except ValidationError as exc:
        return None, problems_from(exc, body)
    return submission, submission.rule_errors()


def load_submission(doc: Mapping[str, Any]) -> Submission:
    """The typed model of a stored submission (for the pipeline), or :class:`InvalidSubmission`.

    Checks the form only (schema and rules across fields), not the gateway's scope checks.
    """
    submission, errors = _validate_body(doc)
    if errors or submission is None:
        raise InvalidSubmission(errors)
    return submission
