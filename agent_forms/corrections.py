"""When a document may stand in for another: a device corrects a synced submission by writing a new one with
``supersedes: <id of the old one>`` (submissions are never edited in place). Pure.

The form only checks that ``supersedes`` names a document of its own type. A correction also has to be about the
same thing, and later: otherwise one family's application could "correct" another family's out of existence, and two
documents superseding each other would leave neither standing. :func:`corrects` says whether a correction may replace
the document it names; what it compares per type is :func:`subject_of`.
"""

from __future__ import annotations

from agent_forms.models import (
    Application,
    Consent,
    ConsentWithdrawal,
    Evidence,
    FieldVisit,
    Household,
    Objection,
    Submission,
)


def subject_of(submission: Submission) -> tuple[str | None, ...]:
    """What a correction must keep: the person or family (or the task, application) the document is about."""
    match submission:
        case Application():
            return (submission.applicant_nik,)
        case Household():
            return (submission.kk_number,)
        case Consent() | ConsentWithdrawal():
            return (submission.subject_nik,)
        case FieldVisit():
            return (submission.task_id,)
        case Evidence():
            return (submission.field_visit_id, submission.application_id)
        case Objection():
            return (submission.application_id,)
    return ()


def corrects(correction: Submission, original: Submission) -> bool:
    """``correction`` may replace ``original``: the same type, desa and subject, captured after it."""
    return (
        type(correction) is type(original)
        and correction.desa == original.desa
        and subject_of(correction) == subject_of(original)
        and correction.captured_at > original.captured_at
    )
