"""Which version of a corrected document stands: a correction replaces only a document about the same subject,
captured before it (no borrowing another family's document, no two documents superseding each other)."""

from __future__ import annotations

import dataclasses
from typing import Any

from agent_forms.corrections import corrects
from agent_forms.models import Household
from sync.cases.documents import current_of, current_versions
from sync.verification.case import Doc
from tests.sync.verification.casekit import KK, application_doc, at, household_doc


def version(doc_id: str, day: int, supersedes: str | None = None, **changes: Any) -> Doc[Household]:
    doc = household_doc(captured_at=at(day), supersedes=supersedes, **changes)
    return dataclasses.replace(doc, id=doc_id)


def test_a_correction_of_the_same_family_captured_later_replaces_it() -> None:
    original, fix = version("household:v1", 10), version("household:v2", 12, "household:v1")
    assert corrects(fix.body, original.body)
    assert [d.id for d in current_versions([fix, original])] == ["household:v2"]


def test_a_correction_naming_another_familys_document_replaces_nothing() -> None:
    victim = version("household:victim", 10)
    intruder = version("household:intruder", 12, "household:victim", kk_number="3510161203150015")
    assert intruder.body.kk_number != KK and not corrects(intruder.body, victim.body)
    assert {d.id for d in current_versions([victim, intruder])} == {"household:victim", "household:intruder"}
    # What the application names stays its own, though the intruder is the later document.
    assert current_of([victim, intruder], "household:victim") == victim
    fix = version("household:fix", 14, "household:victim")
    assert current_of([victim, intruder, fix], "household:victim") == fix
    assert current_of([intruder, fix], "household:victim") == fix  # the original not readable: its correction


def test_two_documents_superseding_each_other_leave_the_later_standing() -> None:
    first = version("household:a", 10, "household:b")
    second = version("household:b", 12, "household:a")
    assert [d.id for d in current_versions([first, second])] == ["household:b"]


def test_a_correction_must_be_of_the_same_applicant_and_desa() -> None:
    original = application_doc().body
    later = original.model_copy(update={"captured_at": original.captured_at.replace(year=2026)})
    assert corrects(later, original)
    assert not corrects(original, later)  # older
    assert not corrects(later.model_copy(update={"applicant_nik": "3510161705800001"}), original)
    assert not corrects(later.model_copy(update={"desa": "35.10.15.2004"}), original)
