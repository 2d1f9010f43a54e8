"""What devices capture: versioned pydantic models of every submission, their JSON Schema, and the pure
validation the sync gateway applies to each written document. No I/O except reading the packaged region file.

The gateway calls :func:`validate_document`; ``GET /api/forms`` serves :func:`list_forms` and ``GET
/api/forms/{type}/{version}`` serves :func:`form_schema`; the pipeline reads stored documents with
:func:`load_submission`.
"""

from agent_forms.attachments import Limits
from agent_forms.models.registry import FORMS, SERVER_OWNED_TYPES, SUBMISSION_TYPES
from agent_forms.problems import Problem, Verdict
from agent_forms.schemas import FormInfo, form_schema, list_forms
from agent_forms.validate import (
    InvalidSubmission,
    is_new_revision_of_existing,
    load_submission,
    strip_couchdb_fields,
    validate_document,
)

__all__ = [
    "FORMS",
    "SERVER_OWNED_TYPES",
    "SUBMISSION_TYPES",
    "FormInfo",
    "InvalidSubmission",
    "Limits",
    "Problem",
    "Verdict",
    "form_schema",
    "is_new_revision_of_existing",
    "list_forms",
    "load_submission",
    "strip_couchdb_fields",
    "validate_document",
]
