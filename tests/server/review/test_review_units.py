"""The pure parts of the review: the review document's versions, thumbnails, scope, reasons and kinds."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io

import pytest
from PIL import Image

from server.auth.models import Role, User
from server.core.errors import BadRequest, Forbidden
from server.review.access import Reviewer
from server.review.documents import CaseReview, CaseVerdict, EvidenceDecision, EvidenceReview, next_version
from server.review.schemas import ReviewKind
from server.review.service import clean_reason, kinds_of
from server.review.thumbnails import UnreadablePhoto, make_thumbnail, thumbnail_key
from tests.agent_forms import forms_testkit as kit

AT = dt.datetime(2026, 3, 2, 4, 5, 6, tzinfo=dt.UTC)


def user(role: Role) -> User:
    return User(id=1, username=f"u.{role.value}", role=role, password_hash="x")


def test_a_second_review_keeps_the_first_in_its_history():
    review = EvidenceReview(
        desa="35.10.16.1014",
        evidence_id="evidence:e1",
        application_id="application:a1",
        field_visit_id="field_visit:f1",
        decision=EvidenceDecision.approved,
        reason="Foto sesuai keadaan rumah.",
        reviewer="spv",
    )
    first = next_version(None, review.body(AT))
    assert first["history"] == [] and first["reviewed_at"] == "2026-03-02T04:05:06Z"
    assert first["subject"] == "evidence" and first["field_visit_id"] == "field_visit:f1"
    later = dataclasses.replace(review, decision=EvidenceDecision.rejected, reviewer="admin")
    second = next_version({**first, "_id": "review:evidence:e1", "_rev": "1-a"}, later.body(AT))
    third = next_version(second, review.body(AT + dt.timedelta(hours=1)))
    assert [h["decision"] for h in third["history"]] == ["approved", "rejected"]
    assert set(third["history"][0]) == {"decision", "reason", "reviewer", "reviewed_at"}
    case = CaseReview("35.10.16.1014", "application:a1", CaseVerdict.not_eligible, "Alasan yang cukup.", "spv")
    assert case.doc_id == "review:application:a1" and case.body(AT)["subject"] == "case"


def test_a_thumbnail_is_small_upright_and_without_metadata():
    photo = kit.jpeg_bytes((1600, 1200), exif_time="2025:09:14 08:45:10", gps=(-8.2, 114.3))
    thumb = make_thumbnail(photo)
    image = Image.open(io.BytesIO(thumb.data))
    assert (image.format, image.size, (thumb.width, thumb.height)) == ("JPEG", (320, 240), (320, 240))
    assert not image.getexif() and len(thumb.data) < len(photo)

    rotated = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    Image.new("RGB", (400, 200), (10, 120, 10)).save(rotated, "JPEG", exif=exif)
    assert make_thumbnail(rotated.getvalue()).width == 160  # shown upright: 200×400 scaled to 160×320

    transparent = io.BytesIO()
    Image.new("RGBA", (50, 40), (0, 0, 0, 0)).save(transparent, "PNG")
    flat = Image.open(io.BytesIO(make_thumbnail(transparent.getvalue()).data))
    assert flat.mode == "RGB" and flat.getpixel((5, 5)) == (255, 255, 255)
    assert make_thumbnail(kit.webp_bytes()).content_type == "image/jpeg"

    for junk in (b"not an image", kit.jpeg_bytes()[:200], b"GIF89a" + b"\x00" * 40):
        with pytest.raises(UnreadablePhoto):
            make_thumbnail(junk)
    assert thumbnail_key("db", "evidence:1", "a.jpg", "md5-x") != thumbnail_key("db", "evidence:1", "a.jpg", "md5-y")


def test_scope_covers_the_assigned_kecamatan_only():
    spv = Reviewer(user(Role.supervisor), ("35.10.16",))
    assert spv.covers("35.10.16.1014") and not spv.covers("35.10.15.2004") and not spv.covers("35.10.160.1")
    spv.check_read("35.10.16.1014", "needs_review")
    with pytest.raises(Forbidden):
        spv.check_act("35.10.15.2004")
    admin = Reviewer(user(Role.admin), ())
    assert admin.covers("35.10.15.2004") and admin.may_act
    verifier = Reviewer(user(Role.verifier), ())
    verifier.check_read("35.10.15.2004", "eligible")
    with pytest.raises(Forbidden):
        verifier.check_read("35.10.15.2004", "needs_review")
    with pytest.raises(Forbidden):
        verifier.check_act("35.10.15.2004")


def test_reasons_are_the_reviewers_own_words():
    assert clean_reason("  Foto rumah sesuai.  ") == "Foto rumah sesuai."
    for short in ("", "ok", " " * 30, "terlalu"):
        with pytest.raises(BadRequest):
            clean_reason(short)
    for invisible in ("\x00" * 12, "\u200b" * 12, "Foto sesuai \u202erumah", "\ufeffFoto rumah sesuai"):
        with pytest.raises(BadRequest, match="tak terlihat"):
            clean_reason(invisible)  # nothing to read out, or not what it shows
    assert clean_reason("Foto sesuai.\nRumah benar.") == "Foto sesuai.\nRumah benar."


def test_kinds_come_from_the_decision_trace():
    rules = [
        {"rule": "identity.nik", "outcome": "passed"},
        {"rule": "review.objection", "outcome": "review"},
        {"rule": "review.field_visit", "outcome": "review"},
        {"rule": "identity.duplicate", "outcome": "review"},
        {"rule": "review.evidence", "outcome": "info"},
    ]
    assert kinds_of({"rules": rules}) == [ReviewKind.evidence, ReviewKind.objection, ReviewKind.review]
    assert kinds_of(None) == [] and kinds_of({"rules": "junk"}) == []
    # Evidence attached to the application (no visit) waiting for the supervisor is evidence to review too.
    attached = [{"rule": "review.evidence", "outcome": "review"}]
    assert kinds_of({"rules": attached}) == [ReviewKind.evidence]
