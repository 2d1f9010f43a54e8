"""Every form by (type, version), and the discriminated union over all of them.

Old versions stay valid: a document captured with ``household`` v1 is validated by the v1 model for ever, also
after v2 exists. Adding a version is adding a model class with ``form_version: Literal[2]`` and listing it in
:data:`FORMS`; nothing else changes. The union is discriminated on ``type`` and ``form_version`` together (a
callable discriminator returning ``"<type>@<version>"``), so one ``TypeAdapter`` validates any submission.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Union

from pydantic import Discriminator, Tag, TypeAdapter

from agent_forms.models.application import Application, Objection
from agent_forms.models.base import Submission
from agent_forms.models.consent import Consent, ConsentWithdrawal
from agent_forms.models.field_visit import Evidence, FieldVisit
from agent_forms.models.household import Household

#: The forms devices may write, by (type, version). Never remove an entry: documents captured with it exist.
FORMS: dict[tuple[str, int], type[Submission]] = {
    (model.FORM_TYPE, model.FORM_VERSION): model
    for model in (Household, Consent, ConsentWithdrawal, Application, FieldVisit, Evidence, Objection)
}

#: Document types only the server writes, with deterministic ids (DESIGN.md): a device may never write them.
SERVER_OWNED_TYPES: frozenset[str] = frozenset({"result", "task", "review", "sync_issue"})

#: The types a device may write.
SUBMISSION_TYPES: frozenset[str] = frozenset(form_type for form_type, _ in FORMS)


def versions_of(form_type: str) -> list[int]:
    return sorted(version for t, version in FORMS if t == form_type)


def latest(form_type: str) -> type[Submission] | None:
    versions = versions_of(form_type)
    return FORMS[(form_type, versions[-1])] if versions else None


def form_tag(value: Any) -> str | None:
    """The union's discriminator: ``"household@1"`` for a household v1 document (a dict or a model)."""
    if isinstance(value, Mapping):
        form_type, version = value.get("type"), value.get("form_version")
    else:
        form_type, version = getattr(value, "type", None), getattr(value, "form_version", None)
    if not isinstance(form_type, str) or not isinstance(version, int) or isinstance(version, bool):
        return None
    return f"{form_type}@{version}"


def make_adapter(forms: Mapping[tuple[str, int], type[Submission]]) -> TypeAdapter[Submission]:
    """One ``TypeAdapter`` for the union of ``forms``, discriminated on ``"<type>@<version>"``."""
    members = tuple(Annotated[model, Tag(f"{t}@{v}")] for (t, v), model in forms.items())
    union = Annotated[
        Union[members],  # type: ignore[valid-type]  # noqa: UP007  # built from data: mypy cannot follow it
        Discriminator(
            form_tag,
            custom_error_type="form.unknown",
            custom_error_message="Jenis dokumen atau versi formulir tidak dikenal",
        ),
    ]
    return TypeAdapter(union)


#: Validates any submission of :data:`FORMS` (for the pipeline, see :func:`agent_forms.load_submission`).
submission_adapter: TypeAdapter[Submission] = make_adapter(FORMS)
